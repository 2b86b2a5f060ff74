"""Which of a list of library functions some code calls while it runs, recorded as names.

A worker watches the functions an item's policy bans while the item's probes run, and the notebook's
self-check does the same on the public probes. Python functions are recognised by their code object,
built-in ones by identity, through `sys.setprofile`. What is recorded is data for the grader, which
keeps only names it asked about: code that turns the watch off hides a call, and gains nothing by it.
"""
from __future__ import annotations

import inspect
import sys


def targets(policy) -> dict:
    """code object or built-in function -> the policy's entry that covers it, for each function the entries
    cover in this environment's libraries (`HandOver.watched`; a class stands for its `__init__`: calling the
    class runs it)."""
    found = {}
    for target, entry in policy.watched():
        if inspect.isclass(target):
            target = vars(target).get("__init__")
        code = getattr(target, "__code__", None)
        if code is not None or inspect.isbuiltin(target):
            found[code if code is not None else target] = entry
    return found


def calls_made(action, watched: dict) -> tuple[object, list[str]]:
    """Run `action()` and return (its value, the watched names it called, in first-call order). Exceptions
    from `action` propagate; the watch is removed either way."""
    seen: dict[str, None] = {}
    if not watched:
        return action(), []
    keys = {id(k): name for k, name in watched.items()}  # `watched` keeps the objects, so the ids stay theirs

    def profile(frame, event, arg):
        if event == "call":
            name = keys.get(id(frame.f_code))
        elif event == "c_call":
            name = keys.get(id(arg))
        else:
            return
        if name is not None:
            seen.setdefault(name, None)

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        value = action()
    finally:
        sys.setprofile(previous)
    return value, list(seen)

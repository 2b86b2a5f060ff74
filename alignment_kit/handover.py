"""What a graded function may not hand its work to: an item's policy, and the names it is matched by.

A policy lists library functions whose use means the item's work was handed over (`banned`), the
tools that stay allowed even where a banned entry would cover them (`allowed`), and the library's
own implementation of the item (`twin`), which the class report compares with each student's code.
An entry is a dotted name as a student would write it (`trl.trainer.utils.pad`); `X.*` covers
everything defined under `X` (a class's methods). Names are matched by what they are: each is
resolved in the installed libraries to the object it names, whose defining module and qualified
name is its one spelling, so a re-export (`trl.pad` for `trl.trainer.utils.pad`) matches too.

Policies are declared in the grader's item files; the public fixture carries them as data, so the
notebook's self-check can warn before the grade does. Nothing here runs student code.
"""
from __future__ import annotations

import functools
import importlib
import inspect
from dataclasses import dataclass

from alignment_kit.i18n import say

LIBRARIES = ("trl", "torch", "transformers")  # the only packages a name is imported from to resolve it
EVERYTHING = ".*"


@dataclass(frozen=True)
class HandOver:
    """An item's policy (see the module's docstring)."""

    banned: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ()
    twin: str = ""

    def as_data(self) -> dict:
        return {"banned": list(self.banned), "allowed": list(self.allowed), "twin": self.twin}

    @classmethod
    def from_data(cls, data: dict) -> HandOver:
        return cls(tuple(data.get("banned", ())), tuple(data.get("allowed", ())), data.get("twin", ""))

    def banned_as(self, dotted: str, resolve: bool = True) -> str | None:
        """The declared entry that `dotted` (any spelling; as written, without `resolve`) falls under, or None
        (allowed, or not listed)."""
        name = spelling(dotted) if resolve else dotted
        if any(_covers(entry, name) for entry in self.allowed):
            return None
        return next((entry for entry in self.banned if _covers(entry, name)), None)

    def words(self) -> frozenset[str]:
        """The names a dotted name must share one of to fall under an entry (the last word of each entry, as
        declared and as spelled, and a covered class's own name)."""
        return _words(self)

    def watched(self) -> list[list[str]]:
        """[module, qualified name] of each function the banned entries cover, for a worker to watch calls to."""
        return [list(pair) for pair in _watched(self)]


def handed_over(function: str) -> str:
    """The feedback line's note for a hand-over to `function`."""
    return say("handover.uses", "uses `{function}`: the homework asks you to write it", function=function)


@functools.lru_cache(maxsize=256)
def _words(policy: HandOver) -> frozenset[str]:
    bases = [entry.removesuffix(EVERYTHING) for entry in (*policy.banned, *policy.allowed)]
    return frozenset(name.rsplit(".", 1)[-1] for base in bases for name in (base, spelling(base)))


@functools.lru_cache(maxsize=256)
def _watched(policy: HandOver) -> tuple[tuple[str, str], ...]:
    found: dict[str, tuple[str, str]] = {}
    for entry in policy.banned:
        for target in _covered_objects(entry):
            module, qualname = getattr(target, "__module__", None), getattr(target, "__qualname__", None)
            if isinstance(module, str) and isinstance(qualname, str) and \
                    policy.banned_as(f"{module}.{qualname}") is not None:
                found.setdefault(f"{module}.{qualname}", (module, qualname))
    return tuple(found.values())


def _covers(entry: str, name: str) -> bool:
    if entry.endswith(EVERYTHING):
        base = spelling(entry[:-len(EVERYTHING)])
        return name == base or name.startswith(base + ".")
    return name == spelling(entry)


@functools.lru_cache(maxsize=4096)
def resolve(dotted: str):
    """The object a dotted name under one of LIBRARIES names in this environment, or None."""
    parts = dotted.split(".")
    if parts[0] not in LIBRARIES or not all(part.isidentifier() for part in parts):
        return None
    for cut in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except Exception:  # noqa: BLE001 - not a module (or one that fails to import): try a shorter prefix
            continue
        for attribute in parts[cut:]:
            try:  # a module's attributes may load lazily (trl's do); a class's are read without running descriptors
                target = getattr(target, attribute) if inspect.ismodule(target) else \
                    inspect.getattr_static(target, attribute)
            except Exception:  # noqa: BLE001 - a lazy attribute that fails to import is not there
                return None
            if isinstance(target, (staticmethod, classmethod)):
                target = target.__func__
        return target
    return None


@functools.lru_cache(maxsize=4096)
def spelling(dotted: str) -> str:
    """One spelling of what `dotted` names: its defining module and qualified name where it resolves."""
    target = resolve(dotted)
    if target is None:
        return dotted
    if inspect.ismodule(target):
        return target.__name__
    try:
        target = inspect.unwrap(target)
    except ValueError:
        pass
    module, qualname = getattr(target, "__module__", None), getattr(target, "__qualname__", None)
    return f"{module}.{qualname}" if isinstance(module, str) and isinstance(qualname, str) else dotted


def _covered_objects(entry: str) -> list:
    """The functions (and classes) an entry covers in the installed libraries."""
    target = resolve(entry[:-len(EVERYTHING)] if entry.endswith(EVERYTHING) else entry)
    if target is None:
        return []
    if not inspect.isclass(target):
        return [target]
    members = [target]
    for value in vars(target).values():
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if inspect.isfunction(value):
            members.append(value)
    return members

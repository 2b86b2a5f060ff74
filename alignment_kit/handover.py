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
        """The declared entry that `dotted` falls under, or None (allowed, or not listed): as written first, then
        (with `resolve`) by what it names, against the entries of its own library only (so that a torch name
        never imports TRL to be compared)."""
        if self._under(self.allowed, dotted, resolve):
            return None
        return self._under(self.banned, dotted, resolve)

    @staticmethod
    def _under(entries: tuple[str, ...], dotted: str, resolve: bool) -> str | None:
        hit = next((entry for entry in entries if _covers(entry, dotted, _as_written)), None)
        if hit is None and resolve:
            library, name = dotted.split(".")[0], spelling(dotted)
            hit = next((e for e in entries if e.split(".")[0] == library and _covers(e, name, spelling)), None)
        return hit

    def words(self) -> frozenset[str]:
        """The names a dotted name must share one of to fall under an entry: the last word of each entry (of a
        class's entry, the class's name), which a re-export keeps."""
        return frozenset(entry.removesuffix(EVERYTHING).rsplit(".", 1)[-1] for entry in (*self.banned, *self.allowed))

    def watched(self) -> list[tuple[object, str]]:
        """(function or class, entry) for each one the banned entries cover, for calls to be watched (where the
        libraries are imported anyway: a worker, the student's kernel)."""
        return list(_watched(self))


def handed_over(function: str) -> str:
    """The feedback line's note for a hand-over to `function`."""
    return say("handover.uses", "uses `{function}`: the homework asks you to write it", function=function)


@functools.lru_cache(maxsize=256)
def _watched(policy: HandOver) -> tuple[tuple[object, str], ...]:
    found: dict[str, tuple[object, str]] = {}
    for entry in policy.banned:
        for target in _covered_objects(entry):
            module, qualname = getattr(target, "__module__", None), getattr(target, "__qualname__", None)
            if isinstance(module, str) and isinstance(qualname, str):
                covering = policy.banned_as(f"{module}.{qualname}")
                if covering is not None:
                    found.setdefault(f"{module}.{qualname}", (target, covering))
    return tuple(found.values())


def _as_written(dotted: str) -> str:
    return dotted


def _covers(entry: str, name: str, spell) -> bool:
    """Whether `name` falls under `entry`, the entry read through `spell` (as written, or resolved)."""
    if entry.endswith(EVERYTHING):
        base = spell(entry[:-len(EVERYTHING)])
        return name == base or name.startswith(base + ".")
    return name == spell(entry)


@functools.lru_cache(maxsize=4096)
def resolve(dotted: str):
    """The object a dotted name under one of LIBRARIES names in this environment, or None. It walks attributes
    from the library down, importing a submodule only where no attribute has its name (no failing imports:
    in a worker each one would search the file system under the sandbox's audit hook)."""
    parts = dotted.split(".")
    if parts[0] not in LIBRARIES or not all(part.isidentifier() for part in parts):
        return None
    try:
        target = importlib.import_module(parts[0])
    except Exception:  # noqa: BLE001 - the library is not installed (or fails to import)
        return None
    for number, attribute in enumerate(parts[1:], 2):
        try:  # a module's attributes may load lazily (trl's do); a class's are read without running descriptors
            if inspect.ismodule(target):
                found = getattr(target, attribute, _MISSING)
                target = importlib.import_module(".".join(parts[:number])) if found is _MISSING else found
            else:
                target = inspect.getattr_static(target, attribute)
        except Exception:  # noqa: BLE001 - not there (or a lazy attribute that fails to import)
            return None
        if isinstance(target, (staticmethod, classmethod)):
            target = target.__func__
    return target


_MISSING = object()


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

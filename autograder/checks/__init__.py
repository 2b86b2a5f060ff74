"""The grader's registry: one check per autograded item, found in `autograder/items/`, in the items' order."""
from __future__ import annotations

import importlib
import pkgutil

from alignment_kit import items
from autograder import items as grader_items
from autograder.checks.cell_check import CellCheck
from autograder.checks.function_check import FunctionCheck


def _discover() -> dict[str, FunctionCheck | CellCheck]:
    """The CHECK of each autograded item's grader module, by item name."""
    found = {}
    for item in items.ALL_ITEMS:
        if not item.autograded:
            continue
        try:
            module = importlib.import_module(f"autograder.items.{item.name}")
        except ModuleNotFoundError as error:
            if error.name != f"autograder.items.{item.name}":
                raise
            raise LookupError(f"the autograded item {item.name!r} has no grader module: add autograder/items/"
                              f"{item.name}.py with its CHECK (see README, Change the homework)") from error
        check = getattr(module, "CHECK", None)
        expected = FunctionCheck if item.kind == items.FUNCTION else CellCheck
        if not isinstance(check, expected):
            raise TypeError(f"{module.__file__} must define CHECK = {expected.__name__}(...) for the {item.kind} "
                            f"item {item.name!r}")
        name = check.name if isinstance(check, FunctionCheck) else check.grade_id
        if name != item.name:
            raise ValueError(f"{module.__file__}: CHECK is for {name!r}, but the module is {item.name!r}")
        found[item.name] = check
    strays = sorted({m.name for m in pkgutil.iter_modules(grader_items.__path__)} - set(found))
    if strays:
        raise LookupError(f"autograder/items/ has modules for no autograded item: {strays}; declare the item in "
                          "alignment_kit/items/ or remove the module")
    return found


_CHECKS = _discover()
FUNCTION_CHECKS: list[FunctionCheck] = [_CHECKS[i.name] for i in items.items_of(items.FUNCTION)]
CELL_CHECKS: list[CellCheck] = [_CHECKS[i.name] for i in items.items_of(items.CELL)]  # the default edition's
MANUAL_ITEMS: list[items.Item] = items.items_of(items.MANUAL)


def cell_checks(track: str) -> list[CellCheck]:
    """The re-run cells of the edition whose part 5 is `track`."""
    return [_CHECKS[i.name] for i in items.items_of(items.CELL, track)]


def function_check(name: str) -> FunctionCheck:
    return _CHECKS[name]


def cell_check(grade_id: str) -> CellCheck:
    return _CHECKS[grade_id]

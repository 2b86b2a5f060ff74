"""An item's hand-overs: the library functions its policy bans that the student's code uses.

Two sources, each enough on its own: the graded code read in the grader's process (`handover_scan`,
over every code cell of the notebook), and the calls the worker recorded while the item's probes ran
(`call_watch`). The worker's record is only believed for names the grader asked it to watch, so a
worker can hide a flag but never invent or remove points it was owed. A flag costs the item's points
only where the course says so (`GradeConfig.hand_over_costs_points`).
"""
from __future__ import annotations

import ast
from dataclasses import asdict, dataclass

from alignment_kit import items
from alignment_kit.handover import handed_over
from alignment_kit.handover_scan import uses
from autograder.checks.function_check import FunctionCheck
from autograder.python_source import parse_cell

IN_THE_CODE, CALLED, COPIED = "code", "call", "copy"  # how a hand-over was found (a copy: by the class report)


@dataclass(frozen=True)
class Flag:
    item: str
    function: str  # the policy's entry, as declared
    found_by: str  # IN_THE_CODE or CALLED
    evidence: str  # the expression that reaches it, or the function called

    def as_data(self) -> dict:
        return asdict(self)


def notebook_tree(parsed) -> ast.Module:
    """Every code cell that parses, as one module (cells in notebook order)."""
    body = []
    for cell in parsed.code_cells():
        tree = parse_cell(cell.source)
        body += tree.body if tree else []
    return ast.Module(body, type_ignores=[])


def graded_names() -> frozenset[str]:
    return frozenset(item.callable_name for item in items.items_of(items.FUNCTION))


def flags(check: FunctionCheck, tree: ast.Module, outcome: dict) -> list[Flag]:
    """The hand-overs of one graded function: from its code, then from the calls its worker recorded."""
    policy = check.hand_over
    found = {}
    for use in uses(tree, check.item.callable_name, policy, graded_names() - {check.item.callable_name}):
        evidence = use.code if use.function == check.item.callable_name else f"{use.function}: {use.code}"
        found.setdefault(use.entry, Flag(check.name, use.entry, IN_THE_CODE, f"{evidence} -> {use.reached}"))
    asked = {f"{module}.{qualname}" for module, qualname in policy.watched()}
    calls = outcome.get("calls") if isinstance(outcome, dict) else None
    for called in calls if isinstance(calls, list) else []:
        entry = policy.banned_as(called) if isinstance(called, str) and called in asked else None
        if entry is not None and entry not in found:
            found[entry] = Flag(check.name, entry, CALLED, called)
    return list(found.values())


def notes(found: list[Flag]) -> list[str]:
    """The feedback's words for each flagged function, once each."""
    return [handed_over(entry) for entry in dict.fromkeys(f.function for f in found)]

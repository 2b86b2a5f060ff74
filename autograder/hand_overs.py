"""An item's hand-overs: the library functions its policy bans that the student's code uses.

Three sources, each enough on its own: the graded code read in the grader's process (`handover_scan`,
over every code cell of the notebook), the calls the worker recorded while the item's probes ran
(`call_watch`), and the function's likeness to the library's own implementation of it (the policy's
`twin`): the share of the normalised code windows (`similarity`, which renaming and recommenting do not
change) that the two have in common, where independent answers share under a tenth and pasted copies
three quarters. The worker's record is only believed for names the grader asked it to watch, so a
worker can hide a flag but never invent or remove points it was owed. A flag costs the item's points
only where the course says so (`GradeConfig.hand_over_costs_points`).
"""
from __future__ import annotations

import ast
import functools
from dataclasses import asdict, dataclass

from alignment_kit import items
from alignment_kit.i18n import say
from alignment_kit.handover import handed_over
from alignment_kit.handover_scan import uses
from autograder import library_code, similarity
from autograder.checks.function_check import FunctionCheck
from autograder.python_source import parse_cell

IN_THE_CODE, CALLED, COPIED = "code", "call", "copy"  # how a hand-over was found
TWIN_SHARE = 0.5  # the share of its code windows a function has in common with the twin's that makes it a copy


@dataclass(frozen=True)
class Flag:
    item: str
    function: str  # the policy's entry, as declared
    found_by: str  # IN_THE_CODE, CALLED or COPIED
    evidence: str  # the expression that reaches it, the function called, or the share in common

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


@functools.lru_cache(maxsize=None)
def _twin_windows(twin: str, item: str) -> frozenset[str]:
    source = library_code.twin_source(twin)
    return frozenset(similarity.fingerprint(source, similarity.received().get(item, ""))) if source else frozenset()


def twin_share(check: FunctionCheck, source: str) -> float:
    """The share of the code windows of `source` and of the item's twin that the two have in common (0: no twin)."""
    twin = _twin_windows(check.hand_over.twin, check.name) if check.hand_over.twin else frozenset()
    mine = similarity.fingerprint(source, similarity.received().get(check.name, "")) if twin and source else set()
    return len(mine & twin) / len(mine | twin) if mine else 0.0


def flags(check: FunctionCheck, tree: ast.Module, outcome: dict, source: str = "") -> list[Flag]:
    """The hand-overs of one graded function: from its code, from the calls its worker recorded, and from its
    likeness to the library's implementation (`source`: the function's definition in the notebook)."""
    policy = check.hand_over
    found = {}
    for use in uses(tree, check.item.callable_name, policy, graded_names() - {check.item.callable_name}):
        evidence = use.code if use.function == check.item.callable_name else f"{use.function}: {use.code}"
        found.setdefault(use.entry, Flag(check.name, use.entry, IN_THE_CODE, f"{evidence} -> {use.reached}"))
    calls = outcome.get("calls") if isinstance(outcome, dict) else None
    for called in calls if isinstance(calls, list) else []:  # entries of the policy the worker was given, or nothing
        if isinstance(called, str) and called in policy.banned and called not in found:
            found[called] = Flag(check.name, called, CALLED, f"called {called} while graded")
    share = twin_share(check, source)
    if share >= TWIN_SHARE and policy.twin not in found:
        found[policy.twin] = Flag(check.name, policy.twin, COPIED, f"{share:.2f} of its code in common")
    return list(found.values())


def notes(found: list[Flag]) -> list[str]:
    """The feedback's words for each flagged function, once each."""
    said = {}
    for flag in found:
        said.setdefault(flag.function, copied(flag.function) if flag.found_by == COPIED else handed_over(flag.function))
    return list(said.values())


def copied(function: str) -> str:
    return say("handover.copied", "is a copy of `{function}` (renamed or not): the homework asks you to write it",
               function=function)

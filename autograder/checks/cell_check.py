"""A graded cell: the grader re-runs it in a prepared namespace and judges the raw facts it leaves."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from alignment_kit import items


@dataclass
class Item:
    """One scored line of feedback inside a cell check."""

    name: str
    points: float
    passed: bool
    message: str

    @property
    def score(self) -> float:
        return self.points if self.passed else 0.0


@dataclass
class CellCheck:
    """How to prepare, observe and judge one re-run cell.

    `prepare(job, scratch)` builds the namespace in the worker before student code runs;
    `collect(namespace, state)` turns what the cell left behind into JSON facts;
    `after_substitutes(namespace, job, state)` may wrap the reference helpers once they are in place;
    `judge(student_facts, reference_facts, job)` runs in the trusted parent and returns scored items.
    """

    grade_id: str  # the re-run cell's nbgrader grade_id, which is also its item's name
    substitutes: tuple[str, ...]
    prepare: Callable
    collect: Callable
    judge: Callable[[dict, dict, dict], list[Item]]
    job_data: Callable[[], dict]  # parent side: probe data sent to the worker (and reused for the reference)
    after_substitutes: Callable | None = None
    curve: str = ""  # a fact holding a per-step series to plot against the reference's, if any

    @property
    def item(self) -> items.Item:
        return items.item(self.grade_id)

    @property
    def points(self) -> float:
        return self.item.points

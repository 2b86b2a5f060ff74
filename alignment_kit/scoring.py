"""A scored line: the one type for every line of a grade (a function's check, an aspect of a re-run
cell, a hand-graded answer), in the public checks, the grader and the stored record alike.

(A `compare.Verdict` is not a scored line: it is how one probe went; a function's line sums them.)
"""
from __future__ import annotations

from dataclasses import dataclass

from alignment_kit import i18n

STATUSES = ("passed", "failed", "manual")  # manual: waits for a person; never counted as lost


@dataclass
class ScoredLine:
    """One scored line of feedback."""

    name: str
    item: str  # the graded item this line belongs to ("" while a cell judge builds it)
    part: str
    score: float
    max_score: float
    output: str  # what the student reads
    status: str = "passed"
    visibility: str = "visible"

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def line(name: str, points: float, passed: bool, output: str) -> ScoredLine:
    """An all-or-nothing line worth `points`, not yet filed under an item (what a cell judge returns)."""
    return ScoredLine(name, "", "", points if passed else 0.0, points, output, "passed" if passed else "failed")


def shown(name: str) -> str:
    """A line's name (declared in English where the line is made) in the current language."""
    return i18n.declared("line", name)


def withheld(lines: list[ScoredLine], unverified) -> list[ScoredLine]:
    """`lines` as judged, or, for a run the grader could not verify (`unverified`: anything with its `label` and
    `problem`), every line uncredited with the reason on the first (the trainer cells' rule: PPO's, RLOO's)."""
    if unverified is None:
        return lines
    reason = (f"{i18n.label(unverified.label)}: " if unverified.label else "") + unverified.problem
    head, *rest = lines
    return [line(head.name, head.max_score, False, i18n.say("judge.ppo_not_credited", "not credited: {reason}",
                                                            reason=reason))] + \
        [line(i.name, i.max_score, False, (i.output + "; " if not i.passed and i.output else "")
              + i18n.say("judge.see_first_line", "not credited (see the first line)")) for i in rest]

"""An accepted variation of a re-run cell: a way of writing it that differs from the reference on purpose.

It is a run the grader makes, like a known mistake's: the grader's own cell with some switches, under
every hidden configuration. A student's run that matches it keeps the points (the feedback says the
variation was accepted), or loses the trajectory's points with its message when the instructor
declares it not accepted. Its value (a clipping threshold, say) is the one the student's cell used, as
the recorders noted it in `seen_in`, else `default`; the grader makes the run for that value when it is
first needed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Variation:
    message: str  # what it is called, with {value} (in English; other languages from the catalogs)
    switches: Callable[[float], dict]  # value -> switches of the grader's cell that make it
    default: float  # the value its run is made with before any student shows another
    seen_in: str  # the recorded fact that lists the values a student's cell used
    accepted: bool = True  # False: a run that matches it loses the trajectory's points, with its message

"""What only the grader knows about a check: known mistakes (implementations) and hidden probes.

Everything a student may see (how outputs are read and compared, the public probes) lives in the
student runtime (`alignment_kit.compare`, `.outputs`, `.probes`); this module adds the answers' side.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from alignment_kit.probes import Probe  # noqa: F401 - re-exported for the check modules


@dataclass
class Mistake:
    """A known wrong implementation and the plain-words message that names it."""

    message: str
    implementation: Callable

"""A named mistake: a known wrong implementation of a graded function, and the message that names it.

Everything a student may see (how outputs are read and compared, the public probes) lives in the
student runtime (`alignment_kit/items/<name>.py`, `alignment_kit.compare`); this adds the answers' side.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass
class Mistake:
    """A known wrong implementation and the plain-words message that names it."""

    message: str
    implementation: Callable

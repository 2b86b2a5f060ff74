"""What a graded item is (the type; the items themselves are declared in `items/`, one module each).

Kinds:
* `function`: a function the student writes; graded by calling it on probe inputs.
* `cell`: a code cell the grader re-runs in a prepared namespace (training loops, trainers).
* `manual`: an answer a person grades (text, plots); the autograder copies it into the feedback.
"""
from __future__ import annotations

from dataclasses import dataclass

from alignment_kit import i18n
from alignment_kit.cell_signature import CellSignature

FUNCTION, CELL, MANUAL = "function", "cell", "manual"
KINDS = (FUNCTION, CELL, MANUAL)


@dataclass(frozen=True)
class Item:
    """The declaration of one graded item: what it is called, where it counts and how it is graded."""

    name: str  # the function's name, or the grade_id of the re-run cell or of the answer cell
    part: str
    points: float
    kind: str
    title: str
    order: int = 0  # its place within its part (items of a part are listed by this, then by name)
    finds: CellSignature | None = None  # re-run cells: what the cell does, to find it when its metadata is gone
    figures: str = ""  # hand-graded: the grade_id of the cell whose saved figures the grader is shown
    function: str = ""  # graded functions: the function called, when it is not the item's name
    track: str = ""  # the edition of part 5 it belongs to (`tracks.py`); "" for an item of every edition

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind == CELL and self.finds is None:
            raise ValueError(f"the re-run cell {self.name!r} needs `finds`: the CellSignature that finds it by its content")

    def in_track(self, track: str) -> bool:
        return self.track in ("", track)

    @property
    def grade_id(self) -> str:
        """The nbgrader cell that carries the points: the test cell, or the answer cell itself."""
        return self.name if self.kind == MANUAL else f"test_{self.name}"

    @property
    def shown_title(self) -> str:
        """The title in the current language (catalog key "item.<name>")."""
        return i18n.text(f"item.{self.name}", self.title)

    @property
    def autograded(self) -> bool:
        return self.kind != MANUAL

    @property
    def callable_name(self) -> str:
        """The notebook function a FUNCTION item calls (usually the item's own name)."""
        return self.function or self.name

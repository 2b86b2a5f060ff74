"""The stored record of one graded submission, and its exports.

`GradeRecord.to_record()` / `from_record()` round-trip every field exactly (the record is what
a resumed batch reads back). Gradescope's `results.json`, the gradebook row and the feedback are
exports of the record: they may leave things out, the record never does.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from alignment_kit import i18n, items, tracks
from alignment_kit.i18n import say
from alignment_kit.scoring import ScoredLine

RECORD_VERSION = 5  # 2: per-stage seconds (`stages`); 3: the feedback's `language`; 4: the edition's `track`;
# 5: the graded functions' `hand_overs`


@dataclass
class GradeRecord:
    student: str
    notebook: str
    content_hash: str
    tests: list[ScoredLine] = field(default_factory=list)
    execution_time: float = 0.0
    error: str | None = None  # why the notebook could not be graded at all
    grader_fault: bool = False  # the error is the grader's own, not the notebook's: retried on resume
    warnings: list[str] = field(default_factory=list)
    curves: dict[str, dict] = field(default_factory=dict)  # item -> {"student": [...], "reference": [...]}
    figures: dict[str, list[str]] = field(default_factory=dict)  # item -> base64 PNGs saved in its cell's outputs
    grader_version: str = ""
    stages: dict[str, float] = field(default_factory=dict)  # where the time went: stage -> seconds
    language: str = i18n.SOURCE  # the language its lines and feedback are written in
    track: str = tracks.DEFAULT  # the edition of part 5 it was graded as (`alignment_kit/tracks.py`)
    hand_overs: list[dict] = field(default_factory=list)  # `autograder.hand_overs.Flag`s, as data

    # ------------------------------------------------------------------ scores
    @property
    def score(self) -> float:
        """The autograded score (hand-graded items are pending, never counted)."""
        return round(sum(t.score for t in self.tests if t.status != "manual"), 4)

    @property
    def maximum(self) -> float:
        """The most `score` can be: the autograded points plus the autograded bonus."""
        return items.autograded_maximum(self.track)

    @property
    def pending_points(self) -> float:
        """Points of the hand-graded items (bonus included), which a person adds later."""
        return round(sum(t.max_score for t in self.tests if t.status == "manual"), 4)

    def part_scores(self) -> dict[str, float | None]:
        """Autograded score per part; None for a part whose items are all hand-graded."""
        return {part.name: round(sum(t.score for t in self.tests if t.part == part.name and t.status != "manual"), 4)
                if part.points_in(self.track, autograded_only=True) else None for part in items.PARTS}

    def item_scores(self) -> dict[str, float]:
        scores: dict[str, float] = {}
        for test in self.tests:
            if test.status != "manual":
                scores[test.item] = round(scores.get(test.item, 0.0) + test.score, 4)
        return scores

    # ------------------------------------------------------------------ the record
    def to_record(self) -> dict:
        return {"record_version": RECORD_VERSION, **asdict(self)}

    @classmethod
    def from_record(cls, data: dict) -> "GradeRecord":
        if data.get("record_version") in (3, 4):  # written before hand-overs were looked for: none were found
            data = dict(data, hand_overs=[], **({"track": tracks.DEFAULT} if data["record_version"] == 3 else {}))
        elif data.get("record_version") != RECORD_VERSION:
            raise ValueError(f"unknown record version {data.get('record_version')!r}")
        values = {f.name: data[f.name] for f in fields(cls)}
        values["tests"] = [ScoredLine(**t) for t in data["tests"]]
        return cls(**values)

    # ------------------------------------------------------------------ exports
    def summary(self) -> str:
        if self.error:
            return say("record.not_gradable", "The notebook could not be graded: {error}", error=self.error)
        return score_line(self.score, self.pending_points, self.track)

    def to_gradescope(self) -> dict:
        """Gradescope's results.json: the autograded checks as tests (hand-graded items are listed in
        the overall output and graded outside the autograder, so they never show as lost points)."""
        manual = [t for t in self.tests if t.status == "manual"]
        output = self.summary()
        if manual:
            output += say("record.by_hand", "\n\nGraded by hand, separately: ") + ", ".join(f"{t.item} ({t.max_score:g})" for t in manual)
        return {
            "score": self.score,
            "execution_time": round(self.execution_time, 2),
            "output": output,
            "output_format": "md",
            "test_output_format": "md",
            "visibility": "visible",
            "stdout_visibility": "hidden",
            "tests": [{"name": t.name, "score": t.score, "max_score": t.max_score, "status": t.status,
                       "output": t.output, "output_format": "md", "visibility": t.visibility, "tags": [t.part],
                       "extra_data": {"item": t.item}}
                      for t in self.tests if t.status != "manual"],
            "extra_data": {"student": self.student, "notebook": self.notebook, "content_hash": self.content_hash,
                           "grader_version": self.grader_version, "grader_fault": self.grader_fault,
                           "error": self.error, "warnings": self.warnings, "part_scores": self.part_scores(),
                           "pending_hand_graded_points": self.pending_points},
        }

    def to_row(self) -> dict:
        row = {"student": self.student, "autograded": self.score, "autograded_max": self.maximum,
               "hand_graded_pending": self.pending_points}
        row.update({part: "" if score is None else score for part, score in self.part_scores().items()})
        row.update(error=self.error or "", grader_fault=self.grader_fault, notebook=self.notebook)
        return row


def score_line(score: float, pending: float, track: str = tracks.DEFAULT) -> str:
    """The first line of every export: the score out of the most it can be, what that most is made of, and
    the points a person adds later: "<score> / <most> autograded (<points> + <bonus> bonus); <pending> to be graded by
    hand", each with two decimals."""
    bonus = items.bonus_points(autograded_only=True, track=track)
    line = say("record.score", "{score:.2f} / {maximum:.2f} autograded", score=score,
               maximum=items.autograded_maximum(track))
    if bonus:
        line += say("record.bonus", " ({points:.2f} + {bonus:.2f} bonus)", points=items.autograded_points(track),
                    bonus=bonus)
    if pending:
        line += say("record.pending", "; {points:.2f} to be graded by hand", points=pending)
    return line


def points_available(track: str = tracks.DEFAULT) -> str:
    """The autograded maximum and what it is made of, for the instructor's English tables and plots."""
    return (f"{items.autograded_maximum(track):.2f} ({items.autograded_points(track):.2f} + "
            f"{items.bonus_points(autograded_only=True, track=track):.2f} bonus)")


ROW_COLUMNS = ["student", "autograded", "autograded_max", "hand_graded_pending", *[p.name for p in items.PARTS],
               "error", "grader_fault", "notebook"]


def write_json_atomic(path: Path, data: dict, strict: bool = True) -> None:
    """Write through a temporary file and rename, so a killed run never leaves half a file.

    `strict=False` keeps NaN and infinities (a student's loss curve may hold them) in Python's JSON
    dialect, which `json.loads` reads back exactly; strict files (for other tools) refuse them. Several
    processes may write the same file (a shared cache): each writes its own temporary file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=1, allow_nan=not strict, ensure_ascii=False)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise

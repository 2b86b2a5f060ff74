"""Plain result records, serialised to Gradescope's results.json schema and to gradebook rows."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from autograder.checks import PARTS


@dataclass
class TestResult:
    """One scored line: a check of a function or cell, or a hand-graded answer."""

    name: str
    part: str
    score: float
    max_score: float
    output: str
    status: str = "passed"  # passed | failed | manual
    visibility: str = "visible"


@dataclass
class SubmissionResult:
    student: str
    notebook: str
    content_hash: str
    tests: list[TestResult] = field(default_factory=list)
    execution_time: float = 0.0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    training_curves: dict = field(default_factory=dict)  # {"student": [...], "reference": [...]}

    @property
    def score(self) -> float:
        return round(sum(t.score for t in self.tests), 4)

    def part_scores(self) -> dict[str, float]:
        scores = {part: 0.0 for part in PARTS}
        for test in self.tests:
            scores[test.part] = round(scores[test.part] + test.score, 4)
        return scores

    def needs_manual(self) -> bool:
        return any(t.status == "manual" for t in self.tests)

    def to_gradescope(self) -> dict:
        summary = self.error or f"autograded {self.score:g} points; hand-graded items pending: {self.needs_manual()}"
        return {
            "score": self.score,
            "execution_time": round(self.execution_time, 2),
            "output": summary,
            "visibility": "visible",
            "tests": [{"name": t.name, "score": t.score, "max_score": t.max_score, "output": t.output,
                       "visibility": t.visibility, "tags": [t.part, t.status]} for t in self.tests],
            "extra_data": {"student": self.student, "notebook": self.notebook, "content_hash": self.content_hash,
                           "warnings": self.warnings, "part_scores": self.part_scores(),
                           "training_curves": self.training_curves},
        }

    @classmethod
    def from_gradescope(cls, data: dict) -> "SubmissionResult":
        extra = data.get("extra_data", {})
        tests = [TestResult(t["name"], t["tags"][0], t["score"], t["max_score"], t["output"], t["tags"][1], t["visibility"])
                 for t in data["tests"]]
        error = data["output"] if not tests else None
        return cls(extra["student"], extra["notebook"], extra["content_hash"], tests, data["execution_time"],
                   error, extra.get("warnings", []), extra.get("training_curves", {}))

    def to_row(self) -> dict:
        row = {"student": self.student, "total": self.score}
        row.update(self.part_scores())
        row.update(needs_manual=self.needs_manual(), error=self.error or "", notebook=self.notebook)
        return row


def write_json_atomic(path: Path, data: dict) -> None:
    """Write through a temporary file and rename, so a killed run never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(json.dumps(data, indent=1, allow_nan=False, default=str))
    os.replace(temporary, path)

"""A gradable copy of the solution: `answered` writes it and it earns full marks; the source notebook itself
is refused with a message that points to `answered`."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from alignment_kit import items
from autograder import paths

pytestmark = pytest.mark.slow  # grades in workers


def _grade(notebook, out) -> dict:
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", str(notebook), "--out", str(out),
                           "--no-gradebook"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    (record,) = out.glob("*/record.json")
    return json.loads(record.read_text(encoding="utf-8"))


def test_the_answered_copy_earns_full_marks(tmp_path, kit_assets):
    target = tmp_path / "answered" / "solution.ipynb"
    done = subprocess.run([sys.executable, "-m", "autograder", "answered", "--out", str(target)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and target.exists(), done.stderr
    record = _grade(target, tmp_path / "grades")
    assert record["error"] is None
    lost = [(t["name"], t["score"], t["max_score"]) for t in record["tests"]
            if t["status"] != "manual" and t["score"] != t["max_score"]]
    assert lost == []
    assert sum(t["score"] for t in record["tests"] if t["status"] != "manual") == pytest.approx(
        items.autograded_maximum())


def test_the_source_notebook_is_refused_with_a_pointer_to_answered(tmp_path, kit_assets):
    record = _grade(paths.SOLUTION_NOTEBOOK, tmp_path / "grades")
    assert "source notebook" in record["error"] and "python -m autograder answered --out FILE" in record["error"]
    assert record["grader_fault"] is False

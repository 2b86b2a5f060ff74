"""The nbgrader course round trip: `grade COURSE` leaves what nbgrader's own tools need.

After grading, the autograded notebooks carry the kit's scores, a manual score is set through
nbgrader's API, and `nbgrader generate_feedback` and `nbgrader export` work on the result; the
exported total is the autograded score plus the manual one."""
from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from alignment_kit import items
from alignment_kit import paths as runtime_paths
from autograder import paths
from submissions import build as notebooks

pytestmark = pytest.mark.slow  # grades an nbgrader course

MANUAL = {"truncation_answer": 0.1, "analysis_plots": 0.4, "analysis_conclusion": 0.5, "model_card_links": 0.25,
          "online_dpo_reading": 0.3}


@pytest.fixture(scope="module")
def course(tmp_path_factory, kit_assets):
    course = tmp_path_factory.mktemp("course")
    shutil.copytree(paths.REPO_ROOT / "solutions", course / "solutions")
    shutil.copy(paths.REPO_ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    for student in ("alice", "bob", "erin"):
        submitted = course / "submitted" / student / paths.ASSIGNMENT
        submitted.mkdir(parents=True)
        shutil.copy(paths.EXAMPLE_SUBMISSIONS / f"{student}.ipynb", submitted / f"{paths.ASSIGNMENT}.ipynb")
        (submitted / "timestamp.txt").write_text("2026-11-20 12:00:00.000000 UTC")
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", str(course), "--out",
                           str(tmp_path_factory.mktemp("out")), "--jobs", "1"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return course


def _nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(course),
           "KIT_CACHE_DIR": str(runtime_paths.cache_dir())}
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def test_autograded_notebooks_carry_the_kits_scores(course):
    for student in ("alice", "bob", "erin"):
        notebook = course / "autograded" / student / paths.ASSIGNMENT / f"{paths.ASSIGNMENT}.ipynb"
        cells = {c.get("metadata", {}).get("nbgrader", {}).get("grade_id"): c for c in json.loads(notebook.read_text())["cells"]}
        scores = {i.grade_id: float("".join(next(o for o in cells[i.grade_id]["outputs"]
                                                 if o["output_type"] == "execute_result")["data"]["text/plain"]))
                  for i in items.ITEMS if i.autograded}
        expected = notebooks.EXAMPLE_TOTALS[student]
        assert sum(scores.values()) == pytest.approx(expected), (student, scores)
    assert (course / "autograded" / "alice" / paths.ASSIGNMENT / "timestamp.txt").is_file()


def test_manual_scores_feedback_and_export_work_with_nbgraders_tools(course):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission(paths.ASSIGNMENT, "alice")
        assert submission.needs_manual_grade, "formgrader lists alice's hand-graded cells as waiting"
        for grade_id, score in MANUAL.items():
            grade = gradebook.find_grade(grade_id, paths.ASSIGNMENT, paths.ASSIGNMENT, "alice")
            grade.manual_score = score
        gradebook.db.commit()
        assert gradebook.find_submission(paths.ASSIGNMENT, "alice").score == pytest.approx(notebooks.EXAMPLE_TOTALS["alice"] + sum(MANUAL.values()))
    _nbgrader(course, "generate_feedback", paths.ASSIGNMENT, "--force")
    for student in ("alice", "bob"):
        assert (course / "feedback" / student / paths.ASSIGNMENT / f"{paths.ASSIGNMENT}.html").is_file(), student
    _nbgrader(course, "export")
    rows = {row["student_id"]: row for row in csv.DictReader((course / "grades.csv").open())}
    assert float(rows["alice"]["score"]) == pytest.approx(notebooks.EXAMPLE_TOTALS["alice"] + sum(MANUAL.values()))
    assert float(rows["bob"]["score"]) == pytest.approx(notebooks.EXAMPLE_TOTALS["bob"])
    print(f"exported totals: alice {rows['alice']['score']}, bob {rows['bob']['score']}, erin {rows['erin']['score']}")

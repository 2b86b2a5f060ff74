"""nbgrader's own flow gives the same grades as the kit's CLI, item by item.

`nbgrader generate_assignment` then `nbgrader autograde` run the source notebook's hidden test
cells, which delegate to the kit's isolated grading of each submitted notebook (item_score). The
same example submissions graded by `python -m autograder grade` (the session's CLI run) must get the
same score in every grade cell. boris handed in bob's answers in the Russian edition (so bob, graded in
English by the CLI, stands in for him here): nbgrader gives boris bob's scores.

Where nbgrader cannot grade at all, the kit's CLI does: a notebook whose nbgrader metadata is gone has
no grade cells nbgrader can find, so `nbgrader autograde` leaves every grade empty; `python -m autograder
grade COURSE` finds its cells by content and records their scores in the same gradebook (the notebook used
is alice's without her re-run cells' code, so that nbgrader runs it quickly: those cells score zero).
"""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from alignment_kit import items
from alignment_kit import paths as runtime_paths
from autograder import paths
from autograder.config import GradeConfig
from autograder.grade import grade_all
from submissions import build

pytestmark = pytest.mark.slow  # runs nbgrader autograde on the examples

STUDENTS = ("alice", "boris")  # the reference, and bob's two mistakes in the Russian edition
STRIPPED = "stripped"  # alice's notebook without its re-run cells' code (quick to run), and without nbgrader metadata


@pytest.fixture(scope="module")
def nbgrader_course(tmp_path_factory, kit_assets):
    course = tmp_path_factory.mktemp("course")
    shutil.copytree(paths.REPO_ROOT / "solutions", course / "solutions")
    shutil.copy(paths.REPO_ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    for student in STUDENTS:
        submitted = course / "submitted" / student / paths.ASSIGNMENT
        submitted.mkdir(parents=True)
        shutil.copy(paths.EXAMPLE_SUBMISSIONS / f"{student}.ipynb", submitted / f"{paths.ASSIGNMENT}.ipynb")
    stripped = json.loads(nbformat.writes(build.functions_only(nbformat.read(paths.EXAMPLE_SUBMISSIONS / "alice.ipynb",
                                                                           as_version=4))))
    for cell in stripped["cells"]:
        cell.get("metadata", {}).pop("nbgrader", None)
    (course / "submitted" / STRIPPED / paths.ASSIGNMENT).mkdir(parents=True)
    (course / "submitted" / STRIPPED / paths.ASSIGNMENT / f"{paths.ASSIGNMENT}.ipynb").write_text(json.dumps(stripped))
    # The submissions' own cells run in nbgrader's kernel; short stages keep that quick.
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(course), "KIT_PROFILE": "smoke",
           "KIT_DPO_STEPS": "1", "KIT_REWARD_STEPS": "1", "KIT_PPO_EPISODES": "4", "HF_HUB_OFFLINE": "1",
           "MPLBACKEND": "Agg", "TRL_EXPERIMENTAL_SILENCE": "1", "KIT_CACHE_DIR": str(runtime_paths.cache_dir()),
           "KIT_GRADER_CACHE": str(paths.grader_cache())}
    for verb in ("generate_assignment", "autograde"):
        done = subprocess.run([sys.executable, "-m", "nbgrader", verb, paths.ASSIGNMENT, "--force"],
                              cwd=course, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    scores, manual = _gradebook(course)
    return scores, manual, course


def _gradebook(course: Path) -> tuple[dict, dict]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        scores = {student: {g.name: g.auto_score for g in gradebook.find_submission_notebook(
                      paths.ASSIGNMENT, paths.ASSIGNMENT, student).grades}
                  for student in (*STUDENTS, STRIPPED)}
        manual = {student: gradebook.find_submission(paths.ASSIGNMENT, student).needs_manual_grade for student in STUDENTS}
    return scores, manual


@pytest.mark.slow
def test_nbgrader_autograde_scores_the_reference(nbgrader_course):
    scores, manual, _ = nbgrader_course
    autograded = {i.grade_id: i.points for i in items.ITEMS if i.autograded}
    assert {cell: scores["alice"][cell] for cell in autograded} == pytest.approx(autograded)
    assert manual["alice"], "hand-graded cells stay flagged for manual grading"


@pytest.mark.slow
@pytest.mark.parametrize("student", STUDENTS)
def test_both_flows_give_the_same_score_item_by_item(student, nbgrader_course, graded_examples):
    scores, _, _ = nbgrader_course
    record = graded_examples[4][student]
    cli = record.item_scores()
    for item in (i for i in items.ITEMS if i.autograded):
        assert scores[student][item.grade_id] == pytest.approx(cli[item.name], abs=1e-4), (
            f"{student}/{item.name}: nbgrader {scores[student][item.grade_id]} vs CLI {cli[item.name]}")


@pytest.mark.slow
def test_the_two_editions_get_the_same_scores_in_both_flows(nbgrader_course, graded_examples):
    scores, _, _ = nbgrader_course
    records = graded_examples[4]
    assert records["boris"].item_scores() == pytest.approx(records["bob"].item_scores()), "the CLI's editions differ"
    bob = records["bob"].item_scores()
    for item in (i for i in items.ITEMS if i.autograded):
        assert scores["boris"][item.grade_id] == pytest.approx(bob[item.name], abs=1e-4), (
            f"{item.name}: nbgrader gives the Russian edition {scores['boris'][item.grade_id]}, the CLI the English {bob[item.name]}")


@pytest.mark.slow
def test_a_notebook_nbgrader_cannot_grade_is_graded_by_the_kits_cli_into_the_same_gradebook(nbgrader_course):
    scores, _, course = nbgrader_course
    autograded = {i.grade_id: i.points for i in items.ITEMS if i.autograded}
    assert all(scores[STRIPPED][cell] is None for cell in autograded), "nbgrader found grade cells without metadata"
    only = course.parent / f"{course.name}-{STRIPPED}"  # the course with its gradebook, and this student's submission
    shutil.copytree(course, only, ignore=lambda folder, names: [n for n in names if Path(folder).name == "submitted"
                                                                and n != STRIPPED])
    grade_all([str(only)], GradeConfig(out_dir=str(only / "kit-grades"), jobs=1,
                                       gradebook_db=f"sqlite:///{only / 'gradebook.db'}"))
    scores, _ = _gradebook(only)
    expected = {i.grade_id: 0.0 if i.kind == items.CELL else i.points for i in items.ITEMS if i.autograded}
    assert {cell: scores[STRIPPED][cell] for cell in autograded} == pytest.approx(expected)

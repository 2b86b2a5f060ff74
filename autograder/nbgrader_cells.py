"""What the hidden test cells of the nbgrader source notebook call, so nbgrader grades as the kit does.

In nbgrader's own flow (`nbgrader autograde`) each graded test cell of a submission ends with
`item_score("<item>")` in its hidden part. The first such call grades the submitted notebook file
with `python -m autograder grade`, in a subprocess and with the kit's isolated workers; later calls
read the stored record. The value of the cell is the item's score, which nbgrader takes as partial
credit, so both flows give the same score, item by item. Before the visible public check runs, the
hidden part swaps `selfcheck` for a quiet stand-in: a failing public probe must not zero the cell.

The submission's own cells still run in nbgrader's kernel, outside any sandbox (see the README).
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from autograder import paths
from autograder.results import GradeRecord

_records: dict[str, GradeRecord] = {}


class _QuietChecks:
    """Stands in for `alignment_kit.selfcheck` while autograding: every check only says it was skipped."""

    def __getattr__(self, name: str):
        if not name.startswith("check_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: print(f"({name}: public check skipped while autograding; the grade follows)")


def quiet_public_checks() -> _QuietChecks:
    return _QuietChecks()


def _submitted_notebook(folder: Path) -> Path:
    """The notebook as the student submitted it. nbgrader runs it from COURSE/autograded/STUDENT/ASSIGNMENT,
    where the copy already has the instructor's locked cells (hidden tests included) put back, so the
    grade is made from COURSE/submitted/STUDENT/ASSIGNMENT, as `python -m autograder grade` does."""
    def notebook_in(place: Path) -> Path | None:
        named = place / paths.SOLUTION_NOTEBOOK.name
        found = [named] if named.is_file() else sorted(place.glob("*.ipynb"))
        return found[0] if len(found) == 1 else None

    if folder.parent.parent.name == "autograded":
        submitted = notebook_in(folder.parents[2] / "submitted" / folder.parent.name / folder.name)
        if submitted is not None:
            return submitted
    found = notebook_in(folder)
    if found is None:
        raise RuntimeError(f"expected one notebook in {folder}, found {[p.name for p in folder.glob('*.ipynb')]}")
    return found


def _without_hidden_tests(notebook: Path, folder: Path) -> Path:
    """A copy without the instructor's hidden tests (they call the grader; they are not the student's code)."""
    import nbformat

    from autograder.notebook_text import HIDDEN_TESTS

    content = nbformat.read(notebook, as_version=4)
    for cell in content.cells:
        cell.source = HIDDEN_TESTS.sub("", cell.source)
    copy = folder / notebook.name
    nbformat.write(content, copy)
    return copy


def graded_record(notebook: Path) -> GradeRecord:
    """Grade `notebook` once with the kit's CLI (cached by content) and return its stored record."""
    digest = hashlib.sha256(notebook.read_bytes()).hexdigest()
    if digest in _records:
        return _records[digest]
    out = paths.grader_cache() / "nbgrader-grades" / digest[:16]
    if "BEGIN HIDDEN TESTS" in notebook.read_text(encoding="utf-8", errors="replace"):  # the source notebook run as it is
        out.mkdir(parents=True, exist_ok=True)
        notebook = _without_hidden_tests(notebook, out)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(paths.REPO_ROOT), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", str(notebook), "--out", str(out),
                           "--jobs", "1", "--no-gradebook"], cwd=paths.REPO_ROOT, env=env, capture_output=True, text=True)
    record = out / notebook.stem / "record.json"
    if done.returncode != 0 or not record.is_file():
        raise RuntimeError(f"the kit's grader failed on {notebook.name}:\n{(done.stdout + done.stderr)[-3000:]}")
    _records[digest] = GradeRecord.from_record(json.loads(record.read_text(encoding="utf-8")))
    return _records[digest]


def item_score(name: str) -> float:
    """Print the grader's lines for item `name` of the notebook being autograded; return its score."""
    record = graded_record(_submitted_notebook(Path.cwd()))
    lines = [t for t in record.tests if t.item == name and t.status != "manual"]
    if record.error:
        print(f"✗ the notebook could not be graded: {record.error}")
    for test in lines:
        mark = "✓" if test.status == "passed" else "✗"
        print(f"{mark} {test.name}: {test.score:g} / {test.max_score:g}\n  " + test.output.replace("\n", "\n  "))
    return round(sum(t.score for t in lines), 4)

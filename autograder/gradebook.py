"""Class-level outputs: gradebook.csv and grades in nbgrader's own gradebook database."""
from __future__ import annotations

import csv
import os
import sys
import tempfile
import warnings
from pathlib import Path

from autograder import checks, paths
from autograder.generate import generate_into
from autograder.results import SubmissionResult

NOTEBOOK = paths.SOLUTION_NOTEBOOK.stem


def write_csv(results: list[SubmissionResult], path: Path) -> None:
    rows = [r.to_row() for r in sorted(results, key=lambda r: r.student)]
    columns = ["student", "total", *checks.PARTS, "needs_manual", "error", "notebook"]
    temporary = path.with_suffix(".csv.tmp")
    with open(temporary, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    temporary.replace(path)


def class_table(results: list[SubmissionResult]) -> str:
    parts = list(checks.PARTS)
    header = f"{'student':<24}" + "".join(f"{p[:12]:>13}" for p in parts) + f"{'total':>8}"
    lines = [header, "-" * len(header)]
    for result in sorted(results, key=lambda r: r.student):
        scores = result.part_scores()
        flag = "  (not gradable)" if result.error else ""
        lines.append(f"{result.student[:24]:<24}" + "".join(f"{scores[p]:>13.2f}" for p in parts) + f"{result.score:>8.2f}{flag}")
    maximum = "".join(f"{checks.PARTS[p]:>13.2f}" for p in parts)
    lines.append(f"{'(points available)':<24}{maximum}{sum(checks.PARTS.values()):>8.2f}")
    return "\n".join(lines)


def _cell_scores(result: SubmissionResult) -> dict[str, float]:
    """Scores keyed by the source notebook's autograded test cells."""
    scores: dict[str, float] = {}
    for test in result.tests:
        if test.status == "manual":
            continue
        grade_id = test.name.split(":")[0]
        scores[f"test_{grade_id}"] = round(scores.get(f"test_{grade_id}", 0.0) + test.score, 4)
    return scores


def _venv_on_path() -> None:
    """nbgrader creates a database by running the `alembic` script, which sits beside this Python."""
    scripts = str(Path(sys.executable).parent)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")


def record_in_nbgrader(results: list[SubmissionResult], db_url: str, assignment: str = "dpo_homework") -> None:
    """Write autograded scores into nbgrader's gradebook; hand-graded cells stay flagged for manual grading."""
    from nbgrader.api import Gradebook, MissingEntry

    _venv_on_path()
    with Gradebook(db_url) as gradebook:
        try:
            gradebook.find_assignment(assignment)
        except MissingEntry:
            with tempfile.TemporaryDirectory() as release:
                generate_into(Path(release), db_url=db_url)
    with Gradebook(db_url) as gradebook, warnings.catch_warnings():
        # nbgrader's session handling makes SQLAlchemy warn for every new submission; it is harmless.
        warnings.filterwarnings("ignore", message=".*not in session.*")
        for result in results:
            gradebook.update_or_create_student(result.student)
            gradebook.update_or_create_submission(assignment, result.student)
            for cell, score in _cell_scores(result).items():
                try:
                    grade = gradebook.find_grade(cell, NOTEBOOK, assignment, result.student)
                except MissingEntry:
                    continue
                grade.auto_score = min(score, grade.max_score)
            gradebook.db.commit()

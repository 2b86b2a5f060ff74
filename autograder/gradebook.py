"""Class-level outputs: gradebook.csv and grades in nbgrader's own gradebook database."""
from __future__ import annotations

import csv
import os
import sys
import tempfile
import warnings
from pathlib import Path

from alignment_kit import items, tracks
from autograder import paths
from autograder.generate import generate_into
from autograder.results import ROW_COLUMNS, GradeRecord, points_available

NOTEBOOK = paths.SOLUTION_NOTEBOOK.stem


def write_csv(results: list[GradeRecord], path: Path) -> None:
    """One row per student: the autograded score out of the autograded points, per-part autograded
    scores (empty for parts graded only by hand) and the hand-graded points still pending."""
    rows = [r.to_row() for r in sorted(results, key=lambda r: r.student)]
    temporary = path.with_suffix(".csv.tmp")
    with open(temporary, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=ROW_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    temporary.replace(path)


def class_table(results: list[GradeRecord]) -> str:
    """The printed class table: autograded scores per part; hand-graded parts show as pending."""
    parts = list(items.PARTS)
    header = f"{'student':<20}" + "".join(f"{p.name[:12]:>13}" for p in parts) + f"{'autograded':>12}{'pending':>9}"
    lines = [header, "-" * len(header)]
    for result in sorted(results, key=lambda r: r.student):
        scores = result.part_scores()
        cells = "".join(f"{'manual' if scores[p.name] is None else f'{scores[p.name]:.2f}':>13}" for p in parts)
        flag = "  (not gradable)" if result.error else ""
        lines.append(f"{result.student[:20]:<20}{cells}{result.score:>12.2f}{result.pending_points:>9.2f}{flag}")
    track = next((r.track for r in results if not r.error), tracks.DEFAULT)  # a class gets one edition
    maximum = "".join(f"{f'{p.points_in(track, True):.2f}' if p.points_in(track, True) else 'manual':>13}" for p in parts)
    lines.append(f"{'(points available)':<20}{maximum}{items.autograded_maximum(track):>12.2f}"
                 f"{items.hand_graded_points(track):>9.2f}")
    lines.append(f"autograded: the score out of {points_available(track)}; pending: hand-graded points a person adds "
                 "(nbgrader formgrader, or by hand). A hand-graded item is never counted as lost.")
    return "\n".join(lines)


def _grade_cell_scores(result: GradeRecord) -> dict[str, float]:
    """Autograded scores keyed by the source notebook's grade cells."""
    return {items.item(name).grade_id: score for name, score in result.item_scores().items()}


def _venv_on_path() -> None:
    """nbgrader creates a database by running the `alembic` script, which sits beside this Python."""
    scripts = str(Path(sys.executable).parent)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")


def record_in_nbgrader(results: list[GradeRecord], db_url: str, assignment: str = paths.ASSIGNMENT) -> None:
    """Write autograded scores into nbgrader's gradebook; hand-graded cells stay flagged for manual grading."""
    from nbgrader.api import Gradebook, MissingEntry

    _venv_on_path()
    with Gradebook(db_url) as gradebook:
        try:
            gradebook.find_assignment(assignment)
        except MissingEntry:
            edition = next((r.track for r in results if not r.error), tracks.DEFAULT)  # a class gets one edition
            with tempfile.TemporaryDirectory() as release:
                generate_into(Path(release), db_url=db_url, track=edition)
    with Gradebook(db_url) as gradebook, warnings.catch_warnings():
        # nbgrader's session handling makes SQLAlchemy warn for every new submission; it is harmless.
        warnings.filterwarnings("ignore", message=".*not in session.*")
        for result in results:
            gradebook.update_or_create_student(result.student)
            gradebook.update_or_create_submission(assignment, result.student)
            for cell, score in _grade_cell_scores(result).items():
                try:
                    grade = gradebook.find_grade(cell, NOTEBOOK, assignment, result.student)
                except MissingEntry:
                    continue
                grade.auto_score = min(score, grade.max_score)
            gradebook.db.commit()

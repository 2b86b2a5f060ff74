"""`python -m autograder generate`: build the student notebooks from the source with real nbgrader.

nbgrader's generate_assignment replaces each solution region with the code stub `todo()`
(see nbgrader_config.py), removes hidden tests and clears outputs. The result, in each language
(`editions.py`), is written to notebooks/<assignment>/ (English) and notebooks/<assignment>/<language>/;
tests/test_student_notebook.py fails when a committed copy differs. The README's points table and
totals are rewritten from the item declarations (`readme_points`).
"""
from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from alignment_kit import i18n, tracks
from autograder import editions, paths, readme_points

ASSIGNMENT = paths.ASSIGNMENT


def generate_into(release_root: Path, db_url: str | None = None, track: str = tracks.DEFAULT) -> Path:
    """Run nbgrader generate_assignment with the kit's config, keeping edition `track` of part 5 (nbgrader_config.py's
    `KeepEdition`); returns the generated notebook path.

    With `db_url`, nbgrader also records the assignment and its grade cells in that gradebook."""
    database = [f"--CourseDirectory.db_url={db_url}"] if db_url else ["--no-db"]
    with tempfile.TemporaryDirectory() as scratch:
        command = [sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--force", *database,
                   f"--CourseDirectory.root={paths.REPO_ROOT}", f"--CourseDirectory.release_directory={release_root}",
                   f"--KeepEdition.track={tracks.checked(track)}"]
        env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": scratch}
        done = subprocess.run(command, cwd=paths.REPO_ROOT, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise RuntimeError(f"nbgrader generate_assignment failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return Path(release_root) / ASSIGNMENT / paths.SOLUTION_NOTEBOOK.name


def strip_markers(source: str) -> str:
    """A solution cell's source without its `### BEGIN/END SOLUTION` lines."""
    return "\n".join(line for line in source.splitlines() if not re.match(r"\s*### (BEGIN|END) SOLUTION", line))


def with_sources(notebook, changes: dict[str, str]):
    """A copy of `notebook` whose cells with the given grade_ids have new sources."""
    edited = copy.deepcopy(notebook)
    for cell in edited.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in changes:
            cell.source = changes[grade_id]
    return edited


def answered(student, solution, keep: set[str] | None = None):
    """The student notebook with the `keep` solution cells (default: all) answered from the source notebook,
    as a student's finished notebook looks: no solution markers, no hidden tests."""
    solved = {c.metadata.get("nbgrader", {}).get("grade_id"): strip_markers(c.source) for c in solution.cells
              if c.metadata.get("nbgrader", {}).get("solution")}
    return with_sources(student, {gid: solved[gid] for gid in (solved if keep is None else keep)})


def editions_of(generated: Path, track: str = tracks.DEFAULT) -> dict[str, dict]:
    """Every language's edition of the generated notebook of `track`: language -> notebook (its language and
    track in the metadata). A cell without a current translation stays in English there (`release --lang`
    refuses such an edition)."""
    notebook = json.loads(generated.read_text(encoding="utf-8"))
    return {language: editions.edition(notebook, language, strict=False, track=track) for language in i18n.LANGUAGES}


def main() -> int:
    written = {}
    for track in tracks.TRACKS:
        with tempfile.TemporaryDirectory() as release:
            written.update({(language, track): notebook
                            for language, notebook in editions_of(generate_into(Path(release), track=track), track).items()})
    for (language, track), notebook in written.items():
        stale = editions.stale_cells(language) if language != i18n.SOURCE else {}
        if stale:
            print(f"warning: {len(stale)} cell(s) of the {language} edition stay in English until translated "
                  f"({', '.join(stale)}); `python -m autograder translations` lists them")
        target = paths.student_notebook(language, track)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {target.relative_to(paths.REPO_ROOT)} ({language}, {track})")
    readme = paths.REPO_ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    if readme_points.render(text) != text:
        readme.write_text(readme_points.render(text), encoding="utf-8")
        print("wrote the points table of README.md")
    return 0

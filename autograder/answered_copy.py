"""`python -m autograder answered --out FILE [--lang ru] [--track rloo]`: a gradable copy of the solution.

It writes the student notebook of that language and edition with every solution cell answered from
the source notebook (`generate.answered`, the function the example submissions are made with): what a
student who wrote the reference answers hands in. Grading it gives full marks; grading the source
notebook itself is refused (`notebook.source_notebook_problem`).
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat

from alignment_kit import tracks
from autograder import paths
from autograder.generate import answered


def main(out: str, language: str, track: str = tracks.DEFAULT) -> int:
    student = paths.student_notebook(language, track)
    if not student.exists():
        print(f"error: {student} is missing: run `python -m autograder generate` first", file=sys.stderr)
        return 2
    notebook = answered(nbformat.read(student, as_version=4), nbformat.read(paths.SOLUTION_NOTEBOOK, as_version=4))
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, target)
    print(f"wrote {target}: the {language} student notebook ({track} edition) with the reference answers; "
          f"grade it with `python -m autograder grade {target}`")
    return 0

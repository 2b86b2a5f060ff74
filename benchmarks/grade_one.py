"""Print how long grading one submission takes: cold (reference outputs computed too) and warm.

    .venv/bin/python benchmarks/grade_one.py [NOTEBOOK]

Warm is what each submission of a batch costs once the first one has filled the reference cache.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from autograder import paths
from autograder.grade import Grader


def main() -> None:
    notebook = Path(sys.argv[1]) if len(sys.argv) > 1 else paths.EXAMPLE_SUBMISSIONS / "alice.ipynb"
    grader = Grader()
    for label in ("cold", "warm"):
        started = time.perf_counter()
        result = grader.grade(notebook, "bench")
        print(f"{label}: {time.perf_counter() - started:6.1f} s  (score {result.score:g})", flush=True)


if __name__ == "__main__":
    main()

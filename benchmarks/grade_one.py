"""Print how long grading one submission takes: cold (worker template start-up included) and warm.

    .venv/bin/python benchmarks/grade_one.py [NOTEBOOK]

Warm is what each submission of a batch costs once the worker template runs and the reference cache
is filled. Each run uses a fresh Grader, so nothing is served from the in-process memo of an earlier
run; "warm, 2 stages at once" grades the stages of the one notebook in parallel, as `grade --jobs 1`
does on a 2-core machine.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from autograder import paths
from autograder.grade_notebook import Grader


def main() -> None:
    notebook = Path(sys.argv[1]) if len(sys.argv) > 1 else paths.EXAMPLE_SUBMISSIONS / "alice.ipynb"
    runs = [("cold", 1), ("warm", 1), ("warm, 2 stages at once", 2)]
    times = {}
    for label, parallel in runs:
        started = time.perf_counter()
        result = Grader(parallel=parallel).grade(notebook, "bench")
        times[label] = (time.perf_counter() - started, result.score)
    print(f"{os.cpu_count()} CPUs, {notebook.name}\n")
    print("| run | seconds | score | vs warm |\n|---|---|---|---|")
    for label, (seconds, score) in times.items():
        print(f"| {label} | {seconds:.1f} | {score:g} | {seconds / times['warm'][0]:.2f}x |")

if __name__ == "__main__":
    main()

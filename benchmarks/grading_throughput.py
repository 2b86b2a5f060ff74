"""Grading throughput: the kit's CLI (--jobs 1 and --jobs 2) against `nbgrader autograde`, same submissions.

    .venv/bin/python benchmarks/grading_throughput.py [-n 8]

N submissions are made from the example submissions (alice, bob, carol, dave, in turn), each code cell
marked with a comment naming its copy, so no two submissions share code (the grader would otherwise
reuse the result of identical code within a batch, and the figure would be too good). The reference
outputs are computed first (`python -m autograder reference`), so each CLI figure is the warm cost a
batch pays per submission. `nbgrader autograde` runs the same files in an nbgrader course in the smoke
profile: it executes every cell of each notebook in a kernel, and its hidden test cells get the item
scores from the kit's isolated grading. Prints seconds per submission, the total, and the ratios.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder import paths

EXAMPLES = ("alice", "bob", "carol", "dave")


def _timed(command: list[str], cwd: Path | None = None, env: dict | None = None) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return time.perf_counter() - started


def unique_copy(source: Path, target: Path, mark: str) -> None:
    """The notebook with a comment naming the copy at the top of every code cell."""
    notebook = json.loads(source.read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        if cell.get("cell_type") == "code":
            text = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            cell["source"] = f"# {mark}\n{text}"
    target.write_text(json.dumps(notebook), encoding="utf-8")


def unique_submissions(count: int, folder: Path) -> list[tuple[str, Path]]:
    """`count` (student, source example) pairs, each student's notebook written to `folder`, no two sharing code."""
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for number in range(count):
        source, student = paths.EXAMPLE_SUBMISSIONS / f"{EXAMPLES[number % len(EXAMPLES)]}.ipynb", f"student{number:03d}"
        unique_copy(source, folder / f"{student}.ipynb", student)
        made.append((student, source))
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=8, help="number of submissions")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="grading-throughput-"))
    flat, course = work / "submissions", work / "course"
    shutil.copytree(paths.REPO_ROOT / "solutions", course / "solutions")
    shutil.copy(paths.REPO_ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    for student, source in unique_submissions(args.n, flat):
        submitted = course / "submitted" / student / paths.ASSIGNMENT
        submitted.mkdir(parents=True)
        unique_copy(source, submitted / f"{paths.ASSIGNMENT}.ipynb", student)
    python = sys.executable
    print(f"reference outputs: {_timed([python, '-m', 'autograder', 'reference']):.1f}s (once per grader version)")
    rows = []
    for jobs in (1, 2):
        seconds = _timed([python, "-m", "autograder", "grade", str(flat), "--out", str(work / f"grades-{jobs}"),
                          "--jobs", str(jobs), "--no-gradebook"])
        rows.append((f"python -m autograder grade --jobs {jobs}", seconds))
    env = dict(os.environ, KIT_PROFILE="smoke", HF_HUB_OFFLINE="1", MPLBACKEND="Agg", HOME=str(course),
               PATH=f"{Path(python).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}")  # nbgrader calls `alembic`
    _timed([python, "-m", "nbgrader", "generate_assignment", paths.ASSIGNMENT, "--force"], cwd=course, env=env)
    seconds = _timed([python, "-m", "nbgrader", "autograde", paths.ASSIGNMENT, "--force"], cwd=course, env=env)
    rows.append(("nbgrader autograde (smoke profile)", seconds))
    nbgrader = rows[-1][1]
    print(f"\n{args.n} submissions; {os.cpu_count()} CPU cores; {time.strftime('%Y-%m-%d')}")
    print(f"{'how':38} {'total s':>8} {'s/submission':>13} {'throughput vs nbgrader':>23}")
    for name, seconds in rows:
        print(f"{name:38} {seconds:8.1f} {seconds / args.n:13.1f} {nbgrader / seconds:22.2f}x")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

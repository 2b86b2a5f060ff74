"""Seconds per grading stage, this checkout against another one (an older commit), in the same run.

    .venv/bin/python benchmarks/stage_times.py --baseline /path/to/other/checkout [-n 4] [--jobs 1]

N submissions are made from the example submissions (alice, bob, carol, dave, in turn), each code cell
marked with a comment naming its copy, so no two share code and no result is reused within a batch.
Each checkout computes its reference outputs first (`python -m autograder reference`, with its own
venv and its own cache), then grades the same files; the table gives each stage's mean seconds per
submission from the records (`stages` in `record.json`) and the ratio of this checkout's to the
baseline's. The baseline checkout needs its own `.venv` (`make venv` in it).
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
from grading_throughput import unique_submissions


def _stage_means(checkout: Path, python: str, submissions: Path, out: Path, jobs: int) -> dict[str, float]:
    env = dict(os.environ, KIT_GRADER_CACHE=str(checkout / ".grader-cache"))
    for command in ([python, "-m", "autograder", "reference"],
                    [python, "-m", "autograder", "grade", str(submissions), "--out", str(out), "--jobs", str(jobs),
                     "--no-gradebook"]):
        done = subprocess.run(command, cwd=checkout, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed in {checkout}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    records = [json.loads(path.read_text(encoding="utf-8")) for path in sorted(out.glob("*/record.json"))]
    stages: dict[str, list[float]] = {}
    for record in records:
        for name, seconds in record["stages"].items():
            stages.setdefault(name, []).append(seconds)
    return {name: sum(values) / len(records) for name, values in stages.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, type=Path, help="another checkout of the kit, with its .venv")
    parser.add_argument("-n", type=int, default=4, help="number of submissions")
    parser.add_argument("--jobs", type=int, default=1, help="submissions graded at once")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="stage-times-"))
    submissions = work / "submissions"
    unique_submissions(args.n, submissions)
    baseline = args.baseline.resolve()
    means = {"this checkout": _stage_means(paths.REPO_ROOT, sys.executable, submissions, work / "this", args.jobs),
             "baseline": _stage_means(baseline, str(baseline / ".venv" / "bin" / "python"), submissions,
                                      work / "baseline", args.jobs)}
    names = list(dict.fromkeys([*means["baseline"], *means["this checkout"]]))
    print(f"{args.n} submissions, --jobs {args.jobs}; {os.cpu_count()} CPU cores; {time.strftime('%Y-%m-%d')}; "
          f"baseline {baseline}")
    print(f"{'stage':40} {'baseline s':>11} {'this s':>8} {'this / baseline':>16}")
    for name in names:
        old, new = means["baseline"].get(name), means["this checkout"].get(name)
        ratio = f"{new / old:15.2f}x" if old and new is not None else f"{'-':>16}"
        print(f"{name:40} {old if old is not None else float('nan'):11.2f} "
              f"{new if new is not None else float('nan'):8.2f} {ratio}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

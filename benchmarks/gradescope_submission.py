"""Time one Gradescope submission on one CPU and measure its peak memory (setup excluded).

    .venv/bin/python benchmarks/gradescope_submission.py [NOTEBOOK ...]

Builds the autograder zip, lays it out as /autograder in a temporary folder, runs setup.sh there
(offline, reusing this environment's packages), then runs `taskset -c 0 run_autograder` for each
notebook (default: the example submissions alice and bob) while sampling the resident memory of the
whole process tree (PSS) every 0.1 s. Prints a table: wall time, peak memory and the score.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import site
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import date
from pathlib import Path

from autograder import paths
from autograder.gradescope import GradescopeConfig, build


def tree_pss_kib(pid: int) -> int:
    """Proportional memory (PSS) of a process and all its descendants, in KiB (from /proc). PSS counts a
    page shared by several processes once in all, as a memory cgroup does; summing RSS would count the
    pages a forked worker shares with the template process twice."""
    total, todo = 0, [pid]
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                children.setdefault(int(fields[1]), []).append(int(entry.name))
            except (OSError, IndexError, ValueError):
                pass
    while todo:
        current = todo.pop()
        todo += children.get(current, [])
        try:
            for line in Path(f"/proc/{current}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def set_up(root: Path) -> float:
    started = time.perf_counter()
    archive = build(GradescopeConfig(out=str(root / "autograder.zip")))
    with zipfile.ZipFile(archive) as unpacked:
        unpacked.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    env = dict(os.environ, KIT_GRADESCOPE_ROOT=str(root), KIT_REUSE_SITE_PACKAGES=site.getsitepackages()[0])
    subprocess.run(["bash", str(root / "source" / "setup.sh")], env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def grade_on_one_cpu(root: Path, notebook: Path) -> tuple[float, float, float]:
    """(seconds, peak MiB, score) of run_autograder pinned to CPU 0."""
    submission = root / "submission"
    shutil.rmtree(submission, ignore_errors=True)
    submission.mkdir()
    shutil.copy(notebook, submission / notebook.name)
    env = dict(os.environ, KIT_GRADESCOPE_ROOT=str(root))
    started = time.perf_counter()
    process = subprocess.Popen(["taskset", "-c", "0", "bash", str(root / "run_autograder")], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    while process.poll() is None:
        peak = max(peak, tree_pss_kib(process.pid))
        time.sleep(0.1)
    seconds = time.perf_counter() - started
    score = json.loads((root / "results" / "results.json").read_text())["score"]
    return seconds, peak / 1024, score


def main() -> None:
    notebooks = [Path(p) for p in sys.argv[1:]] or [paths.EXAMPLE_SUBMISSIONS / f"{n}.ipynb" for n in ("alice", "bob")]
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        print(f"setup.sh (not counted): {set_up(root):.0f} s", flush=True)
        print(f"\n{platform.node()} ({os.cpu_count()} CPUs, pinned to 1), {date.today()}, "
              f"`taskset -c 0 run_autograder`\n")
        print("| submission | wall time (s) | peak memory (MiB) | score |")
        print("|---|---|---|---|")
        for notebook in notebooks:
            seconds, peak, score = grade_on_one_cpu(root, notebook)
            print(f"| {notebook.name} | {seconds:.1f} | {peak:.0f} | {score:g} |", flush=True)


if __name__ == "__main__":
    main()

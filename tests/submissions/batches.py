"""Run the `grade` verb as an instructor would, including a run killed part-way."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path


def start_and_kill(inputs: Path, out: Path, jobs: int = 1) -> dict:
    """Start the CLI, kill it once the first student's record is written; returns the survivors' mtimes."""
    process = subprocess.Popen([sys.executable, "-m", "autograder", "grade", str(inputs), "--out", str(out),
                                "--jobs", str(jobs), "--no-gradebook"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 400
    while time.time() < deadline and not list(out.glob("*/record.json")):
        time.sleep(0.2)
    process.kill()
    process.wait()
    survivors = {p.parent.name: p.stat().st_mtime for p in out.glob("*/record.json")}
    assert survivors, "the first run wrote no result before it was killed"
    return survivors

"""The benchmark scripts still run and print their tables (on the tiny model, a few steps: the figures
themselves are measured by running the scripts, never asserted here)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from autograder import paths

pytestmark = pytest.mark.slow  # runs the benchmark scripts


def test_dpo_throughput_prints_one_row_per_method_with_ratios_to_trl(kit_assets):
    done = subprocess.run([sys.executable, str(paths.REPO_ROOT / "benchmarks" / "dpo_throughput.py"), "--model",
                           str(kit_assets["tiny"]), "--steps", "2", "--batch-size", "2", "--max-len", "48"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    lines = done.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("method"))
    rows = {line.split()[0]: line.split() for line in lines[header + 1:header + 5]}
    assert set(rows) == {"plain", "fast", "trl", "trl-no-ckpt"}, done.stdout
    assert rows["trl"][4] == "1.00x", done.stdout

"""Measure the grader's peak memory on notebooks made big by one output, against the normal notebook.

    .venv/bin/python benchmarks/big_notebook_memory.py [--sizes 200,1000] [--no-grade]

Builds, in a temporary folder, alice's example submission as it is and copies of it with one huge
base64 PNG output added to its `analysis_plots` cell (200 MB and 1 GB by default; written in pieces, so
building them costs this process little). Each is then read (`parse_notebook`) in a fresh Python process,
whose peak RSS (`ru_maxrss` of RUSAGE_SELF, taken at its end) is reported, and graded by
`python -m autograder grade FILE --out DIR --no-gradebook --jobs 1`, run in a process that reports its
own peak RSS (the grading parent) and that of its largest child (RUSAGE_CHILDREN: the sandboxed workers,
the worker template included). Ratios are to the normal notebook's figure from the same run. The normal
notebook is graded first, once untimed, so that every timed run finds the reference outputs in
`.grader-cache/`.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from autograder import paths

PLACEHOLDER = "@@figure@@"
PNG = b"\x89PNG\r\n\x1a\n"
PIECE = 3 << 20  # random bytes per base64 block written (a multiple of 3: the blocks join into one base64 text)

PARSE = """
import json, resource, sys, time
started = time.perf_counter()
from autograder.notebook import parse_notebook
imported, imported_kib = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
parsed = parse_notebook(sys.argv[1])
print(json.dumps({"seconds": time.perf_counter() - imported, "cells": len(parsed.cells), "error": parsed.error,
                  "warnings": parsed.warnings, "imported_kib": imported_kib,
                  "rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""

GRADE = """
import atexit, json, resource, runpy, sys
report_path = sys.argv[1]
def report():
    with open(report_path, "w") as out:
        json.dump({"parent_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                   "children_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}, out)
atexit.register(report)
sys.argv = ["autograder", "grade"] + sys.argv[2:]
runpy.run_module("autograder", run_name="__main__")
"""


def build(path: Path, megabytes: int) -> Path:
    """alice's notebook grown to `megabytes` MB by one base64 PNG output in its analysis_plots cell."""
    notebook = json.loads((paths.EXAMPLE_SUBMISSIONS / "alice.ipynb").read_text(encoding="utf-8"))
    cell = next(c for c in notebook["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "analysis_plots")
    cell["outputs"] = [{"output_type": "display_data", "metadata": {},
                        "data": {"image/png": PLACEHOLDER, "text/plain": ["<Figure size 640x480 with 1 Axes>"]}}]
    before, after = json.dumps(notebook, indent=1).split(PLACEHOLDER)
    left = (megabytes * 1_000_000 - len(before) - len(after)) // 4 * 4  # base64 characters to write
    block = base64.b64encode(os.urandom(PIECE)).decode()  # one random block, written again and again: writing stays fast
    with path.open("w", encoding="utf-8") as out:
        out.write(before)
        out.write(base64.b64encode(PNG).decode()[:8])  # the PNG signature's first six bytes, whole base64 quads
        left -= 8
        while left > 0:
            out.write(block[:left])
            left -= len(block)
        out.write(after)
    return path


def parse(path: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", PARSE, str(path)], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def grade(path: Path, out: Path) -> dict:
    report = out.with_suffix(".rusage.json")
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", GRADE, str(report), str(path), "--out", str(out), "--no-gradebook",
                           "--jobs", "1"], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"grading {path.name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    record = json.loads((out / path.stem / "record.json").read_text(encoding="utf-8"))
    return {"seconds": seconds, "score": sum(t["score"] for t in record["tests"]), "warnings": record["warnings"],
            **json.loads(report.read_text())}


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--sizes", default="200,1000", help="MB of the big notebooks, comma-separated")
    options.add_argument("--no-grade", action="store_true", help="only read them (no grading run)")
    arguments = options.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        notebooks = [root / "alice.ipynb"]
        notebooks[0].write_bytes((paths.EXAMPLE_SUBMISSIONS / "alice.ipynb").read_bytes())
        for megabytes in map(int, arguments.sizes.split(",")):
            notebooks.append(build(root / f"alice_{megabytes}mb.ipynb", megabytes))
        parsed = {path.name: parse(path) for path in notebooks}
        graded = {}
        if not arguments.no_grade:
            grade(notebooks[0], root / "warm-up")  # fills .grader-cache/ (and the OS's caches) for the timed runs
            graded = {path.name: grade(path, root / f"grades-{path.stem}") for path in notebooks}
        print(f"{platform.node()}: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
              f"Python {platform.python_version()}; {date.today().isoformat()}\n")
        base = parsed[notebooks[0].name]
        print("Reading (`parse_notebook`, in a fresh process; seconds exclude the imports):\n")
        print("| notebook | file size | peak RSS | vs normal | seconds | cells | outputs |\n|---|---|---|---|---|---|---|")
        for path in notebooks:
            found = parsed[path.name]
            if found["error"]:
                raise SystemExit(f"{path.name}: {found['error']}")
            print(f"| {path.name} | {path.stat().st_size / 1e6:,.1f} MB | {found['rss_kib'] / 1024:,.0f} MiB | "
                  f"{found['rss_kib'] / base['rss_kib']:.2f}x | {found['seconds']:.2f} | {found['cells']} | "
                  f"{'dropped' if any('outputs were not read' in w for w in found['warnings']) else 'read'} |")
        if graded:
            base = graded[notebooks[0].name]
            print("\nGrading (`python -m autograder grade FILE --out DIR --no-gradebook --jobs 1`, reference cached):\n")
            print("| notebook | file size | parent's peak RSS | vs normal | largest child's peak RSS | seconds | score |\n"
                  "|---|---|---|---|---|---|---|")
            for path in notebooks:
                found = graded[path.name]
                print(f"| {path.name} | {path.stat().st_size / 1e6:,.1f} MB | {found['parent_kib'] / 1024:,.0f} MiB | "
                      f"{found['parent_kib'] / base['parent_kib']:.2f}x | {found['children_kib'] / 1024:,.0f} MiB | "
                      f"{found['seconds']:.1f} | {found['score']:.2f} |")


if __name__ == "__main__":
    main()

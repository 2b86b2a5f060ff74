"""How long `python -m autograder report` takes for a class of 300 (a benchmark, not a test).

    .venv/bin/python benchmarks/class_report_300.py [-n 300]

Writes a synthetic class (tests/submissions/synthetic_class.py, 10 of them planted copies) and a
stored record for each, as `grade` would leave them (scores drawn at random: the report's cost does
not depend on them), then times `report` on it: reading the records and the notebooks, comparing
every pair, the plots and the pages. Prints the seconds and where they went.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from alignment_kit import items  # noqa: E402
from alignment_kit.scoring import ScoredLine  # noqa: E402
from autograder import class_report  # noqa: E402
from autograder.results import GradeRecord, write_json_atomic  # noqa: E402
from submissions import synthetic_class  # noqa: E402

STAGES = ("read notebook", "functions (2 workers)", "dpo_training_loop", "reward_training", "ppo_training")


def records(folder: Path, grades: Path, rng: random.Random) -> None:
    for notebook in sorted(folder.glob("*.ipynb")):
        lines = [ScoredLine(i.name, i.name, i.part, i.points if rng.random() < 0.7 else 0.0, i.points, "ok",
                            "passed") for i in items.ITEMS if i.autograded]
        lines = [line if line.score else ScoredLine(line.name, line.item, line.part, 0.0, line.max_score,
                                                    "hidden: a probe failed", "failed") for line in lines]
        record = GradeRecord(notebook.stem, str(notebook), "0" * 16, lines,
                             stages={s: round(rng.uniform(0, 4), 2) for s in STAGES})
        write_json_atomic(grades / notebook.stem / "record.json", record.to_record(), strict=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=300, help="notebooks in the class")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="class-report-"))
    made = time.perf_counter()
    synthetic_class.make(args.n - 10, 10, work / "notebooks")
    records(work / "notebooks", work / "grades", random.Random(1))
    made = time.perf_counter() - made
    started = time.perf_counter()
    report = class_report.build(work / "grades", log=lambda line: None)
    compared = time.perf_counter() - started
    class_report.write(report, work / "class")
    total = time.perf_counter() - started
    print(f"{len(report.records)} notebooks; {os.cpu_count()} CPU cores; {time.strftime('%Y-%m-%d')} "
          f"(making the class and its records, not counted: {made:.0f}s)\n")
    print("| step | seconds | share |\n|---|---|---|")
    for step, seconds in (("reading records and notebooks, comparing every pair", compared),
                          ("plots, pages and tables", total - compared), ("report, in all", total)):
        print(f"| {step} | {seconds:.1f} | {seconds / total:.0%} |")


if __name__ == "__main__":
    main()

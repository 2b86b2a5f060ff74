"""How well the similarity check finds planted copies in a synthetic class, and how long a class takes.

    .venv/bin/python benchmarks/similarity_class.py [--students 40] [--copies 10] [--out DIR]

Writes a synthetic class (tests/submissions/synthetic_class.py: independent notebooks mixed per item
from the suite's valid alternatives and known mistakes, and planted copies of some with renamed
variables, rewritten comments, swapped independent lines and one changed answer), compares every
pair, and prints precision and recall of the planted pairs among the top 10 pairs (whole notebook),
the lowest planted and the highest independent score, and the seconds it took.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from autograder import similarity  # noqa: E402
from autograder.notebook import parse_notebook  # noqa: E402
from submissions import synthetic_class  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40, help="independent notebooks")
    parser.add_argument("--copies", type=int, default=10, help="planted copies")
    parser.add_argument("--out", default=None, help="keep the notebooks in this folder")
    args = parser.parse_args()
    folder = Path(args.out or tempfile.mkdtemp(prefix="synthetic-class-"))
    planted = synthetic_class.make(args.students, args.copies, folder)
    started = time.perf_counter()
    units = {path.stem: similarity.graded_units(parse_notebook(path)) for path in sorted(folder.glob("*.ipynb"))}
    given = similarity.received()
    pairs = [p for p in similarity.pair_scores(similarity.class_fingerprints(units, given)) if p.item == similarity.ALL]
    seconds = time.perf_counter() - started
    wanted = {frozenset((p.original, p.copy)) for p in planted}
    top = [frozenset((p.student_a, p.student_b)) for p in pairs[:10]]
    hits = sum(pair in wanted for pair in top)
    planted_scores = [p.score for p in pairs if frozenset((p.student_a, p.student_b)) in wanted]
    independent = [p.score for p in pairs if frozenset((p.student_a, p.student_b)) not in wanted]
    print(f"{len(units)} notebooks ({args.students} independent, {args.copies} planted copies), "
          f"{len(pairs)} pairs compared in {seconds:.1f}s; {time.strftime('%Y-%m-%d')}\n")
    print("| measure | value |\n|---|---|")
    print(f"| precision at 10 | {hits / 10:.2f} |\n| recall at 10 | {hits / len(wanted):.2f} |")
    print(f"| lowest planted pair | {min(planted_scores, default=0):.3f} |")
    print(f"| highest independent pair | {max(independent, default=0):.3f} |")
    print(f"| planted above every independent pair | {min(planted_scores, default=0) > max(independent, default=0)} |")


if __name__ == "__main__":
    main()

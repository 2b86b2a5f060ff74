"""`python -m autograder merge OUT_DIR... --out DIR`: join the outputs of sharded `grade` runs into one.

`grade --shard K/N` grades the share of the submissions whose student id hashes to K (of N), so N
jobs of a scheduler (a Slurm job array, a Kubernetes Indexed Job) grade a class side by side, each
into its own folder. `merge` copies every student's folder (record, feedback, Gradescope export)
into DIR and writes from the records what one run writes: `gradebook.csv`, the scores in nbgrader's
gradebook (`--gradebook`), and the class report. A student found in two folders (a shard that died
and was run again into another folder) must have the same record in both; different records are
refused with both places named.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from autograder import gradebook
from autograder.grade import RECORD
from autograder.results import GradeRecord
from autograder.shards import ShardError


def collect(folders: list[Path]) -> dict[str, tuple[GradeRecord, Path]]:
    """Student -> (record, the folder it is in), from every folder's `<student>/record.json`."""
    found: dict[str, tuple[GradeRecord, Path]] = {}
    for folder in folders:
        if not folder.is_dir():
            raise ShardError(f"{folder} is not a folder: give the --out folders of the `grade --shard` runs")
        for path in sorted(folder.glob(f"*/{RECORD}")):
            data = json.loads(path.read_text(encoding="utf-8"))
            record = GradeRecord.from_record(data)
            if record.student in found:
                earlier, where = found[record.student]
                if earlier.to_record() != record.to_record():
                    raise ShardError(f"{record.student} is graded differently in {where} and {path.parent}: remove the "
                                     "stale one (or grade that shard again into the same folder) and merge again")
                continue
            found[record.student] = (record, path.parent)
    return found


def merge(folders: list[Path], out: Path, gradebook_db: str | None = None, class_report: bool = True,
          assignment: str | None = None) -> list[GradeRecord]:
    """Join the shards' outputs into `out`; returns the records, by student."""
    found = collect(folders)
    if not found:
        raise ShardError(f"no {RECORD} under any of {', '.join(map(str, folders))}: grade the shards first")
    out.mkdir(parents=True, exist_ok=True)
    for student, (_, folder) in sorted(found.items()):
        if folder.resolve() != (out / student).resolve():
            shutil.copytree(folder, out / student, dirs_exist_ok=True)
    records = [record for record, _ in (found[s] for s in sorted(found))]
    gradebook.write_csv(records, out / "gradebook.csv")
    if gradebook_db:
        gradebook.record_in_nbgrader(records, gradebook_db, *([assignment] if assignment else []))
    if class_report:
        from autograder import class_report as report

        report.write(report.build(out, log=lambda *_: None), out)
    return records


def main(folders: list[str], out: str, gradebook_db: str | None = None, class_report: bool = True) -> int:
    try:
        records = merge([Path(f) for f in folders], Path(out), gradebook_db, class_report)
    except ShardError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(gradebook.class_table(records))
    print(f"\nmerged {len(records)} students from {len(folders)} folder(s) into {out} (gradebook.csv"
          + (", nbgrader's gradebook" if gradebook_db else "") + (", class report" if class_report else "") + ")")
    return 0

"""`python -m autograder grade PATH... --out DIR`: grade a batch of notebooks.

Submissions are found in files, folders or an nbgrader `submitted/` tree and graded in parallel.
Each student's results.json is written (atomically) as soon as that student is done, so a killed
run resumes where it stopped: a submission whose content and grader are unchanged is not regraded.
"""
from __future__ import annotations

import dataclasses
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from alignment_kit import i18n
from autograder import gradebook, nbgrader_course, report
from autograder.config import GradeConfig
from autograder.grade_notebook import Grader, content_hash, grader_fault, start_workers, zero_everything
from autograder.results import GradeRecord, write_json_atomic
from autograder.shards import ShardError, parse_shard, shard_of


def discover(inputs: list[str]) -> list[tuple[str, Path]]:
    """(student, notebook) pairs from files, folders and nbgrader submitted/<student>/<assignment>/ trees."""
    found: list[tuple[str, Path]] = []
    for item in map(Path, inputs):
        if item.is_file():
            found.append((item.stem, item))
            continue
        if not item.is_dir():
            raise FileNotFoundError(f"{item} does not exist")
        root = item / "submitted" if (item / "submitted").is_dir() else item
        for notebook in sorted(root.rglob("*.ipynb")):
            if ".ipynb_checkpoints" in notebook.parts:
                continue
            relative = notebook.relative_to(root)
            found.append((relative.parts[0] if len(relative.parts) > 1 else notebook.stem, notebook))
    seen: dict[str, int] = {}
    unique = []
    for student, notebook in found:
        seen[student] = seen.get(student, 0) + 1
        unique.append((student if seen[student] == 1 else f"{student}-{seen[student]}", notebook))
    return unique


RECORD, RESULTS = "record.json", "results.json"


def _previous(folder: Path, digest: str, version: str) -> GradeRecord | None:
    """The stored record of this notebook, if the same grader graded it without a fault of its own."""
    try:
        result = GradeRecord.from_record(json.loads((folder / RECORD).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if result.content_hash != digest or result.grader_version != version or result.grader_fault:
        return None
    return result


def save(result: GradeRecord, folder: Path) -> None:
    """Write the feedback, the Gradescope export and, last, the record (its presence marks the student done)."""
    report.write_feedback(result, folder)
    write_json_atomic(folder / RESULTS, result.to_gradescope())
    write_json_atomic(folder / RECORD, result.to_record(), strict=False)


def in_shard(submissions: list[tuple[str, Path]], shard: str) -> list[tuple[str, Path]]:
    """The submissions of share K of N ("K/N"; all of them for ""), by a stable hash of the student id."""
    if not shard:
        return submissions
    index, count = parse_shard(shard)
    return [(student, notebook) for student, notebook in submissions if shard_of(student, count) == index]


def progress(done: int, total: int, started: float) -> str:
    """How far a batch is, as tqdm shows it: done/total, elapsed<left, and the rate."""
    def clock(seconds: float) -> str:
        return time.strftime("%H:%M:%S" if seconds >= 3600 else "%M:%S", time.gmtime(seconds))

    elapsed = time.time() - started
    rate = elapsed / done if done else 0.0
    return f"{done}/{total} [{clock(elapsed)}<{clock(rate * (total - done))}, {rate:.1f}s/notebook]"


def grade_all(inputs: list[str], config: GradeConfig) -> list[GradeRecord]:
    out = Path(config.out_dir).resolve()
    everyone = discover(inputs)
    submissions = in_shard(everyone, config.shard)
    if config.shard:
        print(f"shard {config.shard}: {len(submissions)} of {len(everyone)} notebooks", flush=True)
    if not submissions:
        print("no notebooks found" if not everyone else f"no notebooks in shard {config.shard}", file=sys.stderr)
        return []
    from autograder.worker import sandbox

    start_workers(config.track)
    print(sandbox().describe(config.limits), flush=True)
    # --jobs workers at a time: stages of one notebook or of several (functions and each re-run cell).
    grader = Grader(config.limits, parallel=max(1, config.jobs), track=config.track,
                    hand_over_costs_points=config.hand_over_costs_points)
    version = grader.version
    results: list[GradeRecord] = []
    todo = []
    for student, notebook in submissions:
        previous = _previous(out / student, content_hash(notebook), version)
        if previous is not None:
            results.append(previous)
            print(f"[{len(results)}/{len(submissions)}] {student}: {previous.score:.2f} (unchanged, kept)", flush=True)
        else:
            todo.append((student, notebook))
    started = time.time()
    if todo:
        print("computing the reference outputs and runs ...", flush=True)
        print(f"  done in {grader.prepare_reference():.1f}s", flush=True)

    def fault(student: str, notebook: Path, error: Exception) -> GradeRecord:
        reason = grader_fault(student, error)  # retried on the next run
        return GradeRecord(student, str(notebook), content_hash(notebook), zero_everything(reason),
                           error=reason, grader_fault=True, grader_version=version)

    def work(student: str, notebook: Path) -> GradeRecord:
        """Grade and store one notebook; whatever goes wrong, it leaves a record and the batch goes on."""
        try:
            result = grader.grade(notebook, student, config.language or None)
        except Exception as error:  # noqa: BLE001 - a grader fault on one notebook must not stop the batch
            result = fault(student, notebook, error)
        try:
            with i18n.speaking(result.language):
                save(result, out / student)
        except Exception as error:  # noqa: BLE001 - writing its feedback failed: a fault of the grader, stored
            result = fault(student, notebook, error)
            save(result, out / student)
        return result

    try:
        with ThreadPoolExecutor(max_workers=max(1, config.jobs)) as pool:
            futures = {pool.submit(work, s, n): s for s, n in todo}
            for graded, future in enumerate(as_completed(futures), 1):
                result = future.result()
                results.append(result)
                note = f" - {result.error}" if result.error else ""
                print(f"[{len(results)}/{len(submissions)}] {result.student}: {result.score:.2f} "
                      f"({result.execution_time:.1f}s){note}  {progress(graded, len(todo), started)}", flush=True)
    finally:
        if results:
            gradebook.write_csv(results, out / "gradebook.csv")
    if todo:
        print(f"graded {len(todo)} notebook(s) in {time.time() - started:.1f}s", flush=True)
        timed = [r for r in results if r.stages]
        if timed:
            names = list(dict.fromkeys(name for r in timed for name in r.stages))
            means = {name: sum(r.stages.get(name, 0.0) for r in timed) / len(timed) for name in names}
            print("where the time went (mean per submission): " +
                  ", ".join(f"{name} {seconds:.1f}s" for name, seconds in means.items()), flush=True)
    course = nbgrader_course.course_of(inputs)
    if course is not None:
        by_student = {r.student: r for r in results}
        for student, notebook in submissions:
            nbgrader_course.write_autograded(course, notebook, by_student[student])
        print(f"wrote {len(submissions)} autograded notebook(s) to {course / 'autograded'}", flush=True)
    if config.gradebook_db:
        gradebook.record_in_nbgrader(results, config.gradebook_db, config.assignment)
    return results


def main(config: GradeConfig) -> int:
    """The `grade` verb: grade `config.paths`, then print the class table."""
    out_dir = Path(config.out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    course = nbgrader_course.course_of(config.paths)
    default_db = course / "gradebook.db" if course else out_dir / "gradebook.db"  # a course keeps nbgrader's own
    try:
        if config.shard:
            parse_shard(config.shard)
    except ShardError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    database = (config.gradebook_db or f"sqlite:///{default_db}") if config.gradebook else None
    if config.shard and database:  # shards run side by side: one gradebook is written once, by `merge --gradebook`
        print(f"shard {config.shard}: nbgrader's gradebook is left to `python -m autograder merge ... --gradebook "
              f"{database}`", flush=True)
        database = None
    config = dataclasses.replace(config, out_dir=str(out_dir), gradebook_db=database)
    import torch

    torch.set_num_threads(1)  # the cores are the workers': this process only judges what they hand over
    try:
        results = grade_all(config.paths, config)
    except (FileNotFoundError, ShardError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if results:
        print()
        print(gradebook.class_table(results))
        print(f"\nresults: {out_dir}/<student>/results.json, feedback.md/.html; class: {out_dir}/gradebook.csv")
    return 0

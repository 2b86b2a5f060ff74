"""`grade --shard K/N` and `merge`: three shards run as separate processes, merged, equal one run.

The batch is cheap on purpose (notebooks that cannot be read, and one whose graded functions are all
there is to grade), so five grading processes fit in the suite's time."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.merge import merge
from autograder.shards import ShardError, parse_shard, shard_of
from submissions import build

pytestmark = pytest.mark.slow  # runs `grade` four times in processes of its own

TIMING = ("execution_time", "stages")  # what two runs of the same grading differ in


def _batch(folder: Path) -> list[str]:
    folder.mkdir()
    build.write(build.functions_only(build.solution_notebook()), folder / "ann.ipynb")
    for student in ("ben", "cat", "dan", "eve", "fay", "gus"):
        (folder / f"{student}.ipynb").write_text('{"cells": [ oops')
    return sorted(p.stem for p in folder.glob("*.ipynb"))


def _grade(inputs: Path, out: Path, *extra: str) -> str:
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", str(inputs), "--out", str(out), "--jobs", "1",
                           "--no-gradebook", *extra], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def _records(folder: Path) -> dict[str, dict]:
    """Each student's stored record, without the timings (which differ between any two runs)."""
    return {p.parent.name: {k: v for k, v in json.loads(p.read_text()).items() if k not in TIMING}
            for p in sorted(folder.glob("*/record.json"))}


def test_three_shards_merged_equal_one_run_and_a_rerun_shard_changes_nothing(tmp_path):
    students = _batch(tmp_path / "in")
    whole = tmp_path / "whole"
    _grade(tmp_path / "in", whole)
    shards = [tmp_path / f"shard{k}" for k in (1, 2, 3)]
    for k, out in enumerate(shards, 1):
        printed = _grade(tmp_path / "in", out, "--shard", f"{k}/3")
        assert f"shard {k}/3" in printed
    assert sorted(p.parent.name for s in shards for p in s.glob("*/record.json")) == students, "every student once"
    assert {shard_of(s, 3) for s in students} == {1, 2, 3}, "the batch should spread over the three shards"
    merged = tmp_path / "merged"
    merge(shards, merged, class_report=False)
    assert (merged / "gradebook.csv").read_bytes() == (whole / "gradebook.csv").read_bytes()
    assert _records(merged) == _records(whole)
    # shard 2 died after some of its notebooks: what it had written is kept, the rest graded again
    lost = next(p for p in sorted(shards[1].glob("*/record.json")))
    lost.unlink()
    _grade(tmp_path / "in", shards[1], "--shard", "2/3")
    again = tmp_path / "merged-again"
    merge(shards, again, class_report=False)
    assert (again / "gradebook.csv").read_bytes() == (whole / "gradebook.csv").read_bytes()
    assert _records(again) == _records(whole)


def test_shard_options_and_conflicting_outputs_are_refused(tmp_path):
    assert parse_shard("2/8") == (2, 8)
    for bad in ("0/3", "4/3", "x", "1-3"):
        with pytest.raises(ShardError, match="K/N|between 1 and N"):
            parse_shard(bad)
    assert all(shard_of("student017", 5) == shard_of("student017", 5) for _ in range(3))
    first, second = tmp_path / "a" / "ann", tmp_path / "b" / "ann"
    for folder, score in ((first, 1.0), (second, 2.0)):
        folder.mkdir(parents=True)
        from autograder.results import GradeRecord
        from alignment_kit.scoring import ScoredLine

        record = GradeRecord("ann", "ann.ipynb", "h", [ScoredLine("pad", "pad", "data_prep", score, 2.0, "", "passed")])
        (folder / "record.json").write_text(json.dumps(record.to_record()))
    with pytest.raises(ShardError, match="graded differently"):
        merge([tmp_path / "a", tmp_path / "b"], tmp_path / "out", class_report=False)
    shutil.rmtree(tmp_path / "b")
    with pytest.raises(ShardError, match="not a folder"):
        merge([tmp_path / "a", tmp_path / "b"], tmp_path / "out", class_report=False)

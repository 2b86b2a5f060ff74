"""The reference side of every comparison, computed once per grader version and kept on disk.

For each graded function: the reference's and every known mistake's runs on the hidden probes. For
each re-run cell: the runs of the reference cell, of the reference cell with each known mistake and
with each declared variation (at its declared value), under every hidden configuration, each
evaluated by the grader (`CellCheck.evaluate`), never taken from what a worker says; the runs a judge
asks for later (several mistakes at once, a variation at another value); and the replays of trainer
runs that differ from the reference's (PPO).

The cache lives in the grader's cache folder, which no worker can see. Several grading processes may
share it: whatever one of them computes is written under a file lock and read by the others.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from alignment_kit import i18n
from alignment_kit.loop_judge import combo, variation_key
from autograder import paths
from autograder.checks.cell_check import CellCheck
from autograder.checks.function_check import FunctionCheck
from autograder.config import Limits
from autograder.reference import reference_for_check, reference_notebook, reference_source
from autograder.results import write_json_atomic
from autograder.worker import run_job


def cell_job(check: CellCheck, definitions: str, runs: list[tuple[str, dict]]) -> dict:
    """A worker job re-running cells: (cell source, configuration) pairs, with the helpers the cell is given.
    The worker gets each configuration without its private part."""
    return {"kind": "cell", "item": check.grade_id, "student_code": definitions,
            "helpers": reference_source(check.helpers) if check.helpers else "",
            "runs": [{"cell_source": source, "config": check.given(config)} for source, config in runs],
            "language": i18n.current()}


def evaluated(check: CellCheck, config: dict, run: dict) -> dict:
    """A run as the judge compares it: the worker's facts, and its outcome evaluated on this side."""
    return {**run["facts"], **check.evaluate(config, run.get("outcome"))}


RUNS_PER_WORKER = 2  # a loop run hands over its policy after each step and its reference (13 MiB each): ~50 MiB
REFERENCE_WORKERS = max(1, min(2, os.cpu_count() or 1))  # workers of reference runs at once


def trusted_cell_runs(check: CellCheck, runs: list[tuple[str, dict]], limits: Limits,
                      measured_on: list[dict] | None = None) -> list[dict]:
    """Grader-owned cells (the solution's, a known mistake's, a replay), run in workers like a student's,
    evaluated on this side. `measured_on`: the configuration each run's outcome is measured on, when it is
    not the one the cell was given (a run that ignores an input is given another value, measured alike).
    The workers run `REFERENCE_WORKERS` at a time (the reference runs are many, and independent)."""
    measured_on = measured_on or [config for _, config in runs]

    def chunk_runs(start: int) -> list[dict]:
        chunk = runs[start:start + RUNS_PER_WORKER]
        result = run_job(cell_job(check, reference_notebook().definitions(), chunk), limits, check.worker_python())
        outcome = (result.payload or {}).get("runs")
        if result.error or not isinstance(outcome, list) or any(r.get("cell_error") or r.get("collect_error")
                                                                 for r in outcome):
            problem = result.error or next(r.get("cell_error") or r.get("collect_error") for r in outcome)
            raise RuntimeError(f"a reference run of {check.grade_id} failed: {problem}\n{result.output_tail[-2000:]}")
        return [evaluated(check, config, run) for config, run in zip(measured_on[start:start + RUNS_PER_WORKER], outcome)]

    with ThreadPoolExecutor(max_workers=REFERENCE_WORKERS) as pool:
        chunks = list(pool.map(chunk_runs, range(0, len(runs), RUNS_PER_WORKER)))
    return [run for chunk in chunks for run in chunk]


def mistaken_cell(check: CellCheck, keys: list[str]) -> str:
    """The source of the reference cell with the given known mistakes and variations (none: the solution's
    own cell)."""
    switches = check.switches(keys)
    return check.mistaken_source(**switches) if switches else reference_notebook().cell(check.grade_id)


@contextlib.contextmanager
def _file_lock(path: Path):
    """An exclusive lock shared by every process that grades with this cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class ReferenceCache:
    """Reference outputs of the functions, evaluated reference runs of the cells and replays, by grader version."""

    def __init__(self, limits: Limits, version: str):
        self.limits = limits
        self._lock = threading.RLock()
        self._file = paths.grader_cache() / "reference" / f"{version}.json"
        self._data = {"functions": {}, "cells": {}, "replays": {}}
        self._take_in(self._load())
        self._probes: dict[str, list] = {}

    def _load(self) -> dict:
        try:
            stored = json.loads(self._file.read_text(encoding="utf-8"))
            return stored if isinstance(stored, dict) else {}
        except (OSError, ValueError):
            return {}

    def _take_in(self, stored: dict) -> None:
        for part in self._data:
            if isinstance(stored.get(part), dict):
                for key, value in stored[part].items():
                    self._data[part].setdefault(key, value)

    @contextlib.contextmanager
    def _computing(self):
        """Hold this process's lock and the shared file lock; take in what other processes stored meanwhile,
        and store what was added on the way out."""
        with self._lock, _file_lock(self._file.with_suffix(".lock")):
            self._take_in(self._load())
            yield
            write_json_atomic(self._file, self._data, strict=False)

    # ------------------------------------------------------------------ functions
    def function(self, check: FunctionCheck) -> tuple[list, list, list]:
        """(probes, reference runs, mistake runs per probe) on the hidden probes."""
        with self._lock:
            if check.name not in self._probes:
                self._probes[check.name] = check.probes(hidden=True)
            probes = self._probes[check.name]
            if check.name not in self._data["functions"]:
                with self._computing():
                    if check.name not in self._data["functions"]:
                        reference = reference_for_check(check)
                        self._data["functions"][check.name] = {
                            "runs": [check.run(reference, p) for p in probes],
                            "mistakes": [[check.run(m.implementation, p) for m in check.mistakes] for p in probes]}
            stored = self._data["functions"][check.name]
            return probes, stored["runs"], stored["mistakes"]

    # ------------------------------------------------------------------ cells
    def _variant(self, check: CellCheck, keys: list[str], index: int, setups) -> tuple[str, dict]:
        """(cell source, configuration) of the reference with the given mistakes and variations, under
        configuration `index`."""
        config = dict(setups[index][1])
        for key in keys:
            if key.startswith("ignores:"):
                name = key.split(":", 1)[1]
                config[check.inputs[name]] = setups[0][1][check.inputs[name]]
        return mistaken_cell(check, [k for k in keys if not k.startswith("ignores:")]), config

    def cell(self, check: CellCheck) -> tuple[list, list]:
        """(setups, expected per configuration: {"runs": {key: evaluated run}, "messages": {key: message}})."""
        with self._lock:
            if check.grade_id not in self._data["cells"]:
                with self._computing():
                    if check.grade_id not in self._data["cells"]:
                        self._data["cells"][check.grade_id] = self._compute_cell(check)
            stored = self._data["cells"][check.grade_id]
            return stored["setups"], stored["expected"]

    def _compute_cell(self, check: CellCheck) -> dict:
        setups = check.setups()
        keys = [*check.mistakes, *(variation_key(name, v.default) for name, v in check.variations.items())]
        plan = [(index, "") for index in range(len(setups))]
        plan += [(index, key) for index in range(len(setups)) for key in keys]
        plan += [(index, f"ignores:{name}") for index in range(1, len(setups)) for name in check.inputs]
        runs = trusted_cell_runs(check, [self._variant(check, [key] if key else [], index, setups)
                                         for index, key in plan], self.limits, [setups[index][1] for index, _ in plan])
        expected = [{"runs": {}, "messages": check.localized_messages()} for _ in setups]
        for (index, key), run in zip(plan, runs):
            expected[index]["runs"][key] = run
            if key.startswith("ignores:"):
                name = key.split(":", 1)[1]
                value, default = setups[index][1][check.inputs[name]], setups[0][1][check.inputs[name]]
                expected[index]["messages"][key] = i18n.in_every_language(
                    lambda name=name, value=value, default=default: check.ignores_message(name, value, default))
        return {"setups": [list(setup) for setup in setups], "expected": expected}

    def combined(self, check: CellCheck, keys: list[str]) -> None:
        """Add the runs of the reference with all of `keys` (mistakes and variations) at once, in each
        configuration under the key its judge looks for (an ignored input with no run in a configuration
        changes nothing there, so it is left out of that configuration's key)."""
        setups, _ = self.cell(check)

        def missing() -> tuple[list[list[str]], list[int]]:
            expected = self._data["cells"][check.grade_id]["expected"]
            present = [[k for k in keys if k in e["runs"] or not k.startswith("ignores:")] for e in expected]
            return present, [i for i, e in enumerate(expected) if combo(present[i]) not in e["runs"]]

        with self._lock:
            if not missing()[1]:
                return
            with self._computing():
                expected = self._data["cells"][check.grade_id]["expected"]
                present, todo = missing()
                if not todo:
                    return
                runs = trusted_cell_runs(check, [self._variant(check, present[i], i, setups) for i in todo],
                                         self.limits, [setups[i][1] for i in todo])
                for index, run in zip(todo, runs):
                    expected[index]["runs"][combo(present[index])] = run

    def replay(self, check: CellCheck, config: dict, key: str, record: dict) -> dict:
        """The evaluated run of `check.replay_source` on a recorded trainer run (computed once per record)."""
        with self._lock:
            if key not in self._data["replays"]:
                with self._computing():
                    if key not in self._data["replays"]:
                        try:
                            [run] = trusted_cell_runs(check, [(check.replay_source, dict(config, replay=record))],
                                                      self.limits)
                        except RuntimeError as error:
                            run = {"replay_failed": str(error).splitlines()[0][:300]}
                        self._data["replays"][key] = run
            return self._data["replays"][key]

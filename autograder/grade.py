"""Grade one submission: parse, run student code in workers, compare with the reference, score.

`Grader` holds what is shared across a batch (limits, and the reference outputs, computed once)
and turns a notebook path into a `SubmissionResult`. Errors in a submission never escape: they
become zero-score lines with a reason. A submission that tries to import the grader gets no points
for the item during which it tried (or for every item of that worker, when it tried while the
notebook's code was being defined).
"""
from __future__ import annotations

import hashlib
import json
import sys
import threading
import time
import traceback
from dataclasses import replace
from pathlib import Path

from alignment_kit import items
from alignment_kit.sandbox import codec
from alignment_kit.compare import plural
from autograder import checks, paths
from autograder.checks.cell_check import CellCheck, Item
from autograder.checks.function_check import FunctionCheck
from autograder.config import Limits
from autograder.notebook import ParsedNotebook, parse_notebook
from autograder.reference import reference_for_check, reference_notebook, reference_source
from autograder.results import SubmissionResult, TestResult, write_json_atomic
from autograder.worker import run_job

GRADER_IMPORT = "tried to import the grader ({module}); student code gets no points for an item where it does"


def content_hash(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def grader_version() -> str:
    """Changes whenever the checks, the runtime's judging code or the solution change, so old results are regraded.
    The runtime is the one imported (a checkout's, or the wheel installed on Gradescope): the same files give
    the same version wherever they lie."""
    import alignment_kit

    digest = hashlib.sha256(paths.SOLUTION_NOTEBOOK.read_bytes())
    for package in (Path(__file__).resolve().parent, Path(alignment_kit.__file__).resolve().parent):
        for source in sorted(package.rglob("*")):
            if source.suffix in (".py", ".json") and "__pycache__" not in source.parts:
                name = f"{package.name}/{source.relative_to(package).as_posix()}"
                digest.update(name.encode() + source.read_bytes())
    return digest.hexdigest()[:16]


def redact(message: str, secret: str) -> str:
    """Hide a message that quotes reference code (a student's error could try to print it)."""
    quoted = [line.strip() for line in secret.splitlines() if len(line.strip()) >= 16]
    if any(line in message for line in quoted):
        return "(message withheld: it quoted the grader's reference code)"
    return message


def functions_job(definitions: str, names: list[str]) -> dict:
    """A worker job for graded functions: hidden probes as data, and the reference helpers each is given."""
    functions = {}
    for name in names:
        check = checks.function_check(name)
        functions[name] = {
            "function": check.item.callable_name,
            "probes": [{"label": p.label, "args": codec.encode(p.args), "kwargs": codec.encode(p.kwargs),
                        "expect_error": p.expect_error} for p in check.probes(hidden=True)],
            "helpers": reference_source(check.substitutes) if check.substitutes else ""}
    return {"kind": "functions", "student_code": definitions, "functions": functions}


def cell_job(check: CellCheck, definitions: str, runs: list[tuple[str, dict]]) -> dict:
    """A worker job re-running cells: (cell source, configuration) pairs, with the helpers the cell is given."""
    return {"kind": "cell", "item": check.grade_id, "student_code": definitions,
            "helpers": reference_source(check.helpers) if check.helpers else "",
            "runs": [{"cell_source": source, "config": config} for source, config in runs]}


def worker_groups(names: list[str]) -> list[list[str]]:
    """Split functions among workers so no worker holds reference code for a function it grades:
    each function given reference helpers gets a worker of its own."""
    plain = [n for n in names if not checks.function_check(n).substitutes]
    return ([plain] if plain else []) + [[n] for n in names if checks.function_check(n).substitutes]


def _grader_import_blame(payload: dict) -> dict[str, str]:
    """item -> the grader module it tried to import ("" as item: while defining the notebook's code)."""
    blame: dict[str, str] = {}
    for entry in payload.get("grader_imports") or []:
        if isinstance(entry, list) and len(entry) == 2 and all(isinstance(x, str) for x in entry):
            blame.setdefault(entry[0], entry[1])
    return blame


def trusted_cell_runs(check: CellCheck, runs: list[tuple[str, dict]], limits: Limits) -> list[dict]:
    """Facts of grader-owned cells (the solution's, or a known mistake's), run in a worker like a student's."""
    result = run_job(cell_job(check, reference_notebook().definitions(), runs), limits)
    outcome = (result.payload or {}).get("runs")
    if result.error or not isinstance(outcome, list) or any(r.get("cell_error") or r.get("collect_error")
                                                             for r in outcome):
        problem = result.error or next(r.get("cell_error") or r.get("collect_error") for r in outcome)
        raise RuntimeError(f"a reference run of {check.grade_id} failed: {problem}\n{result.output_tail[-2000:]}")
    return [r["facts"] for r in outcome]


def mistaken_cell(check: CellCheck, mistake_ids: list[str]) -> str:
    """The source of the reference cell with the given known mistakes (none: the solution's own cell)."""
    from autograder.checks.loop_mistakes import loop_source

    switches = {}
    for key in mistake_ids:
        switches.update(check.mistakes[key])
    return loop_source(**switches) if switches else reference_notebook().cell(check.grade_id)


class ReferenceCache:
    """Reference outputs of the functions and reference runs of the cells, computed once per grader
    version and kept on disk in the grader's cache (which no worker can see), so a new process reuses them."""

    def __init__(self, limits: Limits, version: str):
        self.limits = limits
        self._lock = threading.Lock()
        self._file = paths.grader_cache() / "reference" / f"{version}.json"
        stored = self._load()
        self._stored_functions: dict[str, dict] = stored.get("functions", {})
        self._functions: dict[str, tuple] = {}
        self._cells: dict[str, tuple[list, list]] = {k: (v["setups"], v["expected"]) for k, v in stored.get("cells", {}).items()}

    def _load(self) -> dict:
        try:
            return json.loads(self._file.read_text())
        except (OSError, ValueError):
            return {}

    def _save(self) -> None:
        data = {"functions": self._stored_functions,
                "cells": {k: {"setups": s, "expected": e} for k, (s, e) in self._cells.items()}}
        write_json_atomic(self._file, data, strict=False)

    def function(self, check: FunctionCheck) -> tuple[list, list, list]:
        """(probes, reference runs, mistake runs per probe) on the hidden probes."""
        with self._lock:
            if check.name not in self._functions:
                probes = check.probes(hidden=True)
                stored = self._stored_functions.get(check.name)
                if stored is None:
                    reference = reference_for_check(check)
                    stored = {"runs": [check.run(reference, p) for p in probes],
                              "mistakes": [[check.run(m.implementation, p) for m in check.mistakes] for p in probes]}
                    self._stored_functions[check.name] = stored
                    self._save()
                self._functions[check.name] = (probes, stored["runs"], stored["mistakes"])
            return self._functions[check.name]

    def _trusted_runs(self, check: CellCheck, runs: list[tuple[str, dict]]) -> list[dict]:
        return trusted_cell_runs(check, runs, self.limits)

    def _variant(self, check: CellCheck, mistake_ids: list[str], index: int, setups) -> tuple[str, dict]:
        """(cell source, configuration) of the reference with the given mistakes, under configuration `index`."""
        config = dict(setups[index][1])
        for key in mistake_ids:
            if key.startswith("ignores:"):
                name = key.split(":", 1)[1]
                config[check.inputs[name]] = setups[0][1][check.inputs[name]]
        return mistaken_cell(check, [k for k in mistake_ids if not k.startswith("ignores:")]), config

    def cell(self, check: CellCheck) -> tuple[list, list]:
        """(setups, expected per configuration: {"runs": {key: facts}, "messages": {key: message}})."""
        with self._lock:
            if check.grade_id not in self._cells:
                setups = check.setups()
                plan = [(index, "") for index in range(len(setups))]
                plan += [(index, key) for index in range(len(setups)) for key in check.mistakes]
                plan += [(index, f"ignores:{name}") for index in range(1, len(setups)) for name in check.inputs]
                facts = self._trusted_runs(check, [self._variant(check, [key] if key else [], index, setups)
                                                   for index, key in plan])
                expected = [{"runs": {}, "messages": dict(check.messages)} for _ in setups]
                for (index, key), found in zip(plan, facts):
                    expected[index]["runs"][key] = found
                    if key.startswith("ignores:"):
                        name = key.split(":", 1)[1]
                        value, default = setups[index][1][check.inputs[name]], setups[0][1][check.inputs[name]]
                        expected[index]["messages"][key] = check.ignores_message(name, value, default)
                self._cells[check.grade_id] = (setups, expected)
                self._save()
            return self._cells[check.grade_id]

    def combined(self, check: CellCheck, mistake_ids: list[str]) -> None:
        """Add the runs of the reference with all of `mistake_ids` at once (for one mistake costs once)."""
        setups, expected = self.cell(check)
        key = "+".join(sorted(mistake_ids))
        with self._lock:
            if key in expected[0]["runs"]:
                return
            facts = self._trusted_runs(check, [self._variant(check, mistake_ids, i, setups) for i in range(len(setups))])
            for found, per_config in zip(facts, expected):
                per_config["runs"][key] = found
            self._save()


class Grader:
    def __init__(self, limits: Limits | None = None):
        self.limits = limits or Limits()
        self.version = grader_version()
        self.reference = ReferenceCache(self.limits, self.version)

    def prepare_reference(self) -> float:
        """Compute every reference output and run now, before submissions are graded in parallel threads
        (which would otherwise race to import the same libraries). Returns the seconds it took."""
        started = time.time()
        for check in checks.FUNCTION_CHECKS:
            self.reference.function(check)
        for check in checks.CELL_CHECKS:
            self.reference.cell(check)
        return time.time() - started

    # ------------------------------------------------------------------ functions
    def grade_functions(self, parsed: ParsedNotebook, names: list[str] | None = None) -> list[TestResult]:
        """Score the graded functions (all, or just `names`) of a parsed notebook."""
        names = names or [c.name for c in checks.FUNCTION_CHECKS]
        runs: dict[str, dict] = {}
        for group in worker_groups(names):
            runs.update(self._function_runs(parsed.definitions(), group))
        return [self._grade_function(checks.function_check(n), runs.get(n, {})) for n in names]

    def _function_runs(self, definitions: str, names: list[str]) -> dict[str, dict]:
        """Run the graded functions in one worker; if that worker dies, retry each in its own."""
        result = run_job(functions_job(definitions, names), self.limits)
        runs = _function_results(result.payload, names)
        if runs is not None:
            return runs
        # Isolate the culprit, so one bad function does not cost the others; a retry runs one
        # function only, so it gets a shorter clock (the student may have disabled its alarm).
        single_limits = replace(self.limits, timeout_s=min(self.limits.timeout_s, self.limits.function_timeout_s + 40))
        runs = {}
        for name in names:
            single = run_job(functions_job(definitions, [name]), single_limits)
            found = _function_results(single.payload, [name])
            runs[name] = found[name] if found else {"missing": f"`{name}`: {single.error or 'the worker sent a malformed result'}"}
        return runs

    def _grade_function(self, check: FunctionCheck, outcome: dict) -> TestResult:
        secret = reference_source(check.substitutes) if check.substitutes else ""
        item = check.item

        def line(points: float, output: str) -> TestResult:
            return TestResult(item.name, item.name, item.part, points, item.points, output,
                              "passed" if points == item.points else "failed")

        if outcome.get("grader_import"):
            return line(0.0, GRADER_IMPORT.format(module=outcome["grader_import"]))
        if "runs" not in outcome:
            return line(0.0, redact(str(outcome.get("missing", "not graded")), secret))
        probes, reference_runs, mistake_runs = self.reference.function(check)
        runs = outcome["runs"]
        if not (isinstance(runs, list) and len(runs) == len(probes) and all(isinstance(r, dict) for r in runs)):
            return line(0.0, "the worker sent a malformed result")
        verdicts = [check.judge(p, s, r, m) for p, s, r, m in zip(probes, runs, reference_runs, mistake_runs)]
        failures = [redact(v.message, secret) for v in verdicts if not v.passed]
        return line(check.score(verdicts),
                    "\n".join(failures) if failures else f"all {plural(len(verdicts), 'check')} passed")

    # ------------------------------------------------------------------ cells
    def grade_cell(self, parsed: ParsedNotebook, check: CellCheck) -> tuple[list[Item], dict]:
        """Scored items for one re-run cell, plus its curve against the reference's (if it has one)."""
        def zero(reason: str) -> tuple[list[Item], dict]:
            return [Item(check.grade_id, check.points, False, reason)], {}

        source = parsed.cell(check.grade_id)
        if source is None:
            return zero(f"the `{check.grade_id}` cell was not found")
        setups, expected = self.reference.cell(check)
        result = run_job(cell_job(check, parsed.definitions(), [(source, config) for _, config in setups]), self.limits)
        if result.payload is None:
            return zero(f"the cell could not be graded: {result.error}")
        blame = _grader_import_blame(result.payload)
        if blame:
            return zero(GRADER_IMPORT.format(module=next(iter(blame.values()))))
        runs = result.payload.get("runs")
        if not isinstance(runs, list) or len(runs) != len(setups) or not all(isinstance(r, dict) for r in runs):
            return zero("the worker sent a malformed result")
        secret = reference_source(check.helpers) if check.helpers else ""
        facts = [r.get("facts") for r in runs]
        if not all(isinstance(f, dict) for f in facts):
            failed = next(r for r in runs if not isinstance(r.get("facts"), dict))
            reason = failed.get("cell_error") or failed.get("collect_error") or "nothing to grade"
            return zero(f"the cell failed: {redact(str(reason)[:400], secret)}")
        try:
            scored, named = check.judge(facts, expected, setups)
            if len(named) > 1:  # one mistake costs once, also when there are several: compare with all of them
                self.reference.combined(check, named)
                scored, named = check.judge(facts, expected, setups)
        except (KeyError, TypeError, ValueError, AttributeError):  # facts come from the student's process
            return zero("the cell left results the grader cannot read")
        errors = [r.get("cell_error") for r in runs if r.get("cell_error")]
        if errors:
            scored.insert(0, Item("cell ran to the end", 0.0, False, f"the cell raised: {redact(str(errors[0])[:400], secret)}"))
        if not check.curve:
            return scored, {}
        return scored, {"label": check.curve, "student": facts[0].get(check.curve),
                        "reference": expected[0]["runs"][""].get(check.curve)}

    # ------------------------------------------------------------------ submission
    def grade(self, path: Path, student: str) -> SubmissionResult:
        started = time.time()
        result = SubmissionResult(student=student, notebook=str(path), content_hash=content_hash(path),
                                  grader_version=self.version)
        parsed = parse_notebook(path)
        result.warnings = list(parsed.warnings)
        clock = time.time()

        def stage(name: str) -> None:
            nonlocal clock
            result.stages[name] = round(time.time() - clock, 3)
            clock = time.time()

        stage("read notebook")
        if parsed.error:
            result.error = parsed.error
            result.tests = zero_everything(parsed.error)
            result.execution_time = time.time() - started
            return result
        result.tests = self.grade_functions(parsed)
        stage(f"functions ({len(worker_groups([c.name for c in checks.FUNCTION_CHECKS]))} workers)")
        for check in checks.CELL_CHECKS:
            cell_items, curves = self.grade_cell(parsed, check)
            stage(check.grade_id)
            if curves:
                result.curves[check.grade_id] = curves
            result.tests += [TestResult(f"{check.grade_id}: {i.name}", check.grade_id, check.item.part,
                                        round(i.score, 4), i.points, i.message, "passed" if i.passed else "failed")
                             for i in cell_items]
        result.tests += manual_lines(parsed)
        result.figures = {i.name: parsed.figures(i.figures) for i in items.ITEMS if i.figures and parsed.figures(i.figures)}
        stage("hand-graded answers and figures")
        result.execution_time = time.time() - started
        return result


def _function_results(payload: dict | None, names: list[str]) -> dict | None:
    """The per-function results of a worker payload (grader imports folded in), or None when malformed."""
    results = payload.get("results") if isinstance(payload, dict) else None
    if not isinstance(results, dict) or not all(isinstance(results.get(n), dict) for n in names):
        return None
    blame = _grader_import_blame(payload)
    for name in names:
        module = blame.get(name) or blame.get("")
        if module:
            results[name] = {"grader_import": module}
    return results


def manual_lines(parsed: ParsedNotebook) -> list[TestResult]:
    """The hand-graded items, each with the student's answer copied in for the grader."""
    lines = []
    for item in items.items_of(items.MANUAL):
        answer = parsed.answer(item.name)
        text = (answer or "(no answer found)").strip()[:4000]
        note = ""
        if item.figures and not parsed.figures(item.figures):
            note = (" The notebook was submitted without outputs, so there are no figures to show: ask for the "
                    "notebook saved after running it." if not parsed.saved_with_outputs()
                    else f" The saved outputs of the `{item.figures}` cell hold no figure.")
        lines.append(TestResult(f"{item.name} (hand-graded)", item.name, item.part, 0.0, item.points,
                                f"Graded by hand: {item.title}.{note}\n\n{text}", "manual"))
    return lines


def zero_everything(reason: str) -> list[TestResult]:
    """Every item at zero with the same reason, for a notebook that cannot be read at all."""
    return [TestResult(item.name if item.autograded else f"{item.name} (hand-graded)", item.name, item.part, 0.0,
                       item.points, reason, "failed" if item.autograded else "manual") for item in items.ITEMS]


def grader_fault(student: str, error: Exception) -> str:
    """The reason recorded when the grader itself failed on a notebook; the traceback goes to stderr to report."""
    reason = f"grader error: {type(error).__name__}: {error}"
    print(f"{student}: {reason} (a fault of the grader, not of the notebook; please report it with this traceback)\n"
          + traceback.format_exc(), file=sys.stderr, flush=True)
    return reason

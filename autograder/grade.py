"""Grade one submission: parse, run student code in workers, compare with the reference, score.

`Grader` holds what is shared across a batch (limits, the reference outputs, which are computed
once) and turns a notebook path into a `SubmissionResult`. Errors in a submission never escape:
they become zero-score lines with a reason.
"""
from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import replace
from pathlib import Path

from alignment_kit import items
from alignment_kit.compare import fraction_passed, plural
from autograder import checks, paths
from autograder.checks.cell_check import CellCheck, Item
from autograder.checks.function_check import FunctionCheck
from autograder.config import Limits
from autograder.notebook import ParsedNotebook, parse_notebook
from autograder.reference import reference_for_check, reference_notebook, reference_source
from autograder.results import SubmissionResult, TestResult
from autograder.worker import run_job


def content_hash(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def grader_version() -> str:
    """Changes whenever the checks, the runtime's judging code or the solution change, so old results are regraded."""
    digest = hashlib.sha256(paths.SOLUTION_NOTEBOOK.read_bytes())
    for package in (paths.REPO_ROOT / "autograder", paths.RUNTIME_DIR):
        for source in sorted(package.rglob("*")):
            if source.suffix in (".py", ".json") and "__pycache__" not in source.parts:
                digest.update(source.relative_to(paths.REPO_ROOT).as_posix().encode() + source.read_bytes())
    return digest.hexdigest()[:16]


class ReferenceCache:
    """Reference outputs, mistake outputs and reference cell facts, computed once per batch."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self._lock = threading.Lock()
        self._functions: dict[str, tuple] = {}
        self._cells: dict[str, tuple[dict, dict]] = {}

    def function(self, check: FunctionCheck) -> tuple[list, list, list]:
        """(probes, reference runs, mistake runs per probe) on the hidden probes."""
        with self._lock:
            if check.name not in self._functions:
                probes = check.probes(hidden=True)
                reference = reference_for_check(check)
                runs = [check.run(reference, p) for p in probes]
                mistakes = [[check.run(m.implementation, p) for m in check.mistakes] for p in probes]
                self._functions[check.name] = (probes, runs, mistakes)
            return self._functions[check.name]

    def cell(self, check: CellCheck) -> tuple[dict, dict]:
        """(job data, reference facts) for a re-run cell; the reference runs in a worker like a student."""
        with self._lock:
            if check.grade_id not in self._cells:
                data = check.job_data()
                solution = reference_notebook()
                job = cell_job(check, solution.definitions(), solution.cell(check.grade_id), data)
                result = run_job(job, self.limits)
                if result.payload is None or result.payload.get("cell_error"):
                    problem = result.error or result.payload.get("cell_error")
                    raise RuntimeError(f"the reference {check.grade_id} cell failed: {problem}\n{result.output_tail[-2000:]}")
                self._cells[check.grade_id] = (data, result.payload["facts"])
            return self._cells[check.grade_id]


def _function_results(payload: dict | None, names: list[str]) -> dict | None:
    """The per-function results of a worker payload, or None when it is missing or malformed."""
    results = payload.get("results") if isinstance(payload, dict) else None
    if not isinstance(results, dict) or not all(isinstance(results.get(n), dict) for n in names):
        return None
    return results


def worker_groups(names: list[str]) -> list[list[str]]:
    """Split functions among workers so no worker holds reference code for a function it grades:
    each function with reference helpers gets a worker of its own."""
    plain = [n for n in names if not checks.function_check(n).substitutes]
    return ([plain] if plain else []) + [[n] for n in names if checks.function_check(n).substitutes]


def redact(message: str, secret: str) -> str:
    """Hide a message that quotes reference code (a student's error could try to print it)."""
    quoted = [line.strip() for line in secret.splitlines() if len(line.strip()) >= 16]
    if any(line in message for line in quoted):
        return "(message withheld: it quoted the grader's reference code)"
    return message


def cell_job(check: CellCheck, definitions: str, cell_source: str, data: dict) -> dict:
    return {"kind": "cell", "grade_id": check.grade_id, "student_code": definitions, "cell_source": cell_source,
            "substitutes_code": cell_job_secret(check), "data": data}


def cell_job_secret(check: CellCheck) -> str:
    return reference_source(check.substitutes) if check.substitutes else ""


def functions_job(definitions: str, names: list[str]) -> dict:
    substitutes = {c.name: reference_source(c.substitutes) for c in checks.FUNCTION_CHECKS
                   if c.name in names and c.substitutes}
    return {"kind": "functions", "student_code": definitions, "checks": names, "hidden": True, "substitutes": substitutes}


class Grader:
    def __init__(self, limits: Limits | None = None, hide: list[str] | None = None):
        self.limits = limits or Limits()
        self.hide = hide or []
        self.reference = ReferenceCache(self.limits)
        self.version = grader_version()

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
        result = run_job(functions_job(definitions, names), self.limits, self.hide)
        runs = _function_results(result.payload, names)
        if runs is not None:
            return runs
        # Isolate the culprit, so one bad function does not cost the others; a retry runs one
        # function only, so it gets a shorter clock (the student may have disabled its alarm).
        single_limits = replace(self.limits, timeout_s=min(self.limits.timeout_s, self.limits.function_timeout_s + 40))
        runs = {}
        for name in names:
            single = run_job(functions_job(definitions, [name]), single_limits, self.hide)
            found = _function_results(single.payload, [name])
            runs[name] = found[name] if found else {"missing": f"`{name}`: {single.error or 'the worker sent a malformed result'}"}
        return runs

    def _grade_function(self, check: FunctionCheck, outcome: dict) -> TestResult:
        secret = reference_source(check.substitutes) if check.substitutes else ""
        item = check.item

        def line(points: float, output: str) -> TestResult:
            return TestResult(item.name, item.name, item.part, points, item.points, output,
                              "passed" if points == item.points else "failed")

        if "runs" not in outcome:
            return line(0.0, redact(outcome.get("missing", "not graded"), secret))
        probes, reference_runs, mistake_runs = self.reference.function(check)
        runs = outcome["runs"]
        if not (isinstance(runs, list) and len(runs) == len(probes) and all(isinstance(r, dict) for r in runs)):
            return line(0.0, "the worker sent a malformed result")
        verdicts = [check.judge(p, s, r, m) for p, s, r, m in zip(probes, runs, reference_runs, mistake_runs)]
        failures = [redact(v.message, secret) for v in verdicts if not v.passed]
        return line(fraction_passed(item.points, verdicts),
                    "\n".join(failures) if failures else f"all {plural(len(verdicts), 'check')} passed")

    # ------------------------------------------------------------------ cells
    def grade_cell(self, parsed: ParsedNotebook, check: CellCheck) -> tuple[list[Item], dict]:
        """Scored items for one re-run cell, plus the facts (for the loss-curve plot)."""
        source = parsed.cell(check.grade_id)
        if source is None:
            return [Item(check.grade_id, check.points, False, f"the `{check.grade_id}` cell was not found")], {}
        data, reference_facts = self.reference.cell(check)
        result = run_job(cell_job(check, parsed.definitions(), source, data), self.limits, self.hide)
        if result.payload is None:
            return [Item(check.grade_id, check.points, False, f"the cell could not be graded: {result.error}")], {}
        payload = result.payload
        secret = cell_job_secret(check)
        for key in ("cell_error", "collect_error"):
            if payload.get(key):
                payload[key] = redact(str(payload[key])[:400], secret)
        facts = payload.get("facts")
        if not facts:
            reason = payload.get("cell_error") or payload.get("collect_error") or "nothing to grade"
            return [Item(check.grade_id, check.points, False, f"the cell failed: {reason}")], {}
        try:
            scored = check.judge(facts, reference_facts, data)
        except (KeyError, TypeError, ValueError, AttributeError):  # facts come from the student's process
            return [Item(check.grade_id, check.points, False, "the cell left results the grader cannot read")], {}
        if payload.get("cell_error"):
            scored.insert(0, Item("cell ran to the end", 0.0, False, f"the cell raised: {payload['cell_error']}"))
        if not check.curve:
            return scored, {}
        return scored, {"label": check.curve, "student": facts.get(check.curve), "reference": reference_facts.get(check.curve)}

    # ------------------------------------------------------------------ submission
    def grade(self, path: Path, student: str) -> SubmissionResult:
        started = time.time()
        result = SubmissionResult(student=student, notebook=str(path), content_hash=content_hash(path),
                                  grader_version=self.version)
        parsed = parse_notebook(path)
        result.warnings = list(parsed.warnings)
        if parsed.error:
            result.error = parsed.error
            result.tests = zero_everything(parsed.error)
            result.execution_time = time.time() - started
            return result
        result.tests = self.grade_functions(parsed)
        for check in checks.CELL_CHECKS:
            cell_items, curves = self.grade_cell(parsed, check)
            if curves:
                result.curves[check.grade_id] = curves
            result.tests += [TestResult(f"{check.grade_id}: {i.name}", check.grade_id, check.item.part,
                                        round(i.score, 4), i.points, i.message, "passed" if i.passed else "failed")
                             for i in cell_items]
        result.tests += manual_lines(parsed)
        result.execution_time = time.time() - started
        return result


def manual_lines(parsed: ParsedNotebook) -> list[TestResult]:
    """The hand-graded items, each with the student's answer copied in for the grader."""
    lines = []
    for item in items.items_of(items.MANUAL):
        answer = parsed.answer(item.name)
        text = (answer or "(no answer found)").strip()[:4000]
        lines.append(TestResult(f"{item.name} (hand-graded)", item.name, item.part, 0.0, item.points,
                                f"Graded by hand: {item.title}.\n\n{text}", "manual"))
    return lines


def zero_everything(reason: str) -> list[TestResult]:
    """Every item at zero with the same reason, for a notebook that cannot be read at all."""
    return [TestResult(item.name if item.autograded else f"{item.name} (hand-graded)", item.name, item.part, 0.0,
                       item.points, reason, "failed" if item.autograded else "manual") for item in items.ITEMS]

"""Inside the worker: build the probes (trusted, before any student code), then run student code.

Two job kinds:
* `functions`: each graded function is defined from the student's notebook, with the reference
  helpers it may call put beside it, and called on every probe; outputs are encoded to JSON.
* `cell`: one graded cell is re-run in a prepared namespace, then its check collects raw facts.
Every student error becomes data in the payload; only a dead process loses the payload.
"""
from __future__ import annotations

import signal
import traceback
from pathlib import Path

from autograder import checks
from autograder.config import Limits


class StudentTimeout(BaseException):
    """Raised by the alarm when one graded function runs too long (a BaseException so `except Exception` cannot hide it)."""


def _on_alarm(signum, frame):
    raise StudentTimeout()


def _short_error(error: BaseException) -> str:
    if isinstance(error, StudentTimeout):
        return "timed out (an infinite loop, or far too slow)"
    if isinstance(error, SystemExit):
        return f"called sys.exit({error.code!r})"
    frames = traceback.extract_tb(error.__traceback__)
    student = [f for f in frames if f.filename.startswith("<student")]
    where = f" (line {student[-1].lineno} of {student[-1].filename.strip('<>')})" if student else ""
    return f"{type(error).__name__}: {error}"[:300] + where


def _run_guarded(action, seconds: float):
    """Run `action()` under an alarm; returns (value, error text or None)."""
    signal.signal(signal.SIGALRM, _on_alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            value = action()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except BaseException as error:  # noqa: BLE001 - student code may raise anything, SystemExit included
        # An alarm that fires while the timer is being cleared also lands here, as a timeout.
        return None, _short_error(error)
    return value, None


def prepare(job: dict) -> dict:
    scratch = Path(job["scratch"])
    if job["kind"] == "functions":
        return {name: checks.function_check(name).probes(job["hidden"]) for name in job["checks"]}
    check = checks.cell_check(job["grade_id"])
    namespace, state = check.prepare(job["data"], scratch)
    return {"namespace": namespace, "state": state}


def _exec(source: str, namespace: dict, filename: str) -> None:
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - this is the sandboxed worker


def execute(job: dict, prepared: dict) -> dict:
    limits = Limits(**job["limits"])
    if job["kind"] == "functions":
        return {"results": {name: _run_function(job, name, probes, limits) for name, probes in prepared.items()}}
    return _run_cell(job, prepared, limits)


def _run_function(job: dict, name: str, probes, limits: Limits) -> dict:
    check = checks.function_check(name)
    namespace: dict = {"__name__": "__student__"}
    _, define_error = _run_guarded(lambda: _exec(job["student_code"], namespace, "<student notebook>"), limits.function_timeout_s)
    for helpers, label in ((job["substitutes"].get(name, ""), "<reference helpers>"), (check.spec.stubs, "<grader stubs>")):
        if helpers:
            _exec(helpers, namespace, label)
    fn = namespace.get(name)
    if not callable(fn):
        reason = f"`{name}` is not defined in the notebook"
        return {"missing": reason + (f" (defining the notebook's functions failed: {define_error})" if define_error else "")}
    runs, error = _run_guarded(lambda: [check.run(fn, probe) for probe in probes], limits.function_timeout_s)
    if error:
        return {"missing": f"`{name}` {error}"}
    return {"runs": runs}


def _run_cell(job: dict, prepared: dict, limits: Limits) -> dict:
    check = checks.cell_check(job["grade_id"])
    namespace: dict = {"__name__": "__student__"}
    # A failure here shows up as the cell's own error (a missing name), so it is not reported twice.
    _run_guarded(lambda: _exec(job["student_code"], namespace, "<student notebook>"), limits.function_timeout_s)
    namespace.update(prepared["namespace"])
    if job["substitutes_code"]:
        _exec(job["substitutes_code"], namespace, "<reference helpers>")
    if check.after_substitutes:
        check.after_substitutes(namespace, job["data"], prepared["state"])
    # Leave the parent's kill as the last resort: stop the cell a little earlier, with a message.
    cell_seconds = max(5.0, limits.timeout_s * 0.85)
    _, cell_error = _run_guarded(lambda: _exec(job["cell_source"], namespace, "<student cell>"), cell_seconds)
    facts, collect_error = _run_guarded(lambda: check.collect(namespace, prepared["state"]), limits.function_timeout_s)
    return {"facts": facts, "cell_error": cell_error, "collect_error": collect_error}

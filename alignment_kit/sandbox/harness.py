"""What a grading worker runs (student code runs only here).

A worker is a child forked by the grader's template process (`zygote.py`), or a standalone
`python -m alignment_kit.sandbox.harness` reading its job on stdin; either way inside the grader's sandbox
where the machine allows one. The process holds no answers: probe inputs arrive as data, the only
reference code it gets is the helpers a graded cell or function is explicitly given, and the grader
package is neither loaded nor importable. The worker
1. limits its resources, decodes the probes or prepares the cell's namespaces (as root, if it is);
2. drops to an unprivileged uid and puts up the syscall filter (`syscalls.py`) and the audit hook
   (`guard.py`);
3. defines the notebook's code statement by statement (a failing statement costs only itself);
4. runs each graded function on its probes, or re-runs the graded cell under each configuration
   (each in a fresh namespace with fresh seeded models);
5. writes one JSON payload of raw outputs or facts to its private pipe and exits.
Every student error is data in the payload; only a dead process loses it. The job arrives and the
payload leaves through `wire`: data only, judged by the grader outside the worker.
"""
from __future__ import annotations

import ast
import builtins
import os
import signal
import sys
import traceback
from pathlib import Path

from alignment_kit import call_watch, i18n, items, observe, recorders
from alignment_kit.handover import HandOver
from alignment_kit.i18n import say
from alignment_kit.sandbox import guard, syscalls, wire


class StudentTimeout(BaseException):
    """Raised by the alarm (a BaseException, so `except Exception` in student code cannot hide it)."""


def _on_alarm(signum, frame):
    raise StudentTimeout()


def short_error(error: BaseException) -> str:
    if isinstance(error, StudentTimeout):
        return say("worker.timed_out", "timed out (an infinite loop, or far too slow)")
    if isinstance(error, SystemExit):
        return say("worker.exit", "called sys.exit({code!r})", code=error.code)
    frames = traceback.extract_tb(error.__traceback__)
    student = [f for f in frames if f.filename.startswith("<student")]
    where = say("worker.where", " (line {line} of {place})", line=student[-1].lineno,
                place=student[-1].filename.strip("<>")) if student else ""
    return observe.error_text(error)[:300] + where


def guarded(action, seconds: float):
    """Run `action()` under an alarm; returns (value, error text or None)."""
    signal.signal(signal.SIGALRM, _on_alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            value = action()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except BaseException as error:  # noqa: BLE001 - student code may raise anything, SystemExit included
        return None, short_error(error)
    return value, None


_COMPILED: dict[tuple[str, str], list] = {}  # (source, file name) -> its statements, compiled once per worker


def _compiled(node: ast.stmt, filename: str):
    """One statement's code, or the SyntaxError text of a statement that parses but does not compile
    (`return` outside a function, say): that statement alone fails, as its cell would."""
    try:
        return compile(ast.Module([node], type_ignores=[]), filename, "exec")
    except SyntaxError as error:
        return f"SyntaxError: {error}"


def statements(source: str, filename: str) -> list:
    """`source`'s top-level statements, each compiled on its own, once per worker (every graded function and
    every re-run defines the same notebook code in a fresh namespace). Raises what `ast.parse` raises."""
    key = (source, filename)
    if key not in _COMPILED:
        _COMPILED[key] = [_compiled(node, filename) for node in ast.parse(source).body]
    return _COMPILED[key]


def define(source: str, namespace: dict, filename: str, seconds: float) -> list[str]:
    """Execute `source` one top-level statement at a time, as a notebook runs cell by cell; returns the errors."""
    try:
        compiled = statements(source, filename)
    except (SyntaxError, ValueError) as error:  # ValueError: a NUL byte (Python 3.11)
        return [f"SyntaxError: {error}"]
    errors = []
    for code in compiled:
        if isinstance(code, str):
            errors.append(code)
            continue
        _, error = guarded(lambda: exec(code, namespace), seconds)  # noqa: S102 - this is the sandboxed worker
        if error:
            errors.append(error)
    return errors


class Builtins:
    """A snapshot of the builtins, restored after student code ran (it may have patched them)."""

    def __init__(self):
        self.saved = dict(vars(builtins))

    def restore(self) -> None:
        current = vars(builtins)
        for name in [n for n in current if n not in self.saved]:
            del current[name]
        current.update(self.saved)


# ---------------------------------------------------------------------------------- functions
def run_function(job: dict, name: str, snapshot: Builtins) -> dict:
    """{"observations": [one per probe]} of the student's function, or {"missing": why there are none}."""
    limits = job["limits"]
    guard.current_item[0] = name
    # The policy's functions, found before student code can replace them.
    watched = call_watch.targets(HandOver.from_data(job["functions"][name].get("watch", {})))
    namespace: dict = {"__name__": "__student__"}
    errors = define(job["student_code"], namespace, "<student notebook>", limits["function_timeout_s"])
    helpers = job["functions"][name].get("helpers", "") + items.output(name).stubs
    if helpers:
        exec(compile(helpers, "<given helpers>", "exec"), namespace)  # noqa: S102
    function = job["functions"][name].get("function", name)
    fn = namespace.get(function)
    snapshot.restore()
    if not callable(fn):
        reason = say("worker.not_defined", "`{function}` is not defined in the notebook", function=function)
        failed = say("worker.definitions_failed", " (defining the notebook's code failed: {error})", error=errors[0]) \
            if errors else ""
        return {"missing": reason + failed}
    spec, probes = items.output(name), job["functions"][name]["probes"]
    watched_run, error = guarded(lambda: call_watch.calls_made(
        lambda: [observe.call(fn, p["args"], p["kwargs"], spec.observe, spec.gradient) for p in probes], watched),
        limits["function_timeout_s"])
    snapshot.restore()
    if error:
        return {"missing": f"`{name}` {error}"}
    observations, calls = watched_run
    return {"observations": observations, "calls": calls}


# ---------------------------------------------------------------------------------- cells
def run_statements(source: str, namespace: dict) -> str | None:
    """Run a re-run cell one top-level statement at a time; returns the first error, if any. A statement that
    fails does not stop the rest: a cell merged with another (the data cell above it, say) holds code that
    fails here, where the notebook's other variables do not exist, and the cell's own part must still run."""
    first = None
    for node in ast.parse(source).body:
        try:
            exec(compile(ast.Module([node], type_ignores=[]), "<student cell>", "exec"), namespace)  # noqa: S102
        except StudentTimeout:
            raise
        except BaseException as error:  # noqa: BLE001 - student code may raise anything, SystemExit included
            first = first or short_error(error)
    return first


def run_cell(job: dict, snapshot: Builtins) -> dict:
    """Re-run each (cell source, configuration) of the job in a fresh namespace; facts and outcome per run."""
    limits, item, scratch = job["limits"], job["item"], Path(job["scratch"])
    guard.current_item[0] = item
    cell_seconds = max(5.0, limits["timeout_s"] * 0.85 / max(1, len(job["runs"])))
    results = []
    for run in job["runs"]:
        config = run["config"]
        given, state = recorders.PREPARE[item](config, scratch)
        namespace: dict = {"__name__": "__student__"}
        define(job["student_code"], namespace, "<student notebook>", limits["function_timeout_s"])
        snapshot.restore()
        namespace.update(given)
        if job.get("helpers"):
            exec(compile(job["helpers"], "<given helpers>", "exec"), namespace)  # noqa: S102
        if item in recorders.AFTER_HELPERS:
            recorders.AFTER_HELPERS[item](namespace, config, state)
        first_error, stopped = guarded(lambda: run_statements(run["cell_source"], namespace), cell_seconds)
        cell_error = stopped or first_error
        snapshot.restore()
        left, collect_error = guarded(lambda: recorders.COLLECT[item](namespace, state), limits["function_timeout_s"])
        snapshot.restore()
        left = left if isinstance(left, dict) else {}
        results.append({"facts": left.get("facts"), "outcome": left.get("outcome"), "cell_error": cell_error,
                        "collect_error": collect_error})
    return {"runs": results}


# ---------------------------------------------------------------------------------- the process
def _send(fd: int, payload: dict) -> None:
    data = wire.dump(payload)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.close(fd)


def seed_everything() -> None:
    """The same random states in every worker (Python's `random` reseeds itself in a forked child), so that
    two runs of the same code start alike and a recorded run can be replayed."""
    import random

    import numpy as np
    import torch

    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


def run_job(job: dict) -> None:
    """Everything a worker does with one job, from its limits to sending the payload."""
    limits = job["limits"]
    os.chdir(job["scratch"])
    i18n.use(job.get("language", i18n.SOURCE))  # the worker's own messages speak the notebook's language
    i18n.catalog(i18n.current())  # read now, before the guards
    seed_everything()
    guard.limit_resources(limits["memory_mb"], limits["processes"], limits["scratch_mb"])
    if job["kind"] == "cell":
        recorders.warm_up(job["item"], Path(job["scratch"]))
    if job.get("drop_to_uid") is not None:
        guard.drop_privileges(job["drop_to_uid"])
    problem = syscalls.install()
    if problem:
        print(f"[worker] no syscall filter: {problem}", file=sys.stderr, flush=True)
    guard.install_audit_hook(job["readable"], job["scratch"])
    snapshot = Builtins()
    if job["kind"] == "functions":
        payload = {"results": {name: run_function(job, name, snapshot) for name in job["functions"]}}
    else:
        payload = run_cell(job, snapshot)
    payload["grader_imports"] = [list(entry) for entry in guard.grader_imports]
    _send(job["payload_fd"], payload)


def main() -> None:
    """A standalone worker: the job on stdin (the zygote's children call `run_job` directly)."""
    run_job(wire.load(sys.stdin.buffer.read(), tokenizers=True))
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()

"""Grade one submission: parse, run student code in workers, compare with the reference, score.

`Grader` holds what is shared across a batch (limits, and the reference outputs, computed once)
and turns a notebook path into a `GradeRecord`. Errors in a submission never escape: they
become zero-score lines with a reason. A submission that tries to import the grader gets no points
for the item during which it tried (or for every item of that worker, when it tried while the
notebook's code was being defined).
"""
from __future__ import annotations

import contextvars
import functools
import hashlib
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Callable

from alignment_kit import cell_judges, i18n, items, outputs, scoring, tracks
from alignment_kit.compare import checks_passed
from alignment_kit.i18n import say
from alignment_kit.scoring import ScoredLine
from autograder import cell_finder, checks, hand_overs, paths, similarity
from autograder.checks.cell_check import CellCheck
from autograder.checks.function_check import FunctionCheck
from autograder.config import Limits
from autograder.notebook import ParsedNotebook, parse_notebook, source_notebook_problem, track_by_content
from autograder.reference import reference_source
from autograder.reference_cache import ReferenceCache, cell_job
from autograder.results import GradeRecord
from autograder.worker import run_job


JUDGING_ROUNDS = 2  # a judge that asked for runs judges again with them; what it asks for then is made once more


def grader_import(module: str) -> str:
    return say("grade.grader_import", "tried to import the grader ({module}); student code gets no points for an item "
               "where it does", module=module)


def malformed() -> str:
    return say("grade.malformed", "the worker sent a malformed result")


def hand_graded(name: str) -> str:
    return say("grade.hand_graded", "{item} (hand-graded)", item=name)


def content_hash(path: Path) -> str:
    """The file's SHA-256, read in pieces (a notebook may be larger than the memory grading it needs)."""
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


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
        return say("grade.withheld", "(message withheld: it quoted the grader's reference code)")
    return message


@functools.lru_cache(maxsize=None)
def _function_job_part(name: str, language: str) -> dict:
    """What a functions job says about `name`, built once per language (its hidden probes build tokenizers and
    tensors; the job is only serialised, never changed)."""
    check = checks.function_check(name)
    return {"function": check.item.callable_name,
            # Only the inputs: a worker is told neither the probes' labels nor which of them are bad input.
            "probes": [{"args": p.args, "kwargs": p.kwargs} for p in check.probes(hidden=True)],
            "helpers": reference_source(check.substitutes) if check.substitutes else "",
            "watch": check.hand_over.as_data()}  # the calls its policy bans: the worker records them as data


def functions_job(definitions: str, names: list[str]) -> dict:
    """A worker job for graded functions: hidden probes as data, and the reference helpers each is given."""
    functions = {name: _function_job_part(name, i18n.current()) for name in names}
    return {"kind": "functions", "student_code": definitions, "functions": functions, "language": i18n.current()}


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


class Memo:
    """Results of code already graded in this process, by the code itself: a notebook whose code is the
    same as an earlier one's (a resubmission, a copy with other outputs) costs no worker. Workers are seeded
    and isolated, so the same code gives the same result."""

    def __init__(self, size: int = 256):
        self.size, self._lock, self._found = size, threading.Lock(), {}

    def get(self, key: str, compute):
        with self._lock:
            if key in self._found:
                return self._found[key]
        value = compute()
        with self._lock:
            self._found[key] = value
            while len(self._found) > self.size:
                self._found.pop(next(iter(self._found)))
        return value


def _key(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
    return digest.hexdigest()


def start_workers(track: str = "") -> None:
    """Start the workers' template processes for the edition `track` now: each imports torch and TRL for a few
    seconds, which then overlap with this process's own start (the reference, the tokenizer)."""
    from autograder import worker

    for python in dict.fromkeys(check.worker_python() for check in checks.cell_checks(track or tracks.DEFAULT)):
        worker.zygote(python)


class Grader:
    def __init__(self, limits: Limits | None = None, parallel: int = 1, track: str = "",
                 hand_over_costs_points: bool = False):
        self.limits = limits or Limits()
        self.hand_over_costs_points = hand_over_costs_points  # GradeConfig's: a hand-over takes the item's points
        self.track = tracks.checked(track) if track else ""  # "": each notebook's own edition
        from alignment_kit.probes import kit_tokenizer

        kit_tokenizer()  # imports transformers' tokenizers once, before the stages' threads import them at once
        code = grader_version()
        self.reference = ReferenceCache(self.limits, code)
        # A record says what graded it: a run that takes points for hand-overs regrades what one that did not kept.
        self.version = code + ("+hand-over-costs-points" if hand_over_costs_points else "")
        self.parallel = max(1, parallel)  # stages graded at once, over every notebook this grader grades
        self._slots = threading.BoundedSemaphore(self.parallel)  # ... each stage running its workers one at a time
        self.memo = Memo()

    def prepare_reference(self) -> float:
        """Compute every reference output and run now, before submissions are graded in parallel threads
        (which would otherwise race to import the same libraries). Returns the seconds it took."""
        started = time.time()
        for check in checks.FUNCTION_CHECKS:
            self.reference.function(check)
        for check in checks.cell_checks(self.track or tracks.DEFAULT):
            self.reference.cell(check)
        return time.time() - started

    # ------------------------------------------------------------------ functions
    def grade_functions(self, parsed: ParsedNotebook, names: list[str] | None = None) -> list[ScoredLine]:
        """Score the graded functions (all, or just `names`) of a parsed notebook."""
        return self.graded_functions(parsed, names)[0]

    def graded_functions(self, parsed: ParsedNotebook, names: list[str] | None = None
                         ) -> tuple[list[ScoredLine], list[hand_overs.Flag]]:
        """The graded functions' lines, and the hand-overs found in them (`hand_overs`)."""
        names = names or [c.name for c in checks.FUNCTION_CHECKS]
        definitions, runs = parsed.definitions(), {}
        for group in worker_groups(names):
            runs.update(self.memo.get(_key("functions", i18n.current(), definitions, *group),
                                      lambda group=group: self._function_runs(definitions, group)))
        tree, sources, lines, found = hand_overs.notebook_tree(parsed), similarity.function_sources(parsed), [], []
        for name in names:
            check = checks.function_check(name)
            flags = hand_overs.flags(check, tree, runs.get(name, {}), sources.get(check.item.callable_name, ""))
            lines.append(_as_found(parsed, self._grade_function(check, runs.get(name, {}), flags)))
            found += flags
        return lines, found

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
            runs[name] = found[name] if found else {"missing": f"`{name}`: {single.error or malformed()}"}
        return runs

    def _grade_function(self, check: FunctionCheck, outcome: dict, flags: list[hand_overs.Flag] = ()) -> ScoredLine:
        secret = reference_source(check.substitutes) if check.substitutes else ""
        item = check.item

        def line(points: float, output: str) -> ScoredLine:
            if flags:
                output = "\n".join([output, *hand_overs.notes(flags)])
                points = 0.0 if self.hand_over_costs_points else points
            return ScoredLine(item.name, item.name, item.part, points, item.points, output,
                              "passed" if points == item.points else "failed")

        if outcome.get("grader_import"):
            return line(0.0, grader_import(outcome["grader_import"]))
        if "observations" not in outcome:
            return line(0.0, redact(str(outcome.get("missing", say("grade.not_graded", "not graded"))), secret))
        verdicts = self.verdicts(check, outcome.get("observations"))
        if verdicts is None:
            return line(0.0, malformed())
        from alignment_kit.compare import said_once

        failures = [redact(problem, secret) for problem in said_once(verdicts)]  # each problem once, with its probes
        return line(check.score(verdicts),
                    "\n".join(failures) if failures else checks_passed(len(verdicts)))

    def verdicts(self, check: FunctionCheck, observations) -> list | None:
        """How a function's observations on the hidden probes (one each, as a worker records them) compare with the
        reference's and the named mistakes' runs; None when they are not one per probe."""
        probes, reference_runs, mistake_runs = self.reference.function(check)
        if not isinstance(observations, list) or len(observations) != len(probes):
            return None
        runs = [outputs.read(check.name, check.spec, observation, probe) for observation, probe in zip(observations, probes)]
        return [check.judge(p, s, r, m) for p, s, r, m in zip(probes, runs, reference_runs, mistake_runs)]

    # ------------------------------------------------------------------ cells
    def grade_cell(self, parsed: ParsedNotebook, check: CellCheck) -> tuple[list[ScoredLine], dict]:
        """Scored items for one re-run cell, plus its curve against the reference's (if it has one); a first line
        says how the cell was found when that was not plainly by its grade id."""
        found = parsed.find_cell(check.grade_id)
        key = _key("cell", i18n.current(), check.grade_id, _cell_definitions(parsed, check, found),  # lines speak
                   found.source if found.source is not None else "\0" + found.problem)  # a language
        lines, curves = self.memo.get(key, lambda: self._grade_cell(parsed, check, found))
        if found.how:
            lines = [scoring.line(scoring.shown(cell_judges.FOUND), 0.0, True, found.how)] + lines
        return lines, curves

    def _grade_cell(self, parsed: ParsedNotebook, check: CellCheck, found) -> tuple[list[ScoredLine], dict]:
        def zero(reason: str) -> tuple[list[ScoredLine], dict]:
            return [scoring.line(check.grade_id, check.points, False, reason)], {}

        source = found.source
        if source is None:
            return zero(found.problem)
        setups, expected = self.reference.cell(check)
        result = run_job(cell_job(check, _cell_definitions(parsed, check, found), [(source, config) for _, config in setups]),
                         self.limits, check.worker_python())
        if result.payload is None:
            return zero(say("grade.cell_ungradable", "the cell could not be graded: {error}", error=result.error))
        blame = _grader_import_blame(result.payload)
        if blame:
            return zero(grader_import(next(iter(blame.values()))))
        runs = result.payload.get("runs")
        if not isinstance(runs, list) or len(runs) != len(setups) or not all(isinstance(r, dict) for r in runs):
            return zero(malformed())
        secret = reference_source(check.helpers) if check.helpers else ""
        if not all(isinstance(r.get("facts"), dict) for r in runs):
            failed = next(r for r in runs if not isinstance(r.get("facts"), dict))
            reason = failed.get("cell_error") or failed.get("collect_error") or say("grade.nothing", "nothing to grade")
            return zero(say("grade.cell_failed", "the cell failed: {reason}", reason=redact(str(reason)[:400], secret)))
        try:
            student = self._evaluated_runs(check, setups, expected, runs)
            scored, wanted = check.judge(student, expected, setups)
            for _ in range(JUDGING_ROUNDS):  # runs the judge asked for (several mistakes at once, a variation)
                if not wanted:
                    break
                for keys in wanted:
                    self.reference.combined(check, keys)
                scored, wanted = check.judge(student, expected, setups)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError):  # the data comes from the student's process
            return zero(say("grade.unreadable", "the cell left results the grader cannot read"))
        errors = [r.get("cell_error") for r in runs if r.get("cell_error")]
        if errors:
            scored.insert(0, scoring.line(scoring.shown(cell_judges.RAN_TO_THE_END), 0.0, False, say(
                "grade.cell_raised", "the cell raised: {error}", error=redact(str(errors[0])[:400], secret))))
        if not check.curve:
            return scored, {}
        return scored, {"label": check.curve, "student": student[0].get(check.curve),
                        "reference": expected[0]["runs"][""].get(check.curve)}

    def _evaluated_runs(self, check: CellCheck, setups, expected, runs: list[dict]) -> list[dict]:
        """The student's runs as the judge compares them: facts, and outcomes evaluated on this side; runs
        that can be replayed are verified against their replay."""
        student = []
        for index, ((_, config), run) in enumerate(zip(setups, runs)):
            student.append({**run["facts"], **check.evaluate(config, run.get("outcome"))})
            if check.verify is not None:
                def replay(key, record, config=config):
                    return self.reference.replay(check, config, key, record)

                student[-1].update(check.verify(config, run.get("outcome"), student[-1], expected[index]["runs"][""],
                                                replay))
        return student

    def _cell_lines(self, parsed: ParsedNotebook, check: CellCheck) -> tuple[list[ScoredLine], dict]:
        cell_items, curves = self.grade_cell(parsed, check)
        return [replace(i, name=f"{check.grade_id}: {i.name}", item=check.grade_id, part=check.item.part,
                        score=round(i.score, 4)) for i in cell_items], curves

    def _run_stages(self, stages: list[tuple[str, Callable]]) -> list[tuple[str, tuple]]:
        """Run the stages (at most `parallel` at once, counting the other notebooks' stages), each timed on its own;
        results in the stages' order."""
        def timed(work):
            with self._slots:
                started = time.time()
                lines, curves = work()
                return lines, curves, round(time.time() - started, 3)

        if self.parallel == 1:
            return [(name, timed(work)) for name, work in stages]
        with ThreadPoolExecutor(max_workers=self.parallel) as pool:  # each stage speaks this thread's language
            futures = [(name, pool.submit(contextvars.copy_context().run, timed, work)) for name, work in stages]
            return [(name, future.result()) for name, future in futures]

    # ------------------------------------------------------------------ submission
    def grade(self, path: Path, student: str, language: str | None = None) -> GradeRecord:
        """Grade one notebook, writing its lines in `language` (default: the language its metadata records,
        else English), as the edition of part 5 its metadata records (else the one its code shows, else the
        grader's `track`)."""
        started = time.time()
        parsed = parse_notebook(path)
        language = language or parsed.language or i18n.SOURCE
        with i18n.speaking(language):
            if language != i18n.SOURCE and (parsed.warnings or parsed.error):
                parsed = parse_notebook(path)  # its warnings and reasons, in the notebook's language
            return self._grade(path, student, parsed, language, started)

    def track_of(self, parsed: ParsedNotebook) -> str:
        """The edition a notebook is graded as: the grader's when it was told one, else what the notebook says."""
        return self.track or parsed.recorded_track or track_by_content(parsed) or tracks.DEFAULT

    def _grade(self, path: Path, student: str, parsed: ParsedNotebook, language: str, started: float) -> GradeRecord:
        track = self.track_of(parsed)
        result = GradeRecord(student=student, notebook=str(path), content_hash=content_hash(path),
                             grader_version=self.version, language=language, track=track)
        result.warnings = list(parsed.warnings)
        clock = started

        def stage(name: str) -> None:
            nonlocal clock
            result.stages[name] = round(time.time() - clock, 3)
            clock = time.time()

        stage("read notebook")
        problem = parsed.error or source_notebook_problem(parsed)
        if problem:
            result.error = problem
            result.tests = zero_everything(problem, track)
            result.execution_time = time.time() - started
            return result
        function_stage = f"functions ({len(worker_groups([c.name for c in checks.FUNCTION_CHECKS]))} workers)"
        def functions() -> tuple[list[ScoredLine], dict]:
            lines, flags = self.graded_functions(parsed)
            result.hand_overs = [flag.as_data() for flag in flags]
            return lines, {}

        stages = [(function_stage, functions)]
        stages += [(check.grade_id, lambda check=check: self._cell_lines(parsed, check)) for check in checks.cell_checks(track)]
        for name, (lines, curves, seconds) in self._run_stages(stages):
            result.tests += lines
            result.stages[name] = seconds
            if curves:
                result.curves[name] = curves
        clock = time.time()
        result.tests += manual_lines(parsed, track)
        result.figures = {i.name: parsed.figures(i.figures) for i in items.edition_items(track)
                          if i.figures and parsed.figures(i.figures)}
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


def _cell_definitions(parsed: ParsedNotebook, check: CellCheck, found) -> str:
    """The notebook's code a re-run cell is run with: what it uses, without what the grader gives it."""
    return parsed.definitions_for(found.source, check.helpers) if found.source is not None else ""


def _as_found(parsed: ParsedNotebook, graded: ScoredLine) -> ScoredLine:
    """A function's line with how it was found, or, when it is not defined, with the reason a cell shows."""
    name = items.item(graded.item).callable_name
    if name not in parsed.defined_names():
        problem = cell_finder.function_problem(parsed.cells, name)
        return replace(graded, output=problem) if problem else graded
    note = cell_finder.function_note(parsed.cells, name)
    return replace(graded, output=graded.output + "\n" + say("grade.found_note", "Note: {note}.", note=note)) if note \
        else graded


def manual_lines(parsed: ParsedNotebook, track: str = tracks.DEFAULT) -> list[ScoredLine]:
    """The hand-graded items of the edition, each with the student's answer copied in for the grader."""
    from autograder.read_notebook import megabytes

    lines = []
    for item in items.items_of(items.MANUAL, track):
        answer = parsed.answer(item.name)
        text = (answer or say("grade.no_answer", "(no answer found)")).strip()[:4000]
        note = ""
        if parsed.outputs_dropped_bytes:  # a notebook too large to read whole: read without its outputs
            note = say("grade.outputs_dropped", " The notebook is {megabytes} MB: its outputs were too large to keep "
                       "and were not read, so its figures are missing: ask the student for them.",
                       megabytes=megabytes(parsed.outputs_dropped_bytes))
        elif item.figures and not parsed.figures(item.figures):
            note = (say("grade.no_outputs", " The notebook was submitted without outputs, so there are no figures to "
                        "show: ask for the notebook saved after running it.") if not parsed.saved_with_outputs()
                    else say("grade.no_figure", " The saved outputs of the `{cell}` cell hold no figure.", cell=item.figures))
        lines.append(ScoredLine(hand_graded(item.name), item.name, item.part, 0.0, item.points,
                                say("grade.by_hand", "Graded by hand: {title}.", title=item.shown_title) + f"{note}\n\n{text}",
                                "manual"))
    return lines


def zero_everything(reason: str, track: str = tracks.DEFAULT) -> list[ScoredLine]:
    """Every item at zero with the same reason, for a notebook that cannot be read at all."""
    return [ScoredLine(item.name if item.autograded else hand_graded(item.name), item.name, item.part, 0.0,
                       item.points, reason, "failed" if item.autograded else "manual")
            for item in items.edition_items(track)]


def grader_fault(student: str, error: Exception) -> str:
    """The reason recorded when the grader itself failed on a notebook; the traceback goes to stderr to report."""
    reason = f"grader error: {type(error).__name__}: {error}"
    print(f"{student}: {reason} (a fault of the grader, not of the notebook; please report it with this traceback)\n"
          + traceback.format_exc(), file=sys.stderr, flush=True)
    return reason

"""`python -m autograder fixtures`: write what the public self-checks compare against.

For each graded function and each public probe, the file stores the reference output and the
output of every known mistake with its message, all as encoded data. For the training loop it
stores the public configuration and the runs of the reference loop and of each known mistaken loop
under it (run in a worker as the grader runs them, their outcomes evaluated as the grader does). The student runtime ships this file instead of
any implementation; tests/test_fixtures.py fails when it is out of date.

Floats from a computation differ between CPUs in their last digits, so `disagreements` compares a
fresh render with the stored file the way the checks compare outputs: numbers within the tolerance
the item's check uses, everything else (labels, messages, shapes, token ids, counts) exactly.
"""
from __future__ import annotations

import json
import math

from alignment_kit import i18n, items, loop_judge
from alignment_kit.expectations import HAND_OVERS
from alignment_kit.loop_judge import variation_key
from alignment_kit.paths import FIXTURES
from alignment_kit.recorders import LOOP
from autograder import checks
from autograder.items.dpo_training_loop import PUBLIC_SETUP
from autograder.config import Limits
from autograder.reference_cache import mistaken_cell, trusted_cell_runs
from autograder.reference import reference_for_check


def loop_expectations() -> dict:
    check = checks.cell_check(LOOP)
    config = PUBLIC_SETUP.config()
    keys = ["", *check.mistakes, *(variation_key(name, v.default) for name, v in check.variations.items())]
    runs = trusted_cell_runs(check, [(mistaken_cell(check, [key] if key else []), config) for key in keys], Limits())
    return {"config": config, "runs": dict(zip(keys, runs)), "messages": check.localized_messages(),
            "costs": {key: line for key, line in check.costs.items() if key in check.mistakes},
            "variations": check.variations_as_data()}


def compute() -> dict:
    fixtures = {LOOP: loop_expectations(),
                HAND_OVERS: {c.name: c.hand_over.as_data() for c in checks.FUNCTION_CHECKS if c.hand_over.banned}}
    for check in checks.FUNCTION_CHECKS:
        reference = reference_for_check(check)
        fixtures[check.name] = [
            {"label": probe.label, "expected": check.run(reference, probe),
             "mistakes": [[i18n.in_every_language(m.text), check.run(m.implementation, probe)] for m in check.mistakes]}
            for probe in check.probes(hidden=False)]
    return fixtures


def render() -> str:
    return json.dumps(compute(), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def tolerance_of(name: str) -> tuple[float, float]:
    """(atol, rtol) the check of `name` compares numbers with."""
    if name == LOOP:
        return loop_judge.LOSS_ATOL, loop_judge.LOSS_RTOL
    if name == HAND_OVERS:
        return 0.0, 0.0  # names, compared exactly
    spec = items.output(name).tolerance
    return spec.atol, spec.rtol


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _walk(stored, fresh, where: str, tolerance: tuple[float, float], found: list[str]) -> None:
    if _is_number(stored) and _is_number(fresh):
        if isinstance(stored, int) and isinstance(fresh, int):
            same = stored == fresh
        elif math.isnan(stored) or math.isnan(fresh) or math.isinf(stored) or math.isinf(fresh):
            same = repr(float(stored)) == repr(float(fresh))
        else:
            same = abs(stored - fresh) <= tolerance[0] + tolerance[1] * abs(stored)
        if not same:
            found.append(f"{where}: stored {stored!r}, fresh {fresh!r}")
    elif isinstance(stored, dict) and isinstance(fresh, dict):
        for key in sorted(set(stored) | set(fresh)):
            if key not in stored or key not in fresh:
                found.append(f"{where}.{key}: only in the {'fresh render' if key in fresh else 'stored file'}")
            else:
                _walk(stored[key], fresh[key], f"{where}.{key}", tolerance, found)
    elif isinstance(stored, list) and isinstance(fresh, list):
        if len(stored) != len(fresh):
            found.append(f"{where}: {len(stored)} entries stored, {len(fresh)} fresh")
        for index, (a, b) in enumerate(zip(stored, fresh)):
            _walk(a, b, f"{where}[{index}]", tolerance, found)
    elif stored != fresh or type(stored) is not type(fresh):
        found.append(f"{where}: stored {str(stored)[:120]!r}, fresh {str(fresh)[:120]!r}")


def disagreements(stored: dict, fresh: dict) -> list[str]:
    """Where two renders differ beyond what a change of CPU explains (empty: they agree)."""
    found: list[str] = []
    for name in sorted(set(stored) | set(fresh)):
        if name not in stored or name not in fresh:
            found.append(f"{name}: only in the {'fresh render' if name in fresh else 'stored file'}")
        else:
            _walk(stored[name], fresh[name], name, tolerance_of(name), found)
    return found


def main(check_only: bool = False) -> int:
    fresh = render()
    if check_only:
        stored = json.loads(FIXTURES.read_text(encoding="utf-8")) if FIXTURES.exists() else {}
        found = disagreements(stored, json.loads(fresh))
        print("fixtures are up to date" if not found else
              "fixtures are stale: run python -m autograder fixtures\n  " + "\n  ".join(found[:20]))
        return 0 if not found else 1
    FIXTURES.parent.mkdir(parents=True, exist_ok=True)
    FIXTURES.write_text(fresh, encoding="utf-8")
    print(f"wrote {FIXTURES}")
    return 0

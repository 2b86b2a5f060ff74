"""`python -m autograder fixtures`: write what the public self-checks compare against.

For each graded function and each public probe, the file stores the reference output and the
output of every known mistake with its message, all as encoded data. For the training loop it
stores the public configuration and the facts of the reference loop and of each known mistaken loop
run under it (in a worker, as the grader runs them). The student runtime ships this file instead of
any implementation; tests/test_fixtures.py fails when it is out of date.
"""
from __future__ import annotations

import json

from alignment_kit.paths import FIXTURES
from alignment_kit.recorders import LOOP
from autograder import checks
from autograder.checks.training import PUBLIC_SETUP
from autograder.config import Limits
from autograder.grade import mistaken_cell, trusted_cell_runs
from autograder.reference import reference_for_check


def loop_expectations() -> dict:
    check = checks.cell_check(LOOP)
    config = PUBLIC_SETUP.config()
    keys = ["", *check.mistakes]
    facts = trusted_cell_runs(check, [(mistaken_cell(check, [key] if key else []), config) for key in keys], Limits())
    return {"config": config, "runs": dict(zip(keys, facts)), "messages": dict(check.messages)}


def compute() -> dict:
    fixtures = {LOOP: loop_expectations()}
    for check in checks.FUNCTION_CHECKS:
        reference = reference_for_check(check)
        fixtures[check.name] = [
            {"label": probe.label, "expected": check.run(reference, probe),
             "mistakes": [[m.message, check.run(m.implementation, probe)] for m in check.mistakes]}
            for probe in check.probes(hidden=False)]
    return fixtures


def render() -> str:
    return json.dumps(compute(), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(check_only: bool = False) -> int:
    fresh = render()
    if check_only:
        current = FIXTURES.read_text() if FIXTURES.exists() else ""
        print("fixtures are up to date" if current == fresh else "fixtures are stale: run python -m autograder fixtures")
        return 0 if current == fresh else 1
    FIXTURES.parent.mkdir(parents=True, exist_ok=True)
    FIXTURES.write_text(fresh)
    print(f"wrote {FIXTURES}")
    return 0

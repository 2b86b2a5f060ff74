"""`python -m autograder fixtures`: write the expected outputs of the public probes.

The file is computed from the solution notebook, so students can run the public checks
without the solution; tests/test_fixtures.py fails when it is out of date.
"""
from __future__ import annotations

import json

from autograder import checks
from autograder.reference import reference_for_check
from autograder.selfcheck import FIXTURES


def compute() -> dict:
    return {check.name: [check.run(reference_for_check(check), probe) for probe in check.build_probes(False)]
            for check in checks.FUNCTION_CHECKS}


def main(check_only: bool = False) -> int:
    fresh = json.dumps(compute(), indent=1, sort_keys=True) + "\n"
    if check_only:
        current = FIXTURES.read_text() if FIXTURES.exists() else ""
        print("fixtures are up to date" if current == fresh else "fixtures are stale: run python -m autograder fixtures")
        return 0 if current == fresh else 1
    FIXTURES.write_text(fresh)
    print(f"wrote {FIXTURES}")
    return 0

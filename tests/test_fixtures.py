"""The public self-check expectations are regenerated from the solution and must agree with the shipped file.

A render on another machine differs in the last digits of its floats, so the comparison uses the
tolerance each check uses for numbers and is exact for everything else. The tests below show both
halves: a perturbation of every float in its seventh digit (what another CPU does: this machine and
the one that first wrote the file differ there) still agrees; a real change to an expectation does not.
"""
import copy
import json

import pytest

from alignment_kit.paths import FIXTURES
from autograder.public_fixtures import disagreements, render, tolerance_of

pytestmark = pytest.mark.slow  # renders the public fixtures in workers

FIX = "run `python -m autograder fixtures` and commit alignment_kit/fixtures/public.json"


@pytest.fixture(scope="module")
def stored():
    return json.loads(FIXTURES.read_text())


@pytest.fixture(scope="module")
def fresh(kit_assets):
    return json.loads(render())


def test_public_fixtures_are_current(stored, fresh):
    found = disagreements(stored, fresh)
    assert not found, f"{FIX}:\n" + "\n".join(found[:30])


def _floats(value, change):
    """A copy of `value` with `change` applied to every float."""
    if isinstance(value, float):
        return change(value)
    if isinstance(value, dict):
        return {k: _floats(v, change) for k, v in value.items()}
    if isinstance(value, list):
        return [_floats(v, change) for v in value]
    return value


def test_a_perturbation_in_the_seventh_digit_agrees(stored):
    nudged = _floats(stored, lambda x: x * (1 + 3e-7) + 1e-9)
    assert nudged != stored
    assert not disagreements(stored, nudged)


def test_a_changed_expectation_disagrees(stored):
    changed = copy.deepcopy(stored)
    expected = changed["get_log_prob"][0]["expected"]["output"]["log_probs"]["values"]
    expected[0] *= 1.01
    changed["dpo_training_loop"]["runs"][""]["losses"][1] += 10 * tolerance_of("dpo_training_loop")[0] + 0.01
    changed["pad"][0]["mistakes"][0][0] = "another message"
    del changed["dpo_loss"][0]["mistakes"][-1]
    found = "\n".join(disagreements(stored, changed))
    for where in ("get_log_prob[0].expected.output.log_probs.values[0]", "dpo_training_loop.runs..losses[1]",
                  "pad[0].mistakes[0][0]", "dpo_loss[0].mistakes: "):
        assert where in found, f"{where} not reported:\n{found}"

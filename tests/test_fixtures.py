"""Public self-check expectations are regenerated from the solution and must match the shipped file."""
from alignment_kit.paths import FIXTURES
from autograder.public_fixtures import render


def test_public_fixtures_are_current():
    assert FIXTURES.read_text() == render(), "run `python -m autograder fixtures` and commit alignment_kit/fixtures/public.json"

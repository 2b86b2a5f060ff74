"""Public self-check fixtures are regenerated from the solution and must match the committed file."""
import json

from autograder.public_fixtures import compute
from autograder.selfcheck import FIXTURES


def test_public_fixtures_are_current():
    assert json.loads(FIXTURES.read_text()) == json.loads(json.dumps(compute(), sort_keys=True)), \
        "run `python -m autograder fixtures` and commit autograder/fixtures/public.json"

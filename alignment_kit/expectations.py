"""The stored expectations of the public self-checks (`fixtures/public.json`, written by the instructor's
`python -m autograder fixtures`): per probe, its label, the expected run and what each known mistake gives."""
from __future__ import annotations

import functools
import json

from alignment_kit import paths
from alignment_kit.handover import HandOver

HAND_OVERS = "hand_overs"  # the key of the items' hand-over policies, beside the items' expectations


@functools.lru_cache(maxsize=1)
def _fixtures() -> dict:
    return json.loads(paths.FIXTURES.read_text(encoding="utf-8"))


def expected_public(name: str) -> list[dict]:
    """The stored expectations for `name` (a graded function, or a re-run cell's public configuration)."""
    return _fixtures()[name]


def hand_over(name: str) -> HandOver:
    """The hand-over policy of the graded function `name` (an empty one where its item has none)."""
    return HandOver.from_data(_fixtures().get(HAND_OVERS, {}).get(name, {}))

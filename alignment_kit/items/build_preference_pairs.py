"""`build_preference_pairs` (star task): DPO pairs from scored candidates, with counts."""
from __future__ import annotations

from alignment_kit.declaration import FUNCTION, Item
from alignment_kit.i18n import say
from alignment_kit.outputs import OutputShapeError, OutputSpec
from alignment_kit.probes import Probe, candidates

ITEM = Item("build_preference_pairs", "star", 0.4, FUNCTION, "DPO pairs from scored candidates, with counts", order=1)

PAIR_KEYS = ("prompt", "chosen", "rejected", "score_chosen", "score_rejected", "score_diff")
COUNT_KEYS = ("prompts", "candidates", "pairs", "skipped_too_few", "skipped_ties", "skipped_small_diff")


def read(output) -> dict:
    if not isinstance(output, (tuple, list)) or len(output) != 2:
        raise OutputShapeError(say("build_preference_pairs.shape", "build_preference_pairs should return (rows, counts)"))
    rows, counts = output
    if not isinstance(counts, dict):
        raise OutputShapeError(say("build_preference_pairs.counts", "the counts should be a dict with keys {keys}",
                                   keys=list(COUNT_KEYS)))
    try:
        table = [[row[k] for k in PAIR_KEYS] for row in rows]
    except (KeyError, TypeError) as error:
        raise OutputShapeError(say("build_preference_pairs.rows", "each row should be a dict with keys {keys}: {error!r}",
                                   keys=list(PAIR_KEYS), error=error)) from error
    ordered = all(a[0] != b[0] or a[5] >= b[5] for a, b in zip(table, table[1:]))
    # Pairs with equal differences may come in any order: compare them in one canonical order.
    return {"pairs": sorted(table, key=lambda r: (str(r[0]), -float(r[5]), str(r[1]), str(r[2]))),
            "largest difference first": ordered,
            "counts": {k: counts.get(k) for k in COUNT_KEYS}}


OUTPUT = OutputSpec(read, requirements={
    "largest difference first": "within a prompt, return the pairs sorted by score difference, largest first",
    "raises ValueError": "bad input (a missing or NaN score, a negative cap) must raise a ValueError that says what is wrong",
})


def public_probes() -> list[Probe]:
    three = candidates(("Favourite soup?", [("Tomato, with basil! You?", 2.5), ("I do not eat.", -1.0),
                                            ("Soup is a liquid food.", 0.25), ("Miso, always 🍜", 1.75)]),
                       ("Best board game?", [("Chess is a game.", 0.5), ("Catan, hands down!", 0.5)]),
                       ("Rainy day plans?", [("Reading under a blanket ☔", 1.0)]))
    return [Probe("every pair of three prompts (one tied, one alone)", (three,)),
            Probe("best versus worst only, min_score_diff=0.5", (three,), {"exhaustive": False, "min_score_diff": 0.5}),
            Probe("every pair, at most 2 per prompt", (three,), {"max_pairs_per_prompt": 2}),
            Probe("a NaN score is refused", (candidates(("Q?", [("a", float("nan")), ("b", 1.0)])),), expect_error=True),
            Probe("a negative cap is refused", (three,), {"max_pairs_per_prompt": -1}, expect_error=True),
            Probe("a candidate without a score is refused", ({"Q?": [{"text": "a"}, {"text": "b", "score": 1.0}]},),
                  expect_error=True)]

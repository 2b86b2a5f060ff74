"""The grader's side of `build_preference_pairs`: hidden probes and the mistakes it names."""
from __future__ import annotations

import math

from alignment_kit.probes import Probe, candidates
from autograder.checks.mistake import Mistake
from autograder.checks.function_check import FunctionCheck


def pairs_probes() -> list[Probe]:
    mixed = candidates(("Weekend hike?", [("Sure, where? 🥾", 3.0), ("I cannot hike.", 1.0), ("Hiking is exercise.", 1.0),
                                          ("Yes! Bring snacks.", 2.25), ("No.", 0.0)]),
                       ("Pizza toppings?", [("Cheese.", 1.5), ("Olives!", 1.5), ("Anything.", 1.5)]),
                       ("Learn guitar?", [("Go for it 🎸", 0.75)]),
                       ("Coffee or tea?", [("Tea is a drink.", 0.5), ("Coffee, obviously ☕", 2.5),
                                           ("Both, at once?", 1.75), ("I do not drink.", -0.5)]))
    tied = candidates(("Cats or dogs?", [("Cats.", 1.0), ("Dogs.", 1.0)]), ("Beach?", [("Yes!", 2.0), ("No.", 0.5)]))
    return [Probe("hidden: every pair, ties and short prompts among them", (mixed,)),
            Probe("hidden: best versus worst from unsorted candidates, min_score_diff=1.25", (mixed,),
                  {"exhaustive": False, "min_score_diff": 1.25}),
            Probe("hidden: every pair, min_score_diff=0.75 (one difference equals it), at most 3 per prompt", (mixed,),
                  {"min_score_diff": 0.75, "max_pairs_per_prompt": 3}),
            Probe("hidden: best versus worst where one prompt is all ties", (tied,), {"exhaustive": False}),
            Probe("hidden: NaN among the scores", (candidates(("Q", [("x", 1.0), ("y", math.nan), ("z", 0.0)])),),
                  expect_error=True),
            Probe("hidden: a cap of -3", (tied,), {"max_pairs_per_prompt": -3}, expect_error=True),
            Probe("hidden: a score of None", ({"Q": [{"text": "x", "score": None}, {"text": "y", "score": 2.0}]},),
                  expect_error=True)]


CORRECT_PAIRS = dict(strict=True, best_worst="sorted", cap_first=False, small="below", ties_count="pairs",
                     pairs_count="returned", candidates_count="all")


def _pairs_mistake(**wrong):
    """build_preference_pairs with one of its choices made wrongly."""
    assert wrong and all(CORRECT_PAIRS[k] != v for k, v in wrong.items()), "a mistake must change a choice"
    s = {**CORRECT_PAIRS, **wrong}

    def variant(candidates_by_prompt, exhaustive=True, min_score_diff=0.0, max_pairs_per_prompt=None):
        if max_pairs_per_prompt is not None and max_pairs_per_prompt < 0:
            raise ValueError("negative cap")
        rows, counts = [], dict(prompts=len(candidates_by_prompt), candidates=0, pairs=0, skipped_too_few=0,
                                skipped_ties=0, skipped_small_diff=0)
        produced = 0
        for prompt, given in candidates_by_prompt.items():
            scored = []
            for candidate in given:
                if candidate.get("score") is None or math.isnan(float(candidate["score"])):
                    raise ValueError("bad score")
                scored.append((float(candidate["score"]), candidate["text"]))
            if len(scored) < 2:
                counts["skipped_too_few"] += 1
                counts["candidates"] += len(scored) if s["candidates_count"] == "all" else 0
                continue
            counts["candidates"] += len(scored)
            ordered = sorted(scored, key=lambda pair: -pair[0])
            if exhaustive:
                considered = [(ordered[i], ordered[j]) for i in range(len(ordered)) for j in range(i + 1, len(ordered))]
            else:
                considered = {"sorted": [(ordered[0], ordered[-1])], "unsorted": [(scored[0], scored[-1])],
                              "swapped": [(ordered[-1], ordered[0])], "swapped, then skipped": [(ordered[-1], ordered[0])],
                              "second": [(ordered[0], ordered[1])]}[s["best_worst"]]
            kept = []
            for (high, chosen), (low, rejected) in considered:
                diff = high - low  # negative only when best versus worst is swapped
                if (diff == 0 and s["strict"]) or (diff < 0 and s["best_worst"] == "swapped, then skipped"):
                    counts["skipped_ties"] += 1 if s["ties_count"] == "pairs" else 0
                    continue
                size = abs(diff)
                dropped = {"below": size < min_score_diff, "at_or_below": size <= min_score_diff,
                           "above": size >= min_score_diff and min_score_diff > 0}[s["small"]]
                if dropped:
                    counts["skipped_small_diff"] += 1
                    continue
                kept.append({"prompt": prompt, "chosen": chosen, "rejected": rejected, "score_chosen": high,
                             "score_rejected": low, "score_diff": diff})
            if s["ties_count"] == "prompts" and len({score for score, _ in scored}) == 1:
                counts["skipped_ties"] += 1
            produced += len(kept)
            if s["cap_first"] and max_pairs_per_prompt is not None:
                kept = kept[:max_pairs_per_prompt]
            kept.sort(key=lambda row: -row["score_diff"])
            if max_pairs_per_prompt is not None:
                kept = kept[:max_pairs_per_prompt]
            rows += kept
        counts["pairs"] = len(rows) if s["pairs_count"] == "returned" else produced
        return rows, counts
    return variant


CHECK = FunctionCheck(
    name="build_preference_pairs", hidden_probes=pairs_probes,
    mistakes=[
        Mistake("pairs with equal scores are kept: a pair needs a strictly higher chosen score (>, not >=), so a "
                "prompt whose scores are all tied yields nothing", _pairs_mistake(strict=False)),
        Mistake("best versus worst is not taken from the candidates sorted by score: sort them first, highest first",
                _pairs_mistake(best_worst="unsorted")),
        Mistake("best versus worst is the wrong way round: the best-scored candidate is chosen, the worst rejected",
                _pairs_mistake(best_worst="swapped")),
        # The same mistake in a function that then drops the pair, its chosen score being lower.
        Mistake("best versus worst is the wrong way round: the best-scored candidate is chosen, the worst rejected",
                _pairs_mistake(best_worst="swapped, then skipped")),
        Mistake("best versus worst pairs the best with the second best: pair it with the last (the worst)",
                _pairs_mistake(best_worst="second")),
        Mistake("the per-prompt cap is applied before sorting: sort the pairs by score difference, largest first, "
                "then keep the first max_pairs_per_prompt", _pairs_mistake(cap_first=True)),
        Mistake("min_score_diff also drops a pair whose difference equals it: drop only the pairs whose difference "
                "is below it (<, not <=)", _pairs_mistake(small="at_or_below")),
        Mistake("min_score_diff is applied the wrong way round: drop the pairs whose difference is below it, keep "
                "the rest", _pairs_mistake(small="above")),
        Mistake("`skipped_ties` counts prompts: count the candidate pairs left out because their scores are equal",
                _pairs_mistake(ties_count="prompts")),
        Mistake("`pairs` counts the pairs before the cap: count the rows returned", _pairs_mistake(pairs_count="produced")),
        Mistake("`candidates` leaves out the prompts with too few candidates: count every candidate given",
                _pairs_mistake(candidates_count="used")),
    ],
)

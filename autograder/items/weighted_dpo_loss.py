"""The grader's side of `weighted_dpo_loss`: hidden probes and the mistakes it names (graded all or nothing)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from alignment_kit.probes import Probe, weighted_loss_probe
from autograder.checks.mistake import Mistake
from autograder.checks.function_check import FunctionCheck
from autograder.items.dpo_loss import HAND_OVER  # the same function as dpo_loss, under the same policy
from autograder.checks.gradients import cuts_gradient


def weighted_probes() -> list[Probe]:
    return [weighted_loss_probe("hidden: weights [0.5, 1, 4, 2, 1.5], beta=0.25", 221, 0.25, [0.5, 1.0, 4.0, 2.0, 1.5]),
            weighted_loss_probe("hidden: weights=None", 222, 0.05, None),
            weighted_loss_probe("hidden: a zero weight among [0, 1, 1, 2]", 223, 0.1, [0.0, 1.0, 1.0, 2.0])]


def _weighted_mistake(kind: str):
    def variant(c, r, rc, rr, beta=0.1, weights=None):
        w, l = beta * (c - rc), beta * (r - rr)
        margins = w - l
        terms = -F.logsigmoid(margins)
        accuracy, margin = (w > l).float().mean(), margins.mean()
        if kind == "normalised_to_one":  # weights (ones when missing) scaled to sum 1, then averaged
            given = torch.ones_like(terms) if weights is None else weights
            return (given / given.sum() * terms).mean(), accuracy, margin
        if weights is None:
            return terms.mean(), accuracy, margin
        if kind == "mean":
            return (weights * terms).mean(), accuracy, margin
        if kind == "sum":
            return (weights * terms).sum(), accuracy, margin
        if kind == "margins":
            return -F.logsigmoid(weights * margins).mean(), accuracy, margin
        if kind == "weighted_stats":
            weighted = weights / weights.sum()
            return (weighted * terms).sum(), ((w > l).float() * weighted).sum(), (margins * weighted).sum()
        raise ValueError(f"unknown weighted-loss mistake {kind!r}")
    return variant


CHECK = FunctionCheck(
    name="weighted_dpo_loss", hidden_probes=weighted_probes, all_or_nothing=True,
    hand_over=HAND_OVER,
    mistakes=[
        Mistake("the weighted loss is not normalised by the sum of the weights: use (weights * losses).sum() / "
                "weights.sum()", _weighted_mistake("mean")),
        Mistake("the weighted loss is not normalised by the sum of the weights: use (weights * losses).sum() / "
                "weights.sum()", _weighted_mistake("sum")),
        Mistake("the weights scale the margins inside logsigmoid: weight each pair's loss instead",
                _weighted_mistake("margins")),
        Mistake("without weights the loss changes: weights=None must give exactly the plain loss",
                _weighted_mistake("normalised_to_one")),
        Mistake("the reward accuracy and the margin are weighted too: only the loss takes the weights, the "
                "accuracy and the margin stay plain means over the batch",
                _weighted_mistake("weighted_stats")),
        cuts_gradient("dpo_loss"),
    ],
)

"""The grader's side of `dpo_loss`: hidden probes and the mistakes it names."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from alignment_kit.probes import Probe, loss_probe
from alignment_kit.handover import HandOver
from autograder.checks.mistake import Mistake
from autograder.checks.function_check import FunctionCheck
from autograder.checks.gradients import cuts_gradient


def loss_probes() -> list[Probe]:
    return [loss_probe("hidden batch, beta=0.25", 202, 0.25, 7), loss_probe("hidden batch, beta=0.05", 203, 0.05, 5),
            loss_probe("hidden: large margins, beta=2", 204, 2.0, 6, scale=25.0)]


def _rewards(c, r, rc, rr, beta):
    return beta * (c - rc), beta * (r - rr)


def _triple(loss_terms, chosen_rewards, rejected_rewards, margins=None, ties=False):
    accuracy = (chosen_rewards >= rejected_rewards) if ties else (chosen_rewards > rejected_rewards)
    margins = chosen_rewards - rejected_rewards if margins is None else margins
    return loss_terms.mean(), accuracy.float().mean(), margins.mean()


def _sign_flip(c, r, rc, rr, beta=0.1):
    w, l = _rewards(c, r, rc, rr, beta)
    return _triple(-F.logsigmoid(l - w), w, l)


def _swap_sides(c, r, rc, rr, beta=0.1):
    w, l = _rewards(r, c, rr, rc, beta)
    return _triple(-F.logsigmoid(w - l), w, l)


def _beta_outside(c, r, rc, rr, beta=0.1):
    w, l = (c - rc), (r - rr)
    loss, _, _ = _triple(-beta * F.logsigmoid(w - l), w, l)
    w, l = _rewards(c, r, rc, rr, beta)
    _, accuracy, margin = _triple(-F.logsigmoid(w - l), w, l)
    return loss, accuracy, margin


def _beta_one_side(c, r, rc, rr, beta=0.1):
    w, l = beta * (c - rc), (r - rr)
    return _triple(-F.logsigmoid(w - l), w, l)


def _batch_sum(c, r, rc, rr, beta=0.1):
    w, l = _rewards(c, r, rc, rr, beta)
    loss, accuracy, margin = _triple(-F.logsigmoid(w - l), w, l)
    return -F.logsigmoid(w - l).sum(), accuracy, margin


def _margin_without_beta(c, r, rc, rr, beta=0.1):
    w, l = _rewards(c, r, rc, rr, beta)
    return _triple(-F.logsigmoid(w - l), w, l, margins=(c - rc) - (r - rr))


def _log_of_sigmoid(c, r, rc, rr, beta=0.1):
    w, l = _rewards(c, r, rc, rr, beta)
    return _triple(-torch.log(torch.sigmoid(w - l)), w, l)


def _ties_count(c, r, rc, rr, beta=0.1):
    w, l = _rewards(c, r, rc, rr, beta)
    return _triple(-F.logsigmoid(w - l), w, l, ties=True)


# The DPO trainer computes this loss in its own methods; log-sigmoid and the like are tools.
HAND_OVER = HandOver(banned=("trl.DPOTrainer.*",), allowed=("torch.nn.functional.logsigmoid",))

CHECK = FunctionCheck(
    name="dpo_loss", hidden_probes=loss_probes,
    hand_over=HAND_OVER,
    mistakes=[
        Mistake("sign flip: the loss is -logsigmoid(chosen_reward - rejected_reward), not of the reverse", _sign_flip),
        # Swapping chosen/rejected and swapping policy/reference give the same numbers.
        Mistake("chosen and rejected, or policy and reference, are swapped: a reward is "
                "beta * (policy_logp - ref_logp), and the loss favours the chosen side", _swap_sides),
        Mistake("beta is misplaced: it scales the log-ratio inside logsigmoid, not the loss outside it", _beta_outside),
        Mistake("beta is applied to one side only: both rewards are beta * (policy_logp - ref_logp)", _beta_one_side),
        Mistake("the loss is summed over the batch: take the mean", _batch_sum),
        Mistake("the margin leaves out beta: use the rewards (beta * log-ratio) for the margin", _margin_without_beta),
        Mistake("accuracy counts ties: a pair is correct only if the chosen reward is strictly larger", _ties_count),
        Mistake("numerically unstable: -log(sigmoid(margin)) overflows to inf for large margins; "
                "use -F.logsigmoid(margin) (or F.softplus(-margin))", _log_of_sigmoid),
        cuts_gradient("dpo_loss"),
    ],
)

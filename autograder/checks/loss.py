"""Hidden probes and known mistakes of `get_log_prob` and `dpo_loss`."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from alignment_kit.probes import Probe, log_prob_probe, loss_probe
from autograder.checks.base import Mistake
from autograder.checks.function_check import FunctionCheck


CUTS_GRADIENT = ("cuts the gradient: the output does not reach its inputs through autograd (a torch.no_grad(), "
                 ".detach(), .item() or a tensor rebuilt from the values on the way), so training cannot learn from it")


def cuts_gradient(function: str):
    """The reference, run under torch.no_grad(): the right values and no gradient."""
    def variant(*args, **kwargs):
        from autograder.reference import reference_function

        with torch.no_grad():
            return reference_function(function)(*args, **kwargs)
    return variant


# ---------------------------------------------------------------- get_log_prob
def log_prob_probes() -> list[Probe]:
    return [log_prob_probe("hidden logits A (int mask)", 101, 3, 9, 11, torch.long),
            log_prob_probe("hidden logits B (bool mask)", 102, 4, 7, 5, torch.bool),
            log_prob_probe("hidden logits C (float mask)", 103, 2, 12, 17, torch.float32),
            log_prob_probe("hidden: confident logits over 700 positions", 104, 2, 700, 9, torch.long, scale=80.0)]


def _token_logps(logits, labels, dim=-1):
    return torch.gather(F.log_softmax(logits, dim=dim), 2, labels.unsqueeze(-1)).squeeze(-1)


def _no_shift(logits, labels, mask):
    return (_token_logps(logits, labels) * mask.float()).sum(-1)


def _reverse_shift(logits, labels, mask):
    return (_token_logps(logits[:, 1:], labels[:, :-1]) * mask[:, :-1].float()).sum(-1)


def _misaligned_mask(logits, labels, mask):
    return (_token_logps(logits[:, :-1], labels[:, 1:]) * mask[:, :-1].float()).sum(-1)


def _mean_not_sum(logits, labels, mask):
    m = mask[:, 1:].float()
    return (_token_logps(logits[:, :-1], labels[:, 1:]) * m).sum(-1) / m.sum(-1).clamp(min=1)


def _plain_mean(logits, labels, mask):
    return (_token_logps(logits[:, :-1], labels[:, 1:]) * mask[:, 1:].float()).mean(-1)


def _no_mask(logits, labels, mask):
    return _token_logps(logits[:, :-1], labels[:, 1:]).sum(-1)


def _probabilities(logits, labels, mask):
    probs = torch.gather(F.softmax(logits[:, :-1], dim=-1), 2, labels[:, 1:].unsqueeze(-1)).squeeze(-1)
    return (probs * mask[:, 1:].float()).sum(-1)


def _log_of_softmax(logits, labels, mask):
    probs = torch.gather(F.softmax(logits[:, :-1], dim=-1), 2, labels[:, 1:].unsqueeze(-1)).squeeze(-1)
    return (torch.log(probs) * mask[:, 1:].float()).sum(-1)


def _wrong_dim(logits, labels, mask):
    return (_token_logps(logits[:, :-1], labels[:, 1:], dim=1) * mask[:, 1:].float()).sum(-1)


GET_LOG_PROB = FunctionCheck(
    name="get_log_prob", hidden_probes=log_prob_probes,
    mistakes=[
        Mistake("no one-token shift: the logits at position t predict the token at t+1, so drop the last logit and the first label", _no_shift),
        Mistake("the one-token shift goes the wrong way: use logits[:, :-1] with labels[:, 1:], not logits[:, 1:] with labels[:, :-1]", _reverse_shift),
        Mistake("the mask is not shifted with the labels: use mask[:, 1:] to line up with labels[:, 1:]", _misaligned_mask),
        Mistake("averages the token log-probs instead of summing them", _mean_not_sum),
        Mistake("averages the token log-probs instead of summing them", _plain_mean),
        Mistake("the mask is not applied: prompt and padding tokens are counted", _no_mask),
        Mistake("uses probabilities (softmax) instead of log-probabilities (log_softmax)", _probabilities),
        Mistake("log_softmax over the wrong dimension: normalise over the vocabulary (dim=-1)", _wrong_dim),
        Mistake("numerically unstable: log(softmax(logits)) underflows to -inf when the model is confident; "
                "use F.log_softmax (or logits - logsumexp)", _log_of_softmax),
        Mistake(CUTS_GRADIENT, cuts_gradient("get_log_prob")),
    ],
)


# ---------------------------------------------------------------- dpo_loss
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


DPO_LOSS = FunctionCheck(
    name="dpo_loss", hidden_probes=loss_probes,
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
        Mistake(CUTS_GRADIENT, cuts_gradient("dpo_loss")),
    ],
)

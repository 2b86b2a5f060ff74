"""The grader's side of `get_log_prob`: hidden probes and the mistakes it names."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from alignment_kit.probes import Probe, log_prob_probe
from alignment_kit.handover import HandOver
from autograder.checks.mistake import Mistake
from autograder.checks.function_check import FunctionCheck
from autograder.checks.gradients import cuts_gradient


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


# TRL's `selective_log_softmax` is the gather of log-probabilities this item builds from its tools.
HAND_OVER = HandOver(banned=("trl.trainer.utils.selective_log_softmax", "trl.DPOTrainer.*"),
                     allowed=("torch.nn.functional.log_softmax", "torch.log_softmax", "torch.gather",
                              "torch.nn.functional.cross_entropy"),
                     twin="trl.trainer.utils.selective_log_softmax")

CHECK = FunctionCheck(
    name="get_log_prob", hidden_probes=log_prob_probes,
    hand_over=HAND_OVER,
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
        cuts_gradient("get_log_prob"),
    ],
)

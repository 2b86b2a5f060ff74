"""`get_log_prob` (DPO loss): per-sequence log-probabilities with the one-token shift."""
from __future__ import annotations

import torch

from alignment_kit.declaration import FUNCTION, Item
from alignment_kit.i18n import say
from alignment_kit.observe import Gradient
from alignment_kit.outputs import OutputShapeError, OutputSpec
from alignment_kit.probes import Probe, log_prob_probe

ITEM = Item("get_log_prob", "dpo_loss", 1.0, FUNCTION, "per-sequence log-probabilities with the one-token shift",
            order=1)


def read(output) -> dict:
    if not isinstance(output, torch.Tensor):
        raise OutputShapeError(say("get_log_prob.tensor", "get_log_prob should return a tensor, got {kind}",
                                   kind=type(output).__name__))
    if output.dim() != 1:
        raise OutputShapeError(say("get_log_prob.shape", "get_log_prob should return one value per sequence (shape "
                                   "(batch,)), got shape {shape}", shape=tuple(output.shape)))
    return {"log_probs": output.float()}


OUTPUT = OutputSpec(read, gradient=Gradient({0: "logits"}))


def public_probes() -> list[Probe]:
    return [log_prob_probe("logits with an int mask", 1, 2, 6, 7, torch.long),
            log_prob_probe("logits with a bool mask", 2, 3, 5, 4, torch.bool),
            log_prob_probe("confident logits over 256 positions (stays finite)", 3, 2, 256, 6, torch.long, scale=50.0)]

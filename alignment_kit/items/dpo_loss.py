"""`dpo_loss` (DPO loss): the DPO loss, reward accuracy and reward margin."""
from __future__ import annotations

import torch

from alignment_kit.declaration import FUNCTION, Item
from alignment_kit.i18n import say
from alignment_kit.observe import Gradient
from alignment_kit.outputs import OutputShapeError, OutputSpec
from alignment_kit.probes import Probe, loss_probe

ITEM = Item("dpo_loss", "dpo_loss", 1.0, FUNCTION, "the DPO loss, reward accuracy and reward margin", order=2)

# The loss must carry gradients back to the policy's log-probs (and, as the reference does, the others).
GRADIENT = Gradient({0: "chosen_logps", 1: "rejected_logps", 2: "ref_chosen_logps", 3: "ref_rejected_logps"},
                    output=0)


def _scalar(value, name):
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise OutputShapeError(say("dpo_loss.scalar", "dpo_loss should return {name} as a scalar (averaged over "
                                       "the batch), got shape {shape}", name=name, shape=tuple(value.shape)))
        return value.float().reshape(())
    if isinstance(value, (int, float)):
        return torch.tensor(float(value))
    raise OutputShapeError(say("dpo_loss.tensor", "dpo_loss should return {name} as a tensor, got {kind}", name=name,
                               kind=type(value).__name__))


def read(output) -> dict:
    if not isinstance(output, (tuple, list)) or len(output) != 3:
        raise OutputShapeError(say("dpo_loss.tuple", "dpo_loss should return a tuple (loss, reward_accuracies, "
                                   "reward_margins)"))
    names = ("loss", "reward_accuracies", "reward_margins")
    return {name: _scalar(value, name) for name, value in zip(names, output)}


OUTPUT = OutputSpec(read, gradient=GRADIENT)


def public_probes() -> list[Probe]:
    return [loss_probe("batch of 6, beta=0.1", 11, 0.1, 6), loss_probe("batch of 4, beta=0.5", 12, 0.5, 4),
            loss_probe("large margins, beta=1 (stays finite)", 13, 1.0, 5, scale=30.0)]

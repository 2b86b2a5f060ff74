"""`weighted_dpo_loss` (star task): `dpo_loss` with optional per-pair weights (graded on `dpo_loss`)."""
from __future__ import annotations

from alignment_kit.declaration import FUNCTION, Item
from alignment_kit.items import dpo_loss
from alignment_kit.outputs import OutputSpec
from alignment_kit.probes import Probe, weighted_loss_probe

ITEM = Item("weighted_dpo_loss", "star", 0.3, FUNCTION, "dpo_loss with optional per-pair weights", order=2,
            function="dpo_loss")

OUTPUT = OutputSpec(dpo_loss.read, gradient=dpo_loss.GRADIENT)


def public_probes() -> list[Probe]:
    return [weighted_loss_probe("weights [1, 2, 0.5, 3], beta=0.1", 21, 0.1, [1.0, 2.0, 0.5, 3.0]),
            weighted_loss_probe("weights=None is the plain loss", 22, 0.2, None),
            weighted_loss_probe("equal weights of 2 (the plain loss too)", 23, 0.3, [2.0, 2.0, 2.0])]

"""The grader's side of `pad`: hidden probes and the mistakes it names."""
from __future__ import annotations

import torch

from alignment_kit.probes import Probe, ints
from alignment_kit.handover import HandOver
from autograder.checks.mistake import Mistake
from autograder.checks.function_check import FunctionCheck


def pad_probes() -> list[Probe]:
    rows = ints([4, 4], [9, 8, 7, 6, 5], [1, 2, 3])
    return [Probe("hidden: left, value -100", (rows,), {"padding_value": -100, "padding_side": "left"}),
            Probe("hidden: right, value 3", (rows,), {"padding_value": 3, "padding_side": "right"}),
            Probe("hidden: defaults on floats", ([torch.tensor([0.5]), torch.tensor([1.5, 2.5, 3.5])],)),
            Probe("hidden: int16, right, value 5",
                  ([torch.tensor([7, 7, 7, 7], dtype=torch.int16), torch.tensor([6], dtype=torch.int16)],),
                  {"padding_value": 5, "padding_side": "right"})]


def _pad_variant(side_override, value_override):
    """A pad that forces one side or one padding value (one of the two must be given)."""
    assert side_override or value_override is not None, "a mistake must force something"

    def variant(tensors, padding_value=0, padding_side="right"):
        side = side_override or padding_side
        value = padding_value if value_override is None else value_override
        longest = max(len(t) for t in tensors)
        rows = []
        for t in tensors:
            filler = torch.full((longest - len(t),), value, dtype=t.dtype)
            rows.append(torch.cat([filler, t]) if side == "left" else torch.cat([t, filler]))
        return torch.stack(rows)
    return variant


# TRL's own `pad` has this signature; a nested tensor pads itself. Stacking and padding tools stay allowed.
HAND_OVER = HandOver(banned=("trl.trainer.utils.pad", "torch.nested.to_padded_tensor"),
                     allowed=("torch.nn.utils.rnn.pad_sequence", "torch.nn.functional.pad"),
                     twin="trl.trainer.utils.pad")

CHECK = FunctionCheck(
    name="pad", hidden_probes=pad_probes,
    hand_over=HAND_OVER,
    mistakes=[
        Mistake("ignores padding_side: it always pads on the right", _pad_variant("right", None)),
        Mistake("ignores padding_side: it always pads on the left", _pad_variant("left", None)),
        Mistake("ignores padding_value: it always pads with 0", _pad_variant(None, 0)),
    ],
)

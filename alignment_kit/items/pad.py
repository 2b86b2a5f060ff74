"""`pad` (data preparation): stack 1-D tensors, padded on one side."""
from __future__ import annotations

import torch

from alignment_kit.declaration import FUNCTION, Item
from alignment_kit.i18n import say
from alignment_kit.outputs import OutputShapeError, OutputSpec
from alignment_kit.probes import Probe, ints

ITEM = Item("pad", "data_prep", 0.2, FUNCTION, "stack 1-D tensors, padded on one side", order=3)


def read(output) -> dict:
    if not isinstance(output, torch.Tensor) or output.dim() != 2:
        raise OutputShapeError(say("pad.shape", "pad should return one 2-D tensor of shape (batch, longest length)"))
    return {"padded": output, "dtype": str(output.dtype).replace("torch.", "")}


OUTPUT = OutputSpec(read, requirements={"dtype": "keep the input's dtype"})


def public_probes() -> list[Probe]:
    rows = ints([5, 6, 7], [8], [1, 2, 3, 4])
    return [Probe("left padding with value -1", (rows,), {"padding_value": -1, "padding_side": "left"}),
            Probe("right padding with value 7", (rows,), {"padding_value": 7, "padding_side": "right"}),
            Probe("default arguments on floats", ([torch.tensor([1.0, 2.0]), torch.tensor([3.0])],)),
            Probe("int8 tensors (the output keeps their dtype)",
                  ([torch.tensor([1, 2], dtype=torch.int8), torch.tensor([3, 4, 5], dtype=torch.int8)],),
                  {"padding_value": 0, "padding_side": "left"})]

"""`pad_collate_fn` (data preparation): collate rows into padded ids and masks."""
from __future__ import annotations

import torch

from alignment_kit.declaration import FUNCTION, Item
from alignment_kit.i18n import say
from alignment_kit.outputs import OutputShapeError, OutputSpec, require_keys
from alignment_kit.probes import Probe

ITEM = Item("pad_collate_fn", "data_prep", 0.2, FUNCTION, "collate rows into padded ids and masks", order=4)

COLLATE_KEYS = ("prompt_input_ids", "prompt_attn_mask", "chosen_input_ids", "chosen_attn_mask",
                "rejected_input_ids", "rejected_attn_mask")


def read(output) -> dict:
    output = require_keys("pad_collate_fn", output, COLLATE_KEYS)
    for key in COLLATE_KEYS:
        if not isinstance(output[key], torch.Tensor):
            raise OutputShapeError(say("pad_collate_fn.tensors", "pad_collate_fn should return tensors; `{key}` is a {kind}",
                                       key=key, kind=type(output[key]).__name__))
    return {k: output[k] for k in COLLATE_KEYS}


OUTPUT = OutputSpec(read)


def public_probes() -> list[Probe]:
    # The pad token is the EOS token (2) and every completion ends with a real EOS.
    batch = [{"prompt_input_ids": [11, 12, 13], "chosen_input_ids": [21, 22, 2], "rejected_input_ids": [23, 2]},
             {"prompt_input_ids": [14], "chosen_input_ids": [24, 2], "rejected_input_ids": [25, 26, 27, 2]}]
    return [Probe("two rows, pad = EOS = 2", (batch,), {"pad_token_id": 2})]

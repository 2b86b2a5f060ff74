"""The grader's side of `pad_collate_fn`: hidden probes and the mistakes it names."""
from __future__ import annotations

import torch

from alignment_kit.probes import Probe
from alignment_kit.handover import HandOver
from autograder.checks.mistake import Mistake
from autograder.checks.function_check import FunctionCheck


def collate_probes() -> list[Probe]:
    # The pad token is the EOS token (2) and every completion ends with a real EOS.
    batch = [{"prompt_input_ids": [31, 32, 33, 34, 35], "chosen_input_ids": [41, 2], "rejected_input_ids": [51, 52, 53, 2]},
             {"prompt_input_ids": [36], "chosen_input_ids": [42, 43, 44, 45, 2], "rejected_input_ids": [2]},
             {"prompt_input_ids": [37, 38, 39], "chosen_input_ids": [46, 2], "rejected_input_ids": [54, 2]}]
    return [Probe("hidden: three rows, pad = EOS = 2", (batch,), {"pad_token_id": 2})]


def _side_pad(tensors, value, side):
    longest = max(len(t) for t in tensors)
    rows = [torch.full((longest - len(t),), value, dtype=t.dtype) for t in tensors]
    return torch.stack([torch.cat([f, t]) if side == "left" else torch.cat([t, f]) for f, t in zip(rows, tensors)])


def _collate_variant(prompt_side, completion_side, masks):
    """A collate function with its sides or its masks made wrongly (every argument must be given)."""
    def variant(batch, pad_token_id):
        out = {}
        for part, side in (("prompt", prompt_side), ("chosen", completion_side), ("rejected", completion_side)):
            ids = [torch.tensor(row[f"{part}_input_ids"]) for row in batch]
            padded = _side_pad(ids, pad_token_id, side)
            out[f"{part}_input_ids"] = padded
            if masks == "ones":
                out[f"{part}_attn_mask"] = torch.ones_like(padded)
            elif masks == "pad_token":
                out[f"{part}_attn_mask"] = (padded != pad_token_id).long()
            else:
                out[f"{part}_attn_mask"] = _side_pad([torch.ones_like(t) for t in ids], 0, side)
        return out
    return variant


# TRL's preference collator and transformers' collators pad whole batches; the given `pad` is the tool.
HAND_OVER = HandOver(banned=("trl.trainer.dpo_trainer.DataCollatorForPreference.*",
                             "transformers.DataCollatorWithPadding.*", "transformers.DataCollatorForSeq2Seq.*"),
                     allowed=("torch.nn.utils.rnn.pad_sequence",),
                     twin="trl.trainer.dpo_trainer.DataCollatorForPreference.torch_call")

CHECK = FunctionCheck(
    name="pad_collate_fn", hidden_probes=collate_probes,
    hand_over=HAND_OVER,
    mistakes=[
        Mistake("the prompt is padded on the right: pad it on the left so it ends where the completion starts",
                _collate_variant("right", "right", "lengths")),
        Mistake("completions are padded on the left: pad them on the right", _collate_variant("left", "left", "lengths")),
        Mistake("attention masks are all ones: padding must be 0", _collate_variant("left", "right", "ones")),
        Mistake("attention masks compare ids with pad_token_id, which hides the real EOS when pad = EOS: "
                "build them from the lengths", _collate_variant("left", "right", "pad_token")),
    ],
    substitutes=("pad",),
)

"""`tokenize_row` (data preparation): token ids with EOS, truncated on the right sides."""
from __future__ import annotations

import torch

from alignment_kit.declaration import FUNCTION, Item
from alignment_kit.i18n import say
from alignment_kit.outputs import OutputShapeError, OutputSpec, require_keys
from alignment_kit.probes import PUBLIC_ROWS, Probe, kit_tokenizer, rendered_row

ITEM = Item("tokenize_row", "data_prep", 0.2, FUNCTION, "token ids with EOS, truncated on the right sides", order=2)

TOKEN_KEYS = ("prompt_input_ids", "chosen_input_ids", "rejected_input_ids")


def _container(value) -> str:
    """'list of ints' when the value is a list or tuple of Python ints, else what it is."""
    if isinstance(value, (list, tuple)) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return "list of ints"
    if isinstance(value, (list, tuple)):
        kinds = sorted({type(v).__name__ for v in value})
        return f"{type(value).__name__} of {'/'.join(kinds) or 'nothing'}"
    return type(value).__name__


def read(output) -> dict:
    output = require_keys("tokenize_row", output, TOKEN_KEYS)
    components = {}
    for key in TOKEN_KEYS:
        value = output[key]
        components[f"{key} type"] = _container(value)
        if isinstance(value, torch.Tensor):
            value = value.flatten().tolist()
        try:
            components[key] = [int(v) for v in value]
        except (TypeError, ValueError) as error:
            raise OutputShapeError(say("tokenize_row.ids", "tokenize_row `{key}` should hold token ids: {error}", key=key,
                                       error=error)) from error
    return components


OUTPUT = OutputSpec(read, requirements={f"{key} type": "return token ids as lists of ints" for key in TOKEN_KEYS})


def public_probes() -> list[Probe]:
    tokenizer = kit_tokenizer()
    row = rendered_row(PUBLIC_ROWS[0], tokenizer,
                       "Noted.<|im_end|> A second sentence after an EOS inside the completion.<|im_end|>\n")
    return [Probe("prompt longer than max_prompt_length", (row, tokenizer), {"max_prompt_length": 7}),
            Probe("completions longer than max_completion_length", (row, tokenizer),
                  {"max_prompt_length": 512, "max_completion_length": 5})]

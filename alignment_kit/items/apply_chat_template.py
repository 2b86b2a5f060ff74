"""`apply_chat_template` (data preparation): render a preference row with the chat template."""
from __future__ import annotations

from alignment_kit.declaration import FUNCTION, Item
from alignment_kit.outputs import OutputSpec, require_keys
from alignment_kit.probes import PUBLIC_ROWS, THINKING_TEMPLATE, Probe, kit_tokenizer, tokenizer_with_template

ITEM = Item("apply_chat_template", "data_prep", 0.2, FUNCTION, "render a preference row with the chat template",
            order=1)


def read(output) -> dict:
    keys = ("prompt", "chosen", "rejected")
    output = require_keys("apply_chat_template", output, keys)
    return {k: output[k] if isinstance(output[k], str) else repr(output[k]) for k in keys}


OUTPUT = OutputSpec(read)


def public_probes() -> list[Probe]:
    row = PUBLIC_ROWS[0]
    return [Probe("a row rendered with the SmolLM2 template", (row, kit_tokenizer())),
            Probe("a template whose generation prompt differs from the rendered answer",
                  (row, tokenizer_with_template(THINKING_TEMPLATE)))]

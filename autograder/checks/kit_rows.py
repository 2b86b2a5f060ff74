"""Rows of the kit's own preference data for the trainer cells' hidden configurations."""
from __future__ import annotations

import json

from alignment_kit import paths

SECOND = "with other settings (steps, lengths and rows)"  # the label of a trainer cell's second configuration


def kit_rows(split: str, start: int, count: int) -> list[dict]:
    lines = (paths.DATA_DIR / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()[start:start + count]
    return [json.loads(line) for line in lines]

"""Where the runtime keeps things: its package data and the model cache."""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = PACKAGE_DIR / "data"  # train.jsonl, test.jsonl, unseen.jsonl (package data)
FIXTURES = PACKAGE_DIR / "fixtures" / "public.json"  # expected outputs of the public self-checks


def cache_dir() -> Path:
    """The model cache: $KIT_CACHE_DIR, else ~/.cache/alignment-kit (outside any working tree)."""
    configured = os.environ.get("KIT_CACHE_DIR")
    if configured:
        return Path(configured).expanduser().resolve()
    return Path.home() / ".cache" / "alignment-kit"


def embedded_model_dir() -> Path:
    return cache_dir() / "SmolLM2-135M-Instruct"


def tiny_model_dir() -> Path:
    return cache_dir() / "tiny-llama"

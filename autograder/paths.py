"""Where the kit keeps things: the repository, the model cache and the data."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / "data" / "preferences"
SOLUTION_NOTEBOOK = REPO_ROOT / "solutions" / "dpo_homework" / "dpo_homework.ipynb"
STUDENT_NOTEBOOK = REPO_ROOT / "notebooks" / "dpo_homework" / "dpo_homework.ipynb"


def cache_dir() -> Path:
    """The model cache: $KIT_CACHE_DIR, else ~/.cache/alignment-kit (outside the working tree)."""
    configured = os.environ.get("KIT_CACHE_DIR")
    if configured:
        return Path(configured).expanduser().resolve()
    return Path.home() / ".cache" / "alignment-kit"


def embedded_model_dir() -> Path:
    return cache_dir() / "SmolLM2-135M-Instruct"


def tiny_model_dir() -> Path:
    return cache_dir() / "tiny-llama"

"""Decide which model and which preference data a run uses, online or offline."""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

from alignment_kit import paths
from alignment_kit.i18n import say

HUB_MODEL_ID = "HuggingFaceTB/SmolLM-135M-Instruct"
HUB_DATASET_ID = "HumanLLMs/Human-Like-DPO-Dataset"
PROFILES = ("smoke", "full")


@dataclass(frozen=True)
class Resolved:
    """A resolved location and a few words on where it came from."""

    location: str
    origin: str


def hub_reachable(timeout: float = 2.0) -> bool:
    """False under HF_HUB_OFFLINE=1, else whether huggingface.co answers on port 443."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}:
        return False
    try:
        socket.create_connection(("huggingface.co", 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise ValueError(f"KIT_PROFILE must be one of {PROFILES}, got {profile!r}")
    return profile


def resolve_model(profile: str, online: bool) -> Resolved:
    """An explicit local MODEL_ID wins; smoke uses the tiny model; else Hub or embedded copy."""
    from alignment_kit import assets

    requested = os.environ.get("MODEL_ID", HUB_MODEL_ID)
    if Path(requested).expanduser().exists():
        return Resolved(str(Path(requested).expanduser().resolve()), say("resolve.model_path", "local path from MODEL_ID"))
    if check_profile(profile) == "smoke":
        return Resolved(str(assets.ensure_tiny_model(verbose=False)), say("resolve.tiny", "tiny random Llama, SmolLM2 "
                                                                          "tokenizer"))
    if online:
        return Resolved(requested, "Hugging Face Hub")
    return Resolved(str(assets.ensure_embedded_model(verbose=False)), say("resolve.embedded", "embedded "
                                                                            "SmolLM2-135M-Instruct, offline"))


def resolve_dataset(profile: str, online: bool) -> Resolved:
    """An explicit local DATASET_ID wins; smoke and offline runs use data/preferences."""
    requested = os.environ.get("DATASET_ID", HUB_DATASET_ID)
    if Path(requested).expanduser().exists():
        return Resolved(str(Path(requested).expanduser().resolve()), say("resolve.data_path", "local path from DATASET_ID"))
    if check_profile(profile) == "full" and online:
        return Resolved(requested, "Hugging Face Hub")
    return Resolved(str(paths.DATA_DIR), say("resolve.embedded_data", "embedded kit data"))


def load_preferences(location: str, seed: int = 0, test_size: int = 240):
    """Return a DatasetDict with `train`, `test` and `unseen` splits of prompt/chosen/rejected rows.

    A local directory must hold train.jsonl (test.jsonl is optional); a single .jsonl file is
    split. A Hub dataset's `train` split is split too. `unseen` always comes from the kit's data.
    """
    from datasets import DatasetDict, load_dataset

    path = Path(location).expanduser()
    if path.is_dir():
        files = {name: str(path / f"{name}.jsonl") for name in ("train", "test")
                 if (path / f"{name}.jsonl").is_file()}
        if "train" not in files:
            raise FileNotFoundError(f"{path} has no train.jsonl")
        splits = load_dataset("json", data_files=files)
    elif path.is_file():
        splits = load_dataset("json", data_files={"train": str(path)})
    else:
        splits = load_dataset(location)
    columns = ["prompt", "chosen", "rejected"]
    train = splits["train"].select_columns(columns)
    if "test" in splits:
        test = splits["test"].select_columns(columns)
    else:
        parts = train.train_test_split(test_size=min(test_size, len(train) // 10), seed=seed)
        train, test = parts["train"], parts["test"]
    unseen = load_dataset("json", data_files=str(paths.DATA_DIR / "unseen.jsonl"))["train"]
    return DatasetDict(train=train, test=test, unseen=unseen)

"""Shared test setup: offline, quiet, and the assets the suite needs."""
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def kit_assets():
    """The offline checkpoints (built by `make test` before pytest starts; verified here)."""
    from alignment_kit import assets

    return assets.ensure_assets()


@pytest.fixture(scope="session")
def grader(kit_assets):
    """One grader for the whole run, so reference outputs are computed once."""
    from autograder.grade import Grader

    return Grader()

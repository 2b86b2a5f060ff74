"""`python -m autograder check-hub`: the smoke-trained models pass, and broken ones get clear messages.

The models are the ones the solution notebook saved in its smoke run (the session fixture); the Hub
is never reached, so only local folders are checked, and only the network calls of a push are mocked."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from huggingface_hub import ModelCard

from alignment_kit import assets, helpers
from alignment_kit.hub_check import SUFFIXES

pytestmark = pytest.mark.slow  # loads the trained models


def _check_hub(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", "check-hub", *args], capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def hub(solution_run):
    return solution_run[0] / "outputs" / "hub"


@pytest.mark.slow
def test_the_models_the_notebook_trained_pass(hub, tmp_path):
    done = _check_hub(str(hub), "--out", str(tmp_path / "report"))
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert all(m["trained"] is True and not m["problems"] for m in summary["models"].values()), summary["models"]
    assert summary["reward_accuracy"] is not None and set(summary["measures"]) == {"base", "dpo", "ppo"}
    assert sorted(p.name for p in (tmp_path / "report").iterdir()) == ["measures.png", "report.html", "report.md",
                                                                        "summary.json"]
    assert "✓ dpo: loads, trained" in done.stdout and "[check-hub] loading" in done.stdout


@pytest.mark.slow
def test_a_copy_of_the_base_model_is_flagged_untrained(hub, tmp_path):
    copy = tmp_path / "lazy-dpo"
    shutil.copytree(assets.ensure_tiny_model(verbose=False), copy)
    done = _check_hub(str(hub), "--dpo", str(copy), "--out", str(tmp_path / "report"))
    assert done.returncode == 0, done.stderr
    assert "✗ dpo: its weights equal the base model's: it was not trained" in done.stdout, done.stdout


@pytest.mark.slow
def test_broken_models_get_clear_messages(hub, tmp_path):
    no_weights = tmp_path / "half-dpo"
    shutil.copytree(hub / f"your-username__smollm-135m{SUFFIXES['dpo']}", no_weights)
    for weights in no_weights.glob("*.safetensors"):
        weights.unlink()
    done = _check_hub(str(hub), "--dpo", str(no_weights), "--ppo", str(hub / f"your-username__smollm-135m{SUFFIXES['reward']}"),
                      "--reward", "someone/private-reward-model", "--out", str(tmp_path / "report"))
    assert done.returncode == 0, done.stderr
    assert "no weights (model.safetensors or pytorch_model.bin)" in done.stdout, done.stdout
    assert "expected a causal language model, found LlamaForSequenceClassification" in done.stdout, done.stdout
    assert "the Hub is not reachable (HF_HUB_OFFLINE=1)" in done.stdout, done.stdout


def test_a_push_is_private_and_carries_the_card(monkeypatch, tmp_path, kit_assets):
    """save_or_push with a token and the network: only the two network calls are replaced."""
    from huggingface_hub import HfApi, ModelCardData

    calls = []
    monkeypatch.setattr(HfApi, "create_repo", lambda self, repo_id, **kw: calls.append(("create", repo_id, kw)))
    monkeypatch.setattr(HfApi, "upload_folder", lambda self, **kw: calls.append(("upload", kw["repo_id"], kw)))
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    model = helpers.load_causal_lm(str(assets.ensure_tiny_model(verbose=False)))
    tokenizer = helpers.load_tokenizer(str(assets.ensure_tiny_model(verbose=False)))
    card = ModelCard(f"---\n{ModelCardData(base_model='b/m', library_name='transformers', tags=['dpo']).to_yaml()}\n---\n# x\n")
    where = helpers.save_or_push(model, tokenizer, "ada/smollm-135m-dpo", str(tmp_path), card, online=True)
    assert where == "ada/smollm-135m-dpo"
    assert calls[0][0] == "create" and calls[0][2]["private"] is True
    folder = Path(calls[1][2]["folder_path"])
    assert ModelCard.load(folder / "README.md").data.base_model == "b/m"
    assert (folder / "config.json").is_file() and any(folder.glob("*.safetensors"))

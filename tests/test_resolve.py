"""Which model and data a run uses, and the precision flags per device."""
import pytest

from alignment_kit import device, paths, resolve
from alignment_kit.settings import HomeworkSettings


def test_offline_full_profile_uses_embedded_model_and_data(monkeypatch, kit_assets, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("KIT_PROFILE", "full")
    monkeypatch.delenv("MODEL_ID", raising=False)
    monkeypatch.delenv("DATASET_ID", raising=False)
    settings = HomeworkSettings.from_env()
    assert settings.model_path == str(kit_assets["embedded"])
    assert settings.dataset == str(paths.DATA_DIR)
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 and "model:" in printed[0] and "data:" in printed[0]


def test_smoke_profile_uses_the_tiny_model(monkeypatch, kit_assets):
    monkeypatch.setenv("KIT_PROFILE", "smoke")
    monkeypatch.delenv("MODEL_ID", raising=False)
    settings = HomeworkSettings.from_env(verbose=False)
    assert settings.model_path == str(kit_assets["tiny"])
    assert settings.precision == "fp32" and settings.trl_precision() == {"bf16": False, "fp16": False}


def test_online_keeps_the_homework_hub_ids(monkeypatch):
    monkeypatch.delenv("MODEL_ID", raising=False)
    monkeypatch.delenv("DATASET_ID", raising=False)
    assert resolve.resolve_model("full", online=True).location == "HuggingFaceTB/SmolLM-135M-Instruct"
    assert resolve.resolve_dataset("full", online=True).location == "HumanLLMs/Human-Like-DPO-Dataset"


def test_hub_offline_variable_wins(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert resolve.hub_reachable() is False


def test_explicit_local_paths_are_honoured(monkeypatch, tmp_path, kit_assets):
    monkeypatch.setenv("MODEL_ID", str(kit_assets["tiny"]))
    (tmp_path / "train.jsonl").write_text('{"prompt": "p", "chosen": "c", "rejected": "r"}\n' * 20)
    monkeypatch.setenv("DATASET_ID", str(tmp_path))
    assert resolve.resolve_model("full", online=True).location == str(kit_assets["tiny"])
    assert resolve.resolve_dataset("full", online=True).location == str(tmp_path)
    splits = resolve.load_preferences(str(tmp_path))
    assert len(splits["train"]) + len(splits["test"]) == 20 and len(splits["unseen"]) >= 200


def test_unknown_profile_names_the_choices():
    with pytest.raises(ValueError, match="smoke"):
        resolve.check_profile("huge")


def test_stage_lengths_are_settings(monkeypatch):
    monkeypatch.setenv("KIT_PROFILE", "smoke")
    monkeypatch.setenv("KIT_DPO_STEPS", "7")
    monkeypatch.setenv("KIT_REWARD_STEPS", "3")
    monkeypatch.setenv("KIT_PPO_EPISODES", "5")
    settings = HomeworkSettings.from_env(verbose=False)
    assert (settings.dpo_steps, settings.reward_steps, settings.ppo_episodes) == (7, 3, 5)


def test_kit_data_loads_with_all_splits():
    splits = resolve.load_preferences(str(paths.DATA_DIR))
    assert set(splits) == {"train", "test", "unseen"}
    assert splits["train"].column_names == ["prompt", "chosen", "rejected"]


@pytest.mark.parametrize("precision, flags", [("bf16", {"bf16": True, "fp16": False}),
                                               ("fp16", {"bf16": False, "fp16": True}),
                                               ("fp32", {"bf16": False, "fp16": False})])
def test_trl_precision_flags(precision, flags):
    assert device.trl_precision_flags(precision) == flags


def test_cpu_trains_in_fp32():
    assert device.pick_precision("cpu") == "fp32"
    with pytest.raises(ValueError, match="bf16"):
        device.trl_precision_flags("int8")

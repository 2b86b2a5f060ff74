"""Gradient accumulation behind the loop's usual calls: 4 x 4 takes the same step as one batch of 16,
and the course sizes are chosen from the device (and said why)."""
from __future__ import annotations

from unittest import mock

import pytest
import torch

from alignment_kit import device as device_lib
from alignment_kit.accumulation import Accumulation
from alignment_kit.settings import COURSE_SIZES, EPOCH, HomeworkSettings


def _train(batches, every: int, zero_first: bool):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    if every > 1:
        optimizer, scaler = Accumulation(optimizer, scaler, every).wrapped()
    for x, y in batches:  # the loop body as the homework writes it
        if zero_first:
            optimizer.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        if not zero_first:
            optimizer.zero_grad()
    return torch.cat([p.detach().flatten() for p in model.parameters()])


@pytest.mark.parametrize("zero_first", [True, False], ids=["zero_grad-first", "zero_grad-last"])
def test_four_micro_batches_of_four_take_the_step_of_one_batch_of_sixteen(zero_first):
    torch.manual_seed(1)
    x, y = torch.randn(32, 3), torch.randn(32, 1)
    whole = _train([(x[:16], y[:16]), (x[16:], y[16:])], every=1, zero_first=zero_first)
    split = _train([(x[i:i + 4], y[i:i + 4]) for i in range(0, 32, 4)], every=4, zero_first=zero_first)
    assert torch.allclose(whole, split, atol=1e-6), (whole, split)
    unaccumulated = _train([(x[i:i + 4], y[i:i + 4]) for i in range(0, 32, 4)], every=1, zero_first=zero_first)
    assert not torch.allclose(whole, unaccumulated, atol=1e-3), "the comparison cannot tell accumulation apart"


def _settings_on(memory_gib: float | None, monkeypatch) -> HomeworkSettings:
    monkeypatch.setenv("KIT_PROFILE", "full")
    for variable in ("KIT_DPO_STEPS", "KIT_REWARD_STEPS", "KIT_PPO_EPISODES", "KIT_ONLINE_PROMPTS"):
        monkeypatch.delenv(variable, raising=False)
    if memory_gib is None:
        return HomeworkSettings.from_env(verbose=False)
    with mock.patch.object(device_lib, "pick_device", lambda: "cuda"), \
            mock.patch.object(device_lib, "pick_precision", lambda device: "fp16"), \
            mock.patch.object(device_lib, "gpu_memory_gib", lambda index=0: memory_gib):
        return HomeworkSettings.from_env(verbose=False)


def test_cuda_gets_the_course_sizes_with_accumulation_only_where_memory_needs_it(monkeypatch):
    t4, h100, cpu = _settings_on(15.0, monkeypatch), _settings_on(80.0, monkeypatch), _settings_on(None, monkeypatch)
    for gpu in (t4, h100):
        assert (gpu.batch_size, gpu.max_seq_len, gpu.max_prompt_length) == (16, 1024, 256)
        assert gpu.dpo_steps == EPOCH == gpu.reward_steps
    assert (t4.micro_batch_size, t4.grad_accumulation) == (4, 4) and "gradient accumulation" in t4.sizing
    assert (h100.micro_batch_size, h100.grad_accumulation) == (16, 1)
    assert cpu.max_seq_len == 128 and cpu.dpo_steps == 50 and "needs a CUDA GPU" in cpu.sizing
    t4.fit_to_data(2400)
    assert (t4.dpo_steps, t4.loop_steps, t4.reward_steps) == (150, 600, 150)
    assert COURSE_SIZES["max_prompt_length"] + COURSE_SIZES["max_completion_length"] == COURSE_SIZES["max_seq_len"]

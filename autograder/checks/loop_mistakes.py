"""The grader's own DPO loop cell, written so that one switch makes one known mistake or variation.

With no switch it does what the solution's loop does (a test compares their facts under every
configuration). Each mistake is the reference with one thing wrong, and costs one line of the loop;
its run under a configuration tells the judge what that mistake leaves behind, so the feedback can
name it, and a later line can accept what follows from it (one mistake costs once). A variation
(gradient clipping) is a switch with a value.
"""
from __future__ import annotations

import textwrap

from alignment_kit.loop_judge import FROZEN, MASK, SEQUENCES, STEPS, TRAJECTORY

CORRECT = dict(truncate="[:, :MAX_SEQ_LEN]", loss_mask="completion", reference="ref_model", no_grad=True,
               sync_reference=False, zero_grad=True, backward=True, step=True, swap_sides=False, first_batch=False,
               clip="")


def loop_source(**wrong) -> str:
    """The loop cell with the given switches changed from CORRECT (unknown switches are refused)."""
    unknown = set(wrong) - set(CORRECT)
    if unknown:
        raise ValueError(f"unknown switches {sorted(unknown)}; known: {sorted(CORRECT)}")
    s = {**CORRECT, **wrong}
    cut = s["truncate"]
    mask = {"completion": f'torch.cat([torch.zeros_like(prompt_mask), batch[side + "_attn_mask"]], dim=1){cut}',
            "attention": "attn"}[s["loss_mask"]]
    reference = f'{s["reference"]}(input_ids=ids, attention_mask=attn).logits'
    ref_context = "with torch.no_grad():" if s["no_grad"] else "if True:  # (gradients on)"
    first, second = ('"rejected"', '"chosen"') if s["swap_sides"] else ('"chosen"', '"rejected"')
    lines = {
        "clip": f"scaler.unscale_(optimizer)\n                {s['clip']}" if s["clip"] else "pass",
        "zero": "optimizer.zero_grad()" if s["zero_grad"] else "pass",
        "backward": "scaler.scale(loss).backward()" if s["backward"] else "pass",
        "step": "scaler.step(optimizer)" if s["step"] else "pass",
        "sync": "ref_model.load_state_dict(policy_model.state_dict())" if s["sync_reference"] else "pass",
        "batches": "[next(iter(train_loader))] * NUM_DPO_STEPS" if s["first_batch"] else "train_loader",
    }
    return textwrap.dedent(f'''\
        policy_model.train()
        progress = tqdm(total=NUM_DPO_STEPS, desc="DPO")
        step = 0
        while step < NUM_DPO_STEPS:
            for batch in {lines["batches"]}:
                if step == NUM_DPO_STEPS:
                    break
                batch = {{name: tensor.to(DEVICE) for name, tensor in batch.items()}}
                prompt_ids, prompt_mask = batch["prompt_input_ids"], batch["prompt_attn_mask"]
                logps = {{}}
                for side in ("chosen", "rejected"):
                    ids = torch.cat([prompt_ids, batch[side + "_input_ids"]], dim=1){cut}
                    attn = torch.cat([prompt_mask, batch[side + "_attn_mask"]], dim=1){cut}
                    loss_mask = {mask}
                    with autocast():
                        policy_logits = policy_model(input_ids=ids, attention_mask=attn).logits
                        {ref_context}
                            ref_logits = {reference}
                    logps["policy_" + side] = get_log_prob(policy_logits.float(), ids, loss_mask)
                    logps["ref_" + side] = get_log_prob(ref_logits.float(), ids, loss_mask)
                loss, acc, margin = dpo_loss(logps["policy_" + {first}], logps["policy_" + {second}],
                                             logps["ref_" + {first}], logps["ref_" + {second}], beta=BETA)
                {lines["zero"]}
                {lines["backward"]}
                {lines["clip"]}
                {lines["step"]}
                scaler.update()
                {lines["sync"]}
                losses.append(loss.item())
                accs.append(acc.item())
                margins.append(margin.item())
                progress.update(1)
                step += 1
        progress.close()
        ''')


# id -> (message, the switches that make the mistake, the line of the loop it costs). Where two give the same
# outcome, the judge names the one whose run also agrees with the student's facts.
MISTAKES = {
    "truncates_left": ("sequences are cut on the wrong side: keep the first MAX_SEQ_LEN tokens of prompt + completion "
                       "([:, :MAX_SEQ_LEN]), so that the prompt stays", {"truncate": "[:, -MAX_SEQ_LEN:]"}, SEQUENCES),
    "no_truncation": ("sequences are not cut to MAX_SEQ_LEN: keep the first MAX_SEQ_LEN tokens of prompt + completion, "
                      "and cut the loss mask the same way", {"truncate": ""}, SEQUENCES),
    "prompt_in_mask": ("prompt tokens are in the loss mask: it must be 1 on completion tokens only "
                       "(zeros for the prompt, then the completion's attention mask)", {"loss_mask": "attention"}, MASK),
    "policy_as_reference": ("no reference model: ref_model is never called, so the loss has no anchor",
                            {"reference": "policy_model"}, FROZEN),
    "reference_with_gradients": ("gradients flow into the reference model: run it under torch.no_grad()",
                                 {"no_grad": False}, FROZEN),
    "reference_synced": ("the reference model changes during training: it must stay frozen", {"sync_reference": True},
                         FROZEN),
    "no_optimizer_step": ("no optimizer step is taken: call scaler.step(optimizer) once per batch", {"step": False},
                          STEPS),
    "no_backward": ("the policy never learns: the loss is not backpropagated (scaler.scale(loss).backward())",
                    {"backward": False}, STEPS),
    "no_zero_grad": ("gradients are never reset: call optimizer.zero_grad() before each backward pass",
                     {"zero_grad": False}, TRAJECTORY),
    "sides_swapped": ("chosen and rejected are swapped in the call to dpo_loss", {"swap_sides": True}, TRAJECTORY),
    "first_batch_only": ("every step trains on the first batch: take each batch from train_loader in turn",
                         {"first_batch": True}, TRAJECTORY),
}


def clipping(function: str, argument: str):
    """The switches of a clipping variation: `function` called on the policy's parameters with the value."""
    return lambda value: {"clip": f"torch.nn.utils.{function}(policy_model.parameters(), {argument}={value!r})"}

"""Cross-check the reference `get_log_prob` and `dpo_loss` against TRL 1.12's own DPO implementation.

What is compared, and how
-------------------------
* Models: the kit's tiny random Llama (real SmolLM2 tokenizer), fp32 on the CPU, in eval mode with
  dropout off. The policy is seed 0 and the reference model seed 1, so the implicit rewards are not
  zero and the reward accuracy of the batch lies strictly between 0 and 1.
* Data: four inline preference rows, rendered with the reference `apply_chat_template` and tokenized
  with the reference `tokenize_row` (completions cut at 24 tokens: one is truncated, the others keep
  their EOS tokens, including the "<|im_end|>" inside the rendered answer). TRL's own tokenization of
  the same rows is checked to give the same ids.
* TRL side: a real `DPOTrainer` (`loss_type="sigmoid"`, beta 0.1, separate `ref_model`, no reference
  precomputation). Its own collator (`DataCollatorForPreference`) builds the batch from the token ids;
  `DPOTrainer.compute_loss(model, batch, return_outputs=True)` under `torch.no_grad()` gives the loss
  and logs `rewards/chosen`, `rewards/rejected`, `rewards/accuracies` and `rewards/margins` (batch
  means) into `trainer._metrics["eval"]`. TRL's per-sequence log-probs come from its
  `compute_ref_log_probs(model, batch)`, which runs the same masking/summing code as the loss for
  whichever model it is given (we call it with the policy and with the reference model).
* Our side: the same models run on TRL's `input_ids`/`attention_mask`; `get_log_prob(logits,
  input_ids, completion_mask)` gives the sequence log-probs (TRL orders the batch as
  [all chosen, all rejected]), and `dpo_loss` the loss, accuracy and margin.
  A second test builds the batch the homework's way instead (`pad_collate_fn`: prompts left-padded,
  completions right-padded, concatenated, loss mask on completion tokens) and compares it with TRL too.

Tolerances: loss, per-pair rewards, reward means, accuracy and margin must agree within 1e-5 (absolute).
Sequence log-probs are sums of up to 24 terms of about -10.8 (a random model over a 49k vocabulary),
so up to ~260 in size; TRL takes `logits.gather - logsumexp` per token while the reference takes
`log_softmax` then gathers, so the two float32 sums differ by about one ulp (ulp(256) ~ 3e-5; observed
up to 1.5e-5). They are compared with a relative tolerance of 1e-6 (2.6e-4 at 260, over 10x the
observed rounding); this is not a looser bound on the quantities above, which stay within 1e-5.
"""
from __future__ import annotations

import math

import pytest
import torch

from autograder.reference import reference_function

BETA = 0.1
ATOL = 1e-5
LOGP_RTOL = 1e-6
MAX_COMPLETION = 24

ROWS = [
    {"prompt": "What should I cook tonight?",
     "chosen": "Ooh, how about tacos? They're quick, fun, and everyone can build their own.",
     "rejected": "Dinner options include pasta, rice dishes, and various proteins. Nutritional balance is "
                 "recommended when selecting a meal. Consult relevant resources for recipes."},
    {"prompt": "Any tips for a rainy weekend?",
     "chosen": "Honestly, a big blanket, a good book and some tea. Maybe a movie marathon too!",
     "rejected": "Indoor activities are advisable."},
    {"prompt": "I finally finished my first marathon!",
     "chosen": "No way, congrats! That's huge. How are your legs feeling?",
     "rejected": "Completing a marathon is an achievement. Recovery involves hydration, rest and "
                 "appropriate nutrition over subsequent days."},
    {"prompt": "Tell me something you like about gardening.",
     "chosen": "I love how calm it is. Getting your hands in the dirt just resets your whole day.",
     "rejected": "Gardening has several documented benefits."},
]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    from alignment_kit.probes import kit_tokenizer
    from alignment_kit.tiny import make_tiny_causal_lm

    tokenizer = kit_tokenizer()
    apply_chat_template = reference_function("apply_chat_template")
    chat_rows = [apply_chat_template(row, tokenizer) for row in ROWS]

    policy = make_tiny_causal_lm(tokenizer, seed=0).float().eval()
    ref_model = make_tiny_causal_lm(tokenizer, seed=1).float().eval()
    config = DPOConfig(
        output_dir=str(tmp_path_factory.mktemp("dpo")), bf16=False, fp16=False, use_cpu=True, report_to="none",
        beta=BETA, loss_type=["sigmoid"], max_length=None, precompute_ref_log_probs=False, disable_dropout=True,
        per_device_train_batch_size=len(ROWS), seed=0,
    )
    trainer = DPOTrainer(model=policy, ref_model=ref_model, args=config,
                         train_dataset=Dataset.from_list(chat_rows), processing_class=tokenizer)
    trainer.model.eval()
    trainer.ref_model.eval()
    return {"tokenizer": tokenizer, "chat_rows": chat_rows, "trainer": trainer,
            "policy": trainer.model, "ref_model": trainer.ref_model}


def tokenized_rows(setup, max_completion_length=MAX_COMPLETION):
    tokenize_row = reference_function("tokenize_row")
    return [tokenize_row(row, setup["tokenizer"], max_prompt_length=None, max_completion_length=max_completion_length)
            for row in setup["chat_rows"]]


def trl_results(setup):
    """TRL's loss, logged metrics and per-sequence log-probs on its own collated batch."""
    trainer = setup["trainer"]
    rows = tokenized_rows(setup)
    batch = trainer.data_collator([{"prompt_ids": r["prompt_input_ids"], "chosen_ids": r["chosen_input_ids"],
                                    "rejected_ids": r["rejected_input_ids"]} for r in rows])
    trainer._metrics["eval"].clear()
    with torch.no_grad():
        loss, outputs = trainer.compute_loss(trainer.model, batch, return_outputs=True)
        policy_chosen, policy_rejected = trainer.compute_ref_log_probs(trainer.model, batch)
        ref_chosen, ref_rejected = trainer.compute_ref_log_probs(trainer.ref_model, batch)
    metrics = {name: values[-1] for name, values in trainer._metrics["eval"].items()}
    return {"batch": batch, "loss": loss, "logits": outputs.logits, "metrics": metrics,
            "logps": (policy_chosen, policy_rejected, ref_chosen, ref_rejected)}


def assert_close(name, ours, theirs, atol=ATOL, rtol=0.0):
    ours = torch.as_tensor(ours, dtype=torch.float64)
    theirs = torch.as_tensor(theirs, dtype=torch.float64)
    diff = (ours - theirs).abs().max().item()
    bound = (atol + rtol * theirs.abs()).min().item()
    assert torch.allclose(ours, theirs, rtol=rtol, atol=atol), f"{name}: max |diff| {diff:.3g} > {bound:.3g}"
    return diff


def compare(ours_logps, trl, report):
    """Compare our logps (policy chosen/rejected, ref chosen/rejected) and dpo_loss with TRL's numbers."""
    dpo_loss = reference_function("dpo_loss")
    names = ("policy chosen", "policy rejected", "ref chosen", "ref rejected")
    for name, ours, theirs in zip(names, ours_logps, trl["logps"]):
        report[f"logps {name}"] = assert_close(f"logps {name}", ours, theirs, atol=0.0, rtol=LOGP_RTOL)

    chosen, rejected, ref_chosen, ref_rejected = ours_logps
    loss, accuracy, margin = dpo_loss(chosen, rejected, ref_chosen, ref_rejected, beta=BETA)
    metrics = trl["metrics"]
    trl_chosen_rewards = BETA * (trl["logps"][0] - trl["logps"][2])
    trl_rejected_rewards = BETA * (trl["logps"][1] - trl["logps"][3])
    checks = {
        "loss": (loss, trl["loss"]),
        "chosen rewards (per pair)": (BETA * (chosen - ref_chosen), trl_chosen_rewards),
        "rejected rewards (per pair)": (BETA * (rejected - ref_rejected), trl_rejected_rewards),
        "rewards/chosen (mean)": ((BETA * (chosen - ref_chosen)).mean(), metrics["rewards/chosen"]),
        "rewards/rejected (mean)": ((BETA * (rejected - ref_rejected)).mean(), metrics["rewards/rejected"]),
        "rewards/accuracies": (accuracy, metrics["rewards/accuracies"]),
        "rewards/margins": (margin, metrics["rewards/margins"]),
    }
    for name, (ours, theirs) in checks.items():
        report[name] = assert_close(name, ours, theirs)
    # The per-pair rewards TRL logs as means are the ones rebuilt from its per-sequence log-probs.
    assert_close("TRL rewards/chosen vs its logps", trl_chosen_rewards.mean(), metrics["rewards/chosen"])
    # A meaningful batch: rewards are not all zero and the accuracy is neither 0 nor 1.
    assert 0.0 < float(accuracy) < 1.0, float(accuracy)
    assert trl_chosen_rewards.abs().min() > 1e-3
    # TRL's loss is the plain mean of -logsigmoid(beta * margin) over the pairs.
    margins = trl_chosen_rewards - trl_rejected_rewards
    expected_loss = sum(math.log1p(math.exp(-m)) for m in margins.tolist()) / len(margins)
    report["loss vs mean log(1+exp(-margin))"] = assert_close("loss vs formula", trl["loss"], expected_loss)


def test_tokenize_row_matches_trl_tokenization(setup):
    """TRL appends the EOS text and tokenizes prompt+completion jointly: the token ids are the same."""
    dataset = setup["trainer"].train_dataset
    ours = tokenized_rows(setup, max_completion_length=None)
    for i, row in enumerate(ours):
        assert dataset[i]["prompt_ids"] == row["prompt_input_ids"], i
        assert dataset[i]["chosen_ids"] == row["chosen_input_ids"], i
        assert dataset[i]["rejected_ids"] == row["rejected_input_ids"], i


def test_reference_matches_trl_on_trl_batch(setup, record_property):
    trl = trl_results(setup)
    batch = trl["batch"]
    with torch.no_grad():
        policy_logits = setup["policy"](input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        ref_logits = setup["ref_model"](input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    # Same model, same inputs, same kernels: identical logits; differences below come from the log-prob code.
    assert torch.equal(policy_logits, trl["logits"])

    get_log_prob = reference_function("get_log_prob")
    policy_logps = get_log_prob(policy_logits, batch["input_ids"], batch["completion_mask"])
    ref_logps = get_log_prob(ref_logits, batch["input_ids"], batch["completion_mask"])
    chosen, rejected = policy_logps.chunk(2)  # TRL stacks [chosen rows; rejected rows]
    ref_chosen, ref_rejected = ref_logps.chunk(2)

    report = {}
    compare((chosen, rejected, ref_chosen, ref_rejected), trl, report)
    for name, diff in report.items():
        record_property(f"max_abs_diff {name}", diff)
    print("max |ours - TRL| on TRL's batch:", {k: f"{v:.2e}" for k, v in report.items()})


def test_homework_layout_matches_trl(setup, record_property):
    """The notebook's batch layout (left-padded prompts) scores the same pairs as TRL's right-padded one."""
    trl = trl_results(setup)
    tokenizer = setup["tokenizer"]
    batch = reference_function("pad_collate_fn")(tokenized_rows(setup), pad_token_id=tokenizer.pad_token_id)
    get_log_prob = reference_function("get_log_prob")

    def side_logps(model, side):
        ids = torch.cat([batch["prompt_input_ids"], batch[f"{side}_input_ids"]], dim=1)
        attention = torch.cat([batch["prompt_attn_mask"], batch[f"{side}_attn_mask"]], dim=1)
        loss_mask = torch.cat([torch.zeros_like(batch["prompt_attn_mask"]), batch[f"{side}_attn_mask"]], dim=1)
        with torch.no_grad():
            logits = model(input_ids=ids, attention_mask=attention).logits
        return get_log_prob(logits.float(), ids, loss_mask)

    # The completion tokens scored are the same as TRL's (same count per row) ...
    trl_completion = trl["batch"]["completion_mask"][:, 1:].sum(dim=1)
    ours_completion = torch.cat([batch["chosen_attn_mask"].sum(dim=1), batch["rejected_attn_mask"].sum(dim=1)])
    assert torch.equal(trl_completion, ours_completion)
    # ... and so are the log-probs, the loss and the metrics.
    ours_logps = (side_logps(setup["policy"], "chosen"), side_logps(setup["policy"], "rejected"),
                  side_logps(setup["ref_model"], "chosen"), side_logps(setup["ref_model"], "rejected"))
    report = {}
    compare(ours_logps, trl, report)
    for name, diff in report.items():
        record_property(f"max_abs_diff {name}", diff)
    print("max |ours - TRL| with the homework layout:", {k: f"{v:.2e}" for k, v in report.items()})

"""Known mistakes, written the way students write them, must cost points with the right message.

Each case puts ONE buggy implementation into the reference notebook and checks that (a) the
graded item it belongs to loses points while the untouched items keep full marks and (b) the
feedback names the mistake. To keep the suite fast, function mutants that target DIFFERENT
functions share a notebook and a single `grade_functions` call (batch i holds the i-th mutant of
every function); each assertion still looks only at its own function. Every call grades all
functions, so the untouched ones double as a check that a mistake in one function costs nothing
elsewhere.
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass

import pytest

from autograder import checks
from autograder.notebook import parse_notebook
from submissions import build

slow = pytest.mark.slow  # grades in workers (the declared mistakes are judged in this process, and are fast)

ALL_FUNCTIONS = [c.name for c in checks.FUNCTION_CHECKS]


@dataclass(frozen=True)
class FunctionMutant:
    id: str
    function: str  # the graded function (and the grade_id of its cell)
    phrase: str  # distinctive part of the expected feedback
    source: str  # the whole buggy cell, as a student would write it


def _m(id_, function, phrase, source):
    return FunctionMutant(id_, function, phrase, textwrap.dedent(source))


FUNCTION_MUTANTS = [
    # ------------------------------------------------------------------ get_log_prob
    _m("log_prob_no_shift", "get_log_prob", "one-token shift", '''
        def get_log_prob(logits, labels, mask):
            log_probs = F.log_softmax(logits, dim=-1)
            token_log_probs = log_probs.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
            return (token_log_probs * mask).sum(dim=-1)
        '''),
    _m("log_prob_shift_reversed", "get_log_prob", "wrong way", '''
        def get_log_prob(logits, labels, mask):
            # drop the first logit and the last label
            logits, labels, mask = logits[:, 1:, :], labels[:, :-1], mask[:, :-1]
            token_log_probs = torch.gather(logits.log_softmax(-1), 2, labels.unsqueeze(2)).squeeze(2)
            return (token_log_probs * mask.float()).sum(-1)
        '''),
    _m("log_prob_mask_not_shifted", "get_log_prob", "not shifted with the labels", '''
        def get_log_prob(logits, labels, mask):
            logits = logits[:, :-1, :]
            labels = labels[:, 1:]
            mask = mask[:, :-1]
            token_log_probs = torch.gather(F.log_softmax(logits, dim=-1), 2, labels.unsqueeze(-1)).squeeze(-1)
            return (token_log_probs * mask).sum(dim=-1)
        '''),
    _m("log_prob_mean_over_mask", "get_log_prob", "averages the token log-probs", '''
        def get_log_prob(logits, labels, mask):
            logits, labels, mask = logits[:, :-1], labels[:, 1:], mask[:, 1:].float()
            token_log_probs = torch.gather(F.log_softmax(logits, dim=-1), 2, labels.unsqueeze(-1)).squeeze(-1)
            return (token_log_probs * mask).sum(-1) / mask.sum(-1)
        '''),
    _m("log_prob_plain_mean", "get_log_prob", "averages the token log-probs", '''
        def get_log_prob(logits, labels, mask):
            logits, labels, mask = logits[:, :-1], labels[:, 1:], mask[:, 1:]
            token_log_probs = torch.gather(F.log_softmax(logits, dim=-1), 2, labels.unsqueeze(-1)).squeeze(-1)
            return (token_log_probs * mask).mean(dim=-1)
        '''),
    _m("log_prob_mask_ignored", "get_log_prob", "mask is not applied", '''
        def get_log_prob(logits, labels, mask):
            logits, labels = logits[:, :-1], labels[:, 1:]
            token_log_probs = torch.gather(F.log_softmax(logits, dim=-1), 2, labels.unsqueeze(-1)).squeeze(-1)
            return token_log_probs.sum(dim=-1)
        '''),
    _m("log_prob_softmax", "get_log_prob", "probabilities (softmax)", '''
        def get_log_prob(logits, labels, mask):
            probs = F.softmax(logits[:, :-1], dim=-1)
            token_probs = probs.gather(2, labels[:, 1:].unsqueeze(-1)).squeeze(-1)
            return (token_probs * mask[:, 1:]).sum(-1)
        '''),
    _m("log_prob_wrong_dim", "get_log_prob", "wrong dimension", '''
        def get_log_prob(logits, labels, mask):
            logits, labels, mask = logits[:, :-1, :], labels[:, 1:], mask[:, 1:]
            log_probs = F.log_softmax(logits, dim=1)
            token_log_probs = torch.gather(log_probs, 2, labels.unsqueeze(-1)).squeeze(-1)
            return (token_log_probs * mask).sum(-1)
        '''),
    # ------------------------------------------------------------------ pad
    _m("pad_always_right", "pad", "ignores padding_side: it always pads on the right", '''
        def pad(tensors, padding_value=0, padding_side="right"):
            return torch.nn.utils.rnn.pad_sequence(list(tensors), batch_first=True, padding_value=padding_value)
        '''),
    _m("pad_always_left", "pad", "ignores padding_side: it always pads on the left", '''
        def pad(tensors, padding_value=0, padding_side="right"):
            longest = max(t.shape[0] for t in tensors)
            rows = []
            for t in tensors:
                filler = torch.full((longest - t.shape[0],), padding_value, dtype=t.dtype)
                rows.append(torch.cat([filler, t]))
            return torch.stack(rows)
        '''),
    _m("pad_value_ignored", "pad", "ignores padding_value", '''
        def pad(tensors, padding_value=0, padding_side="right"):
            longest = max(len(t) for t in tensors)
            out = torch.zeros(len(tensors), longest, dtype=tensors[0].dtype)
            for i, t in enumerate(tensors):
                if padding_side == "left":
                    out[i, longest - len(t):] = t
                else:
                    out[i, :len(t)] = t
            return out
        '''),
    # ------------------------------------------------------------------ pad_collate_fn
    _m("collate_prompt_right", "pad_collate_fn", "prompt is padded on the right", '''
        def pad_collate_fn(batch, pad_token_id):
            out = {}
            for part in ("prompt", "chosen", "rejected"):
                ids = [torch.tensor(row[f"{part}_input_ids"]) for row in batch]
                out[f"{part}_input_ids"] = pad(ids, pad_token_id)
                out[f"{part}_attn_mask"] = pad([torch.ones_like(t) for t in ids], 0)
            return out
        '''),
    _m("collate_masks_all_ones", "pad_collate_fn", "all ones", '''
        def pad_collate_fn(batch, pad_token_id):
            out = {}
            for part, side in (("prompt", "left"), ("chosen", "right"), ("rejected", "right")):
                ids = pad([torch.tensor(row[f"{part}_input_ids"]) for row in batch], pad_token_id, side)
                out[f"{part}_input_ids"] = ids
                out[f"{part}_attn_mask"] = torch.ones_like(ids)
            return out
        '''),
    _m("collate_masks_from_pad_id", "pad_collate_fn", "compare ids with pad_token_id", '''
        def pad_collate_fn(batch, pad_token_id):
            out = {}
            for part, side in (("prompt", "left"), ("chosen", "right"), ("rejected", "right")):
                ids = pad([torch.tensor(row[f"{part}_input_ids"]) for row in batch], pad_token_id, side)
                out[f"{part}_input_ids"] = ids
                out[f"{part}_attn_mask"] = (ids != pad_token_id).long()
            return out
        '''),
    _m("collate_completions_left", "pad_collate_fn", "completions are padded on the left", '''
        def pad_collate_fn(batch, pad_token_id):
            out = {}
            for part in ("prompt", "chosen", "rejected"):
                ids = [torch.tensor(row[f"{part}_input_ids"]) for row in batch]
                out[f"{part}_input_ids"] = pad(ids, pad_token_id, "left")
                out[f"{part}_attn_mask"] = pad([torch.ones_like(t) for t in ids], 0, "left")
            return out
        '''),
    # ------------------------------------------------------------------ tokenize_row
    _m("tokenize_prompt_wrong_side", "tokenize_row", "prompt is truncated from the wrong side", '''
        def tokenize_row(example, tokenizer, max_prompt_length=512, max_completion_length=None):
            prompt_ids = tokenizer(example["prompt"], add_special_tokens=False)["input_ids"][:max_prompt_length]
            result = {"prompt_input_ids": prompt_ids}
            for side in ("chosen", "rejected"):
                ids = tokenizer(example[side], add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
                if max_completion_length is not None:
                    ids = ids[:max_completion_length]
                result[f"{side}_input_ids"] = ids
            return result
        '''),
    _m("tokenize_completion_not_truncated", "tokenize_row", "are not truncated", '''
        def tokenize_row(example, tokenizer, max_prompt_length=512, max_completion_length=None):
            prompt_ids = tokenizer(example["prompt"], add_special_tokens=False)["input_ids"]
            return {
                "prompt_input_ids": prompt_ids[-max_prompt_length:],
                "chosen_input_ids": tokenizer(example["chosen"], add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id],
                "rejected_input_ids": tokenizer(example["rejected"], add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id],
            }
        '''),
    _m("tokenize_completion_wrong_side", "tokenize_row", "completions are truncated from the wrong side", '''
        def tokenize_row(example, tokenizer, max_prompt_length=512, max_completion_length=None):
            result = {"prompt_input_ids": tokenizer(example["prompt"], add_special_tokens=False)["input_ids"][-max_prompt_length:]}
            for side in ("chosen", "rejected"):
                ids = tokenizer(example[side], add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
                if max_completion_length is not None:
                    ids = ids[-max_completion_length:]  # keep the end
                result[f"{side}_input_ids"] = ids
            return result
        '''),
    _m("tokenize_no_eos", "tokenize_row", "no EOS token", '''
        def tokenize_row(example, tokenizer, max_prompt_length=512, max_completion_length=None):
            result = {"prompt_input_ids": tokenizer(example["prompt"], add_special_tokens=False)["input_ids"][-max_prompt_length:]}
            for side in ("chosen", "rejected"):
                ids = tokenizer(example[side], add_special_tokens=False)["input_ids"]
                if max_completion_length is not None:
                    ids = ids[:max_completion_length]
                result[f"{side}_input_ids"] = ids
            return result
        '''),
    _m("tokenize_eos_after_truncation", "tokenize_row", "EOS is appended after truncation", '''
        def tokenize_row(example, tokenizer, max_prompt_length=512, max_completion_length=None):
            result = {"prompt_input_ids": tokenizer(example["prompt"], add_special_tokens=False)["input_ids"][-max_prompt_length:]}
            for side in ("chosen", "rejected"):
                ids = tokenizer(example[side], add_special_tokens=False)["input_ids"]
                if max_completion_length is not None:
                    ids = ids[:max_completion_length]
                result[f"{side}_input_ids"] = ids + [tokenizer.eos_token_id]
            return result
        '''),
    # ------------------------------------------------------------------ apply_chat_template
    _m("template_no_generation_prompt", "apply_chat_template", "lacks the generation prompt", '''
        def apply_chat_template(example, tokenizer):
            messages = [{"role": "user", "content": example["prompt"]}]
            prompt = tokenizer.apply_chat_template(messages, tokenize=False)
            out = {"prompt": prompt}
            for side in ("chosen", "rejected"):
                full = tokenizer.apply_chat_template(messages + [{"role": "assistant", "content": example[side]}], tokenize=False)
                out[side] = full[len(prompt):]
            return out
        '''),
    _m("template_prefix_kept", "apply_chat_template", "prefix is not removed", '''
        def apply_chat_template(example, tokenizer):
            user = [{"role": "user", "content": example["prompt"]}]
            return {
                "prompt": tokenizer.apply_chat_template(user, tokenize=False, add_generation_prompt=True),
                "chosen": tokenizer.apply_chat_template(user + [{"role": "assistant", "content": example["chosen"]}], tokenize=False),
                "rejected": tokenizer.apply_chat_template(user + [{"role": "assistant", "content": example["rejected"]}], tokenize=False),
            }
        '''),
    _m("template_naive_slicing", "apply_chat_template", "common prefix", '''
        def apply_chat_template(example, tokenizer):
            messages = [{"role": "user", "content": example["prompt"]}]
            prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            out = {"prompt": prompt}
            for side in ("chosen", "rejected"):
                full = tokenizer.apply_chat_template(messages + [{"role": "assistant", "content": example[side]}], tokenize=False)
                out[side] = full[len(prompt):]
            return out
        '''),
    # ------------------------------------------------------------------ dpo_loss
    _m("loss_sign_flip", "dpo_loss", "sign flip", '''
        def dpo_loss(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1):
            chosen_rewards = beta * (chosen_logps - ref_chosen_logps)
            rejected_rewards = beta * (rejected_logps - ref_rejected_logps)
            loss = -F.logsigmoid(rejected_rewards - chosen_rewards).mean()
            accuracy = (chosen_rewards > rejected_rewards).float().mean()
            return loss, accuracy, (chosen_rewards - rejected_rewards).mean()
        '''),
    _m("loss_policy_ref_swapped", "dpo_loss", "swapped", '''
        def dpo_loss(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1):
            chosen_rewards = beta * (ref_chosen_logps - chosen_logps)
            rejected_rewards = beta * (ref_rejected_logps - rejected_logps)
            margins = chosen_rewards - rejected_rewards
            return -F.logsigmoid(margins).mean(), (chosen_rewards > rejected_rewards).float().mean(), margins.mean()
        '''),
    _m("loss_beta_outside", "dpo_loss", "beta is misplaced", '''
        def dpo_loss(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1):
            pi_logratios = chosen_logps - rejected_logps
            ref_logratios = ref_chosen_logps - ref_rejected_logps
            loss = -beta * F.logsigmoid(pi_logratios - ref_logratios).mean()
            chosen_rewards = beta * (chosen_logps - ref_chosen_logps)
            rejected_rewards = beta * (rejected_logps - ref_rejected_logps)
            return loss, (chosen_rewards > rejected_rewards).float().mean(), (chosen_rewards - rejected_rewards).mean()
        '''),
    _m("loss_beta_one_side", "dpo_loss", "one side only", '''
        def dpo_loss(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1):
            chosen_rewards = beta * (chosen_logps - ref_chosen_logps)
            rejected_rewards = rejected_logps - ref_rejected_logps
            margins = chosen_rewards - rejected_rewards
            return -F.logsigmoid(margins).mean(), (chosen_rewards > rejected_rewards).float().mean(), margins.mean()
        '''),
    _m("loss_summed", "dpo_loss", "summed over the batch", '''
        def dpo_loss(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1):
            chosen_rewards = beta * (chosen_logps - ref_chosen_logps)
            rejected_rewards = beta * (rejected_logps - ref_rejected_logps)
            margins = chosen_rewards - rejected_rewards
            return -F.logsigmoid(margins).sum(), (chosen_rewards > rejected_rewards).float().mean(), margins.mean()
        '''),
    _m("loss_margin_without_beta", "dpo_loss", "margin leaves out beta", '''
        def dpo_loss(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1):
            chosen_logratio = chosen_logps - ref_chosen_logps
            rejected_logratio = rejected_logps - ref_rejected_logps
            loss = -F.logsigmoid(beta * (chosen_logratio - rejected_logratio)).mean()
            accuracy = (chosen_logratio > rejected_logratio).float().mean()
            return loss, accuracy, (chosen_logratio - rejected_logratio).mean()
        '''),
    _m("loss_ties_counted", "dpo_loss", "counts ties", '''
        def dpo_loss(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1):
            chosen_rewards = beta * (chosen_logps - ref_chosen_logps)
            rejected_rewards = beta * (rejected_logps - ref_rejected_logps)
            margins = chosen_rewards - rejected_rewards
            return -F.logsigmoid(margins).mean(), (chosen_rewards >= rejected_rewards).float().mean(), margins.mean()
        '''),
    # ------------------------------------------------------------------ to_implicit_prompt_preferences
    _m("implicit_user_turn_missing", "to_implicit_prompt_preferences", "user turn is missing", '''
        def to_implicit_prompt_preferences(example):
            return {side: [{"role": "assistant", "content": example[side]}] for side in ("chosen", "rejected")}
        '''),
    _m("implicit_plain_strings", "to_implicit_prompt_preferences", "concatenated strings", '''
        def to_implicit_prompt_preferences(example):
            return {"chosen": example["prompt"] + example["chosen"], "rejected": example["prompt"] + example["rejected"]}
        '''),
    # ------------------------------------------------------------------ write_model_card
    _m("card_yaml_by_hand_without_base_model", "write_model_card", "must name the base model", '''
        def write_model_card(repo_id, stage, run):
            rows = "\\n".join(f"| {k} | {v:.4g} |" for k, v in run["metrics"].items())
            settings = "\\n".join(f"- {k}: {v}" for k, v in run["training"].items())
            samples = "\\n".join(f"- {k}: {v}" for k, v in run["samples"].items())
            return (f"---\\nlibrary_name: transformers\\nlicense: apache-2.0\\ntags: [{stage}]\\n"
                    f"datasets: [{run['dataset']}]\\n---\\n# {repo_id}\\n{settings}\\n{rows}\\n{samples}\\n")
        '''),
    _m("card_without_metrics", "write_model_card", "every measured metric", '''
        def write_model_card(repo_id, stage, run):
            data = ModelCardData(base_model=run["base_model"], datasets=[run["dataset"]], library_name="transformers",
                                 license="apache-2.0", tags=[stage])
            settings = "\\n".join(f"- {k}: {v}" for k, v in run["training"].items())
            samples = "\\n".join(f"- {k}: {v}" for k, v in run["samples"].items())
            return ModelCard(f"---\\n{data.to_yaml()}\\n---\\n# {repo_id}\\n\\nTrained with care.\\n{settings}\\n{samples}\\n")
        '''),
    _m("card_tags_without_stage", "write_model_card", "tags must name the stage", '''
        def write_model_card(repo_id, stage, run):
            data = ModelCardData(base_model=run["base_model"], datasets=[run["dataset"]], library_name="transformers",
                                 license="mit", tags=["alignment"])
            lines = [f"{k} = {v}" for k, v in {**run["training"], **run["metrics"]}.items()] + list(run["samples"].values())
            return ModelCard("---\\n" + data.to_yaml() + "\\n---\\n" + "\\n\\n".join(lines))
        '''),
]


# A student's build_preference_pairs (itertools style); each mutant changes one thing in it.
STUDENT_PAIRS = '''
import itertools
import math


def build_preference_pairs(candidates_by_prompt, exhaustive=True, min_score_diff=0.0, max_pairs_per_prompt=None):
    if max_pairs_per_prompt is not None and max_pairs_per_prompt < 0:
        raise ValueError("max_pairs_per_prompt cannot be negative")
    counts = dict(prompts=len(candidates_by_prompt), candidates=0, pairs=0, skipped_too_few=0, skipped_ties=0,
                  skipped_small_diff=0)
    rows = []
    for prompt, cands in candidates_by_prompt.items():
        for c in cands:
            if "score" not in c or c["score"] is None or math.isnan(c["score"]):
                raise ValueError(f"bad score in {prompt!r}")
        counts["candidates"] += len(cands)
        if len(cands) < 2:
            counts["skipped_too_few"] += 1
            continue
        ranked = sorted(cands, key=lambda c: c["score"], reverse=True)
        chosen_pairs = list(itertools.combinations(ranked, 2)) if exhaustive else [(ranked[0], ranked[-1])]
        found = []
        for good, bad in chosen_pairs:
            diff = good["score"] - bad["score"]
            if not diff > 0:
                counts["skipped_ties"] += 1
                continue
            if diff < min_score_diff:
                counts["skipped_small_diff"] += 1
                continue
            found.append(dict(prompt=prompt, chosen=good["text"], rejected=bad["text"], score_chosen=good["score"],
                              score_rejected=bad["score"], score_diff=diff))
        found = sorted(found, key=lambda r: -r["score_diff"])
        if max_pairs_per_prompt is not None:
            found = found[:max_pairs_per_prompt]
        rows.extend(found)
    counts["pairs"] = len(rows)
    return rows, counts
'''


def _pairs_mutant(id_, phrase, old, new):
    assert old in STUDENT_PAIRS, old
    return FunctionMutant(id_, "build_preference_pairs", phrase, STUDENT_PAIRS.replace(old, new))


# A student's weighted dpo_loss; each mutant changes one thing in it.
STUDENT_WEIGHTED = '''
def dpo_loss(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1, weights=None):
    chosen_rewards = beta * (chosen_logps - ref_chosen_logps)
    rejected_rewards = beta * (rejected_logps - ref_rejected_logps)
    margins = chosen_rewards - rejected_rewards
    losses = -F.logsigmoid(margins)
    if weights is None:
        loss = losses.mean()
    else:
        loss = (weights * losses).sum() / weights.sum()
    return loss, (chosen_rewards > rejected_rewards).float().mean(), margins.mean()
'''


def _weighted_mutant(id_, phrase, old, new):
    assert old in STUDENT_WEIGHTED, old
    return FunctionMutant(id_, "weighted_dpo_loss", phrase, STUDENT_WEIGHTED.replace(old, new))


FUNCTION_MUTANTS += [
    _pairs_mutant("pairs_ties_kept", "strictly higher", "if not diff > 0:", "if diff < 0:"),
    _pairs_mutant("pairs_best_worst_unsorted", "sorted by score", "[(ranked[0], ranked[-1])]", "[(cands[0], cands[-1])]"),
    _pairs_mutant("pairs_best_worst_swapped", "wrong way round", "[(ranked[0], ranked[-1])]", "[(ranked[-1], ranked[0])]"),
    _pairs_mutant("pairs_cap_before_sort", "before sorting", '''        found = sorted(found, key=lambda r: -r["score_diff"])
        if max_pairs_per_prompt is not None:
            found = found[:max_pairs_per_prompt]''', '''        if max_pairs_per_prompt is not None:
            found = found[:max_pairs_per_prompt]
        found = sorted(found, key=lambda r: -r["score_diff"])'''),
    _pairs_mutant("pairs_min_diff_at_or_below", "equals it", "if diff < min_score_diff:", "if diff <= min_score_diff:"),
    _pairs_mutant("pairs_count_before_cap", "`pairs` counts", '''        if max_pairs_per_prompt is not None:
            found = found[:max_pairs_per_prompt]
        rows.extend(found)
    counts["pairs"] = len(rows)''', '''        counts["pairs"] += len(found)
        if max_pairs_per_prompt is not None:
            found = found[:max_pairs_per_prompt]
        rows.extend(found)'''),
    _pairs_mutant("pairs_nan_accepted", "must raise a ValueError",
                  'if "score" not in c or c["score"] is None or math.isnan(c["score"]):',
                  'if "score" not in c or c["score"] is None:'),
    _weighted_mutant("weighted_plain_mean", "normalised by the sum", "(weights * losses).sum() / weights.sum()",
                     "(weights * losses).mean()"),
    _weighted_mutant("weighted_on_margins", "scale the margins", "(weights * losses).sum() / weights.sum()",
                     "-F.logsigmoid(weights * margins).mean()"),
    _weighted_mutant("weighted_default_changed", "weights=None must give exactly the plain loss",
                     "loss = losses.mean()", "loss = (losses / len(losses)).mean()"),
    _weighted_mutant("weights_ignored", "`loss`", "(weights * losses).sum() / weights.sum()", "losses.mean()"),
    _weighted_mutant("weighted_statistics", "are weighted too",
                     "    return loss, (chosen_rewards > rejected_rewards).float().mean(), margins.mean()\n",
                     "    if weights is None:\n"
                     "        return loss, (chosen_rewards > rejected_rewards).float().mean(), margins.mean()\n"
                     "    share = weights / weights.sum()\n"
                     "    return loss, ((chosen_rewards > rejected_rewards).float() * share).sum(), (margins * share).sum()\n"),
]


BATCHES = build.one_per_function(FUNCTION_MUTANTS)
BATCH_OF = {m.id: index for index, batch in enumerate(BATCHES) for m in batch}


@pytest.fixture(scope="module")
def graded_batch(grader, tmp_path_factory):
    """Grade batch `index` once (all functions, one worker) and remember it."""
    return build.batch_grader(grader, BATCHES, lambda: tmp_path_factory.mktemp("mutants"), ALL_FUNCTIONS)


def test_every_mutant_targets_a_graded_function():
    assert {m.function for m in FUNCTION_MUTANTS} <= set(ALL_FUNCTIONS)
    assert all(m.source.count("def ") >= 1 for m in FUNCTION_MUTANTS)
    assert len({m.id for m in FUNCTION_MUTANTS}) == len(FUNCTION_MUTANTS)


# ---------------------------------------------------------------- the mistakes each grader item declares
DECLARED = [(check.name, number) for check in checks.FUNCTION_CHECKS for number in range(len(check.mistakes))]


def test_every_graded_function_has_a_mistake_that_proves_its_check():
    """A function's check is proven by its declared mistakes (tested below, found in its grader item), or by
    mutants written here; `make_dataloader` is proven by the training loop that runs on what it returns."""
    proven = {name for name, _ in DECLARED} | {m.function for m in FUNCTION_MUTANTS}
    assert set(ALL_FUNCTIONS) - proven <= {"make_dataloader"}


@pytest.fixture(scope="module")
def in_process_judge():
    from autograder.grade_notebook import Grader

    return Grader()


@pytest.mark.parametrize("name,number", DECLARED, ids=[f"{n}-{i}" for n, i in DECLARED])
def test_each_declared_mistake_costs_points_and_is_named(name, number, in_process_judge):
    """A student's function that behaves as a declared mistake does (its outputs on the hidden probes, recorded
    as a worker records them) loses points, and the feedback names that mistake."""
    import copy

    from alignment_kit import observe
    from alignment_kit.compare import said_once

    check = checks.function_check(name)
    mistake, spec = check.mistakes[number], check.spec
    observations = [observe.call(mistake.implementation, copy.deepcopy(p.args), copy.deepcopy(p.kwargs),
                                 spec.observe, spec.gradient) for p in check.probes(hidden=True)]
    verdicts = in_process_judge.verdicts(check, observations)
    assert check.score(verdicts) < check.item.points, f"{name}: {mistake.message!r} keeps full marks"
    assert any(mistake.text() in problem for problem in said_once(verdicts)), (mistake.message, said_once(verdicts))


@slow
def test_a_mistake_seen_on_several_hidden_probes_is_said_once_with_its_probes(graded_batch):
    """get_log_prob without the shift is wrong on every hidden probe: its line names the mistake once and then
    the probes it was seen on, not once per probe."""
    check = checks.function_check("get_log_prob")
    output = graded_batch(BATCH_OF["log_prob_no_shift"])["get_log_prob"].output
    message = next(m.text() for m in check.mistakes if m.message.startswith("no one-token shift"))
    seen = [p.label for p in check.probes(hidden=True) if f'"{p.label}"' in output]
    assert output.count(message) == 1 and len(seen) >= 2, output
    line = next(line for line in output.splitlines() if message in line)
    assert line.endswith(f" (on {len(seen)} probes: " + ", ".join(f'"{label}"' for label in seen) + ")"), line
    assert not [label for label in seen if f"{label}: " in output], "a probe seen with others has no line of its own"


@slow
@pytest.mark.parametrize("mutant", FUNCTION_MUTANTS, ids=lambda m: m.id)
def test_function_mistake_is_caught_and_named(mutant, graded_batch):
    index = BATCH_OF[mutant.id]
    results = graded_batch(index)
    result = results[mutant.function]
    assert result.score < result.max_score, (
        f"{mutant.id}: the buggy {mutant.function} kept full marks ({result.score}/{result.max_score}); "
        f"feedback was: {result.output}")
    assert mutant.phrase in result.output, (
        f"{mutant.id}: {mutant.function} lost points but the feedback does not name the mistake "
        f"(expected the phrase {mutant.phrase!r}); feedback was:\n{result.output}")
    cells = {build.cell_of(m.function) for m in BATCHES[index]}
    mutated = {name for name in ALL_FUNCTIONS if build.cell_of(name) in cells}
    collateral = {name: (r.score, r.output[:300]) for name, r in results.items()
                  if name not in mutated and r.score != r.max_score}
    assert not collateral, (f"{mutant.id}: functions that are NOT mutated in this notebook (batch {index}) "
                            f"lost points: {collateral}")


# ====================================================================== re-run cells
@dataclass(frozen=True)
class CellMutant:
    id: str
    grade_id: str
    source: str
    item: str | None  # the item that must fail; None: the whole cell must score 0
    phrases: tuple[str, ...]  # the feedback must contain one of these
    collateral: tuple[str, ...] = ()  # other items allowed to fail as a consequence


def student_dpo_loop(*, truncate="[:, :MAX_SEQ_LEN]", reference="ref_model", no_grad=True,
                     loss_mask="completion", after_step="") -> str:
    """A student's own DPO loop (different layout from the reference), with one switch per mistake."""
    ref_call = f"{reference}(input_ids=ids, attention_mask=attn).logits"
    ref_block = (f"with torch.no_grad():\n                        ref_logits = {ref_call}" if no_grad
                 else f"ref_logits = {ref_call}")
    mask_expr = {
        "completion": f'torch.cat([torch.zeros_like(prompt_mask), batch[side + "_attn_mask"]], dim=1){truncate}',
        "attention": "attn",
    }[loss_mask]
    return textwrap.dedent(f'''\
        policy_model.train()
        progress = tqdm(total=NUM_DPO_STEPS, desc="DPO")
        step = 0
        while step < NUM_DPO_STEPS:
            for batch in train_loader:
                if step == NUM_DPO_STEPS:
                    break
                batch = {{k: v.to(DEVICE) for k, v in batch.items()}}
                prompt_ids, prompt_mask = batch["prompt_input_ids"], batch["prompt_attn_mask"]
                logps = {{}}
                for side in ("chosen", "rejected"):
                    ids = torch.cat([prompt_ids, batch[side + "_input_ids"]], dim=1){truncate}
                    attn = torch.cat([prompt_mask, batch[side + "_attn_mask"]], dim=1){truncate}
                    loss_mask = {mask_expr}
                    policy_logits = policy_model(input_ids=ids, attention_mask=attn).logits
                    {ref_block}
                    logps["policy_" + side] = get_log_prob(policy_logits.float(), ids, loss_mask)
                    logps["ref_" + side] = get_log_prob(ref_logits.float(), ids, loss_mask)
                loss, acc, margin = dpo_loss(logps["policy_chosen"], logps["policy_rejected"],
                                             logps["ref_chosen"], logps["ref_rejected"], beta=BETA)
                optimizer.zero_grad()
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                {after_step}
                losses.append(loss.item())
                accs.append(acc.item())
                margins.append(margin.item())
                progress.update(1)
                step += 1
        progress.close()
        ''')


def _reward_without_training() -> str:
    source = build.source("reward_training")
    assert "reward_trainer.train()" in source, "the reference reward_training cell changed"
    return source.replace("reward_trainer.train()", "# reward_trainer.train()  # takes too long")


def _ppo(old: str, new: str) -> str:
    source = build.source("ppo_training")
    assert old in source, f"the reference ppo_training cell changed: {old!r} not found"
    return source.replace(old, new)


CELL_MUTANTS = [
    CellMutant("loop_no_reference_model", "dpo_training_loop",
               student_dpo_loop(reference="policy_model"),
               "frozen reference model", ("no reference model",)),
    CellMutant("loop_reference_with_gradients", "dpo_training_loop",
               student_dpo_loop(no_grad=False),
               "frozen reference model", ("gradients flow into the reference",)),
    CellMutant("loop_reference_synced_to_policy", "dpo_training_loop",
               student_dpo_loop(after_step="ref_model.load_state_dict(policy_model.state_dict())  # keep ref close"),
               "frozen reference model", ("reference model changes",)),
    CellMutant("loop_prompt_in_loss_mask", "dpo_training_loop",
               student_dpo_loop(loss_mask="attention"),
               "loss mask", ("prompt tokens are in the loss mask",)),
    CellMutant("loop_truncates_left", "dpo_training_loop",
               student_dpo_loop(truncate="[:, -MAX_SEQ_LEN:]"),
               "concatenation and truncation", ("wrong side",)),
    CellMutant("loop_without_optimizer_step", "dpo_training_loop",
               student_dpo_loop().replace("scaler.step(optimizer)", "# scaler.step(optimizer)  # crashed, commented out"),
               "steps taken", ("no optimizer step",)),
    CellMutant("loop_without_truncation", "dpo_training_loop", student_dpo_loop(truncate=""),
               "concatenation and truncation", ("not cut to MAX_SEQ_LEN",)),
    CellMutant("loop_without_backward", "dpo_training_loop",
               student_dpo_loop().replace("scaler.scale(loss).backward()", "scaler.scale(loss)  # backward is slow"),
               "steps taken", ("not backpropagated", "is the loss backpropagated")),
    CellMutant("loop_gradients_never_reset", "dpo_training_loop",
               student_dpo_loop().replace("optimizer.zero_grad()", "pass  # zero_grad later"),
               "loss trajectory", ("never reset",)),
    CellMutant("loop_first_batch_only", "dpo_training_loop",
               student_dpo_loop().replace("for batch in train_loader:", "for batch in [next(iter(train_loader))] * NUM_DPO_STEPS:"),
               "loss trajectory", ("first batch",)),
    CellMutant("loop_chosen_rejected_swapped", "dpo_training_loop",
               student_dpo_loop().replace('dpo_loss(logps["policy_chosen"], logps["policy_rejected"],',
                                          'dpo_loss(logps["policy_rejected"], logps["policy_chosen"],')
                                 .replace('logps["ref_chosen"], logps["ref_rejected"], beta=BETA)',
                                          'logps["ref_rejected"], logps["ref_chosen"], beta=BETA)'),
               "loss trajectory", ("chosen and rejected are swapped",)),
    # Every input a re-run cell is given must matter (the hidden configurations differ in each).
    CellMutant("loop_ignores_beta", "dpo_training_loop", student_dpo_loop().replace("beta=BETA", "beta=0.1"),
               "loss trajectory", ("ignores `BETA`",)),
    CellMutant("loop_ignores_step_count", "dpo_training_loop", student_dpo_loop().replace("NUM_DPO_STEPS", "3"),
               "steps taken", ("ignores `NUM_DPO_STEPS`",)),
    CellMutant("loop_ignores_max_seq_len", "dpo_training_loop", student_dpo_loop(truncate="[:, :64]"),
               "concatenation and truncation", ("ignores `MAX_SEQ_LEN`",)),
    CellMutant("loop_one_mask_for_both_sides", "dpo_training_loop",
               student_dpo_loop().replace('torch.zeros_like(prompt_mask), batch[side + "_attn_mask"]',
                                          'torch.zeros_like(prompt_mask), batch["chosen_attn_mask"]'),
               # The cell raises, so its outcome matches no run and nothing of the loop is credited.
               "loss mask", ("the loss mask does not select", "the cell raised"), ("steps taken", "loss trajectory",
                                                                                  "concatenation and truncation",
                                                                                  "frozen reference model",
                                                                                  "cell ran to the end")),
    CellMutant("reward_ignores_step_setting", "reward_training",
               build.source("reward_training").replace("max_steps=settings.reward_steps", "max_steps=40"),
               "reward_model trained with RewardTrainer", ("use max_steps=settings.reward_steps",)),
    CellMutant("ppo_ignores_episode_setting", "ppo_training", _ppo("total_episodes=settings.ppo_episodes", "total_episodes=8"),
               "trains with the given settings", ("use settings.ppo_episodes",)),
    CellMutant("ppo_ignores_length_setting", "ppo_training",
               _ppo("response_length=settings.max_new_tokens", "response_length=8"),
               "trains with the given settings", ("use settings.max_new_tokens",)),
    CellMutant("reward_never_trained", "reward_training", _reward_without_training(),
               "reward_model trained with RewardTrainer", ("trained 0 steps",),
               ("ranks held-out chosen above rejected",)),
    # TRL itself refuses model is ref_model, so the cell raises; either way the points must go.
    CellMutant("ppo_policy_reused_as_reference", "ppo_training", _ppo("ref_model=ppo_ref", "ref_model=ppo_policy"),
               None, ("not the policy itself", "cannot be the same object")),
    CellMutant("ppo_reward_model_as_value_model", "ppo_training",
               _ppo("value_model=value_model)", "value_model=reward_model)"),
               "value model", ("value_model must be its own",)),
]


@pytest.fixture(scope="module")
def graded_cell(grader, tmp_path_factory):
    """Grade each cell mutant once; two tests read the same items."""
    cache: dict[str, list] = {}

    def grade(mutant: CellMutant) -> list:
        if mutant.id not in cache:
            nb = build.with_cell(mutant.grade_id, mutant.source)
            path = build.write(nb, tmp_path_factory.mktemp("cells") / f"{mutant.id}.ipynb")
            cache[mutant.id], _ = grader.grade_cell(parse_notebook(path), checks.cell_check(mutant.grade_id))
        return cache[mutant.id]

    return grade


def _feedback(items) -> str:
    return "\n".join(f"[{'ok' if i.passed else 'FAIL'}] {i.name}: {i.output}" for i in items)


@slow
def test_student_loop_template_is_correct(grader, tmp_path):
    """The loop mutants are one switch away from this loop, which must earn every point."""
    path = build.write(build.with_cell("dpo_training_loop", student_dpo_loop()), tmp_path / "loop.ipynb")
    items, _ = grader.grade_cell(parse_notebook(path), checks.cell_check("dpo_training_loop"))
    assert all(i.passed for i in items), f"the correct student loop lost points:\n{_feedback(items)}"


def test_cell_mutants_differ_from_the_correct_loop():
    loop = student_dpo_loop()
    for mutant in CELL_MUTANTS:
        assert mutant.source != build.source(mutant.grade_id) and mutant.source != loop, f"{mutant.id} changes nothing"


@slow
@pytest.mark.parametrize("mutant", CELL_MUTANTS, ids=lambda m: m.id)
def test_cell_mistake_is_caught_and_named(mutant, graded_cell):
    items = graded_cell(mutant)
    feedback = _feedback(items)
    check = checks.cell_check(mutant.grade_id)
    score = sum(i.score for i in items)
    assert score < check.points, f"{mutant.id}: the buggy {mutant.grade_id} cell kept full marks:\n{feedback}"
    if mutant.item is None:
        assert score == 0, f"{mutant.id}: expected the whole {mutant.grade_id} cell to score 0:\n{feedback}"
        messages = feedback
    else:
        target = [i for i in items if i.name == mutant.item]
        assert target, f"{mutant.id}: no item named {mutant.item!r} in the feedback:\n{feedback}"
        assert not target[0].passed, f"{mutant.id}: the item {mutant.item!r} passed:\n{feedback}"
        messages = target[0].output
    assert any(p in messages for p in mutant.phrases), (
        f"{mutant.id}: the feedback does not name the mistake (expected one of {mutant.phrases}):\n{feedback}")


ONE_STRUCTURAL_MISTAKE = ["loop_reference_synced_to_policy", "loop_prompt_in_loss_mask", "loop_truncates_left",
                          "loop_without_truncation", "loop_without_backward",
                          "loop_without_optimizer_step", "loop_ignores_max_seq_len", "loop_no_reference_model"]


@slow
@pytest.mark.parametrize("mutant_id", ONE_STRUCTURAL_MISTAKE)
def test_one_mistake_costs_once(mutant_id, graded_cell):
    """A named structural mistake does not cost the loss trajectory too: the trajectory is compared with
    the reference run that makes the same mistake."""
    items = graded_cell(next(m for m in CELL_MUTANTS if m.id == mutant_id))
    trajectory = next(i for i in items if i.name == "loss trajectory")
    assert trajectory.passed and "same mistake" in trajectory.output, _feedback(items)
    assert sum(not i.passed for i in items) == 1, f"{mutant_id} cost more than one item:\n{_feedback(items)}"


@slow
@pytest.mark.parametrize("mutant", [m for m in CELL_MUTANTS if m.item is not None], ids=lambda m: m.id)
def test_cell_mistake_costs_only_its_own_items(mutant, graded_cell):
    items = graded_cell(mutant)
    unexpected = [i.name for i in items if not i.passed and i.name not in (mutant.item, *mutant.collateral)]
    assert not unexpected, (f"{mutant.id}: items unrelated to the mistake lost points: {unexpected}\n"
                            f"{_feedback(items)}")

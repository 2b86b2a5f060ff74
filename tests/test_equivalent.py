"""No false failures: correct code written differently from the reference earns full marks.

Variants of different functions share a notebook and one `grade_functions` call (batch i holds
the i-th variant of every function), and every call grades all functions, so the reference code
around a variant must keep full marks too.
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass

import pytest

from autograder import checks
from autograder.notebook import parse_notebook
from submissions import build

pytestmark = pytest.mark.slow  # grades in workers

ALL_FUNCTIONS = [c.name for c in checks.FUNCTION_CHECKS]


@dataclass(frozen=True)
class Variant:
    id: str
    function: str
    source: str


def _v(id_, function, source):
    return Variant(id_, function, textwrap.dedent(source))


VARIANTS = [
    # ------------------------------------------------------------------ get_log_prob
    _v("log_prob_gather_masked_fill_bool", "get_log_prob", '''
        def get_log_prob(logits, labels, mask):
            targets = labels[:, 1:].unsqueeze(2)
            token_logps = logits[:, :-1].log_softmax(dim=2).gather(2, targets).squeeze(2)
            keep = mask[:, 1:].bool()
            return token_logps.masked_fill(~keep, 0.0).sum(1)
        '''),
    _v("log_prob_cross_entropy", "get_log_prob", '''
        def get_log_prob(logits, labels, mask):
            batch, length, vocab = logits.shape
            nll = F.cross_entropy(logits[:, :-1].reshape(-1, vocab), labels[:, 1:].reshape(-1), reduction="none")
            nll = nll.view(batch, length - 1)
            return -(nll * mask[:, 1:].float()).sum(-1)
        '''),
    _v("log_prob_logsumexp_where", "get_log_prob", '''
        def get_log_prob(logits, labels, mask):
            scores = logits[:, :-1]
            picked = scores.gather(-1, labels[:, 1:, None])[..., 0]
            token_logps = picked - torch.logsumexp(scores, dim=-1)
            return torch.where(mask[:, 1:].bool(), token_logps, torch.zeros_like(token_logps)).sum(-1)
        '''),
    _v("log_prob_roll", "get_log_prob", '''
        def get_log_prob(logits, labels, mask):
            next_labels = torch.roll(labels, shifts=-1, dims=1)
            next_mask = torch.roll(mask.long(), shifts=-1, dims=1)
            next_mask[:, -1] = 0  # the last position has no next token
            logps = torch.log_softmax(logits, dim=-1).gather(-1, next_labels.unsqueeze(-1)).squeeze(-1)
            return (logps * next_mask).sum(dim=1)
        '''),
    _v("log_prob_python_loops_int_mask", "get_log_prob", '''
        def get_log_prob(logits, labels, mask):
            totals = []
            for b in range(logits.size(0)):
                logps = F.log_softmax(logits[b], dim=-1)
                total = logits.new_zeros(())
                for t in range(1, labels.size(1)):
                    if int(mask[b, t]) == 1:
                        total = total + logps[t - 1, labels[b, t]]
                totals.append(total)
            return torch.stack(totals)
        '''),
    # ------------------------------------------------------------------ pad
    _v("pad_pad_sequence_flips", "pad", '''
        from torch.nn.utils.rnn import pad_sequence

        def pad(tensors, padding_value=0, padding_side="right"):
            if padding_side == "left":
                flipped = pad_sequence([t.flip(0) for t in tensors], batch_first=True, padding_value=padding_value)
                return flipped.flip(1)
            return pad_sequence(list(tensors), batch_first=True, padding_value=padding_value)
        '''),
    # ------------------------------------------------------------------ dpo_loss
    _v("weighted_loss_with_dot_product", "weighted_dpo_loss", '''
        def dpo_loss(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1, weights=None):
            chosen_r = beta * (chosen_logps - ref_chosen_logps)
            rejected_r = beta * (rejected_logps - ref_rejected_logps)
            per_pair = F.softplus(-(chosen_r - rejected_r))
            if weights is not None:
                normalised = weights.float() / weights.float().sum()
                loss = torch.dot(normalised, per_pair)
            else:
                loss = per_pair.mean()
            return loss, (chosen_r > rejected_r).float().mean(), (chosen_r - rejected_r).mean()
        '''),
    _v("loss_softplus", "dpo_loss", '''
        def dpo_loss(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1, weights=None):
            logits = (chosen_logps - rejected_logps) - (ref_chosen_logps - ref_rejected_logps)
            losses = F.softplus(-beta * logits)
            chosen_r = beta * (chosen_logps - ref_chosen_logps).detach()
            rejected_r = beta * (rejected_logps - ref_rejected_logps).detach()
            loss = losses.mean() if weights is None else torch.sum(losses * weights) / torch.sum(weights)
            return loss, (chosen_r > rejected_r).float().mean(), (chosen_r - rejected_r).mean()
        '''),
    # ------------------------------------------------------------------ tokenize_row
    _v("tokenize_encode", "tokenize_row", '''
        def tokenize_row(example, tokenizer, max_prompt_length=512, max_completion_length=None):
            eos = tokenizer.eos_token_id
            prompt = tokenizer.encode(example["prompt"], add_special_tokens=False)
            if max_prompt_length is not None and len(prompt) > max_prompt_length:
                prompt = prompt[len(prompt) - max_prompt_length:]
            row = {"prompt_input_ids": prompt}
            for key in ("chosen", "rejected"):
                ids = tokenizer.encode(example[key], add_special_tokens=False)
                ids.append(eos)
                if max_completion_length:
                    del ids[max_completion_length:]
                row[key + "_input_ids"] = ids
            return row
        '''),
    # ------------------------------------------------------------------ apply_chat_template
    _v("template_character_loop", "apply_chat_template", '''
        def apply_chat_template(example, tokenizer):
            turn = [{"role": "user", "content": example["prompt"]}]
            prompt = tokenizer.apply_chat_template(turn, tokenize=False, add_generation_prompt=True)
            good = tokenizer.apply_chat_template(turn + [{"role": "assistant", "content": example["chosen"]}], tokenize=False)
            bad = tokenizer.apply_chat_template(turn + [{"role": "assistant", "content": example["rejected"]}], tokenize=False)
            n = 0
            while n < min(len(prompt), len(good), len(bad)) and prompt[n] == good[n] == bad[n]:
                n += 1
            return {"prompt": prompt[:n], "chosen": good[n:], "rejected": bad[n:]}
        '''),
    _v("template_takewhile", "apply_chat_template", '''
        import itertools

        def apply_chat_template(example, tokenizer):
            def render(*turns):
                return tokenizer.apply_chat_template(list(turns), tokenize=False, add_generation_prompt=len(turns) == 1)

            user = {"role": "user", "content": example["prompt"]}
            texts = {"prompt": render(user)}
            for side in ("chosen", "rejected"):
                texts[side] = render(user, {"role": "assistant", "content": example[side]})
            same = itertools.takewhile(lambda chars: len(set(chars)) == 1, zip(*texts.values()))
            cut = sum(1 for _ in same)
            return {"prompt": texts["prompt"][:cut], **{side: texts[side][cut:] for side in ("chosen", "rejected")}}
        '''),
    # ------------------------------------------------------------------ to_implicit_prompt_preferences
    # ------------------------------------------------------------------ star tasks
    _v("pairs_with_heapq_and_counters", "build_preference_pairs", '''
        import heapq
        import math
        from collections import Counter

        def build_preference_pairs(candidates_by_prompt, exhaustive=True, min_score_diff=0.0, max_pairs_per_prompt=None):
            if max_pairs_per_prompt is not None and max_pairs_per_prompt < 0:
                raise ValueError("the cap must not be negative")
            tally, out = Counter(prompts=len(candidates_by_prompt)), []
            for prompt, group in candidates_by_prompt.items():
                scores = [c.get("score") for c in group]
                if any(s is None or s != s for s in scores):
                    raise ValueError(f"{prompt}: every candidate needs a number as its score")
                tally["candidates"] += len(group)
                if len(group) < 2:
                    tally["skipped_too_few"] += 1
                    continue
                order = sorted(range(len(group)), key=lambda i: -group[i]["score"])
                index_pairs = ([(order[a], order[b]) for a in range(len(order)) for b in range(a + 1, len(order))]
                               if exhaustive else [(order[0], order[-1])])
                made = []
                for i, j in index_pairs:
                    gap = group[i]["score"] - group[j]["score"]
                    if gap == 0:
                        tally["skipped_ties"] += 1
                    elif gap < min_score_diff:
                        tally["skipped_small_diff"] += 1
                    else:
                        made.append({"prompt": prompt, "chosen": group[i]["text"], "rejected": group[j]["text"],
                                     "score_chosen": group[i]["score"], "score_rejected": group[j]["score"],
                                     "score_diff": gap})
                limit = len(made) if max_pairs_per_prompt is None else max_pairs_per_prompt
                out += heapq.nlargest(limit, made, key=lambda row: row["score_diff"])
            tally["pairs"] = len(out)
            keys = ("prompts", "candidates", "pairs", "skipped_too_few", "skipped_ties", "skipped_small_diff")
            return out, {k: tally[k] for k in keys}
        '''),
    # ------------------------------------------------------------------ write_model_card
    _v("card_as_text_with_bullets", "write_model_card", '''
        def write_model_card(repo_id, stage, run):
            meta = ModelCardData(base_model=run["base_model"], library_name="transformers", license="apache-2.0",
                                 datasets=[run["dataset"]], tags=["aligned", stage], model_name=repo_id)
            parts = [f"# {repo_id.split('/')[-1]}", "Settings:"]
            parts += [f"* {name}: {value}" for name, value in run["training"].items()]
            parts += ["Results:"] + [f"* {name}: {value:.3f}" for name, value in run["metrics"].items()]
            parts += ["Examples:"] + [f"> {label}: {text}" for label, text in run["samples"].items()]
            return "---\\n" + meta.to_yaml() + "\\n---\\n" + "\\n".join(parts)
        '''),
    _v("implicit_comprehension", "to_implicit_prompt_preferences", '''
        def to_implicit_prompt_preferences(example):
            def conversation(answer):
                return [dict(role="user", content=example["prompt"]), dict(role="assistant", content=answer)]
            return {key: conversation(example[key]) for key in ("chosen", "rejected")}
        '''),
]


BATCHES = build.one_per_function(VARIANTS)
BATCH_OF = {v.id: index for index, batch in enumerate(BATCHES) for v in batch}


@pytest.fixture(scope="module")
def graded_batch(grader, tmp_path_factory):
    """Grade batch `index` once (all functions, one worker) and remember it."""
    return build.batch_grader(grader, BATCHES, lambda: tmp_path_factory.mktemp("equivalent"), ALL_FUNCTIONS)


def _lost(results: dict) -> dict:
    return {name: (r.score, r.max_score, r.output[:400]) for name, r in results.items() if r.score != r.max_score}


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.id)
def test_equivalent_function_gets_full_marks(variant, graded_batch):
    results = graded_batch(BATCH_OF[variant.id])
    result = results[variant.function]
    assert result.score == result.max_score, (
        f"{variant.id}: a correct {variant.function} written differently lost points "
        f"({result.score}/{result.max_score}):\n{result.output}")
    assert not _lost(results), f"{variant.id}: something else in the same notebook lost points: {_lost(results)}"


# ---------------------------------------------------------------------- helper cells, renamed locals
HELPERS = '''
def shift_for_next_token(logits, labels, mask):
    """Line up the logits at position t with the label at t + 1."""
    return logits[:, :-1, :], labels[:, 1:], mask[:, 1:]


def place_row(canvas, row_index, values, side):
    """Write `values` into one row of `canvas`, flush left or flush right."""
    if side == "left":
        canvas[row_index, canvas.shape[1] - values.shape[0]:] = values
    else:
        canvas[row_index, :values.shape[0]] = values
'''

GET_LOG_PROB_WITH_HELPER = '''
def get_log_prob(logits, labels, mask):
    scores, targets, keep = shift_for_next_token(logits, labels, mask)
    per_token = torch.gather(F.log_softmax(scores, dim=-1), 2, targets.unsqueeze(-1)).squeeze(-1)
    return (per_token * keep.to(per_token.dtype)).sum(dim=-1)
'''

PAD_WITH_HELPER = '''
def pad(tensors, padding_value=0, padding_side="right"):
    width = max(x.numel() for x in tensors)
    canvas = torch.full((len(tensors), width), padding_value, dtype=tensors[0].dtype)
    for k, x in enumerate(tensors):
        place_row(canvas, k, x, padding_side)
    return canvas
'''


def test_helper_cell_and_renamed_locals_get_full_marks(grader, tmp_path):
    nb = build.insert_before("get_log_prob", build.code_cell(HELPERS))
    nb = build.with_cells({"get_log_prob": GET_LOG_PROB_WITH_HELPER, "pad": PAD_WITH_HELPER}, nb)
    path = build.write(nb, tmp_path / "helpers.ipynb")
    results = {r.name: r for r in grader.grade_functions(parse_notebook(path), ALL_FUNCTIONS)}
    assert not _lost(results), ("functions that call helpers defined in another (untagged) cell lost points: "
                                f"{_lost(results)}")


# ---------------------------------------------------------------------- training loop, one forward pass
ONE_FORWARD_LOOP = '''
policy_model.train()
progress = tqdm(total=NUM_DPO_STEPS, desc="DPO")
step = 0
while step < NUM_DPO_STEPS:
    for batch in train_loader:
        if step == NUM_DPO_STEPS:
            break
        batch = {k: v.to(DEVICE) for k, v in batch.items()}
        n = batch["prompt_input_ids"].shape[0]
        width = max(batch["chosen_input_ids"].shape[1], batch["rejected_input_ids"].shape[1])

        def widen(t, value):
            return F.pad(t, (0, width - t.shape[1]), value=value)

        # chosen rows first, rejected rows after: one forward pass per model
        completion_ids = torch.cat([widen(batch["chosen_input_ids"], tokenizer.pad_token_id),
                                    widen(batch["rejected_input_ids"], tokenizer.pad_token_id)])
        completion_mask = torch.cat([widen(batch["chosen_attn_mask"], 0), widen(batch["rejected_attn_mask"], 0)])
        prompt_ids = batch["prompt_input_ids"].repeat(2, 1)
        prompt_mask = batch["prompt_attn_mask"].repeat(2, 1)
        input_ids = torch.cat([prompt_ids, completion_ids], dim=1)[:, :MAX_SEQ_LEN]
        attention_mask = torch.cat([prompt_mask, completion_mask], dim=1)[:, :MAX_SEQ_LEN]
        loss_mask = torch.cat([torch.zeros_like(prompt_mask), completion_mask], dim=1)[:, :MAX_SEQ_LEN]

        with autocast():
            logits = policy_model(input_ids=input_ids, attention_mask=attention_mask).logits
            with torch.no_grad():
                ref_logits = ref_model(input_ids=input_ids, attention_mask=attention_mask).logits
        logps = get_log_prob(logits.float(), input_ids, loss_mask)
        ref_logps = get_log_prob(ref_logits.float(), input_ids, loss_mask)

        loss, acc, margin = dpo_loss(logps[:n], logps[n:], ref_logps[:n], ref_logps[n:], beta=BETA)
        optimizer.zero_grad()
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        losses.append(loss.item())
        accs.append(acc.item())
        margins.append(margin.item())
        progress.update(1)
        step += 1
progress.close()
'''


def test_training_loop_with_one_concatenated_forward_pass_gets_full_marks(grader, tmp_path):
    path = build.write(build.with_cell("dpo_training_loop", ONE_FORWARD_LOOP), tmp_path / "one_forward.ipynb")
    items, curves = grader.grade_cell(parse_notebook(path), checks.cell_check("dpo_training_loop"))
    failed = [(i.name, i.output) for i in items if not i.passed]
    assert not failed, f"a correct loop that runs chosen and rejected in one batch lost points: {failed}; curves {curves}"

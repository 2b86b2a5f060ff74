"""The reference (solution) functions against values computed by hand.

Every expected number here is written out from a small computation explained in a comment, never
produced by the function under test. Logits are built as ``log(p)`` of probability vectors that sum
to 1, so that ``log_softmax`` returns exactly ``log(p)``; losses are written as ``log(1 + exp(-x))``.
"""
from __future__ import annotations

import math

import pytest
import torch

from autograder.reference import reference_function

ATOL = 1e-6  # float32 arithmetic on numbers of order 1-100: a few ulp at most


@pytest.fixture(scope="module")
def ref():
    return reference_function


@pytest.fixture(scope="module")
def kit_tok():
    from alignment_kit.probes import kit_tokenizer

    return kit_tokenizer()


def close(actual, expected, atol=ATOL):
    actual = torch.as_tensor(actual, dtype=torch.float64)
    expected = torch.as_tensor(expected, dtype=torch.float64)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    assert torch.allclose(actual, expected, rtol=0.0, atol=atol), f"{actual.tolist()} != {expected.tolist()}"


# ------------------------------------------------------------------------------------ get_log_prob
def log_probs(*rows):
    """Logits whose log_softmax is exactly log(p): each row is a probability vector summing to 1."""
    return torch.log(torch.tensor(rows, dtype=torch.float32))


def test_get_log_prob_uses_the_one_token_shift(ref):
    get_log_prob = ref("get_log_prob")
    # Vocabulary of 3 tokens, a sequence of 4 tokens: labels [0, 1, 2, 0], mask [0, 1, 1, 0]
    # (a prompt token, two completion tokens, one padding token).
    # Logits at position t predict token t+1, so the terms are
    #   t=0 -> label[1]=1, mask[1]=1: log P0[1] = log 0.25
    #   t=1 -> label[2]=2, mask[2]=1: log P1[2] = log 0.7
    #   t=2 -> label[3]=0, mask[3]=0: skipped;  t=3: no next token, its logits are dropped.
    logits = log_probs([0.5, 0.25, 0.25], [0.1, 0.2, 0.7], [0.6, 0.3, 0.1], [0.05, 0.05, 0.9]).unsqueeze(0)
    labels = torch.tensor([[0, 1, 2, 0]])
    mask = torch.tensor([[0, 1, 1, 0]])
    expected = torch.log(torch.tensor([0.25])) + torch.log(torch.tensor([0.7]))
    close(get_log_prob(logits, labels, mask), expected)
    # Without the shift one would get log P1[1] + log P2[2] = log 0.2 + log 0.1: make sure that differs.
    unshifted = math.log(0.2) + math.log(0.1)
    assert abs(get_log_prob(logits, labels, mask).item() - unshifted) > 1.0


def test_get_log_prob_batch_ignores_first_mask_entry_and_normalises(ref):
    get_log_prob = ref("get_log_prob")
    probs = ([0.5, 0.25, 0.25], [0.1, 0.2, 0.7], [0.6, 0.3, 0.1], [0.05, 0.05, 0.9])
    # Row 0: unnormalised logits log(p) + 3 (log_softmax removes the constant); labels [2, 0, 0, 1],
    #   mask [1, 1, 1, 1]: the first mask entry has no logits predicting it and must be ignored.
    #   terms: log P0[0] + log P1[0] + log P2[1] = log 0.5 + log 0.1 + log 0.3
    # Row 1: same probabilities, labels [1, 2, 1, 2], mask [0, 0, 0, 1]: only t=2 -> label[3]=2: log P2[2] = log 0.1
    # Row 2: mask all zero (a fully padded row): the sum is 0.
    base = log_probs(*probs)
    logits = torch.stack([base + 3.0, base, base])
    labels = torch.tensor([[2, 0, 0, 1], [1, 2, 1, 2], [0, 0, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 1], [0, 0, 0, 1], [0, 0, 0, 0]])
    expected = torch.tensor([
        math.log(0.5) + math.log(0.1) + math.log(0.3),
        math.log(0.1),
        0.0,
    ])
    result = get_log_prob(logits, labels, mask)
    assert result.shape == (3,)
    close(result, expected)
    # Switching on mask[:, 0] changes nothing: position 0 is never predicted.
    mask_first_on = mask.clone()
    mask_first_on[:, 0] = 1
    close(get_log_prob(logits, labels, mask_first_on), expected)


def test_get_log_prob_keeps_a_real_eos_that_equals_pad(ref):
    get_log_prob = ref("get_log_prob")
    # pad == eos == token 2. The sequence [prompt 0][completion 1, 2(eos)][pad 2]: the mask (built from
    # lengths) is [0, 1, 1, 0], so the real EOS counts and the padding EOS does not.
    # t=0 -> label 1: log P0[1] = log 0.25;  t=1 -> label 2 (the real EOS): log P1[2] = log 0.7.
    logits = log_probs([0.5, 0.25, 0.25], [0.1, 0.2, 0.7], [0.6, 0.3, 0.1], [0.05, 0.05, 0.9]).unsqueeze(0)
    labels = torch.tensor([[0, 1, 2, 2]])
    mask = torch.tensor([[0, 1, 1, 0]])
    close(get_log_prob(logits, labels, mask), [math.log(0.25) + math.log(0.7)])
    # A mask built by comparing ids with the pad id ([0, 1, 0, 0]) would drop the EOS term log 0.7:
    close(get_log_prob(logits, labels, (labels != 2).long() * torch.tensor([[0, 1, 1, 1]])), [math.log(0.25)])


# ------------------------------------------------------------------------------------ pad
def test_pad_right_default_value(ref):
    pad = ref("pad")
    out = pad([torch.tensor([1, 2, 3]), torch.tensor([4])])
    assert out.dtype == torch.long
    assert out.tolist() == [[1, 2, 3], [4, 0, 0]]


def test_pad_left_with_value(ref):
    pad = ref("pad")
    out = pad([torch.tensor([1, 2, 3]), torch.tensor([4]), torch.tensor([5, 6])], padding_value=9, padding_side="left")
    assert out.tolist() == [[1, 2, 3], [9, 9, 4], [9, 5, 6]]


def test_pad_keeps_float_dtype_and_rejects_bad_side(ref):
    pad = ref("pad")
    out = pad([torch.tensor([0.5]), torch.tensor([1.5, 2.5])], padding_value=-1.0, padding_side="right")
    assert out.dtype == torch.float32
    assert out.tolist() == [[0.5, -1.0], [1.5, 2.5]]
    with pytest.raises(ValueError):
        pad([torch.tensor([1])], padding_side="middle")


# ------------------------------------------------------------------------------------ pad_collate_fn
def test_pad_collate_fn_sides_values_and_masks_from_lengths(ref):
    pad_collate_fn = ref("pad_collate_fn")
    eos = pad_id = 2  # as in SmolLM2: the pad token is the EOS token
    batch = [
        # prompt of 3; chosen has an EOS inside and one at its end; rejected ends with EOS
        {"prompt_input_ids": [5, 6, 7], "chosen_input_ids": [11, eos, 13, eos], "rejected_input_ids": [21, eos]},
        {"prompt_input_ids": [8], "chosen_input_ids": [14, eos], "rejected_input_ids": [22, 23, 24, eos]},
    ]
    out = pad_collate_fn(batch, pad_token_id=pad_id)
    assert set(out) == {"prompt_input_ids", "prompt_attn_mask", "chosen_input_ids", "chosen_attn_mask",
                        "rejected_input_ids", "rejected_attn_mask"}
    # Prompts are padded on the LEFT with the pad id, so each prompt ends where its completion starts.
    assert out["prompt_input_ids"].tolist() == [[5, 6, 7], [2, 2, 8]]
    assert out["prompt_attn_mask"].tolist() == [[1, 1, 1], [0, 0, 1]]
    # Completions are padded on the RIGHT; masks come from lengths, so every real EOS keeps a 1
    # even though the padding uses the same id.
    assert out["chosen_input_ids"].tolist() == [[11, 2, 13, 2], [14, 2, 2, 2]]
    assert out["chosen_attn_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 0, 0]]
    assert out["rejected_input_ids"].tolist() == [[21, 2, 2, 2], [22, 23, 24, 2]]
    assert out["rejected_attn_mask"].tolist() == [[1, 1, 0, 0], [1, 1, 1, 1]]
    for tensor in out.values():
        assert tensor.dtype == torch.long


# ------------------------------------------------------------------------------------ tokenize_row
class CharTokenizer:
    """One token per character (id = ord(c)), eos id 0; adds a BOS (id 1) unless told not to."""

    eos_token_id = 0

    def __call__(self, text, add_special_tokens=True):
        ids = [ord(c) for c in text]
        return {"input_ids": ([1] + ids) if add_special_tokens else ids}


def ids(text):
    return [ord(c) for c in text]


def test_tokenize_row_appends_eos_and_adds_no_special_tokens(ref):
    tokenize_row = ref("tokenize_row")
    row = {"prompt": "Hi?", "chosen": "Yes", "rejected": "No"}
    out = tokenize_row(row, CharTokenizer())
    assert out == {
        "prompt_input_ids": [72, 105, 63],            # "H", "i", "?"; no BOS 1 and no EOS on the prompt
        "chosen_input_ids": [89, 101, 115, 0],        # "Yes" + eos 0
        "rejected_input_ids": [78, 111, 0],           # "No" + eos 0
    }


def test_tokenize_row_truncates_prompt_left_and_completions_right(ref):
    tokenize_row = ref("tokenize_row")
    row = {"prompt": "abcdef", "chosen": "xyz", "rejected": "uv"}
    out = tokenize_row(row, CharTokenizer(), max_prompt_length=4, max_completion_length=2)
    assert out["prompt_input_ids"] == ids("cdef")     # the LAST 4 prompt tokens
    assert out["chosen_input_ids"] == ids("xy")       # the FIRST 2 of "xyz"+eos (the eos is cut)
    assert out["rejected_input_ids"] == ids("uv")     # "uv"+eos cut to 2
    # max_completion_length=None: no completion truncation at all
    out = tokenize_row(row, CharTokenizer(), max_prompt_length=4, max_completion_length=None)
    assert out["chosen_input_ids"] == ids("xyz") + [0]
    assert out["rejected_input_ids"] == ids("uv") + [0]
    # limits longer than the sequences change nothing; max_prompt_length=None keeps the whole prompt
    out = tokenize_row(row, CharTokenizer(), max_prompt_length=None, max_completion_length=10)
    assert out["prompt_input_ids"] == ids("abcdef")
    assert out["chosen_input_ids"] == ids("xyz") + [0]


def test_tokenize_row_default_prompt_limit_is_512(ref):
    tokenize_row = ref("tokenize_row")
    prompt = "a" * 100 + "b" * 500  # 600 tokens; the last 512 are 12 "a" then 500 "b"
    out = tokenize_row({"prompt": prompt, "chosen": "c", "rejected": "d"}, CharTokenizer())
    assert out["prompt_input_ids"] == ids("a" * 12 + "b" * 500)


def test_tokenize_row_real_tokenizer_eos(ref, kit_tok):
    tokenize_row = ref("tokenize_row")
    assert kit_tok.eos_token_id == kit_tok.pad_token_id == 2  # <|im_end|>
    # The SmolLM2 chat template ends an assistant turn with "<|im_end|>\n": the completion holds an EOS
    # (id 2) inside it, then "\n", then the appended EOS.
    row = {"prompt": "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
           "chosen": "Hello<|im_end|>\n", "rejected": "Go<|im_end|>\n"}
    out = tokenize_row(row, kit_tok)
    hello = kit_tok("Hello", add_special_tokens=False)["input_ids"]
    newline = kit_tok("\n", add_special_tokens=False)["input_ids"]
    assert out["chosen_input_ids"] == hello + [2] + newline + [2]
    assert out["chosen_input_ids"].count(2) == 2
    assert out["prompt_input_ids"][0] == kit_tok.convert_tokens_to_ids("<|im_start|>")  # no BOS prepended


# ------------------------------------------------------------------------------------ apply_chat_template
def test_apply_chat_template_smollm_template(ref, kit_tok):
    apply_chat_template = ref("apply_chat_template")
    row = {"prompt": "Hi there", "chosen": "Hey! Good to see you.", "rejected": "Greetings."}
    out = apply_chat_template(row, kit_tok)
    system = "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
    # The generation prompt is a true prefix of the rendered conversation here, so it is the prompt.
    assert out["prompt"] == system + "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n"
    assert out["chosen"] == "Hey! Good to see you.<|im_end|>\n"
    assert out["rejected"] == "Greetings.<|im_end|>\n"


@pytest.fixture(scope="module")
def thinking_tok():
    from alignment_kit.probes import THINKING_TEMPLATE, tokenizer_with_template

    tok = tokenizer_with_template(THINKING_TEMPLATE)
    # The generation prompt adds "<think>\n", which the rendered assistant turn does not contain.
    assert tok.apply_chat_template([{"role": "user", "content": "Q"}], tokenize=False,
                                   add_generation_prompt=True).endswith("assistant\n<think>\n")
    return tok


def render(tok, prompt, answer):
    return tok.apply_chat_template([{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}],
                                   tokenize=False)


def test_apply_chat_template_generation_prompt_differs(ref, thinking_tok):
    apply_chat_template = ref("apply_chat_template")
    row = {"prompt": "Q", "chosen": "Sure, hi", "rejected": "No."}
    out = apply_chat_template(row, thinking_tok)
    # Rendered generation prompt: "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n<think>\n"
    # Rendered conversation:      "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\nSure, hi<|im_end|>\n"
    # They part at "<think>" vs "Sure", so the prompt is everything up to "assistant\n".
    assert out["prompt"] == "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n"
    assert out["chosen"] == "Sure, hi<|im_end|>\n"
    assert out["rejected"] == "No.<|im_end|>\n"
    assert out["prompt"] + out["chosen"] == render(thinking_tok, "Q", "Sure, hi")
    assert out["prompt"] + out["rejected"] == render(thinking_tok, "Q", "No.")


def test_apply_chat_template_prompt_is_the_longest_common_prefix(ref, thinking_tok):
    apply_chat_template = ref("apply_chat_template")
    # Both answers start with "<", as does "<think>": the longest prefix shared by the generation prompt
    # and both conversations ends one character after "assistant\n", so the prompt takes that "<".
    row = {"prompt": "Q", "chosen": "<b>Yes</b>", "rejected": "<i>No</i>"}
    out = apply_chat_template(row, thinking_tok)
    assert out["prompt"] == "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n<"
    assert out["chosen"] == "b>Yes</b><|im_end|>\n"
    assert out["rejected"] == "i>No</i><|im_end|>\n"
    assert out["prompt"] + out["chosen"] == render(thinking_tok, "Q", "<b>Yes</b>")
    assert out["prompt"] + out["rejected"] == render(thinking_tok, "Q", "<i>No</i>")


def test_apply_chat_template_prefix_is_shared_by_both_answers(ref, thinking_tok):
    apply_chat_template = ref("apply_chat_template")
    # The chosen answer repeats the whole generation prompt tail "<think>\n", the rejected one does not.
    # The prefix must be common to the prompt AND both conversations, so it stops at "assistant\n";
    # a prefix of prompt and chosen alone would swallow "<think>\n" and cut "No." to "."
    row = {"prompt": "Q", "chosen": "<think>\nhm</think>Sure", "rejected": "No."}
    out = apply_chat_template(row, thinking_tok)
    assert out["prompt"] == "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n"
    assert out["chosen"] == "<think>\nhm</think>Sure<|im_end|>\n"
    assert out["rejected"] == "No.<|im_end|>\n"
    assert out["prompt"] + out["rejected"] == render(thinking_tok, "Q", "No.")


# ------------------------------------------------------------------------------------ dpo_loss
def softplus_neg(x):
    """-log(sigmoid(x)) = log(1 + exp(-x))."""
    return math.log(1.0 + math.exp(-x))


def f32(*values):
    return torch.tensor(values, dtype=torch.float32)


def test_dpo_loss_hand_computed_with_a_tie(ref):
    dpo_loss = ref("dpo_loss")
    # beta = 0.5. Policy/reference log-probs of three pairs:
    #   chosen log-ratios   [-10-(-11), -12-(-11), -8-(-8)] = [ 1, -1, 0]
    #   rejected log-ratios [-20-(-19),  -9-(-10), -5-(-5)] = [-1,  1, 0]
    #   rewards chosen [0.5, -0.5, 0], rejected [-0.5, 0.5, 0], margins [1, -1, 0]
    # loss = mean(log(1+e^-1), log(1+e^1), log 2); accuracy = 1/3 (the tie in pair 3 does not count);
    # margin = mean(1, -1, 0) = 0.
    loss, acc, margin = dpo_loss(f32(-10, -12, -8), f32(-20, -9, -5), f32(-11, -11, -8), f32(-19, -10, -5), beta=0.5)
    assert loss.dim() == acc.dim() == margin.dim() == 0
    close(loss, (softplus_neg(1.0) + softplus_neg(-1.0) + math.log(2.0)) / 3)
    close(acc, 1.0 / 3.0)
    close(margin, 0.0)


def test_dpo_loss_default_beta_and_gradient(ref):
    dpo_loss = ref("dpo_loss")
    # Default beta = 0.1. chosen log-ratio -5-(-8) = 3, rejected log-ratio -7-(-5) = -2:
    # margin = 0.1*(3 - (-2)) = 0.5, loss = log(1+e^-0.5), accuracy 1.
    chosen = f32(-5.0).requires_grad_(True)
    loss, acc, margin = dpo_loss(chosen, f32(-7.0), f32(-8.0), f32(-5.0))
    close(loss, softplus_neg(0.5))
    close(acc, 1.0)
    close(margin, 0.5)
    # d loss / d chosen_logps = -beta * sigmoid(-margin) = -0.1 / (1 + e^0.5)
    loss.backward()
    close(chosen.grad, [-0.1 / (1.0 + math.exp(0.5))])


def test_dpo_loss_policy_equals_reference(ref):
    dpo_loss = ref("dpo_loss")
    # Policy == reference: every reward is 0, every pair is a tie: loss = log 2, accuracy 0, margin 0.
    logps = f32(-3.0, -40.0, -7.5)
    loss, acc, margin = dpo_loss(logps, logps - 1.0, logps, logps - 1.0, beta=0.1)
    close(loss, math.log(2.0))
    close(acc, 0.0)
    close(margin, 0.0)


def test_dpo_loss_is_stable_for_large_margins(ref):
    dpo_loss = ref("dpo_loss")
    # beta = 0.1, chosen log-ratio 0, rejected log-ratios [+1000, -1000]: margins [-100, +100].
    # loss = (log(1+e^100) + log(1+e^-100)) / 2 = (100 + log(1+e^-100) + log(1+e^-100)) / 2 ~= 50 (finite:
    # a naive log(sigmoid(-100)) underflows to -inf in float32).
    loss, acc, margin = dpo_loss(f32(-10, -10), f32(-5, -1005), f32(-10, -10), f32(-1005, -5), beta=0.1)
    close(loss, (100.0 + 2 * math.log1p(math.exp(-100.0))) / 2, atol=1e-5)
    close(acc, 0.5)
    close(margin, 0.0, atol=1e-5)


# ------------------------------------------------------------------------------------ to_implicit_prompt_preferences
def test_to_implicit_prompt_preferences(ref):
    to_implicit = ref("to_implicit_prompt_preferences")
    row = {"prompt": "Any tips for a rainy day?", "chosen": "Tea and a good book!", "rejected": "Stay indoors."}
    original = dict(row)
    out = to_implicit(row)
    user = {"role": "user", "content": "Any tips for a rainy day?"}
    assert out == {
        "chosen": [user, {"role": "assistant", "content": "Tea and a good book!"}],
        "rejected": [user, {"role": "assistant", "content": "Stay indoors."}],
    }
    assert row == original  # the input row is not modified

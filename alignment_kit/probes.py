"""The public probe inputs of the self-checks, and the tokenizers every probe uses.

The grader's hidden probes are built elsewhere (in the grader) with other values; only the public
ones ship with the student runtime. A probe is just arguments plus a label for the messages.
"""
from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field
from types import SimpleNamespace

import torch

PUBLIC_ROWS = [
    {"prompt": "Any tips for keeping basil alive on a windowsill?",
     "chosen": "Oh, basil is fussy but so worth it! 🌿 Lots of sun, and water when the top feels dry. "
               "Have you tried pinching off the flowers?",
     "rejected": "As a language model, I do not grow plants. Basil generally requires sunlight and moderate watering."},
]

# A chat template whose generation prompt differs from how a rendered answer starts (as in models that
# open a "thinking" block), so that the rendered prompt is not a prefix of the rendered conversation.
THINKING_TEMPLATE = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n<think>\n' }}{% endif %}"
)


@dataclass
class Probe:
    """One input to a graded function: positional and keyword arguments plus a label for messages."""

    label: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    expect_error: bool = False  # bad input: the function must refuse it with a ValueError


@functools.lru_cache(maxsize=1)
def kit_tokenizer():
    """The real SmolLM2 tokenizer, from the kit's tiny checkpoint (the same as the 135M model's)."""
    from transformers import AutoTokenizer

    from alignment_kit import assets

    return AutoTokenizer.from_pretrained(assets.ensure_tiny_model(verbose=False))


def tokenizer_with_template(template: str):
    """A copy of the kit tokenizer with another chat template."""
    tokenizer = copy.deepcopy(kit_tokenizer())
    tokenizer.chat_template = template
    return tokenizer


def render(example: dict, tokenizer, side: str, generation_prompt: bool = False) -> str:
    """The user turn alone (`side="prompt"`) or the user turn plus one answer, as chat text."""
    messages = [{"role": "user", "content": example["prompt"]}]
    if side != "prompt":
        messages.append({"role": "assistant", "content": example[side]})
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)


def rendered_row(example: dict, tokenizer, rejected: str) -> dict:
    """A row as `tokenize_row` receives it: the rendered prompt, a rendered answer, and a given rejected text."""
    prompt = render(example, tokenizer, "prompt", True)
    return {"prompt": prompt, "chosen": render(example, tokenizer, "chosen")[len(prompt):], "rejected": rejected}


def ints(*rows) -> list[torch.Tensor]:
    return [torch.tensor(row) for row in rows]


# One builder per graded function; each returns the public probes, in a fixed order.
def _chat_template() -> list[Probe]:
    row = PUBLIC_ROWS[0]
    return [Probe("a row rendered with the SmolLM2 template", (row, kit_tokenizer())),
            Probe("a template whose generation prompt differs from the rendered answer",
                  (row, tokenizer_with_template(THINKING_TEMPLATE)))]


def _tokenize() -> list[Probe]:
    tokenizer = kit_tokenizer()
    row = rendered_row(PUBLIC_ROWS[0], tokenizer,
                       "Noted.<|im_end|> A second sentence after an EOS inside the completion.<|im_end|>\n")
    return [Probe("prompt longer than max_prompt_length", (row, tokenizer), {"max_prompt_length": 7}),
            Probe("completions longer than max_completion_length", (row, tokenizer),
                  {"max_prompt_length": 512, "max_completion_length": 5})]


def _pad() -> list[Probe]:
    rows = ints([5, 6, 7], [8], [1, 2, 3, 4])
    return [Probe("left padding with value -1", (rows,), {"padding_value": -1, "padding_side": "left"}),
            Probe("right padding with value 7", (rows,), {"padding_value": 7, "padding_side": "right"}),
            Probe("default arguments on floats", ([torch.tensor([1.0, 2.0]), torch.tensor([3.0])],)),
            Probe("int8 tensors (the output keeps their dtype)",
                  ([torch.tensor([1, 2], dtype=torch.int8), torch.tensor([3, 4, 5], dtype=torch.int8)],),
                  {"padding_value": 0, "padding_side": "left"})]


def _collate() -> list[Probe]:
    # The pad token is the EOS token (2) and every completion ends with a real EOS.
    batch = [{"prompt_input_ids": [11, 12, 13], "chosen_input_ids": [21, 22, 2], "rejected_input_ids": [23, 2]},
             {"prompt_input_ids": [14], "chosen_input_ids": [24, 2], "rejected_input_ids": [25, 26, 27, 2]}]
    return [Probe("two rows, pad = EOS = 2", (batch,), {"pad_token_id": 2})]


def dataloader_rows(count: int) -> list[dict]:
    """Tokenized rows of different lengths whose values say which row they are."""
    return [{"prompt_input_ids": [10 + i] * (1 + i % 3), "chosen_input_ids": [20 + i, 9],
             "rejected_input_ids": [30 + i] * (1 + i % 2) + [9]} for i in range(count)]


def _dataloader() -> list[Probe]:
    tokenizer = SimpleNamespace(pad_token_id=9, eos_token_id=9)
    return [Probe("4 rows, batch_size=2, shuffle=False", (dataloader_rows(4), tokenizer),
                  {"batch_size": 2, "shuffle": False})]


def log_prob_probe(label: str, seed: int, batch: int, length: int, vocab: int, mask_dtype, scale: float = 2.0) -> Probe:
    """Random logits (times `scale`: large means a confident model) and labels, with a mask that leaves
    out a 1-3 token prompt and some end padding."""
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, length, vocab, generator=generator) * scale
    labels = torch.randint(0, vocab, (batch, length), generator=generator)
    mask = torch.zeros(batch, length, dtype=torch.long)
    for row in range(batch):
        start = 1 + row % 3
        stop = length - (row % 2)
        mask[row, start:stop] = 1
    return Probe(label, (logits, labels, mask.to(mask_dtype)))


def _log_prob() -> list[Probe]:
    return [log_prob_probe("logits with an int mask", 1, 2, 6, 7, torch.long),
            log_prob_probe("logits with a bool mask", 2, 3, 5, 4, torch.bool),
            log_prob_probe("confident logits over 256 positions (stays finite)", 3, 2, 256, 6, torch.long, scale=50.0)]


def loss_probe(label: str, seed: int, beta: float, batch: int, scale: float = 1.0) -> Probe:
    """Log-probs on a grid of halves (times `scale`) so that pair 0 has exactly tied rewards."""
    generator = torch.Generator().manual_seed(seed)

    def draw():
        return -torch.randint(10, 120, (batch,), generator=generator).float() / 2 * scale

    chosen, rejected, ref_chosen, ref_rejected = draw(), draw(), draw(), draw()
    rejected[0] = ref_rejected[0] + (chosen[0] - ref_chosen[0])
    return Probe(label, (chosen, rejected, ref_chosen, ref_rejected), {"beta": beta})


def _loss() -> list[Probe]:
    return [loss_probe("batch of 6, beta=0.1", 11, 0.1, 6), loss_probe("batch of 4, beta=0.5", 12, 0.5, 4),
            loss_probe("large margins, beta=1 (stays finite)", 13, 1.0, 5, scale=30.0)]


def _implicit() -> list[Probe]:
    return [Probe("a preference row", (dict(PUBLIC_ROWS[0]),))]


def card_probe(label: str, repo_id: str, stage: str, metrics: dict, samples: dict, base: str, dataset: str) -> Probe:
    """A model card request as the notebook makes it: repo, stage, and the run's facts."""
    training = {"steps": 50, "learning_rate": 5e-05, "seed": 42, "precision": "fp32"}
    return Probe(label, (repo_id, stage, {"base_model": base, "dataset": dataset, "training": training,
                                         "metrics": metrics, "samples": samples}))


def _card() -> list[Probe]:
    return [card_probe("a DPO card", "ada/smollm-135m-dpo", "dpo", {"final_loss": 0.2541, "final_reward_accuracy": 0.875},
                       {"prompt": "Any tips for basil?", "before": "Basil needs light.", "after": "Oh, basil loves sun! 🌿"},
                       "HuggingFaceTB/SmolLM-135M-Instruct", "HumanLLMs/Human-Like-DPO-Dataset")]


def candidates(*groups) -> dict:
    """{prompt: [{"text", "score"}, ...]} from (prompt, [(text, score), ...]) groups."""
    return {prompt: [{"text": text, "score": score} for text, score in pairs] for prompt, pairs in groups}


def _pairs() -> list[Probe]:
    three = candidates(("Favourite soup?", [("Tomato, with basil! You?", 2.5), ("I do not eat.", -1.0),
                                            ("Soup is a liquid food.", 0.25), ("Miso, always 🍜", 1.75)]),
                       ("Best board game?", [("Chess is a game.", 0.5), ("Catan, hands down!", 0.5)]),
                       ("Rainy day plans?", [("Reading under a blanket ☔", 1.0)]))
    return [Probe("every pair of three prompts (one tied, one alone)", (three,)),
            Probe("best versus worst only, min_score_diff=0.5", (three,), {"exhaustive": False, "min_score_diff": 0.5}),
            Probe("every pair, at most 2 per prompt", (three,), {"max_pairs_per_prompt": 2}),
            Probe("a NaN score is refused", (candidates(("Q?", [("a", float("nan")), ("b", 1.0)])),), expect_error=True),
            Probe("a negative cap is refused", (three,), {"max_pairs_per_prompt": -1}, expect_error=True),
            Probe("a candidate without a score is refused", ({"Q?": [{"text": "a"}, {"text": "b", "score": 1.0}]},),
                  expect_error=True)]


def weighted_loss_probe(label: str, seed: int, beta: float, weights) -> Probe:
    probe = loss_probe(label, seed, beta, len(weights) if weights is not None else 5)
    probe.kwargs["weights"] = None if weights is None else torch.tensor(weights)
    return probe


def _weighted_loss() -> list[Probe]:
    return [weighted_loss_probe("weights [1, 2, 0.5, 3], beta=0.1", 21, 0.1, [1.0, 2.0, 0.5, 3.0]),
            weighted_loss_probe("weights=None is the plain loss", 22, 0.2, None),
            weighted_loss_probe("equal weights of 2 (the plain loss too)", 23, 0.3, [2.0, 2.0, 2.0])]


PUBLIC_PROBES = {
    "apply_chat_template": _chat_template,
    "tokenize_row": _tokenize,
    "pad": _pad,
    "pad_collate_fn": _collate,
    "make_dataloader": _dataloader,
    "get_log_prob": _log_prob,
    "dpo_loss": _loss,
    "to_implicit_prompt_preferences": _implicit,
    "write_model_card": _card,
    "build_preference_pairs": _pairs,
    "weighted_dpo_loss": _weighted_loss,
}

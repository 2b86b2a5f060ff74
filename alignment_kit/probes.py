"""What probes are made of: the `Probe` type, the tokenizers every probe uses, and shared builders.

Each graded function's public probes are built in its module (`alignment_kit/items/<name>.py`,
`public_probes()`) from these pieces; the grader's hidden probes use the same builders with other
values, in the grader's modules. A probe is just arguments plus a label for the messages.
"""
from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field

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




def dataloader_rows(count: int) -> list[dict]:
    """Tokenized rows of different lengths whose values say which row they are."""
    return [{"prompt_input_ids": [10 + i] * (1 + i % 3), "chosen_input_ids": [20 + i, 9],
             "rejected_input_ids": [30 + i] * (1 + i % 2) + [9]} for i in range(count)]


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


def loss_probe(label: str, seed: int, beta: float, batch: int, scale: float = 1.0) -> Probe:
    """Log-probs on a grid of halves (times `scale`) so that pair 0 has exactly tied rewards."""
    generator = torch.Generator().manual_seed(seed)

    def draw():
        return -torch.randint(10, 120, (batch,), generator=generator).float() / 2 * scale

    chosen, rejected, ref_chosen, ref_rejected = draw(), draw(), draw(), draw()
    rejected[0] = ref_rejected[0] + (chosen[0] - ref_chosen[0])
    return Probe(label, (chosen, rejected, ref_chosen, ref_rejected), {"beta": beta})


def card_probe(label: str, repo_id: str, stage: str, metrics: dict, samples: dict, base: str, dataset: str) -> Probe:
    """A model card request as the notebook makes it: repo, stage, and the run's facts."""
    training = {"steps": 50, "learning_rate": 5e-05, "seed": 42, "precision": "fp32"}
    return Probe(label, (repo_id, stage, {"base_model": base, "dataset": dataset, "training": training,
                                         "metrics": metrics, "samples": samples}))


def candidates(*groups) -> dict:
    """{prompt: [{"text", "score"}, ...]} from (prompt, [(text, score), ...]) groups."""
    return {prompt: [{"text": text, "score": score} for text, score in pairs] for prompt, pairs in groups}


def weighted_loss_probe(label: str, seed: int, beta: float, weights) -> Probe:
    probe = loss_probe(label, seed, beta, len(weights) if weights is not None else 5)
    probe.kwargs["weights"] = None if weights is None else torch.tensor(weights)
    return probe

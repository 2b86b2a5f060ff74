"""What a re-run cell's outcome comes to, computed on the judging side from the data a worker sent.

A worker sends the logged values and the trained weights (`recorders.collect_*`); these functions
turn them into numbers with models and data of their own, so nothing the cell's process did to
itself can change them:
* the loop: the logged losses, accuracies and margins as floats; the policy's log-ratio against the
  untrained model on each of the configuration's sequences after each change of its weights (the
  last one is the trained policy), and how many times they changed; the reference model's log-ratio
  against its own start (zeros when it stayed frozen);
* the reward cell: the trained reward model's accuracy on held-out pairs its worker never saw;
* the PPO cell: the trained policy's log-probabilities of a fixed reply to each of the configuration's
  prompts.
The grader calls them in its own process; the public checks call them in the notebook's kernel.
Nothing here holds an answer: the answers are the reference runs they are compared with.
"""
from __future__ import annotations

import copy
import functools
import math
import threading
from typing import Any

import torch

from alignment_kit.i18n import say
from alignment_kit.recorders import LOOP_WEIGHT_DECAY

# A policy's log-ratios or log-probs agree when within this (fp32 on one CPU, any valid way of writing
# the cell: one concatenated forward pass moved them by 3e-5; known mistakes move them by 0.02 to 5).
POLICY_ATOL, POLICY_RTOL = 1e-3, 1e-3
PPO_REPLY = "Sure, happy to help! What would you like to know?"  # the fixed reply PPO policies are scored on


class OutcomeError(ValueError):
    """The handed-over data cannot be evaluated; the message says why, for the student."""


def floats(values: Any) -> list[float] | None:
    """A logged list as floats (numbers, one-element tensors, numpy scalars), or None if it is not one."""
    if not isinstance(values, (list, tuple)):
        return None
    found = []
    for value in values:
        if isinstance(value, bool):
            return None
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            value = value.reshape(()).item()
        try:
            found.append(float(value))
        except (TypeError, ValueError):
            return None
    return found


def close(got: list[float] | None, expected: list[float] | None, atol: float = POLICY_ATOL,
          rtol: float = POLICY_RTOL) -> bool:
    if not isinstance(got, list) or not isinstance(expected, list) or len(got) != len(expected):
        return False
    return all(isinstance(a, float) and math.isfinite(a) and abs(a - b) <= atol + rtol * abs(b)
               for a, b in zip(got, expected))


def largest_gap(got: list[float] | None, expected: list[float] | None) -> str:
    if not isinstance(got, list) or not isinstance(expected, list) or len(got) != len(expected) or not got:
        return say("outcome.incomparable", "they cannot be compared")
    return say("outcome.gap", "the largest difference is {gap:.4g}", gap=max(abs(a - b) for a, b in zip(got, expected)))


def _load(model, tensors) -> None:
    """Put handed-over weights into one of our own models; every parameter must be there, with its shape."""
    if not isinstance(tensors, dict) or not all(isinstance(t, torch.Tensor) for t in tensors.values()):
        raise OutcomeError(say("outcome.no_weights", "the model's weights were not handed over"))
    own = dict(model.named_parameters())
    missing = sorted(set(own) - set(tensors))
    if missing or set(tensors) - set(own):
        raise OutcomeError(say("outcome.misfit", "the weights do not fit the kit's tiny model (missing {missing}, "
                               "unexpected {unexpected})", missing=missing[:3], unexpected=sorted(set(tensors) - set(own))[:3]))
    for name, parameter in own.items():
        if tensors[name].shape != parameter.shape:
            raise OutcomeError(say("outcome.shape", "`{name}` has shape {got}, the kit's model {want}", name=name,
                                   got=tuple(tensors[name].shape), want=tuple(parameter.shape)))
        parameter.detach().copy_(tensors[name].to(parameter.dtype))


@torch.no_grad()
def sequence_logps(model, sequences: list[tuple[list[int], list[int]]]) -> list[float]:
    """Sum of log p(token | prefix) over the masked positions of each (ids, mask) sequence (one batch,
    padded on the right: a causal model's earlier positions do not see the padding). The vocabulary is
    projected at the masked positions only, which is most of the cost saved."""
    model.eval()
    width = max(len(ids) for ids, _ in sequences)
    ids = torch.tensor([list(i) + [0] * (width - len(i)) for i, _ in sequences])
    masks = torch.tensor([list(m) + [0] * (width - len(m)) for _, m in sequences], dtype=torch.float32)
    attention = torch.tensor([[1] * len(i) + [0] * (width - len(i)) for i, _ in sequences])
    hidden = model.get_decoder()(input_ids=ids, attention_mask=attention).last_hidden_state
    rows, positions = (masks[:, 1:] != 0).nonzero(as_tuple=True)  # position t predicts token t + 1
    logits = model.get_output_embeddings()(hidden[rows, positions]).float()
    token_logps = logits.gather(-1, ids[rows, positions + 1, None])[:, 0] - torch.logsumexp(logits, dim=-1)
    sums = torch.zeros(len(sequences), dtype=torch.float64)
    sums.index_add_(0, rows, (token_logps * masks[rows, positions + 1]).double())
    return sums.tolist()


def untrained_logps(sequences: list[tuple[list[int], list[int]]], seed: int | None = None,
                    vocab: int | None = None) -> list[float]:
    """`sequence_logps` of the untrained tiny policy (or of the tiny model built with `seed`, over `vocab`
    tokens): the same for every run of a configuration, so computed once."""
    key = (seed, vocab, tuple((tuple(ids), tuple(mask)) for ids, mask in sequences))
    with _BUILDING:
        if key not in _UNTRAINED:
            _UNTRAINED[key] = sequence_logps(copy.deepcopy(_pristine("policy", seed, vocab)), sequences)
        return _UNTRAINED[key]


def loop_sequences(config: dict) -> list[tuple[list[int], list[int]]]:
    """Prompt + chosen and prompt + rejected of every row, cut to the window, with their completion masks."""
    window, sequences = config["max_seq_len"], []
    for row in config["rows"]:
        for side in ("chosen_input_ids", "rejected_input_ids"):
            ids = (row["prompt_input_ids"] + row[side])[:window]
            mask = ([0] * len(row["prompt_input_ids"]) + [1] * len(row[side]))[:window]
            sequences.append((ids, mask))
    return sequences


_BUILDING = threading.RLock()
_UNTRAINED: dict[tuple, list[float]] = {}


@functools.lru_cache(maxsize=8)
def _pristine(kind: str, seed: int | None = None, vocab: int | None = None):
    """The untrained tiny model of `kind` (built with `seed`, default the kit's; over `vocab` tokens, default the
    kit tokenizer's), built once: building seeds
    torch's global generator, which the grader's threads share, so each evaluation takes a copy of this one
    instead of building its own."""
    from alignment_kit.probes import kit_tokenizer
    from alignment_kit.tiny import TINY_SEED, make_tiny_causal_lm, make_tiny_reward_model

    seed = TINY_SEED if seed is None else seed
    with _BUILDING:
        if kind == "policy":
            return make_tiny_causal_lm(kit_tokenizer(), seed=seed, vocab_size=vocab)
        model = make_tiny_reward_model(kit_tokenizer(), seed=seed)
        model.config.pad_token_id = kit_tokenizer().pad_token_id
        return model


def _tiny_policy(seed: int | None = None, vocab: int | None = None):
    return copy.deepcopy(_pristine("policy", seed, vocab))


def _same_weights(a: dict, b: dict) -> bool:
    """Whether two sets of weights by name are equal (handed-over data may hold anything: unequal then)."""
    return isinstance(a, dict) and a.keys() == b.keys() and all(
        isinstance(a[name], torch.Tensor) and a[name].dtype == b[name].dtype and a[name].shape == b[name].shape
        and torch.equal(a[name], b[name]) for name in a)


def _logratios(model, tensors, sequences, seed: int | None = None, vocab: int | None = None) -> list[float]:
    """Log-ratios against the untrained model (of `seed`, over `vocab`) of `model` loaded with `tensors`."""
    _load(model, tensors)
    return [a - b for a, b in zip(sequence_logps(model, sequences), untrained_logps(sequences, seed, vocab))]


def policy_chain(outcome: dict, sequences, vocab: int | None = None) -> tuple[list[list[float]], list[dict]]:
    """The policy's log-ratios after each change of its weights, the trained policy last, and the weights at
    each change. The changes are found here, by comparing the handed-over weights with each other and with
    the untrained policy (a worker that hands over the same weights twice does not make a step of it)."""
    states = outcome.get("policy_states")
    states = [*states, outcome.get("policy")] if isinstance(states, list) else [outcome.get("policy")]
    model, chain, changes = _tiny_policy(vocab=vocab), [], []
    last = dict(_pristine("policy", None, vocab).named_parameters())
    for tensors in states:
        if _same_weights(tensors, last):
            continue
        chain.append(_logratios(model, tensors, sequences, vocab=vocab))
        changes.append(tensors)
        last = tensors
    return chain or [[0.0] * len(sequences)], changes


def adamw_first_step(after: dict, learning_rate: float, weight_decay: float, vocab: int | None = None) -> bool:
    """Whether the first change of the policy is a first step of the loop's AdamW, on some gradient: AdamW's
    first step moves every weight by lr * g / (|g| + eps) after the decay, so nearly every weight of a layer
    that got a gradient moves by the learning rate, and none by more. Values logged without training, or
    weights changed by hand, are not this (the embedding, whose unused rows get no gradient, is left out)."""
    start = dict(_pristine("policy", None, vocab).named_parameters())
    moved, total = 0, 0
    for name, weight in after.items():
        if "embed" in name:
            continue
        change = (weight.double() - start[name].detach().double() * (1 - learning_rate * weight_decay)).abs()
        if bool((change > learning_rate * 1.001 + 1e-9).any()):
            return False
        moved += int((change >= learning_rate * 0.99).sum())
        total += change.numel()
    return total > 0 and moved >= total / 2


def evaluate_loop(config: dict, outcome: Any) -> dict:
    """The loop's logged values as floats; its policy's log-ratios against the untrained one after each change
    and at the end, and the number of changes; the reference model's log-ratios against its start."""
    outcome = outcome if isinstance(outcome, dict) else {}
    evaluated = {name: floats(outcome.get(name)) for name in ("losses", "accs", "margins")}
    sequences, vocab = loop_sequences(config), config.get("vocab_size")
    try:
        evaluated["policy_states"], changes = policy_chain(outcome, sequences, vocab)
        evaluated.update(policy_logratios=evaluated["policy_states"][-1], policy_problem="", moves=len(changes),
                         first_move_adamw=bool(changes) and adamw_first_step(changes[0], config["learning_rate"],
                                                                             LOOP_WEIGHT_DECAY, vocab))
    except OutcomeError as problem:
        evaluated.update(policy_states=None, moves=None, policy_logratios=None, policy_problem=str(problem),
                         first_move_adamw=False)
    seed = config.get("reference_seed")
    try:
        reference, start = outcome.get("reference"), dict(_pristine("policy", seed, vocab).named_parameters())
        frozen = isinstance(reference, dict) and _same_weights(reference, start)
        evaluated["reference_logratios"] = ([0.0] * len(sequences) if frozen else
                                            _logratios(_tiny_policy(seed, vocab), reference, sequences, seed, vocab))
        evaluated["reference_problem"] = ""
    except OutcomeError as problem:
        evaluated["reference_logratios"], evaluated["reference_problem"] = None, str(problem)
    return evaluated


def reward_scores(model, conversations: list[list[dict]]) -> list[float]:
    from alignment_kit.helpers import reward_scores as scores
    from alignment_kit.probes import kit_tokenizer

    return scores(model, kit_tokenizer(), conversations).tolist()


def evaluate_reward(held_out: list[dict], outcome: Any) -> dict:
    """Accuracy of the handed-over reward model on `held_out` (chosen above rejected), whether it moved at all
    from the model it starts from (the tiny checkpoint with a fresh one-output head), and its scores (chosen,
    then rejected), which a replay of its run must give too."""
    outcome = outcome if isinstance(outcome, dict) else {}
    model = copy.deepcopy(_pristine("reward"))
    try:
        _load(model, outcome.get("reward_model"))
    except OutcomeError as problem:
        return {"accuracy": None, "trained": None, "problem": str(problem)}
    start = dict(_pristine("policy").named_parameters())  # the backbone it starts from (RewardTrainer trains all of it)
    untrained = all(torch.equal(p, start[name]) for name, p in model.named_parameters() if name in start)
    chosen = reward_scores(model, [row["chosen"] for row in held_out])
    rejected = reward_scores(model, [row["rejected"] for row in held_out])
    accuracy = sum(c > r for c, r in zip(chosen, rejected)) / len(held_out) if held_out else None
    return {"accuracy": accuracy, "trained": not untrained, "problem": "", "scores": chosen + rejected}


def ppo_sequences(config: dict) -> list[tuple[list[int], list[int]]]:
    """Each prompt of the configuration followed by the fixed reply, with the reply's mask."""
    from alignment_kit.probes import kit_tokenizer

    tokenizer = kit_tokenizer()
    reply = tokenizer(PPO_REPLY, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    return [(list(row["input_ids"]) + reply, [0] * len(row["input_ids"]) + [1] * len(reply))
            for row in config["prompts"][:8]]


def evaluate_ppo(config: dict, outcome: Any, trainer: str = "ppo_trainer") -> dict:
    """The policy a trainer (`trainer`: PPO's, or RLOO's) trained: its log-probs of the fixed reply to each prompt
    (None, with the reason, when no run was recorded or its weights cannot be read), and whether it moved from
    the untrained policy."""
    outcome = outcome if isinstance(outcome, dict) else {}
    call = outcome.get("train_call")
    if not isinstance(call, dict):
        return {"policy_logps": None, "moved": False, "problem": say("outcome.never_ran", "{trainer}.train() never "
                                                                      "ran, so nothing was trained", trainer=trainer)}
    if "unrecordable" in call:
        return {"policy_logps": None, "moved": False, "problem": say("outcome.unrecordable", "the {trainer} run could not "
                                                                      "be recorded: {why}", trainer=trainer,
                                                                      why=call["unrecordable"])}
    sequences = ppo_sequences(config)
    trained = _tiny_policy()
    try:
        _load(trained, call.get("policy_after"))
    except OutcomeError as problem:
        return {"policy_logps": None, "moved": False, "problem": say("outcome.policy_unreadable", "the trained policy cannot be read: {problem}", problem=problem)}
    after = sequence_logps(trained, sequences)
    before = untrained_logps(sequences)
    return {"policy_logps": after, "moved": any(abs(a - b) > 0 for a, b in zip(after, before)), "problem": ""}

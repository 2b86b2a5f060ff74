"""Probe inputs as plain JSON, so the grader can build them and send them to a worker as data.

Tensors travel with their dtype and shape, tokenizers as "the kit tokenizer with this chat
template", simple namespaces as their attributes. `decode(encode(x))` rebuilds an equal input.
"""
from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import torch

TENSOR, TOKENIZER, NAMESPACE, TUPLE, DICT, FLOAT = "__tensor__", "__tokenizer__", "__namespace__", "__tuple__", "__dict__", "__float__"


def encode(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return {TENSOR: {"dtype": str(value.dtype).removeprefix("torch."), "shape": list(value.shape),
                         "values": value.detach().cpu().reshape(-1).tolist()}}
    if hasattr(value, "apply_chat_template") and hasattr(value, "chat_template"):
        return {TOKENIZER: {"chat_template": value.chat_template}}
    if isinstance(value, SimpleNamespace):
        return {NAMESPACE: {k: encode(v) for k, v in vars(value).items()}}
    if isinstance(value, tuple):
        return {TUPLE: [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {DICT: [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, float) and not math.isfinite(value):
        return {FLOAT: repr(value)}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot send a {type(value).__name__} to a worker")


def decode(data: Any) -> Any:
    if isinstance(data, list):
        return [decode(v) for v in data]
    if not isinstance(data, dict):
        return data
    (kind, body), = data.items()
    if kind == TENSOR:
        return torch.tensor(body["values"], dtype=getattr(torch, body["dtype"])).reshape(body["shape"])
    if kind == TOKENIZER:
        from alignment_kit.probes import kit_tokenizer, tokenizer_with_template

        same = body["chat_template"] == kit_tokenizer().chat_template
        return kit_tokenizer() if same else tokenizer_with_template(body["chat_template"])
    if kind == NAMESPACE:
        return SimpleNamespace(**{k: decode(v) for k, v in body.items()})
    if kind == TUPLE:
        return tuple(decode(v) for v in body)
    if kind == DICT:
        return {decode(k): decode(v) for k, v in body}
    if kind == FLOAT:
        return float(body)
    raise ValueError(f"unknown encoded kind {kind!r}")

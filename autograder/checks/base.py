"""Shared pieces of every check: JSON-safe encoding of outputs, comparison, and mistake matching.

A graded function's output is encoded into a dict of named *components* (plain JSON). The worker
sends the student's encoded output; the trusted parent encodes the reference and each known mistake
on the same probe and compares component by component, so a failure can name the mistake.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import torch


@dataclass
class Probe:
    """One input to a graded function: positional and keyword arguments plus a label for messages."""

    label: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


@dataclass
class Mistake:
    """A known wrong implementation and the plain-words message that names it."""

    message: str
    implementation: Callable


# Captured before any student code runs in the worker, so patching torch.Tensor cannot change them.
_DETACH, _TO, _RESHAPE, _TOLIST = torch.Tensor.detach, torch.Tensor.to, torch.Tensor.reshape, torch.Tensor.tolist
_SHAPE = torch.Tensor.shape.__get__


def encode(value: Any) -> Any:
    """Turn tensors, tuples and scalars into JSON-safe values (tensors as {shape, values})."""
    if isinstance(value, torch.Tensor):
        tensor = _TO(_DETACH(value), device="cpu", dtype=torch.float64)
        return {"shape": [int(n) for n in _SHAPE(tensor)], "values": _TOLIST(_RESHAPE(tensor, (-1,)))}
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value) if isinstance(value, float) else value
    try:
        return float(value)
    except (TypeError, ValueError):
        return repr(value)[:200]


def _numbers_close(a: float, b: float, atol: float, rtol: float) -> bool:
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        return a == b
    if math.isnan(a) or math.isnan(b):
        return False
    return abs(a - b) <= atol + rtol * abs(b)


def close(got: Any, expected: Any, atol: float = 1e-4, rtol: float = 1e-4) -> bool:
    """Structural comparison of encoded values with a numeric tolerance."""
    if isinstance(expected, dict) and set(expected) == {"shape", "values"}:
        if not (isinstance(got, dict) and set(got) == {"shape", "values"}):
            return False
        return (got["shape"] == expected["shape"] and len(got["values"]) == len(expected["values"])
                and all(_numbers_close(g, e, atol, rtol) for g, e in zip(got["values"], expected["values"])))
    if isinstance(expected, dict):
        return isinstance(got, dict) and set(got) == set(expected) and all(
            close(got[k], expected[k], atol, rtol) for k in expected)
    if isinstance(expected, list):
        return isinstance(got, list) and len(got) == len(expected) and all(
            close(g, e, atol, rtol) for g, e in zip(got, expected))
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        return _numbers_close(got, expected, atol, rtol)
    return got == expected


def describe(value: Any, limit: int = 160) -> str:
    """A short human-readable rendering of an encoded value for feedback messages."""
    if isinstance(value, dict) and set(value) == {"shape", "values"}:
        values = ", ".join(f"{v:.4g}" for v in value["values"][:8])
        more = ", ..." if len(value["values"]) > 8 else ""
        text = f"tensor shape {value['shape']} [{values}{more}]"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."

"""Call a graded function on one probe and write down what happened: data, no judgement.

`call` is what a grading worker does with student code, and also what the public self-checks and the
grader's own reference runs do, so all three read outputs the same way. It records what the function
returned (to be sent with `sandbox.wire`, which reads tensors from their storage) or what it raised,
and, for a function whose output feeds training, the gradient of that output with respect to the
probe's tensors. It is not told what the right output is, nor which probes are bad input: the
grader's side decides that (`outputs.read`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

from alignment_kit.i18n import say

# How an output is observed: as it is, as the items it yields (a DataLoader), or as its text (a model card).
VALUE, ITEMS, TEXT = "value", "items", "text"
NO_GRADIENT = "none"  # the output does not reach this input through autograd

_BASE, _NO_TORCH_FUNCTION = torch._C.TensorBase, torch._C.DisableTorchFunction
_requires_grad, _is_tensor, _autograd_grad = _BASE.requires_grad.__get__, torch.is_tensor, torch.autograd.grad
_type, _issubclass, _str, _list = type, issubclass, str, list


@dataclass(frozen=True)
class Gradient:
    """Which inputs a function's output must carry gradients back to."""

    inputs: dict[int, str]  # positional argument index -> its name, for messages
    output: int | None = None  # which element of the output is differentiated (None: the output itself)


def error_text(error: BaseException) -> str:
    """How an error of student code reads in feedback."""
    if isinstance(error, OSError) and error.errno in (27, 28):  # EFBIG, ENOSPC
        return say("worker.scratch_full", "the scratch space is full (the grader caps the working folder, TMPDIR and "
                   "/dev/shm together)")
    try:
        text = _str(error)
    except Exception:  # noqa: BLE001 - a hostile __str__
        text = say("worker.unreadable_message", "(its message could not be read)")
    return f"{_type(error).__name__}: {text}"[:400]


def _raised(error: Exception, where: str = "") -> dict:
    return {"raised": {"type": _type(error).__name__, "value_error": _issubclass(_type(error), ValueError),
                       "message": (where + error_text(error))[:400]}}


def cotangent(target: torch.Tensor) -> torch.Tensor:
    """A fixed, nowhere-zero weighting of the output's elements to differentiate (1 for a scalar)."""
    with _NO_TORCH_FUNCTION():
        count = target.numel()
        return torch.linspace(1.0, 2.0, count).reshape(target.shape).to(target.dtype) if count > 1 \
            else torch.ones_like(target)


def _gradient(returned: Any, inputs: list, spec: Gradient) -> Any:
    """[gradient or NO_GRADIENT per input], or the reason there is none to take."""
    try:
        target = returned if spec.output is None else returned[spec.output]
    except Exception as error:  # noqa: BLE001 - the output has the wrong shape: its reading says so
        return {"error": say("worker.no_output", "no output to differentiate: {error}", error=error_text(error))}
    if not _is_tensor(target):
        return {"error": say("worker.not_tensor", "the output is not a tensor")}
    with _NO_TORCH_FUNCTION():
        carries = _requires_grad(target)
    if not carries:
        return [NO_GRADIENT] * len(inputs)
    try:
        grads = _autograd_grad(target, inputs, grad_outputs=cotangent(target), allow_unused=True)
    except Exception as error:  # noqa: BLE001 - reported as data
        return {"error": error_text(error)}
    return [NO_GRADIENT if g is None else g for g in grads]


def call(fn: Callable, args: tuple, kwargs: dict, how: str = VALUE, gradient: Gradient | None = None) -> dict:
    """{"returned": value} or {"raised": {...}}; with `gradient`, also {"gradient": [...]} (see above)."""
    args = _list(args)
    inputs = []
    for index in (gradient.inputs if gradient else {}):
        if index < len(args) and _is_tensor(args[index]) and args[index].is_floating_point():
            args[index] = args[index].detach().clone().requires_grad_(True)
            inputs.append(args[index])
    try:
        returned = fn(*args, **kwargs)
    except Exception as error:  # noqa: BLE001 - any error of the function is a result
        return _raised(error)
    try:
        if how == ITEMS:
            observed = _list(returned)
        elif how == TEXT:
            observed = returned if _type(returned) is _str else _str(returned)
        else:
            observed = returned
    except Exception as error:  # noqa: BLE001 - iterating or printing the output failed
        return _raised(error, say("worker.reading_output", "reading the output: "))
    observation = {"returned": observed}
    if inputs:
        observation["gradient"] = _gradient(returned, inputs, gradient)
    return observation

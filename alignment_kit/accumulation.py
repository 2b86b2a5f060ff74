"""Gradient accumulation behind the loop's usual calls, as Accelerate does it.

A DPO step of 16 pairs at 1024 tokens does not fit a T4's memory in one forward pass. Wrapping the
optimizer and the scaler lets the same loop body (zero_grad, scale(loss).backward(), step, update)
run `every` micro-batches per optimizer step: gradients are zeroed only when a step has just been
taken, each micro-batch's loss is divided by `every`, and only every `every`-th step call steps.
With every=1 both wrappers behave exactly like what they wrap.
"""
from __future__ import annotations


class Accumulation:
    """Shared state of an accumulating optimizer and scaler: how many step calls have been made."""

    def __init__(self, optimizer, scaler, every: int):
        if every < 1:
            raise ValueError(f"gradient accumulation needs every >= 1, got {every}")
        self.every, self.calls = every, 0
        self.optimizer = _Optimizer(optimizer, self)
        self.scaler = _Scaler(scaler, self)

    def wrapped(self) -> tuple:
        """(optimizer, scaler) to use in the loop in place of the originals."""
        return self.optimizer, self.scaler

    def boundary(self) -> bool:
        """Whether the micro-batches seen so far fill whole optimizer steps."""
        return self.calls % self.every == 0


class _Optimizer:
    def __init__(self, inner, state: Accumulation):
        self.inner, self.state = inner, state

    def zero_grad(self, set_to_none: bool = True):
        if self.state.boundary():
            self.inner.zero_grad(set_to_none=set_to_none)

    def step(self, closure=None):
        self.state.calls += 1
        if self.state.boundary():
            return self.inner.step(closure) if closure is not None else self.inner.step()

    def __getattr__(self, name):  # param_groups, state_dict, ...
        return getattr(self.inner, name)


class _Scaler:
    def __init__(self, inner, state: Accumulation):
        self.inner, self.state = inner, state

    def scale(self, loss):
        return self.inner.scale(loss / self.state.every)

    def step(self, optimizer, *args, **kwargs):
        inner = optimizer.inner if isinstance(optimizer, _Optimizer) else optimizer
        self.state.calls += 1
        if self.state.boundary():
            return self.inner.step(inner, *args, **kwargs)

    def update(self, new_scale=None):
        if self.state.boundary():
            self.inner.update(new_scale)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def unwrapped(obj):
    """The optimizer or scaler inside an accumulation wrapper (or `obj` itself)."""
    return obj.inner if isinstance(obj, (_Optimizer, _Scaler)) else obj

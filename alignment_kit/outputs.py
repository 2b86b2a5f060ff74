"""How the checks read a graded function's output: named components, tolerances, requirements.

Each graded function's `OUTPUT` (an `OutputSpec`, in `alignment_kit/items/<name>.py`) says how its
output is read. `observe.call` records what a function returned (in a worker, for the grader);
`read` turns that observation into a dict of named components on the grader's side, where a reader
says what was expected when the output has the wrong shape (`OutputShapeError`). The public self-checks and the
grader read outputs the same way (`run` sends an observation through the wire as a worker would),
so both give the same messages. Nothing here computes an answer.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from alignment_kit import observe
from alignment_kit.compare import Tolerance, encode
from alignment_kit.i18n import say
from alignment_kit.observe import Gradient


class OutputShapeError(Exception):
    """The function returned something of the wrong kind; the message says what was expected."""


@dataclass(frozen=True)
class OutputSpec:
    """Reading one function's output."""

    read: Callable[..., dict]  # output (and, with `reads_probe`, the probe's arguments) -> components
    tolerance: Tolerance = Tolerance()
    requirements: dict[str, str] = field(default_factory=dict)  # component -> the requirement it checks
    stubs: str = ""  # stand-ins (source) for helpers the function calls, so it is graded on its own
    reads_probe: bool = False  # the reader needs the probe's arguments to know what to look for
    observe: str = observe.VALUE  # how a worker records the output (see observe.py)
    gradient: Gradient | None = None  # an output that feeds training must carry gradients to these inputs

    def __post_init__(self):
        for name in (self.gradient.inputs.values() if self.gradient else ()):
            self.requirements.setdefault(gradient_component(name), (
                f"the output must carry gradients back to `{name}` (no torch.no_grad(), .detach(), .item() or new "
                "tensor built from its values on the way), or training cannot learn from it"))


def gradient_component(name: str) -> str:
    return f"gradient w.r.t. {name}"


def require_keys(name: str, output, keys: tuple[str, ...]) -> dict:
    """`output` when it is a dict with every key; else what `name` should return."""
    if not isinstance(output, dict):
        raise OutputShapeError(say("output.dict", "{name} should return a dict with keys {keys}, got {kind}", name=name,
                                   keys=list(keys), kind=type(output).__name__))
    missing = [k for k in keys if k not in output]
    if missing:
        raise OutputShapeError(say("output.missing_keys", "{name} output is missing the keys {missing}", name=name,
                                   missing=missing))
    return output


def _gradient_components(spec: Gradient, observed: Any) -> dict:
    """One component per input: the gradient tensor, observe.NO_GRADIENT, or why it could not be taken."""
    names = list(spec.inputs.values())
    if isinstance(observed, list) and len(observed) == len(names):
        values = [g if isinstance(g, torch.Tensor) or g == observe.NO_GRADIENT else "not readable" for g in observed]
    elif isinstance(observed, dict) and isinstance(observed.get("error"), str):
        values = [f"cannot be taken: {observed['error'][:160]}"] * len(names)
    else:
        values = ["not observed"] * len(names)
    return {gradient_component(name): value for name, value in zip(names, values)}


def read(name: str, spec: OutputSpec, observation: Any, probe) -> dict:
    """The grader's side: an observation of `name` on `probe` as a run, {"output": encoded components} or
    {"error": text}. For a probe of bad input (`expect_error`), the output says whether a ValueError was raised."""
    if not isinstance(observation, dict) or not ({"returned", "raised"} & set(observation)):
        return {"error": "nothing was recorded for this probe"}
    if "raised" in observation:
        raised = observation["raised"] if isinstance(observation["raised"], dict) else {}
        text = raised.get("message") if isinstance(raised.get("message"), str) else "an error"
        if probe.expect_error:
            return {"output": {"raises ValueError": raised.get("value_error") is True}, "raised": text[:200]}
        return {"error": text[:400]}
    if probe.expect_error:
        return {"output": {"raises ValueError": False}}
    returned = observation["returned"]
    try:
        components = spec.read(returned, *probe.args, **probe.kwargs) if spec.reads_probe else spec.read(returned)
    except OutputShapeError as error:
        return {"error": str(error)}
    except Exception as error:  # noqa: BLE001 - the output is something no reader expects
        return {"error": f"{name} returned something that cannot be read ({type(returned).__name__}): "
                         f"{observe.error_text(error)}"[:400]}
    if spec.gradient is not None:
        components.update(_gradient_components(spec.gradient, observation.get("gradient")))
    return {"output": encode(components)}


def run(name: str, spec: OutputSpec, fn: Callable, probe) -> dict:
    """Observe `fn` on `probe` and read it, the observation sent through the wire as a worker's is."""
    from alignment_kit.sandbox import wire

    observation = observe.call(fn, probe.args, probe.kwargs, spec.observe, spec.gradient)
    return read(name, spec, wire.load(wire.dump(observation)), probe)

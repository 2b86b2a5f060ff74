"""The trusted side: reference functions and cells, read from the nbgrader source notebook."""
from __future__ import annotations

import contextlib
import functools
from pathlib import Path

from autograder import paths
from autograder.notebook_text import HIDDEN_TESTS
from autograder.notebook import ParsedNotebook, parse_notebook
from autograder.python_source import parse_python




@functools.lru_cache(maxsize=2)
def reference_notebook(path: str = str(paths.SOLUTION_NOTEBOOK)) -> ParsedNotebook:
    """The solution notebook as a student who solved everything has it: without the hidden tests
    (which call the grader, and must never reach a worker)."""
    parsed = parse_notebook(Path(path))
    if parsed.error:
        raise RuntimeError(f"cannot read the solution notebook {path}: {parsed.error}")
    for cell in parsed.cells:
        cell.source = HIDDEN_TESTS.sub("", cell.source)
    return parsed


@functools.lru_cache(maxsize=2)
def reference_namespace(path: str = str(paths.SOLUTION_NOTEBOOK)) -> dict:
    """Execute the solution's definitions (trusted code) and return the namespace."""
    namespace: dict = {"__name__": "reference_solution"}
    exec(compile(reference_notebook(path).definitions(), "<reference>", "exec"), namespace)  # noqa: S102
    return namespace


def reference_function(name: str, path: str = str(paths.SOLUTION_NOTEBOOK)):
    return reference_namespace(path)[name]


def run_reference_loop(policy, reference, batches, optimizer, scaler, beta: float, max_seq_len: int,
                       device: str = "cpu", autocast=contextlib.nullcontext) -> list[float]:
    """Run the solution's training-loop cell once over `batches` (trusted code); returns its logged losses.
    The arguments mirror the notebook's `fast_train`, so the two paths are called alike."""
    import torch
    from tqdm.auto import tqdm

    namespace = dict(torch=torch, tqdm=functools.partial(tqdm, disable=True), policy_model=policy, ref_model=reference,
                     train_loader=batches, NUM_DPO_STEPS=len(batches), BETA=beta, MAX_SEQ_LEN=max_seq_len,
                     DEVICE=device, autocast=autocast, losses=[], accs=[], margins=[], optimizer=optimizer,
                     scaler=scaler, get_log_prob=reference_function("get_log_prob"),
                     dpo_loss=reference_function("dpo_loss"))
    exec(compile(reference_notebook().cell("dpo_training_loop"), "<reference loop>", "exec"), namespace)  # noqa: S102
    return namespace["losses"]


def reference_source(names: tuple[str, ...], path: str = str(paths.SOLUTION_NOTEBOOK)) -> str:
    """Source of the named reference functions, to place beside student code for substitution."""
    import ast

    tree = parse_python(reference_notebook(path).definitions())
    keep = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))
            or (isinstance(n, ast.FunctionDef) and n.name in names)]
    return "\n\n".join(ast.unparse(n) for n in keep)


def reference_for_check(check) -> object:
    """The reference function a check compares against, with the check's stand-in helpers if any."""
    stubs, function = check.spec.stubs, check.item.callable_name
    if not stubs:
        return reference_function(function)
    namespace: dict = {}
    exec(compile(reference_source((function,)), "<reference>", "exec"), namespace)  # noqa: S102
    exec(compile(stubs, "<stubs>", "exec"), namespace)  # noqa: S102
    return namespace[function]

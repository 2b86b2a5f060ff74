"""A synthetic class for the similarity check: independent notebooks, and planted copies of some.

Each independent notebook answers every graded function and the training loop with one of the
suite's ways of writing it, drawn per item: the reference, a valid alternative (test_equivalent),
or a known mistake (test_mutants). A planted copy takes one of them, renames its local variables,
rewrites its comments, swaps independent lines, and changes the answer of one item, as a student
who copies and disguises would. `make(count, copies, folder)` writes the notebooks and returns
which pairs were planted.
"""
from __future__ import annotations

import ast
import random
import sys
from dataclasses import dataclass
from pathlib import Path

from submissions import build

TESTS = Path(__file__).resolve().parents[1]
COMMENTS = ["# my version", "# work out the pieces first", "# see the lecture notes", "# careful with shapes here",
            "# this part took a while", "# TODO tidy up"]


@dataclass(frozen=True)
class Planted:
    original: str
    copy: str


def options() -> dict[str, list[str]]:
    """Cell grade_id -> the ways of writing it that the suite has (the reference first)."""
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    from test_equivalent import ONE_FORWARD_LOOP, VARIANTS
    from test_mutants import CELL_MUTANTS, FUNCTION_MUTANTS, student_dpo_loop

    ways: dict[str, list[str]] = {}
    for written in [*VARIANTS, *FUNCTION_MUTANTS]:
        cell = build.cell_of(written.function)
        ways.setdefault(cell, [build.source(cell)]).append(written.source)
    ways["dpo_training_loop"] = [build.source("dpo_training_loop"), student_dpo_loop(), ONE_FORWARD_LOOP,
                                 *(m.source for m in CELL_MUTANTS if m.grade_id == "dpo_training_loop")]
    return ways


class _Renamer(ast.NodeTransformer):
    def __init__(self, names: dict[str, str]):
        self.names = names

    def visit_Name(self, node):
        node.id = self.names.get(node.id, node.id)
        return node


def _swap_independent(body: list[ast.stmt], rng: random.Random) -> None:
    from autograder.similarity import independent

    pairs = [i for i in range(len(body) - 1) if independent(body[i], body[i + 1])]
    if pairs:
        i = rng.choice(pairs)
        body[i], body[i + 1] = body[i + 1], body[i]
    for statement in body:
        for name in ("body", "orelse"):
            inner = getattr(statement, name, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                _swap_independent(inner, rng)


def disguise(source: str, rng: random.Random) -> str:
    """The same code with its local variables renamed, independent lines swapped and new comments."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    arguments = {a.arg for node in ast.walk(tree) if isinstance(node, ast.arguments)
                 for a in node.args + node.kwonlyargs + node.posonlyargs}
    assigned = sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
                      - arguments)
    tree = _Renamer({name: f"{name}_{rng.choice('abcxyz')}{rng.randint(1, 9)}" for name in assigned}).visit(tree)
    _swap_independent(tree.body, rng)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.For, ast.While)):
            _swap_independent(node.body, rng)
    lines = ast.unparse(tree).splitlines()
    out = []
    for line in lines:
        if line.strip() and rng.random() < 0.3:
            out.append(line[:len(line) - len(line.lstrip())] + rng.choice(COMMENTS))
        out.append(line)
    return "\n".join(out) + "\n"


def make(count: int, copies: int, folder: Path, seed: int = 7) -> list[Planted]:
    """Write `count` independent notebooks and `copies` planted copies into `folder`; returns the planted pairs."""
    rng = random.Random(seed)
    ways = options()
    folder.mkdir(parents=True, exist_ok=True)
    chosen: dict[str, dict[str, str]] = {}
    for number in range(count):
        student = f"student{number:03d}"
        chosen[student] = {cell: rng.choice(written) for cell, written in ways.items()}
        build.write(build.with_cells(chosen[student]), folder / f"{student}.ipynb")
    planted = []
    for number, original in enumerate(rng.sample(sorted(chosen), copies)):
        student = f"copy{number:02d}"
        answers = {cell: disguise(source, rng) for cell, source in chosen[original].items()}
        changed = rng.choice(sorted(c for c in ways if len(ways[c]) > 1))
        answers[changed] = rng.choice([w for w in ways[changed] if w != chosen[original][changed]])
        build.write(build.with_cells(answers), folder / f"{student}.ipynb")
        planted.append(Planted(original, student))
    return planted

"""Similarity of the graded code of every pair of students, after a normalisation that renaming defeats not.

Each graded unit (a function's definition, a re-run cell) is normalised: comments, docstrings and
whitespace go, every name the code binds becomes `v0`, `v1`, ... in order of first use, every string
and number literal becomes a placeholder, and each block's independent statements are put in one
canonical order (a statement may move past another when neither writes what the other reads or
writes). What every student received (the stubs, the given cells) is normalised the same way and
left out. What remains is cut into overlapping windows of tokens.

Each window weighs how rare it is in this class: the log of the class size over the number of
students who wrote it, and nothing when more than half the class wrote it (code most students
write alike counts as given). A pair's score for an item is the weight of the windows the two
share over the weight of the windows either wrote: code that only these two wrote scores 1, and a
short function that everyone writes alike weighs nothing and flags no one. The score over all
items is the mean of the items' scores, over the items where either wrote code that weighs: a pair
that shares rare code in many items ranks above one that shares it in a few, however long each is. A flag is a reason to look at
two notebooks side by side, never a verdict.
"""
from __future__ import annotations

import ast
import functools
import hashlib
import io
import itertools
import re
import tokenize
from dataclasses import dataclass

_NAMES = re.compile(r"(?:id|arg)='[^']*'")
WINDOW = 6  # tokens per window: long enough that common idioms are shared by everyone, short enough for small cells
ALL = "all"  # the item name of the whole-notebook score


# ---------------------------------------------------------------- normalisation
class _Placeholders(ast.NodeTransformer):
    """Literals become placeholders; docstrings go."""

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if isinstance(node.value, str):
            return ast.copy_location(ast.Constant("S"), node)
        if isinstance(node.value, (int, float, complex)) and not isinstance(node.value, bool):
            return ast.copy_location(ast.Constant(0), node)
        return node

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.AST:
        return ast.copy_location(ast.Constant("S"), node)

    def generic_visit(self, node: ast.AST) -> ast.AST:
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(
                getattr(body[0], "value", None), ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
        return super().generic_visit(node)


def _bound_names(tree: ast.AST) -> set[str]:
    """Names the code binds itself (assignment targets, loop and comprehension variables, arguments); the names
    of libraries and of the functions it defines stay."""
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del))
            } | {node.arg for node in ast.walk(tree) if isinstance(node, ast.arg)}


def _reads_writes(statement: ast.stmt) -> tuple[set[str], set[str], bool]:
    """(names read, names written, whether it ends the block's flow or has unknown effects on order)."""
    reads, writes = set(), set()
    for node in ast.walk(statement):
        if isinstance(node, ast.Name):
            (writes if isinstance(node.ctx, (ast.Store, ast.Del)) else reads).add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            writes.add(ast.unparse(node.value))
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
            writes.add(ast.unparse(node.value))
    barrier = isinstance(statement, (ast.Return, ast.Raise, ast.Break, ast.Continue, ast.Global, ast.Nonlocal,
                                     ast.Yield, ast.With, ast.Try, ast.FunctionDef, ast.ClassDef, ast.Import,
                                     ast.ImportFrom)) or any(isinstance(n, (ast.Yield, ast.YieldFrom, ast.Await))
                                                             for n in ast.walk(statement))
    # A bare call (a method that may change its object, a print) keeps its place relative to other calls.
    if isinstance(statement, ast.Expr):
        writes |= {ast.unparse(n.func.value) for n in ast.walk(statement)
                   if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)} | {"<effects>"}
        reads.add("<effects>")
    return reads, writes, barrier


def _independent(first: tuple, second: tuple) -> bool:
    """Whether two statements, given as their `_reads_writes`, may swap places."""
    (reads_a, writes_a, barrier_a), (reads_b, writes_b, barrier_b) = first, second
    return not (barrier_a or barrier_b or writes_a & (reads_b | writes_b) or writes_b & reads_a)


def independent(a: ast.stmt, b: ast.stmt) -> bool:
    """Whether neither statement writes what the other reads or writes (nor ends the block's flow)."""
    return _independent(_reads_writes(a), _reads_writes(b))


def _canonical_order(body: list[ast.stmt]) -> list[ast.stmt]:
    """The statements in one canonical order that keeps every dependency between them."""
    facts = [_reads_writes(s) for s in body]
    keys = [_NAMES.sub("_", ast.dump(s)) for s in body]  # the statement's shape, whatever its names
    before: dict[int, set[int]] = {j: set() for j in range(len(body))}
    for i, j in itertools.combinations(range(len(body)), 2):
        if not _independent(facts[i], facts[j]):
            before[j].add(i)
    placed: list[int] = []
    while len(placed) < len(body):
        ready = [j for j in range(len(body)) if j not in placed and before[j] <= set(placed)]
        placed.append(min(ready, key=lambda j: (keys[j], j)))
    return [body[j] for j in placed]


class _Reorder(ast.NodeTransformer):
    def generic_visit(self, node):
        super().generic_visit(node)
        for name in ("body", "orelse", "finalbody"):
            block = getattr(node, name, None)
            if isinstance(block, list) and len(block) > 1 and all(isinstance(s, ast.stmt) for s in block):
                setattr(node, name, _canonical_order(block))
        return node


class _Rename(ast.NodeTransformer):
    """Bound names become v0, v1, ... in order of first appearance."""

    def __init__(self, bound: set[str]):
        self.bound, self.names = bound, {}

    def _name(self, name: str) -> str:
        if name not in self.bound:
            return name
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_Name(self, node):
        node.id = self._name(node.id)
        return node

    def visit_arg(self, node):
        node.arg = self._name(node.arg)
        self.generic_visit(node)
        return node


def normalise(source: str) -> list[str]:
    """The normalised tokens of `source` (a function or a cell); code that does not parse is compared by its
    tokens without comments and literals."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return _raw_tokens(source)
    try:
        tree = _Placeholders().visit(tree)
        tree = _Reorder().visit(tree)
        tree = _Rename(_bound_names(tree)).visit(tree)
        return _raw_tokens(ast.unparse(tree))
    except (RecursionError, ValueError, TypeError, AttributeError):
        return _raw_tokens(source)


def _raw_tokens(source: str) -> list[str]:
    kept = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                              tokenize.ENDMARKER):
                continue
            kept.append("S" if token.type == tokenize.STRING else "0" if token.type == tokenize.NUMBER else token.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        kept = source.split()
    return kept


def windows(tokens: list[str]) -> set[str]:
    """Overlapping windows of WINDOW tokens, hashed (a unit shorter than a window is one window)."""
    if not tokens:
        return set()
    spans = [tokens] if len(tokens) < WINDOW else [tokens[i:i + WINDOW] for i in range(len(tokens) - WINDOW + 1)]
    return {hashlib.blake2b(" ".join(span).encode(), digest_size=8).hexdigest() for span in spans}


def fingerprint(source: str, given: str = "") -> set[str]:
    """The windows of `source` that the given code (`given`: the stub or the given cell) does not hold."""
    return _without(source, windows(normalise(given)))


def _without(source: str, given: set[str]) -> set[str]:
    return windows(normalise(source)) - given if source else set()


# ---------------------------------------------------------------- the graded code of a notebook
def function_sources(parsed) -> dict[str, str]:
    """Name -> the source of its last top-level definition in the notebook's code cells."""
    from autograder.python_source import parse_cell

    found = {}
    for cell in parsed.code_cells():
        tree = parse_cell(cell.source)
        for node in tree.body if tree else ():
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found[node.name] = ast.get_source_segment(cell.source, node) or ast.unparse(node)
    return found


@functools.lru_cache(maxsize=1)
def received() -> dict[str, str]:
    """Item -> the code every student received for it (the student notebook's stubs and given cells)."""
    from autograder import paths
    from autograder.notebook import parse_notebook

    return graded_units(parse_notebook(paths.STUDENT_NOTEBOOK))


def graded_units(parsed) -> dict[str, str]:
    """Item -> the code a notebook holds for it: a graded function's definition, or a re-run cell. Items that
    grade the same function (the weighted loss is `dpo_loss`) count once, under the first."""
    from alignment_kit import items

    units, seen, functions = {}, set(), function_sources(parsed)
    for item in items.ITEMS:
        if not item.autograded:
            continue
        if item.kind == items.FUNCTION:
            if item.callable_name in seen:
                continue
            seen.add(item.callable_name)
            units[item.name] = functions.get(item.callable_name, "")
        else:
            units[item.name] = parsed.cell(item.name) or ""
    return units


# ---------------------------------------------------------------- scoring
@dataclass(frozen=True)
class PairScore:
    student_a: str
    student_b: str
    item: str
    score: float  # the rarity-weighted share of the code the two wrote, 0 to 1


def class_fingerprints(units: dict[str, dict[str, str]], given: dict[str, str]) -> dict[str, dict[str, set[str]]]:
    """item -> student -> windows, from student -> item -> code and the code every student received."""
    items_ = sorted({item for by_item in units.values() for item in by_item})
    received = {item: windows(normalise(given.get(item, ""))) for item in items_}  # once per item, not per student
    return {item: {student: _without(by_item.get(item, ""), received[item]) for student, by_item in units.items()}
            for item in items_}


def pair_scores(prints: dict[str, dict[str, set[str]]]) -> list[PairScore]:
    """Every pair's score per item and over all items (the mean of its items'; pairs that share nothing are left
    out), highest first.

    A window's weight is log(class size / students who wrote it), or 0 when more than half wrote it; a pair's
    score is the weight of what the two share over the weight of what either wrote."""
    import numpy as np

    students = sorted({s for by_student in prints.values() for s in by_student})
    index = {s: i for i, s in enumerate(students)}
    size = len(students)
    summed, counted = np.zeros((size, size)), np.zeros((size, size))
    scores: list[PairScore] = []
    upper = np.triu(np.ones((size, size), dtype=bool), 1)
    for item, by_student in sorted(prints.items()):
        vocabulary = sorted({w for windows_ in by_student.values() for w in windows_})
        if not vocabulary:
            continue
        column = {w: j for j, w in enumerate(vocabulary)}
        present = np.zeros((size, len(vocabulary)), dtype=np.float64)
        for student, windows_ in by_student.items():
            present[index[student], [column[w] for w in windows_]] = 1.0
        writers = np.maximum(present.sum(axis=0), 1.0)
        weight = np.where(writers <= size / 2, np.log(size / writers), 0.0)
        shared = (present * weight) @ present.T
        own = present @ weight
        either = own[:, None] + own[None, :] - shared
        written = either > 1e-12
        summed += np.divide(shared, either, out=np.zeros_like(shared), where=written)
        counted += written
        scores += _listed(students, shared, either, upper, item)
    scores += _listed(students, summed, counted, upper, ALL)
    return sorted(scores, key=lambda p: (-p.score, p.item != ALL, p.student_a, p.student_b, p.item))


def _listed(students: list[str], shared, either, upper, item: str) -> list[PairScore]:
    import numpy as np

    rows, columns = np.nonzero(upper & (shared > 1e-12))
    values = shared[rows, columns] / either[rows, columns]
    return [PairScore(students[a], students[b], item, round(float(v), 4)) for a, b, v in zip(rows, columns, values)]

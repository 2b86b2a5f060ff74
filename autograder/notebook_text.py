"""The text of a notebook that people read, cell by cell: what a translation replaces and nothing else.

A markdown cell's text is its whole source. A code cell's text is a list of *fragments*, in order:
each block of comment lines, each docstring, and each string literal a person reads (what `print`
prints, what `raise` says, a plot's title and labels). Code inside solution and hidden-test regions
has none: students never see it. The edition's language tag (the string in `i18n.use("en")`) is
not a fragment: `translated` sets it to the edition's language.

`translated(cell_source, fragments, language)` puts other fragments in their places; everything else of
the cell, byte for byte, stays as it was (tests/test_translations.py checks the code of both editions).
"""
from __future__ import annotations

import ast
import inspect
import io
import re
import tokenize
from dataclasses import dataclass

REGION = re.compile(r"\s*### (BEGIN|END) (SOLUTION|HIDDEN TESTS)")
HIDDEN_TESTS = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?^[ \t]*### END HIDDEN TESTS[^\n]*\n?", re.M | re.S)
PEOPLE_CALLS = {"print", "set_title", "set_xlabel", "set_ylabel", "suptitle", "warn", "show_reply"}  # their strings are read
PEOPLE_KEYWORDS = {"label", "title", "xlabel", "ylabel"}


@dataclass(frozen=True)
class Span:
    """Where a fragment sits in the cell (character offsets) and how it is written there."""

    start: int
    end: int
    kind: str  # "comment", "docstring", "string" or "language"
    text: str  # the fragment as a translator reads it
    indent: str = ""  # comment blocks and docstrings: the indentation of their lines


def _offsets(source: str) -> list[int]:
    starts, total = [0], 0
    for line in source.splitlines(keepends=True):
        total += len(line)
        starts.append(total)
    return starts


def _hidden_lines(source: str) -> set[int]:
    """1-based numbers of the lines inside (and of) solution and hidden-test regions."""
    hidden, inside = set(), False
    for number, line in enumerate(source.splitlines(), 1):
        match = REGION.match(line)
        if match:
            inside = match.group(1) == "BEGIN"
            hidden.add(number)
        elif inside:
            hidden.add(number)
    return hidden


def _comment_spans(source: str, hidden: set[int], starts: list[int]) -> list[Span]:
    spans: list[Span] = []
    lines = source.splitlines()
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type == tokenize.COMMENT]
    except (tokenize.TokenError, SyntaxError):
        return []
    for token in tokens:
        row, col = token.start
        if row in hidden or token.string.startswith("#!") or re.match(r"#\s*(noqa|type:)", token.string):
            continue
        own_line = not lines[row - 1][:col].strip()
        body = re.sub(r"^#\s?", "", token.string)
        start, end = starts[row - 1] + col, starts[row - 1] + col + len(token.string)
        previous = spans[-1] if spans else None
        if (own_line and previous and previous.kind == "comment" and previous.indent == " " * col
                and source[previous.end:start].strip() == "" and source[previous.end:start].count("\n") == 1):
            spans[-1] = Span(previous.start, end, "comment", previous.text + "\n" + body, previous.indent)
        else:
            spans.append(Span(start, end, "comment", body, " " * col if own_line else ""))
    return spans


def _string_pieces(segment: str) -> list[tuple[int, int]]:
    """Offsets of each literal of a (possibly implicitly concatenated) string expression's source."""
    pieces, depth, opened = [], 0, 0
    starts = _offsets(segment)
    for token in tokenize.generate_tokens(io.StringIO(segment).readline):
        offset = starts[token.start[0] - 1] + token.start[1]
        end = starts[token.end[0] - 1] + token.end[1]
        kind = tokenize.tok_name[token.type]
        if kind == "STRING" and depth == 0:
            pieces.append((offset, end))
        elif kind == "FSTRING_START":  # Python 3.12+ tokenizes an f-string in parts
            depth, opened = depth + 1, (offset if depth == 0 else opened)
        elif kind == "FSTRING_END":
            depth -= 1
            if depth == 0:
                pieces.append((opened, end))
    return pieces


def _quotes(literal: str) -> tuple[int, int]:
    """(offset where the content starts, offset where it ends) inside one string literal."""
    prefix = len(literal) - len(literal.lstrip("rRbBuUfF"))
    quote = literal[prefix:prefix + 3] if literal[prefix:prefix + 3] in ('"""', "'''") else literal[prefix]
    return prefix + len(quote), len(literal) - len(quote)


def _people_strings(tree: ast.Module) -> list[tuple[ast.expr, str]]:
    """(string node, kind) of every docstring, language tag and string read by people."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                found.append((first.value, "docstring"))
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if name == "use" and isinstance(node.func, ast.Attribute) and getattr(node.func.value, "id", "") == "i18n":
                found += [(a, "language") for a in node.args[:1] if isinstance(a, ast.Constant)]
            elif name in PEOPLE_CALLS:
                found += [(a, "string") for a in node.args if isinstance(a, (ast.Constant, ast.JoinedStr))]
            found += [(k.value, "string") for k in node.keywords
                      if k.arg in PEOPLE_KEYWORDS and isinstance(k.value, (ast.Constant, ast.JoinedStr))]
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            found += [(a, "string") for a in node.exc.args if isinstance(a, (ast.Constant, ast.JoinedStr))]
    return [(n, k) for n, k in found if not isinstance(n, ast.Constant) or isinstance(n.value, str)]


def _string_spans(source: str, hidden: set[int], starts: list[int]) -> list[Span]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    spans = []
    for node, kind in _people_strings(tree):
        if node.lineno in hidden:
            continue
        line = source.splitlines(keepends=True)[node.lineno - 1]
        column = len(line.encode("utf-8")[:node.col_offset].decode("utf-8", errors="ignore"))  # ast counts bytes
        base = starts[node.lineno - 1] + column
        segment = ast.get_source_segment(source, node) or ""
        for begin, end in _string_pieces(segment):
            inner_start, inner_end = _quotes(segment[begin:end])
            raw = segment[begin + inner_start:begin + inner_end]
            indent = " " * column
            if kind == "docstring":
                spans.append(Span(base + begin + inner_start, base + begin + inner_end, kind, inspect.cleandoc(raw), indent))
            elif kind == "language" or re.search(r"[A-Za-z]{2}", re.sub(r"\{[^{}]*\}", "", raw)):
                spans.append(Span(base + begin + inner_start, base + begin + inner_end, kind, raw))
    return spans


def spans(source: str) -> list[Span]:
    """Every fragment of a code cell, in the order of the source (the language tag included)."""
    hidden, starts = _hidden_lines(source), _offsets(source)
    return sorted(_comment_spans(source, hidden, starts) + _string_spans(source, hidden, starts), key=lambda s: s.start)


def fragments(source: str) -> list[str]:
    """The texts a translation of this code cell gives, in order (the language tag is not one)."""
    return [span.text for span in spans(source) if span.kind != "language"]


def _written(span: Span, text: str) -> str:
    if span.kind == "comment":
        return ("\n" + span.indent).join(("# " + line).rstrip() for line in text.split("\n"))
    if span.kind == "docstring" and "\n" in text:
        head, *rest = text.split("\n")
        return "\n".join([head] + [(span.indent + line if line else "") for line in rest] + [span.indent])
    return text


def translated(source: str, texts: list[str], language: str) -> str:
    """The cell with its fragments replaced by `texts` (in order) and its language tag set to `language`."""
    found = spans(source)
    wanted = sum(span.kind != "language" for span in found)
    if len(texts) != wanted:
        raise ValueError(f"the cell has {wanted} fragments to translate, the translation gives {len(texts)}")
    texts = iter(texts)
    pieces, last = [], 0
    for span in found:
        pieces.append(source[last:span.start])
        pieces.append(language if span.kind == "language" else _written(span, next(texts)))
        last = span.end
    pieces.append(source[last:])
    return "".join(pieces)

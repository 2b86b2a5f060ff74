"""Which library names a function's code reaches, read from its source without running it.

Every expression in the function (and in the notebook's own helper functions it refers to) is
resolved to the dotted names it may stand for: through imports (`import trl.trainer.utils as u`,
`from trl.trainer.utils import pad as p`), names bound to such values anywhere in the notebook or
the function, attribute chains, `getattr(obj, NAME)`, `operator.attrgetter(NAME)(obj)`, `vars(obj)[NAME]`,
`obj.__dict__[NAME]`, `sys.modules[NAME]`, `importlib.import_module(NAME)` and `__import__(NAME)`, where
NAME is any string computable from constants (concatenation, repetition, f-strings, slicing,
`join`, `reversed`, `chr` and the plain string methods). A name bound more than once stands for
each of its values. `uses` keeps the names an item's policy bans, with the line they are on.
"""
from __future__ import annotations

import ast
import itertools
from dataclasses import dataclass

from alignment_kit.handover import HandOver

DEPTH = 12  # how deep a name's bindings are followed
LONGEST = 256  # longest string folded from constants (no string bombs)
CHOICES = 16  # most values one expression may stand for
RESOLVED = 64  # distinct names looked up in the libraries per function; later ones are compared as written
_STRING_METHODS = {"lower", "upper", "strip", "lstrip", "rstrip", "title", "capitalize", "casefold", "swapcase",
                   "replace", "removeprefix", "removesuffix", "format"}


@dataclass(frozen=True)
class Use:
    """A banned name the code reaches: the policy's entry, the name as reached, and where."""

    entry: str
    reached: str
    function: str  # the graded function, or the notebook's helper through which it reaches the name
    code: str  # the expression that reaches it


class _Scope:
    """Name -> what it was bound to (import targets as dotted strings, other bindings as expressions)."""

    def __init__(self, parent: _Scope | None = None):
        self.parent, self.bindings = parent, {}

    def bind(self, name: str, value) -> None:
        self.bindings.setdefault(name, []).append(value)

    def lookup(self, name: str) -> list:
        return self.bindings.get(name) or (self.parent.lookup(name) if self.parent else [])

    def record(self, statements, nested: bool = False) -> None:
        """Bind what the statements (and the blocks inside them; nested functions' too when `nested`) bind."""
        for node in (n for s in statements for n in ast.walk(s)) if nested else _walk_here(statements):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.bind(alias.asname, alias.name)
                    else:
                        self.bind(alias.name.split(".")[0], alias.name.split(".")[0])
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    if alias.name != "*":
                        self.bind(alias.asname or alias.name, f"{node.module}.{alias.name}")
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.NamedExpr, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if node.value is not None:
                    for target in targets:
                        self._bind_target(target, node.value)
            elif isinstance(node, (ast.For, ast.comprehension)):
                if isinstance(node.iter, (ast.List, ast.Tuple, ast.Set)):
                    for element in node.iter.elts:
                        self._bind_target(node.target, element)
            elif isinstance(node, ast.withitem) and node.optional_vars is not None:
                self._bind_target(node.optional_vars, node.context_expr)

    def _bind_target(self, target: ast.AST, value: ast.AST) -> None:
        if isinstance(target, ast.Name):
            self.bind(target.id, value)
        elif isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, (ast.Tuple, ast.List)) \
                and len(target.elts) == len(value.elts):
            for inner, element in zip(target.elts, value.elts):
                self._bind_target(inner, element)


def _walk_here(statements):
    """Every node of the statements, without entering nested function or class bodies."""
    pending = list(statements)
    while pending:
        node = pending.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                pending.append(child)
            elif isinstance(child, ast.Lambda):
                pending.append(child.body)


class _Resolver:
    def __init__(self, scope: _Scope):
        self.scope = scope
        # Each expression is worked out once (a name bound to itself, `x = x + x`, would otherwise double the
        # work at every level); one being worked out stands for nothing, which ends a cycle.
        self._strings_of: dict[int, set[str]] = {}
        self._names_of: dict[int, set[str]] = {}

    # ------------------------------------------------------------ strings
    def strings(self, node: ast.AST, depth: int = 0) -> set[str]:
        """The strings an expression may be, where constants alone decide it."""
        if depth > DEPTH:
            return set()
        if id(node) not in self._strings_of:
            self._strings_of[id(node)] = set()
            found = self._strings(node, depth + 1)
            self._strings_of[id(node)] = {s for s in found if isinstance(s, str) and len(s) <= LONGEST}
        return self._strings_of[id(node)]

    def _strings(self, node, depth):
        strings = lambda n: self.strings(n, depth)  # noqa: E731
        if isinstance(node, ast.Constant):
            return {node.value} if isinstance(node.value, str) else set()
        if isinstance(node, ast.Name):
            return _bounded(s for value in self.scope.lookup(node.id) if isinstance(value, ast.AST)
                            for s in strings(value))
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return _bounded(a + b for a, b in itertools.product(strings(node.left), strings(node.right)))
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
            for text, count in ((node.left, node.right), (node.right, node.left)):
                times = self.integer(count)
                if times is not None and 0 <= times <= LONGEST:
                    return _bounded(s * times for s in strings(text) if len(s) * times <= LONGEST)
            return set()
        if isinstance(node, ast.JoinedStr):
            pieces = [strings(v.value if isinstance(v, ast.FormattedValue) else v) for v in node.values]
            return _bounded("".join(p) for p in itertools.product(*pieces))
        if isinstance(node, ast.Subscript):
            return self._sliced(node, strings(node.value))
        if isinstance(node, ast.Call):
            return self._called(node, depth)
        return set()

    def _sliced(self, node: ast.Subscript, texts: set[str]) -> set[str]:
        index = node.slice
        if isinstance(index, ast.Slice):
            bounds = [None if part is None else self.integer(part) for part in (index.lower, index.upper, index.step)]
            given = [part is not None for part in (index.lower, index.upper, index.step)]
            if any(g and b is None for g, b in zip(given, bounds)) or bounds[2] == 0:
                return set()
            return {t[slice(*bounds)] for t in texts}
        position = self.integer(index)
        return {t[position] for t in texts if position is not None and -len(t) <= position < len(t)}

    def _called(self, node: ast.Call, depth: int) -> set[str]:
        strings = lambda n: self.strings(n, depth)  # noqa: E731
        function = node.func
        if isinstance(function, ast.Name) and function.id == "chr" and len(node.args) == 1:
            code = self.integer(node.args[0])
            return {chr(code)} if code is not None and 0 <= code < 0x110000 else set()
        if isinstance(function, ast.Name) and function.id == "str" and len(node.args) == 1:
            return strings(node.args[0])
        if not isinstance(function, ast.Attribute):
            return set()
        texts = strings(function.value)
        if function.attr == "join" and len(node.args) == 1:
            return _bounded(t.join(parts) for t in texts for parts in self.sequences(node.args[0], depth))
        if function.attr in _STRING_METHODS and not node.keywords:
            arguments = [strings(a) for a in node.args]
            found = set()
            for text, chosen in itertools.product(texts, itertools.product(*arguments)):
                try:
                    found.add(getattr(text, function.attr)(*chosen))
                except (TypeError, ValueError, IndexError, KeyError):
                    continue
            return _bounded(found)
        return set()

    def sequences(self, node: ast.AST, depth: int) -> set[tuple[str, ...]]:
        """The sequences of strings an iterable expression may be (a list, a tuple, a string, `reversed(...)`)."""
        if isinstance(node, ast.Name):
            return {s for value in self.scope.lookup(node.id) if isinstance(value, ast.AST)
                    for s in self.sequences(value, depth + 1)} if depth <= DEPTH else set()
        if isinstance(node, (ast.List, ast.Tuple)):
            choices = [self.strings(e, depth + 1) for e in node.elts]
            return set(itertools.islice(itertools.product(*choices), CHOICES))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("reversed", "list",
                                                                                              "tuple") \
                and len(node.args) == 1:
            inner = self.sequences(node.args[0], depth + 1)
            return {tuple(reversed(s)) for s in inner} if node.func.id == "reversed" else inner
        return {tuple(s) for s in self.strings(node, depth + 1)}

    def integer(self, node: ast.AST) -> int | None:
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            value = self.integer(node.operand)
            return None if value is None else -value
        return None

    # ------------------------------------------------------------ names
    def names(self, node: ast.AST, depth: int = 0) -> set[str]:
        """The dotted names an expression may stand for."""
        if depth > DEPTH:
            return set()
        if id(node) not in self._names_of:
            self._names_of[id(node)] = set()
            self._names_of[id(node)] = _bounded(self._names(node, depth + 1))
        return self._names_of[id(node)]

    def _names(self, node, depth):
        names = lambda n: self.names(n, depth)  # noqa: E731
        if isinstance(node, ast.Name):
            found = set()
            for value in self.scope.lookup(node.id):
                found |= {value} if isinstance(value, str) else names(value)
            return found or ({node.id} if node.id in ("getattr", "vars", "__import__", "sys") else set())
        if isinstance(node, ast.Attribute):
            return {f"{base}.{node.attr}" for base in names(node.value)}
        if isinstance(node, ast.Subscript):
            keys = self.strings(node.slice, depth)
            if isinstance(node.value, ast.Call) and "vars" in names(node.value.func) and len(node.value.args) == 1:
                return {f"{base}.{key}" for base in names(node.value.args[0]) for key in keys}
            bases = names(node.value)
            found = {f"{base[:-len('.__dict__')]}.{key}" for base in bases if base.endswith(".__dict__")
                     for key in keys}
            return found | (keys if "sys.modules" in bases else set())
        if isinstance(node, ast.Call):
            return self._call_names(node, depth)
        if isinstance(node, (ast.NamedExpr,)):
            return names(node.value)
        if isinstance(node, ast.IfExp):
            return names(node.body) | names(node.orelse)
        if isinstance(node, ast.BoolOp):
            return set().union(*(names(v) for v in node.values))
        return set()

    def _call_names(self, node: ast.Call, depth: int) -> set[str]:
        called = self.names(node.func, depth)
        args = node.args
        if "getattr" in called and len(args) >= 2:
            return {f"{base}.{key}" for base in self.names(args[0], depth) for key in self.strings(args[1], depth)}
        if "importlib.import_module" in called and args:
            return self.strings(args[0], depth)
        if "__import__" in called and args:
            wanted = [k.value for k in node.keywords if k.arg == "fromlist"] + args[3:4]
            whole = any(not (isinstance(w, ast.Constant) and not w.value) for w in wanted)
            return {name if whole else name.split(".")[0] for name in self.strings(args[0], depth)}
        if isinstance(node.func, ast.Call) and len(args) == 1:  # operator.attrgetter("a.b")(obj)
            inner = node.func
            if "operator.attrgetter" in self.names(inner.func, depth) and len(inner.args) == 1:
                return {f"{base}.{path}" for base in self.names(args[0], depth)
                        for path in self.strings(inner.args[0], depth)}
        return set()


def _bounded(values) -> set:
    return set(itertools.islice(values, CHOICES * 4))


def _functions(tree: ast.Module) -> dict[str, ast.FunctionDef]:
    return {node.name: node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _reached(resolver: _Resolver, node: ast.AST, policy: HandOver, where: str, found: dict, looked_up: set) -> None:
    words = policy.words()
    for reached in sorted(resolver.names(node)):
        if words.isdisjoint(reached.split(".")):
            continue  # shares no name with the policy: cannot fall under it
        looked_up.add(reached)
        entry = policy.banned_as(reached, resolve=len(looked_up) <= RESOLVED)
        if entry is not None:
            found.setdefault((entry, where), Use(entry, reached, where, _short(node)))


def _short(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 120 else text[:117] + "..."


def uses(tree: ast.Module, function: str, policy: HandOver, graded: frozenset[str] = frozenset()) -> list[Use]:
    """The banned names `function` reaches in `tree` (the notebook's code): its definition's, its helper functions'
    (other graded functions, `graded`, answer for themselves), and what the name itself is bound to (an import of
    the library's function under the graded name, say)."""
    if not policy.banned:
        return []
    module = _Scope()
    module.record(tree.body)
    defined = _functions(tree)
    found: dict[tuple[str, str], Use] = {}
    top, looked_up = _Resolver(module), set()
    for value in module.bindings.get(function, []):
        nodes = [ast.Name(function, ast.Load())] if isinstance(value, str) else list(ast.walk(value))
        for node in nodes:
            _reached(top, node, policy, function, found, looked_up)
    pending, seen = [function], set()
    while pending:
        name = pending.pop()
        if name in seen or name not in defined:
            continue
        seen.add(name)
        definition = defined[name]
        scope = _Scope(module)
        scope.record(definition.body, nested=True)
        resolver = _Resolver(scope)
        for node in ast.walk(definition):
            if isinstance(node, ast.Name) and node.id in defined and node.id != name and node.id not in graded:
                pending.append(node.id)
            if isinstance(node, ast.Name) and node.id in graded and not scope.bindings.get(node.id):
                continue  # another graded function, flagged (or not) for itself
            if isinstance(node, (ast.Name, ast.Attribute, ast.Call, ast.Subscript)):
                _reached(resolver, node, policy, name, found, looked_up)
    return sorted(found.values(), key=lambda u: (u.function != function, u.entry, u.code))

"""The house: every module says what it is, no modules import each other (not even inside a function), and
the runtime never imports the grader."""
from __future__ import annotations

import ast
from pathlib import Path

from autograder import paths

PACKAGES = ("alignment_kit", "autograder")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((paths.REPO_ROOT / package).rglob("*.py")):
            parts = path.relative_to(paths.REPO_ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The kit's modules `name` imports, anywhere in it (a package's own submodules, which it discovers, left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module if node.level == 0 else ".".join(name.split(".")[:-node.level] + [node.module])
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {t for t in targets if t in known and t != name and not t.startswith(name + ".")}
    return found


def test_every_module_has_a_docstring():
    missing = [name for name, path in _modules().items() if not ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))]
    assert not missing, missing


def test_no_import_cycles():
    modules = _modules()
    graph = {name: _imports(name, path, set(modules)) for name, path in modules.items()}
    cycles, state = [], {}

    def visit(node, trail):
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                cycles.append(trail[trail.index(target):] + [target])
            elif target not in state:
                visit(target, trail + [target])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, cycles


def test_the_runtime_never_imports_the_grader():
    modules = _modules()
    offenders = {name: sorted(t for t in _imports(name, path, set(modules)) if t.startswith("autograder"))
                 for name, path in modules.items() if name.startswith("alignment_kit")}
    assert not {name: targets for name, targets in offenders.items() if targets}

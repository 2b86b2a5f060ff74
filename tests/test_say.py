"""Strings for people go through `say(...)` (and so into the catalogs) in the files students read from:
the runtime's item modules, the self-checks and the feedback pages. A message raised, printed or warned
as a plain string or f-string with words in it is found here, with its file and line."""
from __future__ import annotations

import ast
from pathlib import Path

from autograder import paths

SPEAKING = {"print", "warn", "SelfCheckFailed", "OutputShapeError"}  # calls whose text a person reads
CHECKED = sorted({*(p for p in (paths.REPO_ROOT / "alignment_kit" / "items").glob("*.py") if p.name != "__init__.py"),
                  *(paths.REPO_ROOT / name for name in ("alignment_kit/selfcheck.py", "alignment_kit/cell_checks.py",
                                                        "alignment_kit/pages.py", "autograder/report.py"))})


def _has_words(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return any(character.isalpha() for character in node.value)
    if isinstance(node, ast.JoinedStr):
        return any(_has_words(part) for part in node.values if isinstance(part, ast.Constant))
    return False


def _name(call: ast.Call) -> str:
    function = call.func
    return function.id if isinstance(function, ast.Name) else function.attr if isinstance(function, ast.Attribute) else ""


def unsaid(source: str) -> list[tuple[int, str]]:
    """(line, text) of each message raised, printed or warned as a plain string."""
    found = []
    for node in ast.walk(ast.parse(source)):
        calls = [node.exc] if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) else []
        calls += [node] if isinstance(node, ast.Call) and _name(node) in SPEAKING else []
        found += [(node.lineno, ast.unparse(arg)[:90]) for call in calls for arg in call.args if _has_words(arg)]
    return sorted(set(found))


def test_the_lint_finds_a_plain_message():
    planted = 'def read(output):\n    raise OutputShapeError(f"pad should return {kind}")\n'
    assert unsaid(planted) == [(2, "f'pad should return {kind}'")]
    assert unsaid('raise ValueError(say("k", "text"))\nprint("✓ " + done)\nprint(f"✓ {name}")\n') == []


def test_messages_for_people_go_through_say():
    assert len(CHECKED) > 15
    found = [f"{path.relative_to(paths.REPO_ROOT)}:{line}: {text}" for path in CHECKED
             for line, text in unsaid(path.read_text(encoding="utf-8"))]
    assert not found, "wrap these in say(\"<key>\", \"<English>\") and translate them:\n" + "\n".join(found)

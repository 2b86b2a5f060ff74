"""What a re-run cell must do, so that it is found by its content when its nbgrader metadata is gone.

A signature lists the names the cell calls and assigns outside any function: the DPO loop is the
cell that calls `dpo_loss` and `losses.append`; the reward cell assigns `reward_model` and calls
`RewardTrainer`. The grader uses it on a submitted notebook's cells, the public checks on the cells
run in the kernel. A cell that does not compile is matched on its text instead, so that the item it
holds can say why it could not be run.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from alignment_kit.i18n import listed, say

_NESTED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else ""
    return ""


def _outside_functions(tree: ast.AST):
    """Every node of `tree` that is not inside a function, class or lambda body."""
    stack = list(ast.iter_child_nodes(tree))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, _NESTED):
            stack.extend(ast.iter_child_nodes(node))


def _named(found: set[str], wanted: str) -> bool:
    return any(name == wanted or name.endswith("." + wanted) for name in found)


@dataclass(frozen=True)
class CellSignature:
    calls: tuple[str, ...]  # dotted names the cell calls outside any function ("losses.append" or "RewardTrainer")
    assigns: tuple[str, ...] = ()  # names the cell assigns outside any function

    def fits(self, tree: ast.Module) -> bool:
        """Whether a parsed cell calls and assigns all of these outside its functions."""
        nodes = list(_outside_functions(tree))
        called = {_dotted(n.func) for n in nodes if isinstance(n, ast.Call)}
        stored = {n.id for n in nodes if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        return all(_named(called, c) for c in self.calls) and all(a in stored for a in self.assigns)

    def fits_text(self, source: str) -> bool:
        """The same test on the text of a cell that does not compile."""
        return all(re.search(rf"(^|[^\w.]){re.escape(c)}\s*\(", source) for c in self.calls) and \
            all(re.search(rf"(^|[^\w.]){re.escape(a)}\s*(,[^=\n]*)?=[^=]", source, re.M) for a in self.assigns)

    def describe(self) -> str:
        """What the cell does, for people: "calls dpo_loss and losses.append"."""
        calls = listed([f"`{c}`" for c in self.calls])
        if not self.assigns:
            return say("signature.calls", "calls {calls}", calls=calls)
        return say("signature.assigns_calls", "assigns {assigns} and calls {calls}",
                   assigns=listed([f"`{a}`" for a in self.assigns]), calls=calls)

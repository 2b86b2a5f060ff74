"""The one-way boundary: nothing students receive may hold the grader, a hidden probe or a solution.

`scan(files)` looks through what a student gets (the runtime wheel, the student notebook) for
* a module of the grader package;
* a hidden probe's label, or a text of 16 or more characters used as a hidden probe's input;
* a line of 16 or more characters (whitespace-normalised) from a solution region of the source
  notebook that the notebook does not also show outside its solution regions.
"""
from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from autograder import paths

MIN_LENGTH = 16
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


def normalise(line: str) -> str:
    return re.sub(r"\s+", " ", line).strip()


def _regions(cell: dict) -> tuple[list[str], list[str]]:
    """(lines inside solution regions, lines outside them) of one notebook cell."""
    lines = "".join(cell.get("source", [])).splitlines()
    is_solution = cell.get("metadata", {}).get("nbgrader", {}).get("solution", False)
    if is_solution and not any(BEGIN in line for line in lines):
        return lines, []
    inside, outside, within = [], [], False
    for line in lines:
        if BEGIN in line:
            within = True
        elif END in line:
            within = False
        else:
            (inside if within else outside).append(line)
    return inside, outside


def solution_lines(notebook: Path = paths.SOLUTION_NOTEBOOK) -> set[str]:
    """Normalised solution lines of at least MIN_LENGTH characters that the notebook shows nowhere else
    (a line the instructions quote, such as `optimizer.zero_grad()`, is public)."""
    inside, outside = set(), []
    for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
        solution, rest = _regions(cell)
        inside.update(normalise(line) for line in solution)
        outside.extend(normalise(line) for line in rest)
    shown = "\n".join(outside)
    return {line for line in inside if len(line) >= MIN_LENGTH and line not in shown}


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return []


def hidden_texts() -> set[str]:
    """Labels of every hidden probe, and every string of MIN_LENGTH or more characters among their inputs."""
    from autograder import checks

    texts = set()
    for check in checks.FUNCTION_CHECKS:
        for probe in check.probes(hidden=True):
            texts.add(probe.label)
            texts.update(normalise(s) for s in _strings([probe.args, probe.kwargs]) if len(normalise(s)) >= MIN_LENGTH)
    return texts


def grader_modules() -> set[str]:
    """Dotted names of the grader's modules (autograder, autograder.grade, ...)."""
    root = paths.REPO_ROOT / "autograder"
    return {".".join(("autograder", *p.relative_to(root).with_suffix("").parts)).removesuffix(".__init__")
            for p in root.rglob("*.py")}


@dataclass
class BoundaryReport:
    """What a scan looked at and what it found."""

    files: int = 0
    text_lines: int = 0
    solution_lines: int = 0
    hidden_texts: int = 0
    leaks: list[str] = field(default_factory=list)

    def summary(self) -> str:
        found = "nothing" if not self.leaks else f"{len(self.leaks)} leak(s):\n  " + "\n  ".join(self.leaks[:20])
        return (f"boundary scan: {self.files} files, {self.text_lines} text lines checked against "
                f"{self.solution_lines} solution lines and {self.hidden_texts} hidden-probe texts; found {found}")


def _readable(name: str, data: bytes) -> bytes:
    """A notebook's cell sources and outputs as plain text (its JSON escapes quotes); other files as they are."""
    if not name.endswith(".ipynb"):
        return data
    cells = json.loads(data.decode("utf-8"))["cells"]
    return "\n".join(json.dumps(cell.get("outputs", [])) + "\n" + "".join(cell.get("source", []))
                     for cell in cells).encode()


def _entries(path: Path) -> list[tuple[str, bytes]]:
    """(name, bytes) of a wheel's or zip's members (recursively), or of one plain file."""
    data = path.read_bytes()
    return _members(path.name, data)


def _members(name: str, data: bytes) -> list[tuple[str, bytes]]:
    if name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return [member for inner in archive.namelist() if not inner.endswith("/")
                    for member in _members(f"{name}:{inner}", archive.read(inner))]
    return [(name, _readable(name, data))]


def scan(files: list[Path]) -> BoundaryReport:
    solutions, hidden, modules = solution_lines(), hidden_texts(), grader_modules()
    report = BoundaryReport(solution_lines=len(solutions), hidden_texts=len(hidden))
    for path in files:
        for name, data in _entries(path):
            report.files += 1
            member = name.rsplit(":", 1)[-1]
            dotted = member.removesuffix(".py").replace("/", ".").removesuffix(".__init__")
            if member.endswith(".py") and dotted in modules:
                report.leaks.append(f"{name}: a grader module ({dotted})")
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                continue
            lines = [normalise(line) for line in text.splitlines()]
            report.text_lines += len(lines)
            flat = normalise(text)
            for hidden_text in sorted(hidden):
                if hidden_text in flat:
                    report.leaks.append(f"{name}: a hidden probe's text {hidden_text[:60]!r}")
            for number, line in enumerate(lines, 1):
                for solution in solutions:
                    if solution in line:
                        report.leaks.append(f"{name}:{number}: a solution line {solution[:60]!r}")
    return report

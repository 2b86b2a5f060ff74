"""Notebook cells as plain Python: IPython magics and shell escapes become `pass`.

Used where a cell's code is run outside IPython's own machinery: by the grader, and by the public
check that re-runs the training loop cell in the kernel.
"""
from __future__ import annotations

import re

MAGIC = re.compile(r"^(\s*)(%|!)")
# `%time stmt` and `%timeit [-n N -r R ...] stmt` run their statement: it is kept, the magic dropped.
TIMED = re.compile(r"^(\s*)%(?:time|timeit((?:\s+-[a-z](?:\s*\d+)?)*))\s+(?=\S)")
# Cell magics that run their body as Python; any other cell magic (%%bash, %%html ...) is not Python.
PYTHON_CELL_MAGICS = ("%%time", "%%timeit", "%%capture", "%%prun", "%%debug")


def _line(line: str) -> str:
    if TIMED.match(line):
        return TIMED.sub(r"\1", line, count=1)
    return MAGIC.sub(r"\1pass  # ", line) if MAGIC.match(line) else line


def strip_magics(source: str) -> str:
    """Replace IPython magics and shell escapes with `pass`, keeping indentation and line numbers; a timed
    statement (`%time trainer.train()`) keeps its statement."""
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        if lines[0].split()[0] in PYTHON_CELL_MAGICS:
            lines = ["pass"] + lines[1:]
        else:
            return "\n".join("pass" if i == 0 else "# " + line for i, line in enumerate(lines))
    return "\n".join(_line(line) for line in lines)

"""Notebook cells as plain Python: IPython magics and shell escapes become `pass`.

Used where a cell's code is run outside IPython's own machinery: by the grader, and by the public
check that re-runs the training loop cell in the kernel.
"""
from __future__ import annotations

import re

MAGIC = re.compile(r"^(\s*)(%|!)")
# Cell magics that run their body as Python; any other cell magic (%%bash, %%html ...) is not Python.
PYTHON_CELL_MAGICS = ("%%time", "%%timeit", "%%capture", "%%prun", "%%debug")


def strip_magics(source: str) -> str:
    """Replace IPython magics and shell escapes with `pass`, keeping indentation and line numbers."""
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        if lines[0].split()[0] in PYTHON_CELL_MAGICS:
            lines = ["pass"] + lines[1:]
        else:
            return "\n".join("pass" if i == 0 else "# " + line for i, line in enumerate(lines))
    return "\n".join(MAGIC.sub(r"\1pass  # ", line) if MAGIC.match(line) else line for line in lines)

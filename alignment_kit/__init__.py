"""Student runtime of the alignment coursework kit.

It holds what a student's notebook needs and nothing more: settings and profiles, device and
precision, which model and data to use (online or offline), the embedded and tiny models, helpers
for generation, rewards and model cards, the public self-checks and the preference data.

Import rule: this package imports only the standard library and third-party packages. It never
imports `autograder` (the instructor's grader, which imports this package), holds no reference
solution, hidden probe or mistake implementation, and never reads `solutions/`.

On import it checks the installed libraries against what the kit was proven on (`stack.py`); the
settings line reports what it found.
"""
__version__ = "0.1.0"

from alignment_kit import stack as _stack  # noqa: E402

_stack.PROBLEMS[:] = _stack.check()

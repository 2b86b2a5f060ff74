"""The instructor's grader: checks, hidden probes, mistakes, the sandboxed worker, the grading CLI.

Import rule: this package imports the student runtime `alignment_kit`, never the reverse. It is
never handed to students: `python -m autograder release` builds their bundle from the runtime alone,
and a test scans that bundle for grader modules, hidden probes and solution lines.
"""
from pathlib import Path as _Path

from alignment_kit import i18n as _i18n

_i18n.add_catalogs(_Path(__file__).resolve().parent / "locales")  # the grader's messages in other languages

"""A named mistake: a known wrong implementation of a graded function, and the message that names it.

Everything a student may see (how outputs are read and compared, the public probes) lives in the
student runtime (`alignment_kit/items/<name>.py`, `alignment_kit.compare`); this adds the answers' side.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from alignment_kit import i18n


@dataclass
class Mistake:
    """A known wrong implementation and the plain-words message that names it (in English; other languages
    from the catalogs, under `key`). Without a dot, the key is completed by the item's name
    (`FunctionCheck` does it): "<item>.<key>", by default "<item>.<the message's first words>"."""

    message: str
    implementation: Callable
    key: str = ""

    def keyed(self, item: str) -> "Mistake":
        key = self.key or i18n.slug(self.message)
        return replace(self, key=key if "." in key else f"{item}.{key}")

    def text(self) -> str:
        """The message in the current language."""
        return i18n.text(self.key, self.message)

"""The languages the kit speaks: English in the code, every other language in catalogs keyed by a stable id.

A message is written once, in English, where it is used: `say("compare.raised", "{name} raised: {error}",
name=..., error=...)`. A catalog (`locales/<language>/messages.json` of this package and of the grader) maps
the same key to its translation and to a hash of the English text it translates, so a changed English text
shows its translation as stale (`python -m autograder translations` and tests/test_translations.py).

The language is the notebook's (`use("ru")` in its setup cell) unless a thread of the grader speaks another
one (`speaking("ru")`, for the notebook it grades). Messages that are stored before anyone reads them
(fixtures, the reference cache) are stored in every language at once (`in_every_language`) and read with
`pick`.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import json
import re
import string
from pathlib import Path
from typing import Callable

LANGUAGES = ("en", "ru")  # English is the source language; the others come from catalogs
SOURCE = "en"
CATALOG = "messages.json"
_notebook_language = SOURCE
_thread_language: contextvars.ContextVar[str | None] = contextvars.ContextVar("kit_language", default=None)
_catalog_roots: list[Path] = [Path(__file__).resolve().parent / "locales"]


def checked(language: str) -> str:
    """`language` when the kit speaks it; otherwise a ValueError that names the languages it speaks."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}: the kit speaks {', '.join(LANGUAGES)}")
    return language


def use(language: str) -> None:
    """Set the notebook's language (its setup cell calls this); the self-checks speak it from then on."""
    global _notebook_language
    _notebook_language = checked(language)


@contextlib.contextmanager
def speaking(language: str):
    """Speak `language` in this thread (and the context it started) for the duration of the block."""
    token = _thread_language.set(checked(language))
    try:
        yield
    finally:
        _thread_language.reset(token)


def current() -> str:
    return _thread_language.get() or _notebook_language


def add_catalogs(root: Path) -> None:
    """Also read the catalogs under `root` (the grader adds its own; the runtime never reads the grader's)."""
    if root not in _catalog_roots:
        _catalog_roots.append(root)
        catalog.cache_clear()


@functools.lru_cache(maxsize=None)
def catalog(language: str) -> dict[str, dict]:
    """Key -> {"source_sha": ..., "text": ...} of every catalog of `language` this process reads."""
    entries: dict[str, dict] = {}
    for root in _catalog_roots:
        path = root / language / CATALOG
        if path.is_file():
            entries.update(json.loads(path.read_text(encoding="utf-8")))
    return entries


def text(key: str, english: str, language: str | None = None) -> str:
    """The template of `key` in `language` (default: the current one); English where no translation exists."""
    language = language or current()
    if language == SOURCE:
        return english
    entry = catalog(language).get(key)
    return entry["text"] if isinstance(entry, dict) and isinstance(entry.get("text"), str) else english


def say(key: str, english: str, **params) -> str:
    """The message `key` in the current language, its `{placeholders}` filled from `params`."""
    template = text(key, english)
    return template.format(**params) if params else template


def declared_key(kind: str, english: str) -> str:
    """The catalog key of a text declared as data (a probe label, a line name, a requirement): its kind and
    its first words."""
    return f"{kind}.{slug(english)}"


def declared(kind: str, english: str) -> str:
    """A text declared as data, in English, in the current language (see `declared_key`)."""
    return text(declared_key(kind, english), english) if english else english


def label(english: str) -> str:
    """A probe's or a configuration's label in the current language."""
    return declared("probe", english)


def in_every_language(make: Callable[[], str]) -> dict[str, str]:
    """{language: make() spoken in that language}: for a message stored before its reader's language is known."""
    made = {}
    for language in LANGUAGES:
        with speaking(language):
            made[language] = make()
    return made


def pick(message) -> str:
    """A stored message in the current language: a {language: text} dict, or a plain (English) string."""
    if isinstance(message, dict):
        return str(message.get(current()) or message.get(SOURCE) or "")
    return str(message)


def listed(words: list[str]) -> str:
    """Words joined for a sentence: "a", "a and b", "a, b and c" (in the current language)."""
    if len(words) < 2:
        return "".join(words)
    return say("list.and", "{first} and {last}", first=", ".join(words[:-1]), last=words[-1])


def counted(count: int, forms: str) -> str:
    """"{count} {noun}" with the noun's form for `count`: `forms` is a message of the forms separated by "|",
    in the language's order (English: one|many; Russian: one|few|many, as in 1 шаг, 2 шага, 5 шагов)."""
    words = forms.split("|")
    if len(words) == 3:
        last, tens = count % 10, count % 100
        index = 0 if last == 1 and tens != 11 else 1 if 2 <= last <= 4 and not 12 <= tens <= 14 else 2
    else:
        index = 0 if count == 1 else len(words) - 1
    return f"{count} {words[index]}"


def placeholders(template: str) -> list[str]:
    """The `{field:spec}` placeholders of a template, in order ("" for text that is not a valid template)."""
    try:
        return [f"{{{name}{'!' + conv if conv else ''}{':' + spec if spec else ''}}}"
                for _, name, spec, conv in string.Formatter().parse(template) if name is not None]
    except ValueError:
        return ["<not a valid template>"]


def slug(english: str) -> str:
    """A key made of a text's first words: for texts declared as data (titles, names, requirements)."""
    return "_".join(re.findall(r"[a-z0-9]+", english.lower())[:10])


def source_sha(english: str) -> str:
    """The hash a translation keeps of the English text it was written from."""
    return hashlib.sha256(english.encode("utf-8")).hexdigest()[:12]

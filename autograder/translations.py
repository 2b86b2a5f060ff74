"""`python -m autograder translations`: is every translation complete and current?

Three catalogs per language: the runtime's messages (`alignment_kit/locales/<lang>/messages.json`),
the grader's (`autograder/locales/<lang>/messages.json`, the named mistakes included) and the
notebook's (`autograder/locales/<lang>/notebook.json`). The English side is read from the code: every
`say("key", "English", ...)` call of a package (found without running it), the texts declared as data
(part and item titles, line names, output requirements, probe and configuration labels, the student
README's templates), the grader's named mistakes, and the source notebook's cells.

A key that is new in English and not translated yet is listed, and is no failure: the homework may
change in English first; `release --lang <lang>` refuses the edition until it is translated (`incomplete`).
A problem fails (exit 1): a translation whose key has no English any more, whose English changed after it
was written (the stored hash differs), or whose placeholders (`{name}`, `{value:.0%}`) are not the English
ones. `--stamp KEY` records the current English hash of keys whose translation was just brought up to date.
"""
from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path

from alignment_kit import i18n
from autograder import editions, notebook_text, paths

RUNTIME_LOCALES = paths.RUNTIME_DIR / "locales"
GRADER_LOCALES = editions.LOCALES
SAYING = "say"  # the i18n function whose first two arguments are a key and its English (`i18n.text` takes data)


class DeclarationError(ValueError):
    """A message is declared in a way the catalogs cannot follow."""


def said(package: Path) -> dict[str, str]:
    """Key -> English of every message a package's code declares with `say("key", "English", ...)`."""
    found: dict[str, str] = {}
    for source in sorted(package.rglob("*.py")):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == SAYING):
                continue
            if not (isinstance(node.func, ast.Name) or getattr(node.func.value, "id", "") == "i18n"):
                continue
            where = f"{source}:{node.lineno}"
            literal = [a.value if isinstance(a, ast.Constant) and isinstance(a.value, str) else None for a in node.args[:2]]
            if len(literal) < 2 or None in literal:
                raise DeclarationError(f"{where}: a message's key and English must be string literals")
            key, english = literal
            if found.setdefault(key, english) != english:
                raise DeclarationError(f"{where}: the key {key!r} is declared twice with different English")
    return found


def runtime_english() -> dict[str, str]:
    """The runtime's messages: its `say` calls, and the texts its declarations hold (titles, names, requirements)."""
    from alignment_kit import cell_judges, items

    english = said(paths.RUNTIME_DIR)
    english.update({f"part.{p.name}": p.title for p in items.PARTS})
    english.update({f"part.{p.name}.{track}": title for p in items.PARTS for track, title in p.track_titles})
    english.update({f"item.{i.name}": i.title for i in items.ALL_ITEMS})
    for item in items.items_of(items.FUNCTION):
        english.update({i18n.declared_key("requirement", r): r for r in (items.output(item.name).requirements or {}).values()})
    english.update({i18n.declared_key("line", name): name for name in cell_judges.line_names()})
    english.update(_labels(items.public_probes(i.name) for i in items.items_of(items.FUNCTION)))
    return english


def _labels(probe_lists) -> dict[str, str]:
    """Key -> English of the labels of probes (and of configurations: (label, config) pairs)."""
    found: dict[str, str] = {}
    for probes in probe_lists:
        for probe in probes:
            label = probe[0] if isinstance(probe, tuple) else probe.label
            key = i18n.declared_key("probe", label)
            if label and found.setdefault(key, label) != label:
                raise DeclarationError(f"two labels share the key {key}: {found[key]!r} and {label!r}; make their first "
                                       "words differ")
    return found


def grader_english() -> dict[str, str]:
    from autograder import checks

    from autograder.student_readme_texts import readme_texts

    english = said(Path(__file__).resolve().parent)
    english.update(readme_texts())
    english[editions.ANSWER_STUB_KEY] = editions.ANSWER_STUB
    for check in checks.FUNCTION_CHECKS:
        english.update({m.key: m.message for m in check.mistakes})
    for check in checks.CELL_CHECKS:
        english.update({f"{check.grade_id}.{key}": message for key, message in check.declared_messages().items()})
    english.update(_labels([c.probes(hidden=True) for c in checks.FUNCTION_CHECKS] + [c.setups() for c in checks.CELL_CHECKS]))
    return english


@dataclass
class Catalog:
    """One catalog file of one language, and the English it translates."""

    path: Path
    english: dict[str, str | list[str]]
    templates: bool = True  # whether its texts are `str.format` templates whose placeholders must match

    def entries(self) -> dict:
        return json.loads(self.path.read_text(encoding="utf-8")) if self.path.is_file() else {}


def catalogs(language: str) -> list[Catalog]:
    return [Catalog(RUNTIME_LOCALES / language / i18n.CATALOG, runtime_english()),
            Catalog(GRADER_LOCALES / language / i18n.CATALOG, grader_english()),
            Catalog(editions.notebook_catalog_path(language), editions.source_texts(), templates=False)]


def _placeholder_problem(english: str, translation: str) -> str | None:
    want, got = sorted(i18n.placeholders(english)), sorted(i18n.placeholders(translation))
    return None if want == got else f"placeholders differ: English {want}, translation {got}"


def _code_templates(cell_id: str) -> list[bool]:
    """Which fragments of a code cell are format strings (its f-strings), by position."""
    notebook = json.loads(paths.SOLUTION_NOTEBOOK.read_text(encoding="utf-8"))
    cell = next(c for c in notebook["cells"] if c.get("id") == cell_id)
    source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    return [span.kind == "string" for span in notebook_text.spans(source) if span.kind != "language"]


def entry_problems(catalog: Catalog, key: str, entry) -> list[str]:
    english = catalog.english[key]
    if not isinstance(entry, dict) or "text" not in entry:
        return ["the entry must be {\"source_sha\": ..., \"text\": ...}"]
    problems = []
    if entry.get("source_sha") != editions.source_sha(english):
        problems.append("stale: the English changed after this translation was written (update the text, then "
                        f"`python -m autograder translations --stamp {key}`)")
    text = entry["text"]
    if isinstance(english, list):
        if not isinstance(text, list) or len(text) != len(english):
            return problems + [f"the cell has {len(english)} fragments; the translation must list as many"]
        for number, (kind, en, tr) in enumerate(zip(_code_templates(key), english, text), 1):
            found = _placeholder_problem(en, tr) if kind else None
            problems += [f"fragment {number}: {found}"] if found else []
    elif not isinstance(text, str):
        problems.append("the text must be a string")
    elif catalog.templates:
        problems += [p for p in [_placeholder_problem(english, text)] if p]
    return problems


def _name(catalog: Catalog):
    return catalog.path.relative_to(paths.REPO_ROOT) if catalog.path.is_relative_to(paths.REPO_ROOT) else catalog.path


def catalog_missing(catalog: Catalog) -> list[str]:
    """English keys the catalog does not translate yet, one line each: "<file>: <key>: no translation (...)".
    Not a problem while the homework changes; `release --lang` refuses an edition with any."""
    entries, name = catalog.entries(), _name(catalog)
    return [f"{name}: {key}: no translation (English: {str(catalog.english[key])[:80]!r})"
            for key in sorted(set(catalog.english) - set(entries))]


def catalog_problems(catalog: Catalog) -> list[str]:
    """What is wrong in one catalog's entries (stale, orphaned, malformed), one line each: "<file>: <key>: <what>"."""
    entries, found, name = catalog.entries(), [], _name(catalog)
    for key in sorted(set(entries) - set(catalog.english)):
        found.append(f"{name}: {key}: translates nothing (the English key is gone)")
    for key in sorted(set(entries) & set(catalog.english)):
        found += [f"{name}: {key}: {p}" for p in entry_problems(catalog, key, entries[key])]
    return found


def problems(language: str) -> list[str]:
    """Every problem of the `language` catalogs' entries (empty: current; keys not yet translated are `missing`)."""
    return [line for catalog in catalogs(language) for line in catalog_problems(catalog)]


def missing(language: str) -> list[str]:
    """The keys of the `language` catalogs that are not translated yet."""
    return [line for catalog in catalogs(language) for line in catalog_missing(catalog)]


def incomplete(language: str) -> list[str]:
    """Why the `language` edition cannot be released (empty: it can): untranslated keys, then problems."""
    return [] if language == i18n.SOURCE else missing(language) + problems(language)


def write(path: Path, entries: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(entries, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def stamp(language: str, keys: list[str]) -> list[str]:
    """Record the current English hash of `keys`; returns the keys that no catalog has."""
    left = set(keys)
    for catalog in catalogs(language):
        entries = catalog.entries()
        hits = left & set(entries) & set(catalog.english)
        for key in hits:
            entries[key]["source_sha"] = editions.source_sha(catalog.english[key])
        if hits:
            write(catalog.path, entries)
        left -= hits
    return sorted(left)


def counts(language: str) -> dict[str, int]:
    """Catalog file -> number of keys, for English (from the code) and for `language`."""
    return {f"{c.path.relative_to(paths.REPO_ROOT)}": len(c.entries()) for c in catalogs(language)} | {
        f"English, {c.path.parent.parent.parent.name}/{c.path.name}": len(c.english) for c in catalogs(language)}


def main(language: str, keys: list[str]) -> int:
    languages = [language] if language else [lang for lang in i18n.LANGUAGES if lang != i18n.SOURCE]
    if keys:
        unknown = stamp(languages[0], keys)
        print(f"stamped {len(keys) - len(unknown)} key(s)" + (f"; unknown: {', '.join(unknown)}" if unknown else ""))
        return 1 if unknown else 0
    status = 0
    for lang in languages:
        found, untranslated = problems(lang), missing(lang)
        for name, count in counts(lang).items():
            print(f"  {count:4d} keys  {name}")
        if untranslated:
            print(f"{lang}: {len(untranslated)} key(s) not translated yet (`release --lang {lang}` refuses until they "
                  "are; see README, Change the homework):\n  " + "\n  ".join(untranslated))
        print(f"{lang}: {'complete and' if not untranslated else 'what is translated is'} current" if not found else
              f"{lang}: {len(found)} problem(s):\n  " + "\n  ".join(found))
        status |= bool(found)
    return status

"""The Russian edition: complete, current catalogs; code identical to the English edition's; the runtime and
the grader speak the language the notebook records.

`python -m autograder translations` reports what these tests check, file by file and key by key.
"""
import copy
import io
import json
import re
import tokenize

import pytest

from alignment_kit import i18n, tracks
from autograder import editions, notebook_text, paths, translations

CYRILLIC = re.compile(r"[А-Яа-яЁё]")


@pytest.fixture(scope="module")
def catalogs():
    return {catalog.path.name + ":" + catalog.path.parent.parent.parent.name: catalog
            for catalog in translations.catalogs("ru")}


@pytest.fixture
def speaking_ru():
    with i18n.speaking("ru"):
        yield


def _copy(catalog, tmp_path, change=None, english=None):
    """The catalog written to tmp_path (its entries changed by `change`), against `english` if given."""
    entries = catalog.entries()
    if change:
        change(entries)
    path = tmp_path / catalog.path.name
    translations.write(path, entries)
    return translations.Catalog(path, english if english is not None else catalog.english, catalog.templates)


def test_every_catalog_is_current(catalogs):
    """What is translated is current (keys added in English and not translated yet are no failure here:
    `release --lang ru` refuses them, tested below)."""
    found = [line for catalog in catalogs.values() for line in translations.catalog_problems(catalog)]
    assert not found, "run `python -m autograder translations`:\n" + "\n".join(found[:30])
    counts = {name: len(c.english) for name, c in catalogs.items()}
    assert all(count > 40 for count in counts.values()), counts


def test_a_new_english_key_is_listed_and_an_orphaned_translation_fails(catalogs, tmp_path):
    runtime = catalogs["messages.json:alignment_kit"]
    missing = _copy(runtime, tmp_path, lambda e: e.pop("compare.wrong"))
    assert any("compare.wrong: no translation" in line for line in translations.catalog_missing(missing))
    assert translations.catalog_problems(missing) == []
    orphan = _copy(runtime, tmp_path, lambda e: e.update({"compare.gone": {"source_sha": "0", "text": "нет"}}))
    assert any("compare.gone: translates nothing" in line for line in translations.catalog_problems(orphan))


def test_an_untranslated_key_passes_the_report_and_stops_the_release(monkeypatch, tmp_path, capsys):
    from autograder import release

    monkeypatch.setattr(translations, "missing", lambda language: [f"{language}: demo.key: no translation"])
    assert translations.main("ru", []) == 0
    assert "1 key(s) not translated yet" in capsys.readouterr().out
    assert release.main(release.ReleaseConfig(out_dir=str(tmp_path / "out"), language="ru")) == 1
    shown = capsys.readouterr().err
    assert "refusing to release the ru edition" in shown and "demo.key" in shown
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("key, before, after", [
    ("compare.wrong", "{expected}", "{expect}"),  # a renamed placeholder
    ("judge.accuracy", "{accuracy:.0%}", "{accuracy:.1%}"),  # another number format
    ("cell_checks.run_first_cell", "{does}", "does"),  # a placeholder left out
])
def test_a_placeholder_that_differs_between_the_languages_fails(catalogs, tmp_path, key, before, after):
    runtime = catalogs["messages.json:alignment_kit"]

    def change(entries):
        assert before in entries[key]["text"]
        entries[key]["text"] = entries[key]["text"].replace(before, after)

    found = translations.catalog_problems(_copy(runtime, tmp_path, change))
    assert [line for line in found if f"{key}: placeholders differ" in line], found


def test_a_placeholder_in_a_code_cells_string_is_checked_too(catalogs, tmp_path):
    notebook = catalogs["notebook.json:autograder"]

    def change(entries):
        entries["todo_helper"]["text"][1] = entries["todo_helper"]["text"][1].replace("{line}", "{lineno}")

    found = translations.catalog_problems(_copy(notebook, tmp_path, change))
    assert any("todo_helper: fragment 2: placeholders differ" in line for line in found), found


def test_a_changed_english_cell_makes_its_translation_stale(catalogs, tmp_path):
    """What happens when an instructor edits the English of a markdown cell and of a code cell's comment."""
    source = json.loads(paths.SOLUTION_NOTEBOOK.read_text(encoding="utf-8"))
    edited = copy.deepcopy(source)
    for cell in edited["cells"]:
        if cell["id"] == "md-03":
            cell["source"] = "".join(cell["source"]) + "\nThe settings line also names the libraries."
        if cell["id"] == "dpo_setup":
            cell["source"] = "".join(cell["source"]).replace("one per batch of the loader", "one per loader batch")
    notebook = catalogs["notebook.json:autograder"]
    found = translations.catalog_problems(_copy(notebook, tmp_path, english=editions.english_texts(edited)))
    stale = sorted(line.split(": ")[1] for line in found if "the English changed after this translation" in line)
    assert stale == ["dpo_setup", "md-03"], found
    assert "--stamp md-03" in next(line for line in found if ": md-03: " in line)
    with pytest.raises(editions.TranslationError, match="md-03"):
        _stale_edition(edited)


def _stale_edition(edited):
    from unittest import mock

    with mock.patch.object(editions, "source_texts", lambda: editions.english_texts(edited)):
        editions.edition(json.loads(paths.STUDENT_NOTEBOOK.read_text(encoding="utf-8")), "ru")


def test_a_changed_english_message_makes_its_translation_stale(catalogs, tmp_path):
    grader = catalogs["messages.json:autograder"]
    english = dict(grader.english, **{"feedback.title": "Feedback on {student}"})
    found = translations.catalog_problems(_copy(grader, tmp_path, english=english))
    assert [line for line in found if "feedback.title: stale" in line] and len(found) == 1, found


def test_stamping_records_the_current_english(catalogs, tmp_path, monkeypatch):
    grader = _copy(catalogs["messages.json:autograder"], tmp_path,
                   lambda e: e["feedback.title"].update(source_sha="stale"))
    monkeypatch.setattr(translations, "catalogs", lambda language: [grader])
    assert translations.catalog_problems(grader)
    assert translations.stamp("ru", ["feedback.title", "no.such.key"]) == ["no.such.key"]
    assert translations.catalog_problems(grader) == []


def _code(source: str) -> list[str]:
    """The tokens of a cell that are code: comments, layout and the contents of strings left out."""
    kept = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            continue
        kept.append("<string>" if token.type == tokenize.STRING else token.string)
    return kept


@pytest.mark.parametrize("track", sorted(tracks.TRACKS))
def test_the_editions_code_cells_differ_only_in_text_for_people(track):
    english = json.loads(paths.student_notebook("en", track).read_text(encoding="utf-8"))
    russian = json.loads(paths.student_notebook("ru", track).read_text(encoding="utf-8"))
    assert [(c["id"], c["cell_type"], c["metadata"]) for c in english["cells"]] == \
        [(c["id"], c["cell_type"], c["metadata"]) for c in russian["cells"]]
    changed = 0
    for en, ru in zip(english["cells"], russian["cells"]):
        if en["cell_type"] != "code":
            continue
        en_source, ru_source = "".join(en["source"]), "".join(ru["source"])
        assert _code(en_source) == _code(ru_source), f"the code of cell {en['id']} differs between the editions"
        # Outside the fragments (comments, docstrings, strings people read, the language tag), every byte is kept.
        spans = notebook_text.spans(en_source)
        assert notebook_text.translated(en_source, [s.text for s in spans if s.kind != "language"], "en") == en_source
        outside = re.split("|".join(re.escape(en_source[s.start:s.end]) for s in spans) or "$^", en_source)
        assert all(piece in ru_source for piece in outside if piece.strip()), en["id"]
        changed += en_source != ru_source
    assert changed >= 20, "the Russian edition translates the code cells' comments and docstrings"


@pytest.mark.parametrize("track", sorted(tracks.TRACKS))
def test_every_markdown_cell_and_every_fragment_reads_in_russian(track):
    russian = json.loads(paths.student_notebook("ru", track).read_text(encoding="utf-8"))
    untranslated = editions.stale_cells("ru")  # they stay in English until translated (release refuses them)
    for cell in (c for c in russian["cells"] if c.get("id") not in untranslated):
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            assert CYRILLIC.search(source), cell["id"]
        elif cell["cell_type"] == "code":
            for span in notebook_text.spans(source):
                if span.kind == "language":
                    assert span.text == "ru"
                elif span.kind in ("comment", "docstring") or len(span.text) > 12:
                    assert CYRILLIC.search(span.text), (cell["id"], span.text)


def test_the_editions_record_their_language_and_the_grader_reads_it():
    from autograder.notebook import parse_notebook

    assert parse_notebook(paths.student_notebook("ru")).language == "ru"
    assert parse_notebook(paths.student_notebook("en")).language == "en"
    assert editions.language_of({"alignment_kit": {"language": "xx"}}) is None
    assert editions.language_of({"alignment_kit": "ru"}) is None


def test_every_named_mistake_has_its_own_russian_message(catalogs):
    from autograder import checks

    entries = catalogs["messages.json:autograder"].entries()
    keys = [m.key for c in checks.FUNCTION_CHECKS for m in c.mistakes]
    keys += [f"{c.grade_id}.{key}" for c in checks.CELL_CHECKS for key in c.messages]
    assert len(keys) > 50
    english = catalogs["messages.json:autograder"].english
    for key in (k for k in keys if k in entries):  # an untranslated one is listed by `translations`
        assert CYRILLIC.search(entries[key]["text"]) and entries[key]["text"] != english[key], key


def test_the_runtime_speaks_the_notebook_language(capsys):
    from alignment_kit import selfcheck
    from alignment_kit.compare import judge

    try:
        i18n.use("ru")
        verdict = judge("pad", "left padding with value -1", {"output": {"x": 1.0}}, {"output": {"x": 2.0}},
                        [({"en": "pads on the right", "ru": "дополняет справа"}, {"output": {"x": 1.0}})])
        with pytest.raises(AssertionError, match="не пройдено проверок: 1 из 2"):
            selfcheck.report("pad", [verdict, selfcheck.Verdict("b", True, "ок")])
        assert verdict.message == "дополнение слева значением -1: дополняет справа"
        selfcheck.report("pad", [selfcheck.Verdict("a", True, "ок")])
        assert "✓ pad: проверка пройдена" in capsys.readouterr().out
    finally:
        i18n.use("en")
    with pytest.raises(ValueError, match="en, ru"):
        i18n.use("de")


def test_a_thread_speaks_its_own_language():
    with i18n.speaking("ru"):
        assert i18n.say("feedback.title", "Feedback for {student}", student="x") == "Отзыв для x"
    assert i18n.say("feedback.title", "Feedback for {student}", student="x") == "Feedback for x"
    assert i18n.pick({"en": "a", "ru": "б"}) == "a" and i18n.pick("plain") == "plain"


@pytest.mark.parametrize("count, form", [(1, "шаг"), (2, "шага"), (5, "шагов"), (11, "шагов"), (21, "шаг"),
                                         (22, "шага"), (112, "шагов")])
def test_russian_counts_take_the_right_form(count, form):
    assert i18n.counted(count, "шаг|шага|шагов") == f"{count} {form}"
    assert i18n.counted(count, "step|steps") == f"{count} {'step' if count == 1 else 'steps'}"


def test_messages_are_declared_with_literal_keys(tmp_path):
    (tmp_path / "bad.py").write_text('from alignment_kit.i18n import say\nsay(KEY, "text")\n')
    with pytest.raises(translations.DeclarationError, match="string literals"):
        translations.said(tmp_path)


def _student_readme(language: str) -> str:
    from pathlib import Path

    from autograder import release

    wheel, notebook = Path("alignment_kit-0.1.0-py3-none-any.whl"), Path("dpo_homework.ipynb")
    with i18n.speaking(language):
        return release.student_readme([notebook, wheel], "https://example.org/kit.whl", notebook, wheel)


def _table_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("|") and not re.fullmatch(r"[|\-\s]+", line)]


def test_the_russian_student_readme_reads_in_russian_tables_included():
    """At least 75% of its letters are Cyrillic, counted outside code blocks, code spans and URLs (commands, file
    names and addresses are the same in both editions by design; package and model names are counted, as Latin).
    Its tables are translated row by row: each row keeps the English row's figures and code."""
    english, russian = _student_readme("en"), _student_readme("ru")
    prose = re.sub(r"https?://\S+", "", re.sub(r"`[^`\n]*`", "", re.sub(r"```.*?```", "", russian, flags=re.S)))
    letters = re.findall(r"[^\W\d_]", prose)
    assert len(CYRILLIC.findall(prose)) >= 0.75 * len(letters), f"{len(CYRILLIC.findall(prose)) / len(letters):.0%}"
    english_rows, russian_rows = _table_rows(english), _table_rows(russian)
    assert len(russian_rows) == len(english_rows) > 8
    headers = [line for number, line in enumerate(russian.splitlines()[:-1]) if russian.splitlines()[number + 1].startswith("|---")]
    assert len(headers) == 3 and all(CYRILLIC.search(header) for header in headers), headers
    for en, ru in zip(english_rows, russian_rows):
        for found in (r"\d+(?:\.\d+)*", r"`[^`]*`"):
            assert sorted(re.findall(found, ru)) == sorted(re.findall(found, en)), (en, ru)

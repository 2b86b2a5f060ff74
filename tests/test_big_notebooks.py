"""A notebook over the 50 MB a notebook is read whole is read streamed, without its outputs, and graded from its code.

The streamed reader (`autograder/stream_notebook.py`) is checked against the normal one on the example
submissions (by forcing it onto small files, in chunks as small as one byte), then on a 60 MB copy of
alice's notebook made big by one base64 PNG output (built once for the module by the benchmark's own
builder, `benchmarks/big_notebook_memory.py`): its code is intact, it warns, and reading it costs a
bounded amount of memory, measured in a fresh process. Broken big files give a reason, never an
exception. One test grades the big copy and gets alice's scores, with the hand-graded lines marked.
"""
from __future__ import annotations

import io
import json
import runpy
import subprocess
import sys

import pytest

from autograder import notebook, paths, read_notebook, stream_notebook
from autograder.notebook import parse_notebook
from autograder.read_notebook import NotebookProblem, read
from autograder.stream_notebook import read as read_streamed

EXAMPLES = paths.EXAMPLE_SUBMISSIONS
DROPPED = "outputs were not read"
SURROGATES = "the notebook holds text that is not valid Unicode (lone surrogates): it was replaced by \ufffd"
BIG_MB = 60


BENCHMARK = runpy.run_path(str(paths.REPO_ROOT / "benchmarks" / "big_notebook_memory.py"))  # its builder, its reader


def _shape(parsed) -> list[tuple]:
    return [(c.kind, c.source, c.grade_id) for c in parsed.cells]


def _with_outputs() -> bytes:
    """boris's notebook (Russian: multi-byte text) with outputs full of what a scanner can trip on."""
    nb = json.loads((EXAMPLES / "boris.ipynb").read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    code[3]["outputs"] = [
        {"output_type": "stream", "name": "stdout", "text": ["шаг 1 \\ \"[{\n", "\\\\", "\"", "}]" * 40]},
        {"output_type": "display_data", "metadata": {"a": [[], {}, "]"]},
         "data": {"image/png": "iVBORw0KGgo" * 300, "text/plain": ["<Figure>"]}},
        {"output_type": "execute_result", "data": {"text/plain": ["1" * 700 + "\\\"" + "x" * 600]}, "metadata": {},
         "execution_count": 3}]
    code[5]["outputs"] = [{"output_type": "error", "ename": "E", "evalue": "SURROGATE", "traceback": ["\\x1b[0m"]}]
    nb["cells"][0]["attachments"] = {"a.png": {"image/png": "AAAA"}}
    nb["cells"][0]["source"][0] += "SURROGATE"  # kept: read_notebook replaces it, with its warning
    nb["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {"k": {"v": [1, 2.5e-3, None]}}}}
    return json.dumps(nb, indent=1, ensure_ascii=False).replace("SURROGATE", "\\ud83d").encode()


# ---------------------------------------------------------------------- the same notebook, either way
@pytest.mark.parametrize("name", ["alice", "boris"])
def test_the_streamed_reader_reads_what_the_normal_one_does(name, monkeypatch, tmp_path):
    path = EXAMPLES / f"{name}.ipynb"
    normal = parse_notebook(path)
    monkeypatch.setattr(notebook, "MAX_BYTES", 1000)  # every file is "big" now
    streamed = parse_notebook(path)
    assert streamed.error is None and _shape(streamed) == _shape(normal) and len(normal.cells) > 50
    assert streamed.language == normal.language == ("ru" if name == "boris" else "en")
    assert streamed.outputs_dropped_bytes == path.stat().st_size
    assert DROPPED in streamed.warnings[0]
    assert streamed.warnings[1:] == normal.warnings


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 4096])
def test_chunk_boundaries_anywhere_change_nothing(chunk, monkeypatch):
    """Strings, escapes, multi-byte characters and brackets cut by a chunk's end, in kept and dropped text."""
    raw = _with_outputs()
    cells, warnings, metadata = read_notebook.read_text(raw.decode(), [])
    monkeypatch.setattr(stream_notebook, "CHUNK", chunk)
    streamed, streamed_warnings, streamed_metadata = read_streamed(io.BytesIO(raw), len(raw))
    assert [(c.kind, c.source, c.grade_id) for c in streamed] == [(c.kind, c.source, c.grade_id) for c in cells]
    assert [c.outputs for c in streamed] == [c.outputs for c in cells] and sum(c.outputs for c in cells) == 4
    assert not any(c.images for c in streamed) and any(c.images for c in cells)
    assert streamed_metadata == {**metadata, "widgets": None} and streamed_metadata["alignment_kit"]["language"] == "ru"
    assert streamed_warnings[1:] == warnings == [SURROGATES]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "utf-16-le", "utf-8-sig"])
def test_other_encodings_are_streamed_too(encoding):
    text = _with_outputs().decode()
    raw = text.encode(encoding)
    cells, warnings, _ = read_streamed(io.BytesIO(raw), len(raw))
    assert [c.source for c in cells] == [c.source for c in read(text.encode())[0]]
    assert warnings[1:] == (["the file is UTF-16-LE, not UTF-8: read as such"] if encoding == "utf-16-le" else []) + [SURROGATES]


def test_bytes_that_are_not_utf8_are_replaced_and_counted():
    raw = _with_outputs().replace("Домашнее".encode(), b"\xff\xfe\xfd", 1)
    _, warnings, _ = read_streamed(io.BytesIO(raw), len(raw))
    assert warnings[1:] == ["the file is not valid UTF-8: 3 unreadable characters replaced", SURROGATES]


# ---------------------------------------------------------------------- a 60 MB notebook
@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """alice's notebook with one base64 PNG output of 60 MB in its analysis_plots cell."""
    return BENCHMARK["build"](tmp_path_factory.mktemp("big") / "alice_big.ipynb", BIG_MB)


def test_a_big_notebook_is_read_with_its_code_and_a_warning(big):
    size = big.stat().st_size
    assert size > read_notebook.MAX_BYTES
    parsed, alice = parse_notebook(big), parse_notebook(EXAMPLES / "alice.ipynb")
    assert parsed.error is None and _shape(parsed) == _shape(alice)
    assert parsed.definitions() == alice.definitions() and parsed.cell("dpo_training_loop") == alice.cell("dpo_training_loop")
    assert parsed.outputs_dropped_bytes == size and parsed.saved_with_outputs() and parsed.figures("analysis_plots") == []
    assert parsed.warnings == [f"the notebook is {BIG_MB} MB, more than the 50 MB the grader reads whole: its outputs "
                               "were not read (its figures are missing), and its code and answers were graded"]


def test_reading_a_big_notebook_costs_a_few_chunks_of_memory(big):
    """Reading the 60 MB file whole would cost more than its size (its bytes, then its text, then the parsed
    JSON). Streamed, the reader holds about six chunks at once (the bytes read and the next ones, their text,
    the buffer before and after they join; CHUNK is 1 MiB) and the kept text (alice's 0.1 MB): the bound,
    16 chunks, leaves room for the allocator and is a quarter of the file's size."""
    done = subprocess.run([sys.executable, "-c", BENCHMARK["PARSE"], str(big)], capture_output=True, text=True, check=True)
    found = json.loads(done.stdout)
    assert found["error"] is None and found["cells"] == 72
    grew = (found["rss_kib"] - found["imported_kib"]) * 1024
    assert grew < 16 * stream_notebook.CHUNK < big.stat().st_size / 3, f"reading grew the process by {grew / 2**20:.0f} MiB"


@pytest.mark.parametrize("left_out", [5_000_000, 10_000])
def test_a_big_notebook_cut_off_gives_a_reason(big, tmp_path, left_out):
    """Cut inside its huge output, and inside the cells after it (their last 24 kB)."""
    path = tmp_path / "cut.ipynb"
    with big.open("rb") as source, path.open("wb") as out:
        out.write(source.read(big.stat().st_size - left_out))
    parsed = parse_notebook(path)
    assert parsed.error.startswith("the notebook is not valid JSON (the file ends before the notebook does, at line ")
    assert "it was cut off" in parsed.error and "re-save it from Jupyter" in parsed.error


@pytest.mark.parametrize("start, expected", [(b"\x00\x01garbage", "not valid JSON (unexpected '\\x00' at line 1, column 1)"),
                                             (b"[", "not a JSON object (it is a list)"),
                                             (b'{"cells": [] ', "not valid JSON (unexpected '\"' at line 1, column 14)")])
def test_big_files_that_are_not_notebooks_give_a_reason(tmp_path, start, expected):
    path = tmp_path / "junk.ipynb"
    path.write_bytes(start + b'"' + b"A" * (read_notebook.MAX_BYTES + 10) + b'"')
    parsed = parse_notebook(path)
    assert parsed.error and expected in parsed.error and "re-save it from Jupyter" in parsed.error, parsed.error


def test_every_cut_of_a_streamed_notebook_gives_a_reason_and_nothing_escapes():
    raw = _with_outputs()
    end = len(raw.rstrip())
    for cut in list(range(0, 300)) + list(range(300, end, 1009)) + list(range(end - 50, end)):
        with pytest.raises(NotebookProblem, match="re-save it from Jupyter"):
            read_streamed(io.BytesIO(raw[:cut]), cut)


def test_more_after_the_notebook_and_more_code_than_a_notebook_may_hold_give_reasons(monkeypatch):
    raw = _with_outputs()
    with pytest.raises(NotebookProblem, match=r"more text after the notebook's end, at line \d+, column 2"):
        read_streamed(io.BytesIO(raw + b"}"), len(raw) + 1)
    monkeypatch.setattr(stream_notebook, "MAX_KEPT", 10_000)  # alice's code and text are 100 kB
    with pytest.raises(NotebookProblem, match="code and text, outputs aside, are more than 1 MB"):
        read_streamed(io.BytesIO(raw), len(raw))


def test_a_big_file_in_an_encoding_it_is_not_gives_a_reason():
    raw = '{"cells": ['.encode("utf-16") + b"\x00\xd8" + " ".encode("utf-16-le") * 100  # a lone surrogate
    with pytest.raises(NotebookProblem, match="the file is not valid UTF-16"):
        read_streamed(io.BytesIO(raw), len(raw))


# ---------------------------------------------------------------------- graded from its code
@pytest.mark.slow  # grades the big copy of alice (alice herself is graded once for the session's examples)
def test_a_big_notebook_gets_the_scores_of_its_code_and_its_hand_graded_lines_say_why_no_figure(big, grader,
                                                                                               graded_examples):
    normal, copy = graded_examples[4]["alice"], grader.grade(big, "alice_big")
    assert copy.error is None and copy.score == normal.score > 0
    autograded = {t.name: t.score for t in normal.tests if t.status != "manual"}
    assert {t.name: t.score for t in copy.tests if t.status != "manual"} == autograded
    manual = [t for t in copy.tests if t.status == "manual"]
    assert manual and all(f"The notebook is {BIG_MB} MB: its outputs were too large to keep" in t.output and
                          "ask the student for them" in t.output for t in manual)
    assert not any("too large to keep" in t.output for t in normal.tests)
    assert copy.figures == {} and any(DROPPED in w for w in copy.warnings)

"""Read a notebook too large to load whole: its code and text, without its outputs, in one streaming pass.

A notebook over `read_notebook.MAX_BYTES` is nearly always one its outputs made large (a figure saved as
base64, a long training log, widget state). `skim` reads it in chunks of CHUNK bytes through an
incremental decoder and copies its JSON text through, except the values it drops: the `outputs` and
`attachments` of every object below the top level (the cells), and the notebook metadata's `widgets`.
An `outputs` list becomes a list of as many zeros as it held entries (so the count of outputs
survives, and nothing else of them); any other dropped value becomes null. What is kept is ordinary
notebook JSON, which `read_notebook.read_text` reads as it reads any file's text, so every tolerance of
the normal path holds for it too. `read` is what `notebook.parse_notebook` calls for a file over MAX_BYTES.

The kept part is parsed token by token (it is small: code and markdown); a dropped value is skipped
without being parsed: a string by `str.find` of its closing quote, everything else by one regular
expression that stops only at brackets. Memory is the kept text (at most MAX_KEPT characters) plus a
few chunks, whatever the size of the file; a broken file (cut off, not JSON, not its encoding) raises
`NotebookProblem` with the reason, like any file `read_notebook` cannot read.
"""
from __future__ import annotations

import codecs
import json
import re
from typing import BinaryIO, Iterator

from alignment_kit.i18n import say
from autograder.read_notebook import (MAX_BYTES, NotebookProblem, RawCell, bom_encoding, megabytes, not_json,
                                      not_object, read_as, read_text, replaced_characters, resave, unmarked_encoding)

CHUNK = 1 << 20  # bytes read at a time: reading holds about six chunks at once (bytes, text, the buffer)
# No cap on the file's size: memory does not grow with it, only time does (here 0.7 s per GB of a figure,
# about 10 s per GB of a log of short lines; benchmarks/big_notebook_memory.py), and the course's platform
# has stored the file already. What is kept is capped instead, at the size of a notebook read whole, so
# that reading a big one never costs more than reading the largest normal one.
MAX_KEPT = MAX_BYTES
DROPPED = ("outputs", "attachments")  # in every object below the top level: the cells, in any format
WIDGETS = "widgets"  # in the notebook's metadata: the saved state of ipywidgets (progress bars)
GENUINE = "\ufffd".encode()  # a U+FFFD the file holds, as opposed to one put in for bytes that are not UTF-8

SPACE = re.compile(r"[ \t\n\r]*")
SCALAR = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null|NaN|-?Infinity")
# Inside a dropped value, two brackets deep or more: everything up to the next bracket, strings included
# when they are short (a long one, or one cut by the end of the buffer, is left to str.find).
DEEP = re.compile(r'(?:[^"\[\]{}]++|"[^"\\]{0,512}+(?:\\.[^"\\]{0,512}+){0,16}+")++')
BETWEEN = re.compile(r'[^"\[\]{},]+')  # one bracket deep in a dropped list: up to the next entry or comma


class _Decoded:
    """The text of a binary stream, chunk by chunk, in the encoding its first bytes show; its warnings
    once it has been read to the end."""

    def __init__(self, stream: BinaryIO):
        self.stream, self.replaced = stream, 0
        self.head = stream.read(CHUNK)
        marked = bom_encoding(self.head)
        self.marked = marked is not None
        self.encoding = marked or unmarked_encoding(self.head, final=False) or "utf-8"
        self.utf8 = self.encoding.startswith("utf-8")

    def __iter__(self) -> Iterator[str]:
        decoder = codecs.getincrementaldecoder(self.encoding)("replace" if self.utf8 else "strict")
        chunk, tail = self.head, b""
        try:
            while chunk:
                yield self._counted(decoder.decode(chunk), tail, chunk)
                tail, chunk = chunk[-2:], self.stream.read(CHUNK)
            yield self._counted(decoder.decode(b"", True), tail, b"")
        except UnicodeDecodeError:
            raise NotebookProblem(say("stream.not_encoding", "the file is not valid {encoding}: {fix}",
                                      encoding=self.encoding.upper(), fix=resave())) from None

    def _counted(self, text: str, tail: bytes, chunk: bytes) -> str:
        """`text`, counting the U+FFFD put in for bytes that are not UTF-8 (the file's own are in the bytes it
        was decoded from, `chunk`, or begin in the last two bytes before it, `tail`)."""
        if self.utf8 and "\ufffd" in text:
            self.replaced += text.count("\ufffd") - (tail + chunk).count(GENUINE)
        return text

    def warnings(self) -> list[str]:
        if not self.utf8 and not self.marked:
            return [read_as(self.encoding)]
        return [replaced_characters(self.replaced)] if self.replaced else []


class _Skimmer:
    """One pass over a notebook's JSON text: the kept text, with its dropped values replaced."""

    def __init__(self, texts: Iterator[str]):
        self.texts, self.buf, self.pos = texts, "", 0
        self.lines, self.column = 1, 1  # where the buffer starts in the file
        self.kept: list[str] = []
        self.kept_chars = 0
        self.mark: int | None = 0  # where the text not yet kept starts in the buffer (None: dropping)

    # ------------------------------------------------------------------ the buffer
    def _fill(self) -> int | None:
        """Append the next text, letting go of what was read; how far the buffer shifted (None: at the end)."""
        text = next(self.texts, None)
        if text is None:
            return None
        shift = self.pos
        self._keep_read()
        newline = self.buf.rfind("\n", 0, shift)
        self.lines += self.buf.count("\n", 0, shift)
        self.column = shift - newline if newline >= 0 else self.column + shift
        self.buf, self.pos = self.buf[shift:] + text, 0
        if self.mark is not None:
            self.mark = 0
            if self.kept_chars + len(self.buf) - len(text) > MAX_KEPT:  # a token kept whole, still being read
                raise self._too_large()
        return shift

    def _keep_read(self) -> None:
        """Keep what was read since the mark."""
        if self.mark is not None and self.pos > self.mark:
            self._keep(self.buf[self.mark:self.pos])
            self.mark = self.pos

    def _keep(self, text: str) -> None:
        self.kept.append(text)
        self.kept_chars += len(text)
        if self.kept_chars > MAX_KEPT:
            raise self._too_large()

    def _too_large(self) -> NotebookProblem:
        return NotebookProblem(say("stream.too_large", "the notebook's code and text, outputs aside, are more than "
                                   "{megabytes} MB, which is as much as the grader reads: remove what is neither code nor "
                                   "an answer (data pasted into a cell) and submit it again", megabytes=megabytes(MAX_KEPT)))

    def _where(self) -> dict:
        newline = self.buf.rfind("\n", 0, self.pos)
        return {"line": self.lines + self.buf.count("\n", 0, self.pos),
                "column": self.pos - newline if newline >= 0 else self.column + self.pos}

    def _broken(self, found: str = "") -> NotebookProblem:
        if not found:
            error = say("stream.cut_off", "the file ends before the notebook does, at line {line}: it was cut off",
                        **self._where())
        else:
            error = say("stream.unexpected", "unexpected {found} at line {line}, column {column}", found=repr(found),
                        **self._where())
        return not_json(error)

    def _peek(self) -> str:
        """The next character that is not white space ("" at the end of the file)."""
        while True:
            self.pos = SPACE.match(self.buf, self.pos).end()
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if self._fill() is None:
                return ""

    # ------------------------------------------------------------------ tokens
    def _past_string(self) -> int:
        """Move past the string whose opening quote is at pos; where that quote is now in the buffer (kept text
        stays in it). Dropping, what was read is let go as it goes."""
        low = scan = self.pos + 1  # low: where the string's text starts in the buffer (0 once it was let go)
        while True:
            end = self.buf.find('"', scan)
            if end >= 0:
                start = end
                while start > low and self.buf[start - 1] == "\\":
                    start -= 1
                if (end - start) % 2 == 0:
                    self.pos = end + 1
                    return low - 1
                scan = end + 1
                continue
            scan = len(self.buf)
            if self.mark is None:  # let go of the string so far, but for the backslashes that end it
                self.pos = len(self.buf)
                while self.pos > low and self.buf[self.pos - 1] == "\\":
                    self.pos -= 1
            shift = self._fill()
            if shift is None:
                raise self._broken()
            scan, low = scan - shift, max(0, low - shift)

    def _past_scalar(self) -> None:
        while True:  # read on while the end of the buffer is too near to tell "2." from "2.5e-3" or "tr" from "true"
            found = SCALAR.match(self.buf, self.pos)
            at_end = (found.end() + 3 if found else self.pos + 10) > len(self.buf)
            if not at_end or self._fill() is None:
                break
        if not found:
            raise self._broken(self.buf[self.pos])
        self.pos = found.end()

    def _string(self) -> str:
        """Move past a string (an object's key): its value."""
        start = self._past_string()
        text = self.buf[start + 1:self.pos - 1]
        if "\\" in text:
            try:
                return json.loads(self.buf[start:self.pos])
            except ValueError:
                return text  # json.loads says what is wrong with it when the kept text is read
        return text

    # ------------------------------------------------------------------ dropped values
    def _drop(self, key: str) -> None:
        """Skip the value at pos and keep its replacement instead."""
        self._keep_read()
        self.mark = None
        entries = self._skip()
        self._keep("[" + ",".join("0" * entries) + "]" if key == "outputs" and entries is not None else "null")
        self.mark = self.pos

    def _skip(self) -> int | None:
        """Move past the value at pos without keeping it; its number of entries if it is a list."""
        first = self.buf[self.pos]
        if first == '"':
            self._past_string()
            return None
        if first not in "[{":
            self._past_scalar()
            return None
        depth, commas, seen = 1, 0, False
        self.pos += 1
        while True:
            if depth > 1:
                deep = DEEP.match(self.buf, self.pos)
                self.pos = deep.end() if deep else self.pos
            if self.pos >= len(self.buf):
                if self._fill() is None:
                    raise self._broken()
                continue
            char = self.buf[self.pos]
            if depth == 1:
                seen = seen or char in '"[{'
            if char == '"':
                self._past_string()
            elif char in "[{":
                depth, self.pos = depth + 1, self.pos + 1
            elif char in "]}":
                depth, self.pos = depth - 1, self.pos + 1
                if depth == 0:
                    return commas + seen if first == "[" else None
            elif char == ",":
                commas, self.pos = commas + 1, self.pos + 1
            else:
                between = BETWEEN.match(self.buf, self.pos)
                seen = seen or bool(between.group().strip())
                self.pos = between.end()

    def _dropped(self, stack: list[list]) -> bool:
        """Whether the value about to be read (in the object on top of `stack`) is one that is dropped."""
        closer, key = stack[-1]
        if closer != "}" or len(stack) < 2:
            return False
        return key in DROPPED or (key == WIDGETS and len(stack) == 2 and stack[0][1] == "metadata")

    # ------------------------------------------------------------------ the notebook
    def skim(self) -> str:
        """The kept text of the whole notebook; raises NotebookProblem when the file is not a JSON object."""
        first = self._peek()
        if first in ('"', "["):
            raise not_object("str" if first == '"' else "list")
        if first != "{":
            raise self._broken(first)
        stack: list[list] = []  # per open container: its closing bracket, and (objects) the key being read
        expect = "value"  # value, key, colon, next (a comma or the closing bracket); "first": may also close
        while True:
            char = self._peek()
            if not char:
                if stack or expect != "next":
                    raise self._broken()
                break
            if not stack and expect == "next":
                raise not_json(say("stream.extra", "more text after the notebook's end, at line {line}, column {column}",
                                   **self._where()))
            if expect in ("first", "next") and stack and char == stack[-1][0]:
                stack.pop()
                self.pos += 1
                expect = "next"
            elif expect == "next":
                if char != ",":
                    raise self._broken(char)
                self.pos += 1
                expect = "key" if stack[-1][0] == "}" else "value"
            elif expect == "colon":
                if char != ":":
                    raise self._broken(char)
                self.pos += 1
                expect = "value"
            elif stack and stack[-1][0] == "}" and expect in ("key", "first"):
                if char != '"':
                    raise self._broken(char)
                stack[-1][1] = self._string()
                expect = "colon"
            elif stack and self._dropped(stack):
                self._drop(stack[-1][1])
                expect = "next"
            elif char in "[{":
                stack.append(["}" if char == "{" else "]", None])
                self.pos += 1
                expect = "first"
            else:
                self._past_string() if char == '"' else self._past_scalar()
                expect = "next"
        self._keep_read()
        return "".join(self.kept)


def skim(stream: BinaryIO) -> tuple[str, list[str]]:
    """A big notebook's JSON without its outputs (see the module's docstring), and warnings about how it was
    decoded; raises NotebookProblem with the reason when it cannot be read."""
    decoded = _Decoded(stream)
    kept = _Skimmer(iter(decoded)).skim()
    return kept, decoded.warnings()


def read(stream: BinaryIO, size: int) -> tuple[list[RawCell], list[str], dict]:
    """`read_notebook.read` for a file of `size` bytes over MAX_BYTES, streamed from `stream` with its outputs
    dropped (so it holds no figures), with a warning that says so first."""
    text, warnings = skim(stream)
    dropped = say("read.outputs_dropped", "the notebook is {megabytes} MB, more than the {limit} MB the grader reads "
                  "whole: its outputs were not read (its figures are missing), and its code and answers were graded",
                  megabytes=megabytes(size), limit=megabytes(MAX_BYTES))
    return read_text(text, [dropped] + warnings)

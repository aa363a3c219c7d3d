"""Find the line of ``metad.toml`` where a value is written.

Why this module exists: ``tomllib`` returns plain dicts and forgets where anything came
from, yet an operator fixing a config needs ``metad.toml:14``, not just ``chips[2].waba``.
Rather than depend on a round-trip TOML library, this scans the text once (the text is
already known to be valid TOML: ``tomllib`` parsed it) and records the line of every key,
table header and array element, keyed by the same path pydantic reports in an error's
``loc``. A path that is not written (a missing key, a default) falls back to the nearest
enclosing table or array element that is, and finally to line 1.

The scanner is deliberately forgiving: on text it does not understand it stops and keeps
what it has found, because a wrong line number is better than an error about an error.
"""

from __future__ import annotations

import bisect
import contextlib
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["Loc", "TomlLines", "locate_line"]

Loc = tuple[str | int, ...]
"""A path into the parsed document: table keys (str) and array indexes (int)."""

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SCALAR_END = frozenset(",]}#\n")


class _Stop(Exception):
    """Raised when the text stops making sense; the scan keeps what it found."""


@dataclass
class _Scan:
    text: str
    pos: int = 0
    explicit: dict[Loc, int] = field(default_factory=dict)
    implicit: dict[Loc, int] = field(default_factory=dict)
    arrays: dict[Loc, int] = field(default_factory=dict)
    """Arrays of tables seen so far, by resolved path, with their element count."""
    newlines: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.newlines = [i for i, ch in enumerate(self.text) if ch == "\n"]

    # -- positions ------------------------------------------------------------------

    def line_at(self, pos: int) -> int:
        return bisect.bisect_left(self.newlines, pos) + 1

    def peek(self, k: int = 0) -> str:
        i = self.pos + k
        return self.text[i] if i < len(self.text) else ""

    def startswith(self, s: str) -> bool:
        return self.text.startswith(s, self.pos)

    def skip_blanks(self) -> None:
        """Skip spaces and tabs on the current line."""
        while self.peek() in (" ", "\t"):
            self.pos += 1

    def skip_comment(self) -> None:
        if self.peek() == "#":
            end = self.text.find("\n", self.pos)
            self.pos = len(self.text) if end < 0 else end

    def skip_space(self) -> None:
        """Skip whitespace, newlines and comments (between array or inline-table items)."""
        while True:
            ch = self.peek()
            if ch in (" ", "\t", "\r", "\n"):
                self.pos += 1
            elif ch == "#":
                self.skip_comment()
            else:
                return

    def skip_line(self) -> None:
        end = self.text.find("\n", self.pos)
        self.pos = len(self.text) if end < 0 else end + 1

    # -- recording ------------------------------------------------------------------

    def record(self, path: Loc, line: int) -> None:
        """Record where ``path`` is written, and its parents as implicitly created there."""
        self.explicit[path] = line
        for k in range(1, len(path)):
            self.implicit.setdefault(path[:k], line)

    # -- keys -----------------------------------------------------------------------

    def key_part(self) -> str:
        ch = self.peek()
        if ch in ('"', "'"):
            start = self.pos
            self.string()
            return _decode_quoted_key(self.text[start : self.pos])
        m = _BARE_KEY.match(self.text, self.pos)
        if m is None:
            raise _Stop
        self.pos = m.end()
        return m.group()

    def dotted_key(self) -> list[str]:
        parts = [self.key_part()]
        while True:
            self.skip_blanks()
            if self.peek() != ".":
                return parts
            self.pos += 1
            self.skip_blanks()
            parts.append(self.key_part())

    # -- values ---------------------------------------------------------------------

    def string(self) -> None:
        for quote in ('"""', "'''"):
            if self.startswith(quote):
                self.pos += 3
                end = self.text.find(quote, self.pos)
                while quote == '"""' and end > 0 and _escaped(self.text, end):
                    end = self.text.find(quote, end + 1)
                if end < 0:
                    raise _Stop
                self.pos = end + 3
                while self.peek() == quote[0]:  # up to two quotes may close the content
                    self.pos += 1
                return
        quote = self.peek()
        self.pos += 1
        while True:
            ch = self.peek()
            if ch in ("", "\n"):
                raise _Stop
            self.pos += 1
            if ch == "\\" and quote == '"':
                self.pos += 1
            elif ch == quote:
                return

    def value(self, path: Loc) -> None:
        ch = self.peek()
        if ch in ('"', "'"):
            self.string()
        elif ch == "[":
            self.array(path)
        elif ch == "{":
            self.inline_table(path)
        else:
            start = self.pos
            while self.peek() and self.peek() not in _SCALAR_END:
                self.pos += 1
            if self.pos == start:
                raise _Stop

    def array(self, path: Loc) -> None:
        self.pos += 1
        index = 0
        while True:
            self.skip_space()
            if self.peek() == "]":
                self.pos += 1
                return
            if not self.peek():
                raise _Stop
            self.record((*path, index), self.line_at(self.pos))
            self.value((*path, index))
            index += 1
            self.skip_space()
            if self.peek() == ",":
                self.pos += 1

    def inline_table(self, path: Loc) -> None:
        self.pos += 1
        while True:
            self.skip_space()
            if self.peek() == "}":
                self.pos += 1
                return
            if not self.peek():
                raise _Stop
            self.key_value(path)
            self.skip_space()
            if self.peek() == ",":
                self.pos += 1

    def key_value(self, table: Loc) -> None:
        line = self.line_at(self.pos)
        path = (*table, *self.dotted_key())
        self.skip_blanks()
        if self.peek() != "=":
            raise _Stop
        self.pos += 1
        self.skip_blanks()
        self.record(path, line)
        self.value(path)

    # -- tables ---------------------------------------------------------------------

    def resolve(self, keys: Sequence[str]) -> Loc:
        """Turn a header's keys into a path: an array of tables means its last element."""
        path: Loc = ()
        for key in keys:
            path = (*path, key)
            count = self.arrays.get(path)
            if count:
                path = (*path, count - 1)
        return path

    def header(self) -> Loc:
        line = self.line_at(self.pos)
        is_array = self.startswith("[[")
        self.pos += 2 if is_array else 1
        self.skip_blanks()
        keys = self.dotted_key()
        self.skip_blanks()
        closing = "]]" if is_array else "]"
        if not self.startswith(closing):
            raise _Stop
        self.pos += len(closing)
        if is_array:
            array = (*self.resolve(keys[:-1]), keys[-1])
            count = self.arrays.get(array, 0)
            self.arrays[array] = count + 1
            path: Loc = (*array, count)
        else:
            path = self.resolve(keys)
        self.record(path, line)
        return path

    def document(self) -> None:
        table: Loc = ()
        while self.pos < len(self.text):
            self.skip_space()
            ch = self.peek()
            if not ch:
                return
            if ch == "[":
                table = self.header()
            else:
                self.key_value(table)
            self.skip_blanks()
            self.skip_comment()
            if self.peek() not in ("\n", "\r", ""):
                raise _Stop
            self.skip_line()


def _escaped(text: str, pos: int) -> bool:
    """Whether the character at ``pos`` is escaped by an odd run of backslashes."""
    n = 0
    while pos - n - 1 >= 0 and text[pos - n - 1] == "\\":
        n += 1
    return n % 2 == 1


def _decode_quoted_key(raw: str) -> str:
    """Decode a quoted key exactly as TOML does, by letting ``tomllib`` read it."""
    try:
        value = tomllib.loads(f"k = {raw}")["k"]
    except tomllib.TOMLDecodeError:
        return raw.strip("\"'")
    return value if isinstance(value, str) else raw


class TomlLines:
    """The line of every path written in one TOML text; build once, ask many times."""

    def __init__(self, text: str) -> None:
        scan = _Scan(text)
        with contextlib.suppress(_Stop, IndexError):
            scan.document()
        self._explicit: Mapping[Loc, int] = scan.explicit
        self._implicit: Mapping[Loc, int] = scan.implicit

    def line(self, loc: Sequence[str | int]) -> int:
        """The line of ``loc``, else of its nearest written parent, else 1."""
        path = tuple(loc)
        for k in range(len(path), 0, -1):
            prefix = path[:k]
            found = self._explicit.get(prefix) or self._implicit.get(prefix)
            if found:
                return found
        return 1

    def written(self, loc: Sequence[str | int]) -> bool:
        """Whether ``loc`` itself is written in the text (not only a parent of it)."""
        path = tuple(loc)
        return path in self._explicit or path in self._implicit


def locate_line(text: str, loc: Sequence[str | int]) -> int:
    """The 1-based line of ``text`` where ``loc`` is written (or its nearest parent)."""
    return TomlLines(text).line(loc)

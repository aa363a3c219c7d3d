"""Line lookup in TOML text: every shape of TOML a config may use, and the fallbacks."""

from __future__ import annotations

import tomllib

import pytest

from config.locate import Loc, TomlLines, locate_line

DOC = """\
# comment [not.a.table]
title = "x"  # trailing [comment]
a.b.c = 1

[daemon]
state_dir = "var/state"
  log_level = 'info'

[graph.retry]
max = 3

[[wabas]]
id = "1"

[[wabas]]
id = "2"
"quoted key" = true
[[wabas.numbers]]
n = 1
[[wabas.numbers]]
n = 2

[budget]
alert_at = [
  0.5,  # half
  0.8,
]
inline = { x = 1, y = { z = 2 } }
rows = [{ p = "55" }, { p = "1" }]
text = \"\"\"
[not_a_table]
key = "value"
\"\"\"
after_text = 1
lit = '''
[[nor_this]]
'''
after_lit = 2
"""


@pytest.mark.parametrize(
    ("loc", "line"),
    [
        pytest.param(("title",), 2, id="top-level key"),
        pytest.param(("a",), 3, id="implicit table of a dotted key"),
        pytest.param(("a", "b", "c"), 3, id="dotted key"),
        pytest.param(("daemon",), 5, id="table header"),
        pytest.param(("daemon", "state_dir"), 6, id="key in table"),
        pytest.param(("daemon", "log_level"), 7, id="indented key"),
        pytest.param(("daemon", "missing"), 5, id="missing key falls back to header"),
        pytest.param(("graph",), 9, id="implicit parent of a dotted header"),
        pytest.param(("graph", "retry", "max"), 10, id="key under dotted header"),
        pytest.param(("wabas",), 12, id="array of tables: its first element"),
        pytest.param(("wabas", 0), 12, id="first element"),
        pytest.param(("wabas", 0, "id"), 13, id="key in first element"),
        pytest.param(("wabas", 1, "id"), 16, id="key in second element"),
        pytest.param(("wabas", 1, "quoted key"), 17, id="quoted key"),
        pytest.param(("wabas", 1, "missing"), 15, id="missing key in element"),
        pytest.param(("wabas", 1, "numbers", 1, "n"), 21, id="nested array of tables"),
        pytest.param(("wabas", 0, "numbers"), 12, id="nested array not in that element"),
        pytest.param(("budget", "alert_at", 1), 26, id="element of a multi-line array"),
        pytest.param(("budget", "inline", "y", "z"), 28, id="inline table"),
        pytest.param(("budget", "rows", 1, "p"), 29, id="inline table in an array"),
        pytest.param(("budget", "after_text"), 34, id="multi-line basic string skipped"),
        pytest.param(("budget", "after_lit"), 38, id="multi-line literal string skipped"),
        pytest.param(("not_a_table",), 1, id="header inside a string is not a header"),
        pytest.param(("nowhere", 3, "x"), 1, id="nothing written: line 1"),
        pytest.param((), 1, id="the root"),
    ],
)
def test_locate_line(loc: Loc, line: int) -> None:
    tomllib.loads(DOC)  # the fixture itself must be valid TOML
    assert locate_line(DOC, loc) == line


def test_explicit_header_wins_over_implicit_parent() -> None:
    text = "[a.b]\nx = 1\n[a]\ny = 2\n"
    assert locate_line(text, ("a",)) == 3
    assert locate_line(text, ("a", "z")) == 3


def test_crlf_line_endings() -> None:
    text = "[daemon]\r\nstate_dir = 'x'\r\n\r\n[[chips]]\r\nwaba = '1'\r\n"
    assert locate_line(text, ("chips", 0, "waba")) == 5


def test_escaped_quotes_in_strings() -> None:
    text = 'a = "say \\"[x]\\" # no"\nb = 1\nc = """ \\""" ] """\nd = 2\n'
    tomllib.loads(text)
    assert locate_line(text, ("b",)) == 2
    assert locate_line(text, ("d",)) == 4


def test_garbage_never_raises() -> None:
    lines = TomlLines("[ok]\nk = 1\n[[broken\nz = 2\n")
    assert lines.line(("ok", "k")) == 2
    assert lines.line(("z",)) == 1


def test_written() -> None:
    lines = TomlLines("[a]\nb = 1\n")
    assert lines.written(("a", "b"))
    assert not lines.written(("a", "c"))

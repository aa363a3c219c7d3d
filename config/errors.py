"""Config problems that point at a file, a line and a field.

Why this module exists: every check on ``metad.toml`` (TOML syntax, pydantic types, the
loader's cross-references, secret resolution at start-up) must report in the same shape,
``metad.toml:14: chips[2].waba: unknown WABA "x"``, so an operator can jump to the line.
All problems are collected and raised together: fixing a config one error per restart is
slow and irritating.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from config.locate import TomlLines

__all__ = ["ConfigError", "ConfigIssue", "ConfigSource", "format_loc"]

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def format_loc(loc: Sequence[str | int]) -> str:
    """Spell a path the way a reader finds it in the file: ``chips[2].waba``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        key = part if _BARE_KEY.match(part) else '"' + part.replace('"', '\\"') + '"'
        out += f".{key}" if out else key
    return out


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a config file. ``line`` is None when no line applies (unreadable)."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class ConfigError(Exception):
    """Every problem found in one config, raised together; ``str()`` is one line each."""

    def __init__(self, issues: Iterable[ConfigIssue]) -> None:
        self.issues: list[ConfigIssue] = list(issues)
        super().__init__(self.issues)

    def __str__(self) -> str:
        return "\n".join(str(issue) for issue in self.issues)


@dataclass(frozen=True)
class ConfigSource:
    """The text a config was loaded from, kept so later checks can still name the line.

    ``file`` is the path as the user gave it (what messages show); ``path`` is absolute.
    """

    file: str
    path: Path
    text: str = field(repr=False)

    @cached_property
    def _lines(self) -> TomlLines:
        return TomlLines(self.text)

    def line(self, loc: Sequence[str | int]) -> int:
        return self._lines.line(loc)

    def issue(self, loc: Sequence[str | int], message: str) -> ConfigIssue:
        return ConfigIssue(self.file, self.line(loc), format_loc(loc), message)

"""The command palette (ctrl+p): every console action, by name.

The app builds the list (:meth:`tui.app.MetadConsole.palette_commands`) because it knows
the selected chip; discovery (an empty query) shows the general actions, and a search
also finds "Pause +1 555 …" for every chip.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from textual.command import DiscoveryHit, Hit, Hits, Provider

__all__ = ["CommandSource", "ConsoleCommands", "PaletteCommand"]


@dataclass(frozen=True, slots=True)
class PaletteCommand:
    title: str
    help: str
    callback: Callable[[], object]
    discover: bool = True
    """Shown before anything is typed; per-chip commands appear only in searches."""


@runtime_checkable
class CommandSource(Protocol):
    def palette_commands(self) -> list[PaletteCommand]: ...


class ConsoleCommands(Provider):
    def _commands(self) -> list[PaletteCommand]:
        app = self.app
        return app.palette_commands() if isinstance(app, CommandSource) else []

    async def discover(self) -> Hits:
        for command in self._commands():
            if command.discover:
                yield DiscoveryHit(command.title, command.callback, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands():
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(command.title),
                    command.callback,
                    text=command.title,
                    help=command.help,
                )

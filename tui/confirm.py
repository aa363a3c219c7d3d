"""Ask before an action that stops sends: Enter confirms, Esc cancels."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

__all__ = ["ConfirmScreen"]


class ConfirmScreen(ModalScreen[str | None]):
    """Dismisses with the reason (``""`` when none is asked for), or ``None`` on cancel."""

    AUTO_FOCUS = "#confirm-reason, #confirm-ok"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="confirm.cancel"),
    ]

    def __init__(
        self, title: str, detail: str, confirm_label: str, reason: str | None = None
    ) -> None:
        super().__init__()
        self._title = title
        self._detail = detail
        self._confirm_label = confirm_label
        self._reason = reason

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Label(self._title, id="confirm-title")
            yield Label(self._detail, id="confirm-detail")
            if self._reason is not None:
                yield Label(f"Reason (Enter confirms; empty means {self._reason!r}):")
                yield Input(placeholder=self._reason, id="confirm-reason")
            with Horizontal(id="confirm-buttons"):
                yield Button(self._confirm_label, variant="error", id="confirm-ok")
                yield Button("Cancel", id="confirm-cancel")

    @on(Input.Submitted, "#confirm-reason")
    @on(Button.Pressed, "#confirm-ok")
    def _confirm(self) -> None:
        if self._reason is None:
            self.dismiss("")
            return
        reason = self.query_one("#confirm-reason", Input).value.strip()
        self.dismiss(reason or self._reason or "operator")

    @on(Button.Pressed, "#confirm-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

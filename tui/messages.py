"""What the control client reports, as Textual messages (handled in order by the app)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message

from tui.client import ConnectionStatus, ControlEvent

__all__ = ["ConnectionChanged", "EventReceived", "SnapshotReceived"]


@dataclass
class ConnectionChanged(Message):
    status: ConnectionStatus


@dataclass
class SnapshotReceived(Message):
    snapshot: dict[str, Any]


@dataclass
class EventReceived(Message):
    event: ControlEvent

"""Messages a :class:`~actors.chip.actor.ChipActor` understands.

Frozen, keyword-only dataclasses carrying values and at most one reply slot; the union
``ChipMsg`` lets mypy prove the actor handles every one (``assert_never``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from actors.core import ReplyTo
from actors.ports import ChipRecord

__all__ = ["ChipMsg", "ChipSnapshot", "GetSnapshot", "Pause", "Resume"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ChipSnapshot:
    record: ChipRecord
    restarts: int
    """How many times this actor instance was rebuilt since the daemon started."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GetSnapshot:
    reply: ReplyTo[ChipSnapshot]


@dataclass(frozen=True, slots=True, kw_only=True)
class Pause:
    reason: str
    reply: ReplyTo[ChipRecord]


@dataclass(frozen=True, slots=True, kw_only=True)
class Resume:
    reply: ReplyTo[ChipRecord]


ChipMsg: TypeAlias = GetSnapshot | Pause | Resume

"""Where the budget coordinator keeps its journal and reads the outbox: the storage it
needs, as protocols, so the actor is tested with in-memory fakes and the store
(:mod:`daemon.store.budget`) provides the real ones."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from actors.budget.reconcile import RowState

__all__ = ["BudgetJournal", "Checkpoints", "OutboxStates", "SharedJournal"]


class BudgetJournal(Protocol):
    async def load_entries(self, since: float) -> list[dict[str, Any]]: ...

    async def save_entries(self, entries: Sequence[dict[str, Any]]) -> int | None:
        """Append ``entries`` in order, in one transaction (all or none); the last
        entry's position in the journal when the journal keeps :class:`Checkpoints`."""
        ...


class SharedJournal(Protocol):
    """The journal when several daemons book against the same caps (daemon.cluster)."""

    async def load_marked(self, since: float) -> tuple[list[dict[str, Any]], int]: ...

    async def serialized(
        self, after_id: int, decide: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
    ) -> int: ...

    async def reconciled(
        self,
        after_id: int,
        outbox_ids: Sequence[int],
        decide: Callable[[list[dict[str, Any]], dict[int, RowState]], list[dict[str, Any]]],
    ) -> int:
        """Like :meth:`serialized`, with the outbox rows ``outbox_ids`` read under the
        lock too (absent ids: no such row)."""
        ...


@runtime_checkable
class OutboxStates(Protocol):
    """Where the reconciliation reads the outbox rows of held reservations."""

    async def outbox_states(self, outbox_ids: Sequence[int]) -> dict[int, RowState]:
        """The rows that exist among ``outbox_ids``: state and seconds since it changed."""
        ...


@runtime_checkable
class Checkpoints(Protocol):
    """Where the ledger's checkpoints are kept (:meth:`~actors.budget.ledger.Ledger.
    checkpoint`), so that a start reads days of the journal instead of a month."""

    async def save_checkpoint(self, position: int, data: dict[str, Any]) -> None: ...

    async def load_marked(self, since: float) -> tuple[list[dict[str, Any]], int]:
        """The entries since ``since`` and the journal's highest position (a start
        without a usable checkpoint)."""
        ...

    async def latest_checkpoint(self) -> tuple[int, dict[str, Any]] | None: ...

    async def entries_around(
        self, position: int, since: float
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
        """The entries up to ``position`` written since ``since``, those after it, and
        the journal's highest position."""
        ...

"""Where the budget coordinator keeps its journal and reads the outbox: the storage it
needs, as protocols, so the actor is tested with in-memory fakes and the store
(:mod:`daemon.store.budget`) provides the real ones. And :class:`Books`, what the
coordinator's helpers (reconciliation, checkpoints) need of the coordinator itself."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from actors.budget.reconcile import RowState

if TYPE_CHECKING:
    from actors.budget.ledger import Ledger
    from actors.budget.values import Alert, LedgerEntry

__all__ = ["Books", "BudgetJournal", "Checkpoints", "OutboxStates", "Recall", "SharedJournal"]


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

    async def entries_after(self, position: int) -> tuple[list[dict[str, Any]], int]:
        """The entries after ``position``, and the journal's highest position."""
        ...


@runtime_checkable
class Recall(Protocol):
    """Where the ledger recalls settled messages it does not hold (a journal that keeps
    them by outbox id): before a later price, so that it replaces the earlier one."""

    async def settled(
        self, outbox_ids: Sequence[int], upto: int | None = None
    ) -> list[dict[str, Any]]:
        """Those of ``outbox_ids`` whose last entry (up to position ``upto``) settles
        them: ``id`` (the ref), ``amount``, ``booked_at``, ``waba``, ``campaign``."""
        ...

    async def last_message(self, upto: int | None = None) -> int:
        """The highest outbox id with an entry (up to position ``upto``)."""
        ...


class Books(Protocol):
    """What the coordinator's helpers (:mod:`actors.budget.reconciliation`,
    :mod:`actors.budget.checkpointing`) need of the coordinator that owns the ledger:
    every change goes through its journal writer or its lock, as a booking's does."""

    @property
    def ledger(self) -> Ledger: ...

    def persist(self, entry: LedgerEntry, alerts: Sequence[Alert] = ()) -> None:
        """Hand ``entry`` to the journal writer (one daemon)."""
        ...

    def apply_others(self, rows: Sequence[dict[str, Any]]) -> None:
        """Apply what other daemons journalled (shared caps)."""
        ...

    async def locked(self, step: Callable[[int], Awaitable[int]]) -> None:
        """Run ``step`` from the journal position under the shared lock; it returns the
        new position (unchanged when it wrote nothing)."""
        ...

"""The query surface shared by the pool-level ``Store`` and a held ``Connection``.

Why one base: asyncpg's Pool and Connection have the same query methods; both are
reached through the bridge, so the trio-facing wrappers are written once. Every method
is one bridge hop (one asyncio task) and is cancellable from trio.

jsonb values are Python objects on both sides (encoded with orjson, which is several
times faster than ``json`` on the rows every message writes and reads): a ``str`` passed
for a jsonb column is stored as a JSON string, not parsed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine, Iterable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, TypeVar, TypeVarTuple

import orjson

from daemon.store.bridge import AsyncioThread
from daemon.store.errors import StoreError

__all__ = ["Connection", "Queries", "Row", "check_identifier", "json_text", "transaction_of"]

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class Row(Protocol):
    """A result row (asyncpg ``Record``): index by position or by column name."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def __len__(self) -> int: ...

    def get(self, key: str, default: Any = None, /) -> Any: ...

    def keys(self) -> Iterator[str]: ...

    def values(self) -> Iterator[Any]: ...

    def items(self) -> Iterator[tuple[str, Any]]: ...


def check_identifier(name: str) -> str:
    """Accept only plain lower-case SQL identifiers for table and column names.

    Why: bulk-write helpers take table/column names as strings; refusing anything
    unusual keeps a caller's typo from becoming quoting surprises or injection.
    """
    if not _IDENT.match(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return name


def _jsonb_encode(value: Any) -> bytes:
    return b"\x01" + orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def _jsonb_decode(data: bytes) -> Any:
    return orjson.loads(memoryview(data)[1:])


def json_text(value: Any) -> str:
    """JSON text as the jsonb codec writes it, for a value passed as text (a ``json``
    column, or a ``text[]`` cast to jsonb by a batched statement)."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


async def init_connection(con: Any) -> None:
    """Per-connection client-side setup (codecs only; no session state on the server).

    Binary format so ``COPY`` (always binary in asyncpg) can carry jsonb too.
    """
    await con.set_type_codec(
        "jsonb",
        schema="pg_catalog",
        encoder=_jsonb_encode,
        decoder=_jsonb_decode,
        format="binary",
    )
    await con.set_type_codec(
        "json", schema="pg_catalog", encoder=json_text, decoder=orjson.loads, format="text"
    )


async def _copy(target: Any, table: str, records: Any, columns: Sequence[str]) -> str:
    result: str = await target.copy_records_to_table(table, records=records, columns=columns)
    return result


class Queries:
    """Query methods over an asyncpg Pool or Connection living on the bridge loop."""

    def __init__(self, bridge: AsyncioThread, target: Any) -> None:
        self._bridge = bridge
        self._target = target

    def _live(self) -> Any:
        return self._target

    async def _call(self, fn: Callable[[Any, *Ts], Coroutine[Any, Any, T]], *args: *Ts) -> T:
        """Run ``fn(target, *args)`` on the loop in one hop (package-internal).

        For multi-statement work that should cost one bridge hop (writer, migrations).
        """
        return await self._bridge.run(fn, self._live(), *args)

    async def execute(self, sql: str, *args: object) -> str:
        """Run a statement; returns the status tag (e.g. ``'INSERT 0 1'``)."""
        result: str = await self._bridge.run(self._live().execute, sql, *args)
        return result

    async def fetch(self, sql: str, *args: object) -> list[Row]:
        result: list[Row] = await self._bridge.run(self._live().fetch, sql, *args)
        return result

    async def fetchrow(self, sql: str, *args: object) -> Row | None:
        result: Row | None = await self._bridge.run(self._live().fetchrow, sql, *args)
        return result

    async def fetchval(self, sql: str, *args: object) -> Any:
        return await self._bridge.run(self._live().fetchval, sql, *args)

    async def executemany(self, sql: str, args: Iterable[Sequence[object]]) -> None:
        """Run one statement for many argument tuples (pipelined, one round trip set)."""
        rows = [tuple(a) for a in args]
        await self._bridge.run(self._live().executemany, sql, rows)

    async def copy_records(
        self, table: str, records: Iterable[Sequence[object]], columns: Sequence[str]
    ) -> str:
        """Bulk-insert with binary ``COPY`` (millions of rows/s); returns ``'COPY n'``."""
        check_identifier(table)
        cols = [check_identifier(c) for c in columns]
        rows = [tuple(r) for r in records]
        return await self._bridge.run(_copy, self._live(), table, rows, cols)


class Connection(Queries):
    """One connection held for a transaction (see ``Store.transaction``).

    Use it from one trio task at a time (asyncpg runs one query per connection) and
    not after the ``async with`` block ends: it is back in the pool by then.
    """

    def __init__(self, bridge: AsyncioThread, con: Any) -> None:
        super().__init__(bridge, con)
        self._released = False

    def _live(self) -> Any:
        if self._released:
            raise StoreError("connection used after its transaction ended")
        return self._target

    def _release(self) -> None:
        self._released = True


def transaction_of(db: Queries, who: str) -> AbstractAsyncContextManager[Connection]:
    """A transaction of ``db``, for the few repository methods that must run several
    statements atomically. Repositories hold the store as :class:`Queries` (so they also
    work on a transaction's connection); these need the :class:`~daemon.store.pool.Store`
    itself, and ``who`` names the method in the error when they are given anything else."""
    transaction = getattr(db, "transaction", None)
    assert transaction is not None, f"{who} needs the Store (it opens a transaction)"
    opened: AbstractAsyncContextManager[Connection] = transaction()
    return opened

"""``Store``: the asyncpg pool behind the bridge, and ``open_store`` that owns its life.

Why a context manager owning everything: the embedded server, the bridge thread, the
pool and the batching writer must start in order and stop in reverse order even when
the daemon is cancelled, so the last journal writes are flushed before the pool closes
and the embedded server is stopped only when nothing uses it.

Pooled connections are created with a no-op ``reset=`` (asyncpg's default reset is a
second round trip per call and halves pool throughput, docs/stack-notes.md §2). In
exchange, nothing may leave session state on a pooled connection: no SET, no session
advisory locks, no LISTEN. Those go on ``Store.dedicated()`` connections.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import trio

from config.model import StorageConfig
from daemon.store.bridge import AsyncioThread
from daemon.store.budget import BudgetJournalRepository
from daemon.store.campaigns import CampaignRepository
from daemon.store.chipjournal import ChipJournalRepository
from daemon.store.chips import ChipRepository
from daemon.store.connection import Connection, Queries, init_connection
from daemon.store.embedded import EmbeddedPostgres, start_embedded
from daemon.store.errors import StoreError, connect_error
from daemon.store.inbox import InboxRepository
from daemon.store.migrate import migrate
from daemon.store.outbox import OutboxRepository
from daemon.store.templates import TemplateRepository
from daemon.store.wabas import WabaRepository
from daemon.store.writer import BatchWriter

__all__ = ["CONNECT_TIMEOUT_S", "Store", "open_store"]

_log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0
"""Bound on establishing one connection; a dead host must fail fast, not hang startup."""
DRAIN_TIMEOUT_S = 5.0
"""Bound on flushing the writer at exit (the daemon's whole shutdown budget is ~8 s)."""
POOL_CLOSE_TIMEOUT_S = 5.0


async def _noop_reset(con: Any) -> None:
    """Pool reset hook that does nothing: pooled connections are kept clean by rule.

    asyncpg still rolls back a transaction left open before calling this.
    """


async def _create_pool(dsn: str, min_size: int, max_size: int, limit_s: float) -> Any:
    return await asyncio.wait_for(
        asyncpg.create_pool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            reset=_noop_reset,
            init=init_connection,
            timeout=limit_s,
            server_settings={"application_name": "metad"},
        ),
        timeout=limit_s * 2,
    )


async def _close_pool(pool: Any) -> None:
    try:
        await asyncio.wait_for(pool.close(), POOL_CLOSE_TIMEOUT_S)
    except TimeoutError:
        _log.warning("pool did not close within %.0f s; terminating", POOL_CLOSE_TIMEOUT_S)
        pool.terminate()


async def _connect_one(dsn: str, limit_s: float) -> Any:
    con = await asyncpg.connect(dsn, timeout=limit_s, server_settings={"application_name": "metad"})
    try:
        await init_connection(con)
    except BaseException:
        con.terminate()
        raise
    return con


async def _close_connection(con: Any) -> None:
    try:
        await asyncio.wait_for(con.close(), POOL_CLOSE_TIMEOUT_S)
    except Exception:
        con.terminate()


async def _fetchval_within(pool: Any, limit_s: float, sql: str, *args: object) -> Any:
    """``fetchval`` on a pooled connection, acquire and answer within ``limit_s`` in all.

    Why a bound of its own, on the loop side: a trio cancel cannot cut a bridge call
    short (it waits until asyncpg has finished), and asyncpg's cancel of a query sends a
    CancelRequest and waits for the server to close it, with no bound: a PostgreSQL that
    accepts but never answers (SIGSTOPped, a blackholed network) kept the readiness
    probe's call running for as long as the outage, so a recovered store went unseen
    and the probe held its pooled connection. A connection whose call failed or timed
    out is terminated, never handed back to the pool: asyncpg would leave it waiting on
    its CancelRequest, and the next user would wait with it.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    con = await pool.acquire(timeout=limit_s)
    try:
        return await con.fetchval(sql, *args, timeout=max(deadline - loop.time(), 0.001))
    except BaseException:
        con.terminate()  # detaches it from the pool: the release below does nothing
        raise
    finally:
        await pool.release(con)


async def _terminate(pool: Any, connections: list[Any]) -> None:
    """Abort every connection's socket (asyncpg's ``terminate``): their waiters fail."""
    pool.terminate()
    for con in connections:
        con.terminate()


async def _begin(pool: Any) -> tuple[Any, Any]:
    """Acquire and BEGIN as one loop-side step, so a cancel never strands a connection."""
    con = await pool.acquire()
    try:
        tr = con.transaction()
        await tr.start()
    except BaseException:
        await pool.release(con)
        raise
    return con, tr


async def _end(pool: Any, con: Any, tr: Any, commit: bool) -> None:
    """COMMIT or ROLLBACK, then always release the connection."""
    try:
        if commit:
            await tr.commit()
        else:
            try:
                await tr.rollback()
            except Exception:  # the original error matters more; release resets anyway
                _log.warning("rollback failed; the connection will be reset", exc_info=True)
    finally:
        await pool.release(con)


class Store(Queries):
    """The daemon's storage handle: pool-level queries, transactions, writer, repositories.

    Every pool-level call takes a connection for one statement and gives it back.
    Use ``transaction()`` for several statements that must commit together and
    ``writer.append`` for hot journal appends (group commit).
    """

    def __init__(
        self,
        bridge: AsyncioThread,
        pool: Any,
        *,
        dsn: str,
        connect_timeout: float = CONNECT_TIMEOUT_S,
        writer_batch_rows: int = 500,
        writer_flush_ms: float = 5.0,
        embedded: EmbeddedPostgres | None = None,
    ) -> None:
        super().__init__(bridge, pool)
        self.embedded = embedded
        """The private server this store started or adopted; None with an external DSN."""
        self._dedicated: set[Any] = set()
        """asyncpg connections open outside the pool (see :meth:`dedicated`)."""
        self._pool = pool
        self._dsn = dsn
        self._connect_timeout = connect_timeout
        self.writer = BatchWriter(self, batch_rows=writer_batch_rows, flush_ms=writer_flush_ms)
        self.chips = ChipRepository(self)
        self.wabas = WabaRepository(self)
        self.inbox = InboxRepository(self, self.writer)
        self.outbox = OutboxRepository(self)
        self.chip_journal = ChipJournalRepository(self)
        self.budget_journal = BudgetJournalRepository(self)
        self.templates = TemplateRepository(self)
        self.campaigns = CampaignRepository(self)

    @property
    def dsn(self) -> str:
        """Where this store connects (the embedded server's socket URI when embedded): for
        helper processes of the daemon, such as the webhook ingest workers."""
        return self._dsn

    async def fetchval_within(self, sql: str, *args: object, timeout: float) -> Any:
        """``fetchval`` that gives up (``TimeoutError``) after ``timeout`` s in all, for
        the operations listener's probe and figures: unlike other calls it is bounded
        even when PostgreSQL stops answering with the connection open, and the
        connection it used is then closed (see :func:`_fetchval_within`)."""
        return await self._bridge.run(_fetchval_within, self._pool, timeout, sql, *args)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """Hold one connection in a transaction: COMMIT on success, ROLLBACK on error.

        The rollback (and the release) is shielded from trio cancellation, otherwise a
        cancelled scope would cancel the ROLLBACK too. If the COMMIT itself is cancelled
        its outcome is unknown to the caller (the server may have committed).
        """
        con, tr = await self._bridge.run(_begin, self._pool)
        conn = Connection(self._bridge, con)
        try:
            yield conn
        except BaseException:
            conn._release()
            with trio.CancelScope(shield=True):
                await self._bridge.run(_end, self._pool, con, tr, False)
            raise
        conn._release()
        await self._bridge.run(_end, self._pool, con, tr, True)

    @asynccontextmanager
    async def dedicated(self) -> AsyncIterator[Connection]:
        """A fresh connection outside the pool, closed on exit.

        For what must not touch pooled connections: session advisory locks (migrations),
        LISTEN, SET. Costs a connection handshake, so not for hot paths.
        """
        try:
            con = await self._bridge.run(_connect_one, self._dsn, self._connect_timeout)
        except StoreError:
            raise
        except Exception as exc:
            raise connect_error(self._dsn, exc, timeout=self._connect_timeout) from exc
        conn = Connection(self._bridge, con)
        self._dedicated.add(con)
        try:
            yield conn
        finally:
            conn._release()
            with trio.CancelScope(shield=True):
                await self._bridge.run(_close_connection, con)
            self._dedicated.discard(con)

    async def abandon(self) -> None:
        """Close every connection now (the pool's and the dedicated ones), without a word
        to the server: each call in flight fails at once, and later calls fail too.

        For a shutdown past its bound with a PostgreSQL that does not answer (stopped, a
        silent network): a call through the bridge cannot be cut short otherwise (see
        :func:`_fetchval_within`), so the daemon waited for the server for as long as the
        outage, past systemd's stop timeout. For what was in flight this is a crash (a
        COMMIT's outcome unknown), which the journals are built to survive."""
        await self._bridge.run(_terminate, self._pool, list(self._dedicated))


async def _open_pool(
    bridge: AsyncioThread, dsn: str, storage: StorageConfig, limit_s: float
) -> Any:
    try:
        return await bridge.run(
            _create_pool, dsn, storage.pool_min_size, storage.pool_max_size, limit_s
        )
    except Exception as exc:
        raise connect_error(dsn, exc, timeout=limit_s) from exc


@asynccontextmanager
async def open_store(
    storage: StorageConfig,
    *,
    state_dir: Path,
    connect_timeout: float = CONNECT_TIMEOUT_S,
    run_migrations: bool = True,
    keep_adopted_server: bool = False,
) -> AsyncIterator[Store]:
    """Start storage for the daemon and tear it down in reverse order on exit.

    With ``storage.dsn`` empty a private PostgreSQL is started (or reused: another
    process's, or one a crash left) in ``<state_dir>/pg`` and stopped on exit if no
    other process uses it — and, with ``keep_adopted_server``, only if this process
    started it: a command-line tool reading the store of a running daemon must leave the
    daemon's server alone (``EmbeddedPostgres.release_blocking``). Migrations run before
    the store is handed out. Raises ``StoreError`` when storage cannot be reached or
    started.
    """
    bridge = AsyncioThread()
    embedded: EmbeddedPostgres | None = None
    try:
        dsn = storage.dsn
        if not dsn:
            embedded = await start_embedded(state_dir)
            dsn = embedded.dsn
        await trio.to_thread.run_sync(bridge.start)
        pool = await _open_pool(bridge, dsn, storage, connect_timeout)
        try:
            store = Store(
                bridge,
                pool,
                dsn=dsn,
                connect_timeout=connect_timeout,
                writer_batch_rows=storage.writer_batch_rows,
                writer_flush_ms=storage.writer_flush_ms,
                embedded=embedded,
            )
            if run_migrations:
                applied = await migrate(store)
                if applied:
                    _log.info("applied migrations %s", applied)
            raised: BaseException | None = None
            try:
                async with trio.open_nursery() as nursery:
                    await nursery.start(store.writer.run)
                    try:
                        yield store
                    finally:
                        with trio.move_on_after(DRAIN_TIMEOUT_S, shield=True) as drain:
                            await store.writer.aclose()
                        if drain.cancelled_caught:
                            _log.error("writer did not drain within %.0f s", DRAIN_TIMEOUT_S)
                        nursery.cancel_scope.cancel()
            except BaseExceptionGroup as group:
                # The nursery wraps what the caller's block raised; hand it back as it
                # was raised (the flusher itself does not raise), outside this handler
                # so the group does not become its __context__.
                if len(group.exceptions) != 1:
                    raise
                raised = group.exceptions[0]
            if raised is not None:
                raise raised
        finally:
            with trio.CancelScope(shield=True):
                await bridge.run(_close_pool, pool)
    finally:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(bridge.stop)
            if embedded is not None:
                # Always released, kept or not: the handle counts as a user of the server
                # until then, and a last user leaving must be able to stop it.
                await embedded.release(stop_adopted=not keep_adopted_server)

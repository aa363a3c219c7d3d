"""Chip leases: each chip is driven by one daemon at a time, through PostgreSQL alone.

Why session advisory locks on a dedicated connection, not a lease table: a lock lives
exactly as long as the session that took it. A daemon that crashes or is SIGKILLed
closes its socket and PostgreSQL frees its locks at once, so the others take its chips
at their next renewal (``lease_s / 3``), not after an expiry; there is no clock to
compare across machines, no row to sweep, and "who holds chip X" is ``pg_locks`` joined
with ``pg_stat_activity`` (the lease connection's ``application_name`` is
``metad-node:<node_id>``). Measured with 3 daemons and 12 chips
(``bench/scale_out.py``): chips of a SIGKILLed daemon were running elsewhere within
one renewal period plus the actors' reload. A lease table would take ``lease_s`` after
every crash, and costs a write per chip per renewal.

What a lock cannot tell by itself is that a *silent* daemon (a partition between it and
PostgreSQL) has lost it; the two sides are bounded instead (:class:`LeaseTiming`):

* the daemon renews every ``lease_s / 3`` (one query on the lease connection that
  also reads the fleet's state); without a renewal *sent* in the last
  ``lease_s * 2 / 3`` it stops every chip actor it runs (no drain: a POST cut short is
  ``in_doubt`` and settled by its webhook), then reconnects and leases anew;
* the server drops a session that went silent after about ``lease_s`` (TCP keepalive
  and ``tcp_user_timeout`` set on the lease connection), and only then are its locks
  free for another daemon.

So a daemon cut off from PostgreSQL has stopped sending at least ``lease_s / 3`` before
anyone else can lease its chips. The connection must reach the server directly (no
transaction-pooling proxy in between, which would break session locks).

The same connection holds the leader lock (one node runs the periodic jobs and the
webhooks of no known chip), LISTENs for ``metad_inbox`` (a stored webhook or a
hand-off), and holds the lock of this node's id: two live daemons with one ``node_id``
would each take the other's sessions for their own stale ones and confuse every
owner. A daemon that finds its id locked at start waits for as long as the server
takes to drop a dead session (a restart after a crash), then refuses to start
(:class:`NodeIdInUse`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any

import trio

from daemon.cluster.rules import (
    CHIP_CLASS,
    LEADER_CLASS,
    NODE_CLASS,
    LeaseTiming,
    View,
    chip_key,
    plan,
)
from daemon.store import Store
from daemon.store.connection import Connection

__all__ = ["APP_PREFIX", "Leases", "NodeIdInUse", "default_node_id"]

log = logging.getLogger("metad.cluster")

APP_PREFIX = "metad-node:"

# Both views are server-wide, while advisory locks are per database: without the
# database filters, daemons of another fleet on the same server (another database: a
# staging copy, a second customer) counted as this fleet's nodes and chip owners, and
# each fleet left chips unserved that the other "held".
_THIS_DB = "(SELECT oid FROM pg_database WHERE datname = current_database())"

_VIEW = f"""
SELECT 'lock' AS kind, l.classid::int8 AS cls, l.objid::int8 AS obj, a.pid,
       a.application_name AS app
  FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
 WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
   AND l.database = {_THIS_DB}
   AND l.classid IN ($1::int8::oid, $2::int8::oid)
UNION ALL
SELECT 'node', NULL, NULL, pid, application_name FROM pg_stat_activity
 WHERE application_name LIKE 'metad-node:%' AND datname = current_database()
UNION ALL
SELECT 'me', NULL, NULL, pg_backend_pid(), NULL
"""

Gain = Callable[[list[str]], Awaitable[list[str]]]
"""Start the actors of these chips; returns those that did not start (tried again)."""
Lose = Callable[[list[str], bool], Awaitable[None]]
"""(chips, drain): stop their actors; drain False means at once (the lease is in doubt)."""


class NodeIdInUse(Exception):
    """Another live daemon on this PostgreSQL has this daemon's ``node_id``."""

    def __init__(self, node_id: str) -> None:
        self.node_id = node_id
        super().__init__(
            f'node_id "{node_id}" is in use by another live metad daemon on this PostgreSQL;'
            " give each daemon its own [cluster] node_id"
        )


def default_node_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:48]


def _signed(obj: int) -> int:
    return obj - (1 << 32) if obj >= 1 << 31 else obj


async def _listen(con: Any, channel: str, callback: Callable[..., None]) -> None:
    await con.add_listener(channel, callback)


class Leases:
    """Holds this node's chip leases and runs the chips' actors accordingly."""

    def __init__(
        self,
        store: Store,
        *,
        node_id: str,
        chips: Sequence[str],
        mode: str | Collection[str],
        lease_s: float,
        on_notify: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self.node_id = node_id
        self.timing = LeaseTiming(lease_s)
        self._on_notify = on_notify
        self.configure(chips, mode)
        self.held: set[str] = set()
        """Chips whose lock the current session holds."""
        self.running: set[str] = set()
        """Chips whose actor this node runs (what the fleet holds)."""
        self.leader = False
        self.owners: dict[str, str] = {}
        """Last view: chip → node holding it."""
        self.nodes: frozenset[str] = frozenset()
        self.last_renewed: float | None = None
        self.fences = 0
        self._pid: int | None = None
        self._old_pids: set[int] = set()
        self._releasing: set[str] = set()
        self._to_unlock: set[str] = set()
        self._changed = trio.Event()
        self._renewed = trio.Event()
        self._kick = trio.Event()
        self._starting: set[str] = set()
        self._session: trio.CancelScope | None = None
        self._op: trio.CancelScope | None = None
        self._actors = trio.Lock()
        self._gain: Gain | None = None
        self._lose: Lose | None = None
        self._closed = False
        self._reconciler = trio.CancelScope()

    def close(self) -> None:
        """The daemon is stopping its actors itself: start and stop none from now on
        (the locks go with the lease connection when the daemon exits)."""
        self._closed = True
        self._reconciler.cancel()

    def configure(self, chips: Sequence[str], mode: str | Collection[str]) -> None:
        """The configured chips and this node's mode (at start and on a reload)."""
        self.chips = tuple(chips)
        self.chip_set = frozenset(self.chips)
        self.mode: str | tuple[str, ...] = mode if isinstance(mode, str) else tuple(mode)
        self._by_key = {chip_key(c): c for c in self.chips}

    # --- the renewal loop -------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Lease until cancelled; reports started after the first renewal (so the daemon
        starts the actors of the chips it holds by then). Raises :class:`NodeIdInUse`
        (bare, for the daemon to report) when another live daemon has this node id."""
        try:
            await self._run(task_status)
        except* NodeIdInUse as group:
            first = group.exceptions[0]
            while isinstance(first, BaseExceptionGroup):
                first = first.exceptions[0]
            raise first from None

    async def _run(self, task_status: trio.TaskStatus[None]) -> None:
        started = False
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._fence_watch)
            while True:
                try:
                    async with self._store.dedicated() as conn:
                        await self._prepare(conn)
                        await self._claim_node_id(conn, wait=not started)
                        with trio.CancelScope() as self._session:
                            while True:
                                with trio.fail_after(self.timing.renew_every_s):
                                    await self._tick(conn)
                                if not started:
                                    started = True
                                    task_status.started()
                                with trio.move_on_after(self.timing.renew_every_s):
                                    await self._kick.wait()
                                self._kick = trio.Event()
                except Exception as exc:
                    if not started:
                        raise
                    log.warning("lease renewal failed (%s); reconnecting", exc)
                self._session = None
                if self._pid is not None:
                    self._old_pids.add(self._pid)
                self._pid = None
                self.held = set()
                self.leader = False
                self._to_unlock.clear()
                self._changed.set()
                await trio.sleep(self.timing.renew_every_s)

    async def _prepare(self, conn: Connection) -> None:
        await conn.execute(f"SET application_name = '{APP_PREFIX}{self.node_id}'")
        for name, value in self.timing.keepalive().items():
            await conn.execute(f"SET {name} = {int(value)}")
        token = trio.lowlevel.current_trio_token()
        notify = self._on_notify

        def on_notify(*_: object) -> None:  # on the storage thread
            with contextlib.suppress(trio.RunFinishedError):
                token.run_sync_soon(notify)

        await conn._call(_listen, "metad_inbox", on_notify)

    async def _claim_node_id(self, conn: Connection, *, wait: bool) -> None:
        """Lock this node's id for the session, or raise :class:`NodeIdInUse`.

        At start (``wait``) a holder may be this node's own previous run, dead but not
        yet dropped by the server (a crash of the machine or of the network): it goes
        within ``lease_s`` (the keepalive settings), so try for that long. On a
        reconnect, a holder that is this daemon's own earlier session is ended."""
        key = chip_key(self.node_id)
        deadline = trio.current_time() + (self.timing.lease_s * 1.5 if wait else 0.0)
        while True:
            if await conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", NODE_CLASS, key):
                return
            holders = await conn.fetch(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                f" AND database = {_THIS_DB}"
                " AND classid = $1::int8::oid AND objid = $2::int8::oid AND objsubid = 2",
                NODE_CLASS,
                key & 0xFFFF_FFFF,
            )
            ours = {r["pid"] for r in holders} & self._old_pids
            for pid in ours:
                await conn.fetchval("SELECT pg_terminate_backend($1)", pid)
            if not ours and trio.current_time() >= deadline:
                raise NodeIdInUse(self.node_id)
            await trio.sleep(min(0.25, self.timing.renew_every_s))

    async def _tick(self, conn: Connection) -> None:
        sent = trio.current_time()
        rows = await conn.fetch(_VIEW, CHIP_CLASS, LEADER_CLASS)
        self._pid = next(r["pid"] for r in rows if r["kind"] == "me")
        self.last_renewed = sent
        self._renewed.set()
        self._renewed = trio.Event()
        # A session of ours from before a reconnect still holds locks: end it.
        stale = {r["pid"] for r in rows if r["kind"] == "node"} & self._old_pids
        for pid in stale:
            await conn.fetchval("SELECT pg_terminate_backend($1)", pid)
        self._old_pids &= stale
        owners: dict[str, str] = {}
        held: set[str] = set()
        leader = False
        for r in rows:
            if r["kind"] != "lock":
                continue
            node = str(r["app"] or "")[len(APP_PREFIX) :] or f"pid {r['pid']}"
            if r["cls"] == LEADER_CLASS:
                leader = leader or r["pid"] == self._pid
                continue
            chip = self._by_key.get(_signed(int(r["obj"])))
            if chip is None:  # a chip dropped from the config: give its lock back
                if r["pid"] == self._pid:
                    await conn.fetchval(
                        "SELECT pg_advisory_unlock($1, $2)", CHIP_CLASS, _signed(int(r["obj"]))
                    )
                continue
            if r["pid"] == self._pid:
                held.add(chip)
                owners[chip] = self.node_id
            else:
                owners[chip] = node if r["pid"] not in self._old_pids else f"{node} (stale)"
        self.nodes = frozenset(
            str(r["app"])[len(APP_PREFIX) :] for r in rows if r["kind"] == "node"
        )
        # Chips stopped on purpose are unlocked now that their actors are gone.
        for chip in sorted(self._to_unlock & held):
            await conn.fetchval("SELECT pg_advisory_unlock($1, $2)", CHIP_CLASS, chip_key(chip))
            held.discard(chip)
            owners.pop(chip, None)
            log.info("chip %s released", chip)
        self._to_unlock.clear()
        decided = plan(self.node_id, self.mode, View(self.chips, owners, self.nodes))
        for chip in decided.release:
            if chip in held and chip not in self._releasing:
                self._releasing.add(chip)
        if decided.acquire:
            got = await conn.fetch(
                "SELECT k FROM unnest($2::int4[]) AS k WHERE pg_try_advisory_lock($1, k)",
                CHIP_CLASS,
                [chip_key(c) for c in decided.acquire],
            )
            for r in got:
                chip = self._by_key[int(r["k"])]
                held.add(chip)
                owners[chip] = self.node_id
        if not leader:
            leader = bool(await conn.fetchval("SELECT pg_try_advisory_lock($1, 0)", LEADER_CLASS))
        if leader != self.leader:
            log.info("node %s %s the leader", self.node_id, "is now" if leader else "is no longer")
        self.leader = leader
        self.owners = owners
        if held != self.held:
            self.held = held
        self._changed.set()

    async def _fence_watch(self) -> None:
        """Stop every chip when no renewal was sent within ``lease_s * 2 / 3``."""
        while True:
            last = self.last_renewed
            if last is None:
                await self._renewed.wait()
                continue
            await trio.sleep_until(self.timing.stop_at(last))
            if not self.timing.must_stop(trio.current_time(), self.last_renewed):
                continue
            if self.running and not self._closed:
                log.error(
                    "no lease renewal for %.1fs: stopping %d chips before the lease can pass"
                    " to another node",
                    trio.current_time() - last,
                    len(self.running),
                )
                self.fences += 1
                await self._fence()
            if self._session is not None:
                self._session.cancel()
            self.held = set()
            self.leader = False
            await self._renewed.wait()

    async def _fence(self) -> None:
        if self._op is not None:
            self._op.cancel()
        async with self._actors:
            chips = sorted(self.running)
            self.running.clear()
            if self._lose is not None:
                await self._lose(chips, False)

    # --- starting and stopping actors -------------------------------------------------

    async def reconcile(self, gain: Gain, lose: Lose) -> None:
        """Keep the running actors equal to the held leases, for ever (a task)."""
        self._gain, self._lose = gain, lose
        with self._reconciler:
            while True:
                await self._changed.wait()
                self._changed = trio.Event()
                with trio.CancelScope() as self._op:
                    async with self._actors:
                        await self._reconcile_once(gain, lose)
                self._op = None

    async def _reconcile_once(self, gain: Gain, lose: Lose) -> None:
        lost = sorted(self.running - self.held)
        if lost:  # held by nobody or by another node now: stop at once
            self.running -= set(lost)
            await lose(lost, False)
        leaving = sorted(self._releasing & self.running)
        if leaving:  # given back on purpose: finish what they hold first
            await lose(leaving, True)
            self.running -= set(leaving)
        self._to_unlock |= self._releasing - self.running
        self._releasing -= self._to_unlock
        new = sorted(self.held - self.running - self._releasing - self._to_unlock)
        if new:
            self.running |= set(new)
            log.info("leased %d chips: %s", len(new), ", ".join(new))
            self._starting = set(new)
            try:
                failed = await gain(new)
            finally:
                self._starting = set()
            self.running -= set(failed)

    async def refresh(self, timeout: float) -> None:
        """Renew now and wait (bounded) until the actors match the leases: a reload
        that adds chips starts them at once when this node can lease them."""
        with trio.move_on_after(timeout):
            # Twice: a renewal already under way when the chip list changed ends first
            # without the new chips; the second one began after the change.
            for _ in range(2):
                renewed = self._renewed
                self._kick.set()
                await renewed.wait()
            while self._starting or self.held - self.running - self._releasing:  # noqa: ASYNC110
                await trio.sleep(0.02)

    def owner(self, chip: str) -> str | None:
        return self.node_id if chip in self.running else self.owners.get(chip)

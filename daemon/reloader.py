"""Apply a new ``metad.toml`` to the running daemon: SIGHUP or ``config.reload``.

Why no restart: a restart drops every chip's in-memory state for a moment, refuses sends
while storage reloads, and closes the webhook endpoint; adding one number or raising a
limit should not cost that. The plan comes from :func:`daemon.reload.diff` (pure); this
module carries it out with the supervisor and the fleet:

1. read and check the file and its secrets; on any problem keep running on the old
   config and answer the ``file:line: field: problem`` lines;
2. removed chips are drained (new sends refused, what they hold finished, bounded by
   ``drain_timeout_s``) then stopped, then removed WABAs;
3. the fleet takes the new config; tokens are updated in the Graph client's table;
4. added chips and WABAs start; actors whose settings changed are restarted (a chip
   first waits, bounded, until it holds no message, so nothing is left in doubt by it)
   and rebuild from storage with the new values.

systemd hears ``RELOADING=1`` before and ``READY=1`` after, so ``systemctl reload`` waits.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

import trio

from actors.chip import ChipSnapshot, Drain, GetSnapshot
from actors.core import ActorCrashed, ActorStopped, CallTimeout
from config import ConfigError, MetadConfig, ResolvedSecrets, load_config, resolve_secrets
from daemon.fleet import Fleet
from daemon.graph import GraphClient
from daemon.graph.transport import GraphTimeouts
from daemon.logs import fields
from daemon.reload import ConfigChange, diff, effective
from daemon.supervisor import Intensity, Supervisor
from daemon.systemd import Notifier

__all__ = ["Reloader", "live_graph_client", "reload_on_sighup", "token_table"]

log = logging.getLogger("metad.reload")

REMOVED = "removed from the config"
"""Why an actor is stopped when a reload drops it (the other reasons are lease moves)."""

_UNREACHABLE = (ActorCrashed, ActorStopped, CallTimeout)


def token_table(secrets: ResolvedSecrets) -> dict[str, str]:
    """Owner id → token, as the Graph client looks them up (a chip's own wins)."""
    return {**secrets.waba_tokens, **secrets.tokens}


def live_graph_client(cfg: MetadConfig, tokens: dict[str, str]) -> GraphClient:
    """Like ``GraphClient.from_config``, but the client reads ``tokens`` itself: the
    table a reload updates in place (a chip added later, a rotated token)."""
    g = cfg.graph
    timeouts = GraphTimeouts(g.connect_timeout_s, g.read_timeout_s, g.send_timeout_s)
    return GraphClient(g.base_url, g.api_version, token_for=tokens, timeouts=timeouts)


class Reloader:
    """Holds the running config and applies new ones, one reload at a time."""

    def __init__(
        self,
        cfg: MetadConfig,
        secrets: ResolvedSecrets,
        *,
        fleet: Fleet,
        supervisor: Supervisor,
        tokens: dict[str, str],
        prepare: Callable[[MetadConfig], MetadConfig] = lambda cfg: cfg,
        on_applied: Callable[[MetadConfig], None] = lambda cfg: None,
        publish: Callable[[str, dict[str, Any]], None] = lambda kind, data: None,
        notifier: Notifier | None = None,
        drain_timeout_s: float = 5.0,
        start_timeout_s: float = 30.0,
        leased: Callable[[MetadConfig], Awaitable[None]] | None = None,
        settle_removed: Callable[[str], Awaitable[int]] | None = None,
    ) -> None:
        self.cfg = cfg
        self._settle_removed = settle_removed
        """Settles what a chip removed from the config still held once its actor has
        stopped (``ChipJournal.settle_abandoned``): nobody would otherwise, since only a
        starting actor settles its chip's rows, and a removed chip never starts again.
        Its queued messages would hold their campaign recipients and budget for ever."""
        self._leased = leased
        """Set when chips are leased (daemon.cluster): it takes the new chip list, and
        starts added chips itself when it holds their lease; only chips running here
        are stopped or restarted."""
        self._secrets = secrets
        self._fleet = fleet
        self._supervisor = supervisor
        self._tokens = tokens
        """The Graph client's own table (by reference): updated in place."""
        self._prepare = prepare
        self._on_applied = on_applied
        self._publish = publish
        self._notifier = notifier or Notifier()
        self._drain_timeout_s = drain_timeout_s
        self._start_timeout_s = start_timeout_s
        self._lock = trio.Lock()
        self.reloads = 0
        self.failures = 0

    async def reload(self) -> dict[str, Any]:
        """Re-read the config file and apply it; the answer of ``config.reload``."""
        async with self._lock:
            self._notifier.notify(RELOADING=1, MONOTONIC_USEC=time.monotonic_ns() // 1000)
            try:
                # Shielded: a ctl client that goes away must not leave a reload half
                # applied (every step in it is bounded by the drain and start timeouts).
                with trio.CancelScope(shield=True):
                    result = await self._reload()
            finally:
                self._notifier.notify(READY=1)
        return result

    async def _reload(self) -> dict[str, Any]:
        source = self.cfg.source
        if source is None:
            return self._failed(["the running config was not loaded from a file"])
        try:
            new = self._prepare(load_config(source.path))
            secrets = resolve_secrets(new)
        except ConfigError as exc:
            return self._failed([str(issue) for issue in exc.issues])
        change = diff(self.cfg, new)
        pending = [
            name
            for name, before, after in (
                ("graph.app_secret", self._secrets.app_secret, secrets.app_secret),
                ("webhook.verify_token", self._secrets.verify_token, secrets.verify_token),
            )
            if before != after and name not in change.needs_restart
        ]
        if pending:  # same reference, new value: the webhook endpoint holds the old one
            change = dataclasses.replace(change, needs_restart=(*change.needs_restart, *pending))
        running = effective(self.cfg, new)
        problems = await self._apply(change, running, secrets)
        self.cfg = running
        self._on_applied(running)
        self.reloads += 1
        summary = change.summary()
        log.info("config reloaded", extra=fields(**summary))
        if change.needs_restart:
            log.warning(
                "config changes wait for a restart of metad: %s", ", ".join(change.needs_restart)
            )
        self._publish("config", {"applied": True, **summary, "problems": problems})
        return {"applied": True, "errors": problems, "changes": summary}

    def _failed(self, errors: list[str]) -> dict[str, Any]:
        self.failures += 1
        log.error(
            "config reload failed; still running on the previous config:\n  %s",
            "\n  ".join(errors),
        )
        self._publish("config", {"applied": False, "errors": errors})
        return {"applied": False, "errors": errors, "changes": {}}

    async def _apply(
        self, change: ConfigChange, cfg: MetadConfig, secrets: ResolvedSecrets
    ) -> list[str]:
        """Carry the plan out; problems (an actor that would not start) are returned."""
        problems: list[str] = []
        fresh = token_table(secrets)
        self._tokens.update(fresh)
        stop, start, restart = change.stop, change.start, change.restart
        if self._leased is not None:
            running = set(self._supervisor.child_ids)
            stop = tuple(a for a in stop if not a.startswith("chip:") or a in running)
            start = tuple(a for a in start if not a.startswith("chip:"))
            restart = tuple(a for a in restart if not a.startswith("chip:") or a in running)
        await _in_groups(stop, self._stop)
        for owner in set(self._tokens) - set(fresh):
            del self._tokens[owner]
        self._secrets = secrets
        self._fleet.reconfigure(cfg)
        if "supervisor" in change.settings:
            s = cfg.supervisor
            self._supervisor.intensity = Intensity(
                s.max_restarts, s.period_s, s.backoff_min_s, s.backoff_max_s
            )
        if "daemon.log_level" in change.settings:
            logging.getLogger().setLevel(cfg.daemon.log_level.upper())
        await _in_groups(start, partial(self._start, problems=problems))
        await _in_groups(restart, partial(self._restart, problems=problems))
        if self._leased is not None:
            await self._leased(cfg)
        return problems

    async def start_chips(self, ids: Sequence[str]) -> list[str]:
        """Start the actors of chips this daemon has just leased (all at once); returns
        those that did not start."""
        problems: list[str] = []
        await _in_groups(
            [f"chip:{i}" for i in ids], partial(self._start, problems=problems, why="leased")
        )
        return [i for i in ids if self._fleet.find_chip(i) is None]

    async def stop_chips(self, ids: Sequence[str], *, drain: bool) -> None:
        """Stop the actors of chips whose lease goes: drained when given back on
        purpose, at once when the lease is in doubt."""
        await _in_groups(
            [f"chip:{i}" for i in ids],
            partial(
                self._stop,
                drain=drain,
                why="lease given back" if drain else "lease lost",
                settle=False,  # the chip lives on at the daemon that takes the lease
            ),
        )

    async def _stop(
        self, actor_id: str, *, drain: bool = True, why: str = REMOVED, settle: bool = True
    ) -> None:
        """Stop one actor; ``settle``: a chip leaving the config for good has its unsent
        rows settled (cancelled or in doubt), so nothing waits for it."""
        kind, _, ident = actor_id.partition(":")
        close = partial(self._fleet.close_chip if kind == "chip" else self._fleet.close_waba, ident)
        if actor_id not in self._supervisor.child_ids:  # not running here (leases)
            if kind == "chip":
                close()
            return
        if kind == "chip" and drain:
            await self._drain(ident)
        timeout = self._drain_timeout_s if drain else 0.0
        await self._supervisor.stop_child(actor_id, close=close, timeout=timeout)
        log.info("actor %s stopped: %s", actor_id, why)
        if kind == "chip" and settle and self._settle_removed is not None:
            settled = await self._settle_removed(ident)
            if settled:
                log.warning(
                    "chip %s was removed holding %d unsent message(s): queued ones are"
                    " cancelled (a campaign hands their recipients to another chip), ones"
                    " caught mid-POST are in doubt until their status webhook",
                    ident,
                    settled,
                    extra=fields(chip=ident, settled=settled),
                )

    async def _start(
        self, actor_id: str, *, problems: list[str], why: str = "added to the config"
    ) -> None:
        kind, _, ident = actor_id.partition(":")
        spec = self._fleet.chip_spec(ident) if kind == "chip" else self._fleet.waba_spec(ident)
        try:
            with trio.fail_after(self._start_timeout_s):
                await self._supervisor.start_child(spec)
        except Exception as exc:
            problems.append(f"{actor_id} did not start: {exc}")
            log.error("actor %s did not start: %s", actor_id, exc)
            (self._fleet.close_chip if kind == "chip" else self._fleet.close_waba)(ident)
        else:
            log.info("actor %s started: %s", actor_id, why)

    async def _restart(self, actor_id: str, *, problems: list[str]) -> None:
        kind, _, ident = actor_id.partition(":")
        if kind == "chip":
            await self._quiesce(ident)
        if not await self._supervisor.restart_child(actor_id, timeout=self._start_timeout_s):
            problems.append(f"{actor_id} was not back within {self._start_timeout_s:g}s")

    async def _drain(self, phone_number_id: str) -> None:
        """Refuse new sends on the chip and let it finish what it holds (bounded)."""
        address = self._fleet.find_chip(phone_number_id)
        if address is None:
            return
        try:
            await address.call(lambda r: Drain(reply=r))
        except _UNREACHABLE:
            return
        await self._quiesce(phone_number_id)

    async def _quiesce(self, phone_number_id: str) -> None:
        """Wait until the chip holds no queued or in-flight message, at most the timeout."""
        address = self._fleet.find_chip(phone_number_id)
        if address is None:
            return
        with trio.move_on_after(self._drain_timeout_s) as scope:
            while True:
                try:
                    snap: ChipSnapshot = await address.call(lambda r: GetSnapshot(reply=r))
                except _UNREACHABLE:
                    return
                if snap.queued == 0 and snap.in_flight == 0:
                    return
                await trio.sleep(0.05)
        if scope.cancelled_caught:
            log.warning(
                "chip %s still held messages after %gs; going on",
                phone_number_id,
                self._drain_timeout_s,
            )


async def _in_groups(ids: Sequence[str], act: Callable[[str], Awaitable[None]]) -> None:
    """Act on a run of ids of one kind all at once (every chip, then every WABA), so a
    fleet-wide change waits for the slowest chip, not for the sum of them."""
    for _, group in itertools.groupby(ids, key=lambda actor_id: actor_id.partition(":")[0]):
        async with trio.open_nursery() as nursery:
            for actor_id in group:
                nursery.start_soon(act, actor_id)


async def reload_on_sighup(
    reloader: Reloader, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """``systemctl reload metad`` (``kill -HUP``): reload once per signal, in order."""
    with trio.open_signal_receiver(signal.SIGHUP) as signals:
        task_status.started()
        async for _ in signals:
            log.info("received SIGHUP, reloading the config")
            await reloader.reload()

"""The operations listener: ``/metrics``, ``/healthz`` and ``/readyz`` (``[metrics] listen``).

Why a listener of its own, apart from the webhook endpoint: the webhook port faces Meta
(often through a public proxy) while metrics and probes are for the operator's network;
and a probe must answer even when the webhook path is saturated. It is a bare ASGI app
on the same hypercorn trio worker (no routing framework for three paths).

* ``/healthz``: the process answers HTTP (liveness) — 200 while it runs.
* ``/readyz``: 200 only when the store answers ``SELECT 1`` (within a bound) and every
  supervised actor is up (not starting, restarting or in backoff) and the daemon is not
  stopping; otherwise 503 with a JSON body naming each reason.
* ``/metrics``: the Prometheus text format (:mod:`daemon.metrics`).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import trio

from actors.budget.messages import GetBudget
from actors.campaign.coordinator import ListCampaigns
from actors.core import ActorCrashed, ActorStopped, CallTimeout
from daemon.metrics import CONTENT_TYPE, FleetState, Metrics, chip_snapshots
from daemon.webhook.server import serve_asgi

if TYPE_CHECKING:
    from daemon.main import Daemon

__all__ = ["create_ops_app", "fleet_state", "readiness", "serve_ops"]

log = logging.getLogger("metad.health")

STORE_TIMEOUT_S = 2.0
SNAPSHOT_TIMEOUT_S = 2.0

Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


async def readiness(daemon: Daemon, *, timeout: float = STORE_TIMEOUT_S) -> list[str]:
    """Why the daemon is not ready; empty when it is."""
    reasons: list[str] = []
    if daemon.stop.is_set():
        reasons.append("stopping")
    down = daemon.supervisor.down
    if down:
        shown = ", ".join(down[:10]) + (f" and {len(down) - 10} more" if len(down) > 10 else "")
        reasons.append(f"actors not up: {shown}")
    if daemon.ingest_workers is not None:
        reasons.extend(daemon.ingest_workers.reasons())
    answered = False
    with trio.move_on_after(timeout):
        try:
            answered = await daemon.store.fetchval("SELECT 1") == 1
        except Exception as exc:
            reasons.append(f"store: {type(exc).__name__}: {exc}")
            answered = True  # the reason is given
        else:
            if not answered:
                reasons.append("store: SELECT 1 did not answer 1")
                answered = True
    if not answered:
        reasons.append(f"store: no answer to SELECT 1 within {timeout:g}s")
    return reasons


CAMPAIGN_COUNTS_MAX_AGE_S = 60.0
"""A paused or draft campaign's counts in a scrape may be this old (recounting each at
every scrape would cost PostgreSQL a pass over its rows every 15 s)."""


async def fleet_state(daemon: Daemon) -> FleetState:
    """Read what one scrape shows from the running daemon (chips asked concurrently)."""
    fleet = daemon.fleet
    addresses = {pnid: fleet.chip(pnid) for pnid in fleet.chip_ids}
    snaps, unanswered = await chip_snapshots(addresses, SNAPSHOT_TIMEOUT_S)
    budget: dict[str, Any] = {}
    with contextlib.suppress(ActorCrashed, ActorStopped, CallTimeout):  # shown as absent
        budget = await fleet.budget.call(lambda r: GetBudget(reply=r), timeout=SNAPSHOT_TIMEOUT_S)
    campaigns: list[dict[str, Any]] = []
    if daemon.campaigns is not None:
        with contextlib.suppress(ActorCrashed, ActorStopped, CallTimeout):  # shown as absent
            campaigns = await daemon.campaigns.call(
                lambda r: ListCampaigns(
                    reply=r, open_only=True, max_age_s=CAMPAIGN_COUNTS_MAX_AGE_S
                ),
                timeout=SNAPSHOT_TIMEOUT_S,
            )
    # Few rows (a crash leaves a handful), found through outbox_state_idx. A store that
    # does not answer leaves the gauge out; /readyz says why.
    gauges: dict[str, float] = {}
    with trio.move_on_after(SNAPSHOT_TIMEOUT_S), contextlib.suppress(Exception):
        gauges["metad_outbox_in_doubt"] = float(
            await daemon.store.fetchval("SELECT count(*) FROM outbox WHERE state = 'in_doubt'")
        )
    supervisor = daemon.supervisor
    processor, writer = daemon.processor.stats, daemon.store.writer.stats
    ingest = daemon.webhook.counters
    counters = {
        "metad_webhook_stored": ingest.stored,
        "metad_webhook_bad_signature": ingest.bad_signature,
        "metad_webhook_bad_json": ingest.bad_json,
        "metad_webhook_too_large": ingest.too_large,
        "metad_webhook_unavailable": ingest.unavailable,
        "metad_webhook_rows": processor.rows,
        "metad_webhook_duplicate_bodies": processor.duplicates,
        "metad_webhook_unknown_number_events": processor.unknown_number,
        "metad_webhook_events_applied": processor.events,
        "metad_store_writer_rows": writer.rows,
        "metad_store_writer_transactions": writer.transactions,
        "metad_store_writer_failed_rows": writer.failed_rows,
        "metad_bus_events_published": daemon.bus.published,
        "metad_bus_subscribers_cut": daemon.bus.dropped_subscribers,
    }
    if daemon.reloader is not None:
        counters["metad_config_reloads"] = daemon.reloader.reloads
        counters["metad_config_reload_failures"] = daemon.reloader.failures
    return FleetState(
        chips=tuple(snaps),
        mailboxes={p: a.statistics().current_buffer_used for p, a in addresses.items()},
        unanswered=tuple(unanswered),
        budget=budget,
        campaigns=tuple(campaigns),
        restarts={cid: supervisor.restarts(cid) for cid in supervisor.child_ids},
        down=tuple(supervisor.down),
        counters=counters,
        gauges={
            "metad_bus_subscribers": float(daemon.bus.subscribers),
            **gauges,
            **(
                {"metad_webhook_ingest_workers_up": float(len(daemon.ingest_workers.up))}
                if daemon.ingest_workers is not None
                else {}
            ),
        },
    )


async def _respond(send: Any, status: int, body: bytes, content_type: str) -> None:
    headers = [(b"content-type", content_type.encode()), (b"cache-control", b"no-store")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def create_ops_app(daemon: Daemon, metrics: Metrics) -> ASGIApp:
    """The ASGI app of the operations listener."""

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path, method = scope.get("path", ""), scope.get("method", "GET")
        if method not in ("GET", "HEAD"):
            await _respond(send, 405, b"method not allowed\n", "text/plain; charset=utf-8")
        elif path == "/healthz":
            await _respond(send, 200, b"ok\n", "text/plain; charset=utf-8")
        elif path == "/readyz":
            reasons = await readiness(daemon)
            body = json.dumps({"ready": not reasons, "reasons": reasons}).encode() + b"\n"
            await _respond(send, 503 if reasons else 200, body, "application/json")
        elif path == "/metrics":
            text = await metrics.exposition(lambda: fleet_state(daemon))
            await _respond(send, 200, text, CONTENT_TYPE)
        else:
            await _respond(send, 404, b"not found\n", "text/plain; charset=utf-8")

    return app


async def serve_ops(
    daemon: Daemon,
    metrics: Metrics,
    listen: str,
    *,
    shutdown: trio.Event,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the operations listener until ``shutdown``; ``started`` gets its base URL."""
    await serve_asgi(
        create_ops_app(daemon, metrics),
        listen,
        what="metrics endpoint",
        shutdown=shutdown,
        task_status=task_status,
    )

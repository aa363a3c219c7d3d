"""Budget alerts to an operator's webhook (``[budget] alert_webhook_url``).

Why a task of its own with a bounded queue: the budget coordinator is on every paid
send's path and must never wait for an HTTP server somewhere. It publishes each alert on
the event bus (once per crossing per period: the ledger decides that); this module
subscribes like a console would, puts each alert on its own bounded queue without ever
blocking, and a sender task POSTs them one by one, with a timeout and retries with
doubling backoff. When the queue is full (the receiver has been down for a long time)
or the retries run out, the alert is dropped with a warning in the log: it is already
in the log and on the bus, the webhook is a convenience, not the record.

Alerts still queued when the daemon stops are lost (logged as such).

Why a claim before the bus (:class:`OncePerFleet`): with several daemons on one
PostgreSQL, each one's ledger sees the fleet's bookings, so two of them booking at once
can each see the same threshold crossed and announce it, and a ledger rebuilt on another
node knows only what its journal says. Each alert is first claimed in PostgreSQL by
(scope, period, threshold), ``INSERT ... ON CONFLICT DO NOTHING``; only the daemon whose
row went in publishes it, so the console and the webhook hear it once per crossing per
period, fleet-wide, across restarts and failovers. A single daemon claims too (same
path, one write per alert).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Final, TypeAlias

import httpx
import trio

from config.model import BudgetConfig
from daemon.bus import Bus

__all__ = [
    "AlertWebhook",
    "OncePerFleet",
    "backoff_delays",
    "forward_budget_alerts",
    "serve_alert_webhook",
]

log = logging.getLogger("metad.budget.webhook")

QUEUE_CAPACITY: Final = 256
RETRY_STATUSES: Final = frozenset({408, 425, 429})
"""4xx answers worth retrying (timeout, too early, too many); other 4xx mean the request
itself is wrong and will stay wrong."""


def backoff_delays(retries: int, base_s: float = 0.5, cap_s: float = 30.0) -> list[float]:
    """Seconds to wait before each retry: ``base_s`` doubling, at most ``cap_s``."""
    return [min(cap_s, base_s * math.pow(2, i)) for i in range(retries)]


class AlertWebhook:
    """POSTs alerts offered with :meth:`offer` to ``url`` from :meth:`run`."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 5.0,
        retries: int = 3,
        base_delay_s: float = 0.5,
        capacity: int = QUEUE_CAPACITY,
        sleep: Callable[[float], Awaitable[None]] = trio.sleep,
    ) -> None:
        self.url = url
        self._timeout_s = timeout_s
        self._delays = backoff_delays(retries, base_delay_s)
        self._sleep = sleep
        self._send, self._receive = trio.open_memory_channel[dict[str, Any]](capacity)
        self.delivered = 0
        self.dropped = 0
        """Alerts given up: queue full, or every attempt failed."""

    def offer(self, alert: dict[str, Any]) -> bool:
        """Queue one alert; never blocks. False (and a warning) when the queue is full."""
        try:
            self._send.send_nowait(alert)
        except trio.WouldBlock:
            self.dropped += 1
            log.warning("budget alert webhook: queue full, dropped: %s", alert.get("message"))
            return False
        return True

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with httpx.AsyncClient(timeout=self._timeout_s) as http:
            task_status.started()
            try:
                async for alert in self._receive:
                    await self._deliver(http, alert)
            finally:
                left = self._receive.statistics().current_buffer_used
                if left:
                    log.warning("budget alert webhook: %d alert(s) not sent at shutdown", left)

    async def _deliver(self, http: httpx.AsyncClient, alert: dict[str, Any]) -> None:
        body = {"event": "budget.alert", **alert}
        problem = ""
        for attempt, delay in enumerate([0.0, *self._delays], start=1):
            if delay:
                await self._sleep(delay)
            try:
                response = await http.post(self.url, json=body)
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
                continue
            if response.is_success:
                self.delivered += 1
                return
            problem = f"HTTP {response.status_code}"
            if response.status_code < 500 and response.status_code not in RETRY_STATUSES:
                break
            log.info("budget alert webhook: attempt %d failed (%s)", attempt, problem)
        self.dropped += 1
        log.warning("budget alert webhook: gave up on %r (%s)", alert.get("message"), problem)


AlertKey: TypeAlias = tuple[str, str, Decimal]
"""(scope, period key, threshold): what fires once per period."""
Claim: TypeAlias = Callable[[Sequence[AlertKey]], Awaitable[set[AlertKey]]]


def alert_key(alert: dict[str, Any]) -> AlertKey | None:
    """The claim key of a published budget alert; None for any other budget event."""
    try:
        return (str(alert["scope"]), str(alert["period_key"]), Decimal(str(alert["threshold"])))
    except (KeyError, InvalidOperation):
        return None


class OncePerFleet:
    """Stands between the budget coordinator and the bus: an alert is published only
    once claimed in PostgreSQL (see the module docstring); anything else passes."""

    def __init__(
        self,
        publish: Callable[[str, dict[str, Any]], None],
        claim: Claim,
        *,
        capacity: int = QUEUE_CAPACITY,
        retry_s: float = 1.0,
    ) -> None:
        self._publish = publish
        self._claim = claim
        self._retry_s = retry_s
        self._send, self._receive = trio.open_memory_channel[tuple[AlertKey, dict[str, Any]]](
            capacity
        )
        self.announced = 0
        self.elsewhere = 0
        """Alerts another daemon (or this one before a restart) had announced already."""

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        """The coordinator's ``publish``: never blocks."""
        key = alert_key(data) if kind == "budget" else None
        if key is None:
            self._publish(kind, data)
            return
        try:
            self._send.send_nowait((key, dict(data)))
        except trio.WouldBlock:
            log.warning("budget alerts: queue full, dropped: %s", data.get("message"))

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        async for first in self._receive:
            batch = [first]
            while True:
                try:
                    batch.append(self._receive.receive_nowait())
                except trio.WouldBlock:
                    break
            won = await self._claimed([key for key, _ in batch])
            for key, alert in batch:
                if key in won:
                    won.discard(key)  # once, even if this node queued it twice
                    self.announced += 1
                    self._publish("budget", alert)
                else:
                    self.elsewhere += 1
                    log.info("budget alert already announced: %s", alert.get("message"))

    async def _claimed(self, keys: list[AlertKey]) -> set[AlertKey]:
        """Claim until the store answers (an outage delays alerts, it loses none)."""
        while True:
            try:
                return await self._claim(keys)
            except Exception as exc:
                log.warning("budget alerts: cannot claim (%s); retrying", exc)
                await trio.sleep(self._retry_s)


async def forward_budget_alerts(
    bus: Bus,
    webhook: AlertWebhook,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Offer every budget alert published on ``bus`` to ``webhook``, for ever.

    Offering never blocks, so this subscriber keeps up with the bus; if it is cut off
    anyway (a burst larger than the bus buffer) it subscribes again and says so.
    """
    started = False
    while True:
        sub = bus.subscribe()
        if not started:
            task_status.started()
            started = True
        try:
            async for event in sub.receive:
                if event.kind == "budget" and "threshold" in event.data:
                    webhook.offer(dict(event.data))
        finally:
            sub.close()
        log.warning("budget alert webhook: cut off from the event bus; alerts may be missing")


async def serve_alert_webhook(
    cfg: BudgetConfig,
    bus: Bus,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the webhook sender and its bus subscriber; returns at once when no URL is set."""
    if not cfg.alert_webhook_url:
        task_status.started()
        return
    webhook = AlertWebhook(
        cfg.alert_webhook_url,
        timeout_s=cfg.alert_webhook_timeout_s,
        retries=cfg.alert_webhook_retries,
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(webhook.run)
        await nursery.start(forward_budget_alerts, bus, webhook)
        task_status.started()

"""The budget alert webhook: retries with backoff, never blocks, bounded queue."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from daemon.budget_alerts import AlertWebhook, backoff_delays, forward_budget_alerts
from daemon.bus import Bus
from tests.receiver import Receiver

ALERT = {"scope": "global", "period": "day", "threshold": "0.5", "message": "budget: daily"}


@pytest.mark.parametrize(
    ("retries", "base", "cap", "delays"),
    [
        (0, 0.5, 30.0, []),
        (3, 0.5, 30.0, [0.5, 1.0, 2.0]),
        (5, 4.0, 10.0, [4.0, 8.0, 10.0, 10.0, 10.0]),
    ],
)
def test_backoff_doubles_up_to_the_cap(
    retries: int, base: float, cap: float, delays: list[float]
) -> None:
    assert backoff_delays(retries, base, cap) == delays


async def _waits(sleeps: list[float]) -> AlertWebhook:
    async def sleep(s: float) -> None:
        sleeps.append(s)

    return AlertWebhook("", retries=3, base_delay_s=0.25, sleep=sleep)


@pytest.mark.parametrize(
    ("statuses", "delivered", "attempts", "sleeps"),
    [
        ([], 1, 1, []),
        ([500, 503], 1, 3, [0.25, 0.5]),
        ([429], 1, 2, [0.25]),
        ([500, 500, 500, 500], 0, 4, [0.25, 0.5, 1.0]),  # gives up after 3 retries
        ([400], 0, 1, []),  # a request the receiver calls wrong stays wrong
    ],
)
async def test_delivery_retries_transient_failures(
    statuses: list[int], delivered: int, attempts: int, sleeps: list[float]
) -> None:
    receiver = Receiver(statuses)
    slept: list[float] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(receiver.serve)
        webhook = await _waits(slept)
        webhook.url = receiver.url
        await nursery.start(webhook.run)
        assert webhook.offer(ALERT)
        with trio.fail_after(5):
            while webhook.delivered + webhook.dropped == 0:
                await trio.sleep(0.01)
        nursery.cancel_scope.cancel()
    assert (webhook.delivered, receiver.attempts, slept) == (delivered, attempts, sleeps)
    if delivered:
        assert receiver.bodies == [{"event": "budget.alert", **ALERT}]


async def test_an_unreachable_receiver_is_retried_then_dropped() -> None:
    slept: list[float] = []
    webhook = await _waits(slept)
    async with trio.open_nursery() as nursery:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        port = listeners[0].socket.getsockname()[1]
        for listener in listeners:
            await listener.aclose()  # nobody listens there now
        webhook.url = f"http://127.0.0.1:{port}/alerts"
        await nursery.start(webhook.run)
        webhook.offer(ALERT)
        with trio.fail_after(5):
            while webhook.dropped == 0:
                await trio.sleep(0.01)
        nursery.cancel_scope.cancel()
    assert slept == [0.25, 0.5, 1.0]


def test_a_full_queue_drops_instead_of_blocking() -> None:
    webhook = AlertWebhook("http://127.0.0.1:1/", capacity=2)
    assert [webhook.offer(ALERT) for _ in range(3)] == [True, True, False]
    assert webhook.dropped == 1


async def test_only_budget_alerts_on_the_bus_are_forwarded() -> None:
    bus = Bus(capacity=4)
    webhook = AlertWebhook("http://127.0.0.1:1/", capacity=100)
    async with trio.open_nursery() as nursery:
        await nursery.start(forward_budget_alerts, bus, webhook)
        bus.publish("chip", {"phone_number_id": "1"})
        bus.publish("budget", ALERT)
        bus.publish("budget", {"day": {}})  # a status, not an alert
        await trio.testing.wait_all_tasks_blocked()
        for i in range(10):  # more than the bus buffer at once: cut off, then back
            bus.publish("budget", {**ALERT, "threshold": str(i)})
        await trio.testing.wait_all_tasks_blocked()
        bus.publish("budget", {**ALERT, "threshold": "last"})
        await trio.testing.wait_all_tasks_blocked()
        nursery.cancel_scope.cancel()
    queued = []
    while True:
        try:
            queued.append(webhook._receive.receive_nowait())
        except trio.WouldBlock:
            break
    thresholds = [a["threshold"] for a in queued]
    assert thresholds[0] == "0.5"
    assert thresholds[-1] == "last"  # resubscribed after being cut off
    assert "0" in thresholds

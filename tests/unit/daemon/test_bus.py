from __future__ import annotations

from daemon.bus import Bus


async def test_publish_reaches_every_subscriber() -> None:
    bus = Bus(capacity=4)
    a, b = bus.subscribe(), bus.subscribe()
    bus.publish("chip", {"n": 1})
    assert (await a.receive.receive()).data == {"n": 1}
    assert (await b.receive.receive()).kind == "chip"


async def test_a_slow_subscriber_is_cut_off_not_waited_for() -> None:
    bus = Bus(capacity=2)
    slow, fast = bus.subscribe(), bus.subscribe()
    for n in range(3):
        bus.publish("log", {"n": n})  # never blocks
        await fast.receive.receive()
    assert slow.lagged
    assert bus.subscribers == 1
    assert bus.dropped_subscribers == 1
    received = [e.data["n"] async for e in slow.receive]  # what it had, then the end
    assert received == [0, 1]


def test_publish_without_subscribers_is_free() -> None:
    bus = Bus()
    bus.publish("sends", {})
    assert bus.published == 1


async def test_closed_subscription_is_forgotten() -> None:
    bus = Bus()
    sub = bus.subscribe()
    sub.close()
    bus.publish("chip", {})
    assert bus.subscribers == 0


def test_the_history_keeps_the_last_happenings_not_the_state_streams() -> None:
    """What a console that connects later is shown: actor crashes, alerts, warnings…
    even with nobody subscribed; a chip's state is in the snapshot instead."""
    bus = Bus(history=3)
    for n in range(4):
        bus.publish("log", {"n": n})
    for kind in ("chip", "sends", "campaign.progress"):
        bus.publish(kind, {})
    bus.publish("actor", {"n": 4})
    recent = bus.recent()
    assert [(e.kind, e.data["n"]) for e in recent] == [("log", 2), ("log", 3), ("actor", 4)]
    assert bus.recent(after=recent[0].at - 1) == recent
    assert bus.recent(after=recent[-1].at) == []

"""A webhook body that names chips of two nodes: each owner applies its own chip's events.

Processors of the test's own on one database, each with a real :class:`InboxPlacement`
over a :class:`Leases` that is never run (the test says which chips each "node" runs)
and a recording sink in place of the actors.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from config import MetadConfig
from config.model import ClusterConfig
from daemon.cluster import InboxPlacement, Leases
from daemon.main import Daemon, run_daemon
from daemon.store import Store
from daemon.webhook import events as e
from daemon.webhook.processor import InboxProcessor
from sim.knobs import SimKnobs
from sim.server import build_sim, serve_sim
from tests.integration.daemon.conftest import wait_until
from tests.integration.webhook.conftest import add_outbox, outbox_state, signature, webhook_config
from tests.integration.webhook.support import (
    OTHER_PNID,
    UNKNOWN_PNID,
    RecordingSink,
    status,
)
from tests.unit.daemon.webhook.samples import DISPLAY, TS, USER, body

A = "106540352242922"  # samples.PNID: the smaller id, so its owner processes mixed rows
B = OTHER_PNID
B_DISPLAY = "5511940009999"
ALL = frozenset({A, B})


def _value(pnid: str, *, messages: tuple[str, ...] = (), statuses: tuple[Any, ...] = ()) -> Any:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": DISPLAY, "phone_number_id": pnid},
    }
    if messages:
        value["contacts"] = [{"profile": {"name": "Dr. Teste"}, "wa_id": USER}]
        value["messages"] = [
            {"from": USER, "id": m, "timestamp": str(TS), "type": "text", "text": {"body": "oi"}}
            for m in messages
        ]
    if statuses:
        value["statuses"] = list(statuses)
    return value


def _mixed(*values: Any) -> bytes:
    return body(*(("messages", v) for v in values))


def _node(store: Store, running: set[str], *, leader: bool = False, **sink: Any) -> Any:
    leases = Leases(store, node_id="n", chips=[A, B], mode="all", lease_s=6)
    leases.running = running
    leases.leader = leader
    displays = {DISPLAY: A, B_DISPLAY: B}
    processor = InboxProcessor(store, RecordingSink(known=ALL, **sink))
    processor.placement = InboxPlacement(leases, lambda d: displays.get(d.lstrip("+")))
    return processor, leases


def _sink(processor: InboxProcessor) -> RecordingSink:
    sink = processor._sink
    assert isinstance(sink, RecordingSink)
    return sink


def _chips(processor: InboxProcessor) -> list[str]:
    return [str(getattr(ev, "phone_number_id", "")) for ev in _sink(processor).events]


async def _handoffs(store: Store) -> list[tuple[str, bool]]:
    rows = await store.fetch("SELECT chip, done_at IS NOT NULL AS done FROM webhook_handoff")
    return sorted((r["chip"], r["done"]) for r in rows)


async def _seen(store: Store) -> list[str]:
    return [r["key"] for r in await store.fetch("SELECT key FROM webhook_seen ORDER BY key")]


async def test_each_owner_applies_its_own_chips_events_once(store: Store) -> None:
    out_b = await add_outbox(store, state="sent", wamid="wamid.B.OUT", chip=B)
    await store.inbox.append(
        _mixed(
            _value(A, messages=("wamid.A.IN",), statuses=(status("wamid.A.OUT", "read"),)),
            _value(B, messages=("wamid.B.IN",), statuses=(status("wamid.B.OUT", "delivered"),)),
            _value(UNKNOWN_PNID, messages=("wamid.X.IN",)),
        )
    )
    node_a, _ = _node(store, {A}, leader=True)
    node_b, _ = _node(store, {B})

    assert await node_b.drain() == 0  # the row is A's owner's (the smallest chip it names)
    assert await node_a.drain() == 1
    assert sorted(_chips(node_a)) == [A, A, UNKNOWN_PNID]
    orphans = await store.fetch("SELECT phone_number_id FROM webhook_orphans")
    assert [r["phone_number_id"] for r in orphans] == [UNKNOWN_PNID]  # B's are not orphans
    assert (await store.inbox.stats()).unknown_number == 1
    assert await _handoffs(store) == [(B, False)]
    assert not any(".B." in k for k in await _seen(store))  # B's events wait for B
    assert await outbox_state(store, out_b) == ("sent", "wamid.B.OUT")

    assert await node_b.drain() == 1  # the hand-off (a NOTIFY wakes it in a daemon)
    assert sorted(_sink(node_b).keys()) == ["message:wamid.B.IN:", "status:wamid.B.OUT:delivered"]
    assert await _handoffs(store) == [(B, True)]
    assert await outbox_state(store, out_b) == ("delivered", "wamid.B.OUT")
    assert {"m:wamid.B.IN", "s:wamid.B.OUT:delivered"} <= set(await _seen(store))

    # Nothing twice: drained again, nothing moves; Meta's retry of the body is a
    # duplicate; a body repeating B's applied status drops it where it is processed.
    assert await node_a.drain() == 0
    assert await node_b.drain() == 0
    await store.inbox.append(
        _mixed(
            _value(A, messages=("wamid.A.IN",), statuses=(status("wamid.A.OUT", "read"),)),
            _value(B, messages=("wamid.B.IN",), statuses=(status("wamid.B.OUT", "delivered"),)),
            _value(UNKNOWN_PNID, messages=("wamid.X.IN",)),
        )
    )
    await store.inbox.append(
        _mixed(
            _value(A, messages=("wamid.A.IN2",)),
            _value(B, statuses=(status("wamid.B.OUT", "delivered", ts=1764000999),)),
        )
    )
    assert await node_a.drain() == 2
    assert (await store.inbox.stats()).duplicates == 1
    assert await node_b.drain() == 0
    assert await _handoffs(store) == [(B, True)]
    # B's read status in two bodies, both handed off before B looks: applied once.
    for ts in (1764001000, 1764001001):
        await store.inbox.append(
            _mixed(
                _value(A, messages=(f"wamid.A.{ts}",)),
                _value(B, statuses=(status("wamid.B.OUT", "read", ts=ts),)),
            )
        )
        assert await node_a.drain() == 1
    assert await _handoffs(store) == [(B, False), (B, False), (B, True)]
    assert await node_b.drain() == 2
    assert _sink(node_b).keys()[2:] == ["status:wamid.B.OUT:read"]
    assert await _handoffs(store) == [(B, True)] * 3
    assert await outbox_state(store, out_b) == ("read", "wamid.B.OUT")
    assert len(_sink(node_a).events) == 6
    assert (await store.inbox.stats()).unknown_number == 1


async def test_a_hand_off_survives_its_owner_and_goes_to_the_next(store: Store) -> None:
    await store.inbox.append(
        _mixed(
            _value(A, messages=("wamid.A.IN",)),
            _value(B, statuses=(status("wamid.B.1", "sent"), status("wamid.B.2", "sent"))),
        )
    )
    node_a, _ = _node(store, {A}, leader=True)
    assert await node_a.drain() == 1

    # B's owner dies while delivering (its actors gone mid-way): nothing is closed.
    dying, _ = _node(store, {B}, fail_after=1)
    with pytest.raises(RuntimeError, match="actor gone"):
        await dying.drain()
    assert await _handoffs(store) == [(B, False)]
    # Its chip leaves it while it delivers (the lease lost): the hand-off stays open.
    leaving, leases = _node(store, {B})

    async def gone(event: e.Event) -> bool:
        leases.running = set()
        return False

    _sink(leaving).deliver = gone  # type: ignore[method-assign]
    assert await leaving.drain() == 0
    assert await _handoffs(store) == [(B, False)]
    assert not any(".B." in k for k in await _seen(store))
    assert await store.fetchval("SELECT count(*) FROM webhook_orphans") == 0

    # The node that takes B over applies what was left, once.
    heir, _ = _node(store, {B})
    assert await heir.drain() == 1
    assert _sink(heir).keys() == ["status:wamid.B.1:sent", "status:wamid.B.2:sent"]
    assert await _handoffs(store) == [(B, True)]
    assert await heir.drain() == 0


async def test_a_quality_update_goes_to_the_chip_of_its_display_number(store: Store) -> None:
    """Account-level bodies go to the leader; a number's quality goes on to its owner."""
    quality = {
        "display_phone_number": B_DISPLAY,
        "event": "DOWNGRADE",
        "current_limit": "TIER_1K",
    }
    await store.inbox.append(body(("phone_number_quality_update", quality)))
    leader, _ = _node(store, {A}, leader=True)
    node_b, _ = _node(store, {B})
    assert await node_b.drain() == 0
    assert await leader.drain() == 1
    assert _sink(leader).events == []
    assert await _handoffs(store) == [(B, False)]
    assert await node_b.drain() == 1
    assert [ev.kind for ev in _sink(node_b).events] == ["phone_quality"]


# --- through daemons ------------------------------------------------------------------


async def test_daemons_hand_each_other_their_events_and_a_takeover_gets_the_rest(
    db_dsn: str, tmp_path: Path
) -> None:
    """Meta posts a body naming chips of two daemons to one of them; each chip's events
    reach its own daemon. One left for a daemon that is gone goes to the one after it."""
    sim_cfg = webhook_config(db_dsn, tmp_path / "sim")
    sim = build_sim(sim_cfg, webhook_url=None, seed=3, knobs=SimKnobs.quiet())

    def config(node: str, chips: str | list[str], graph_url: str) -> MetadConfig:
        cfg = webhook_config(db_dsn, tmp_path / node, graph_url=graph_url)
        cluster = ClusterConfig(node_id=node, chips=chips, lease_s=3)
        return cfg.model_copy(update={"cluster": cluster})

    scopes: dict[str, trio.CancelScope] = {}

    async def run(cfg: MetadConfig, *, task_status: trio.TaskStatus[Daemon]) -> None:
        with trio.CancelScope() as scopes[cfg.cluster.node_id]:
            await run_daemon(cfg, handle_signals=False, task_status=task_status)

    async with trio.open_nursery() as nursery, httpx.AsyncClient(timeout=10) as http:
        url = await nursery.start(partial(serve_sim, sim_cfg, sim=sim, listen="127.0.0.1:0"))
        node_a: Daemon = await nursery.start(run, config("a", [A], url))
        node_b: Daemon = await nursery.start(run, config("b", "all", url))
        assert node_a.leases is not None
        assert node_b.leases is not None
        await wait_until(lambda: node_b.leases is not None and node_b.leases.running == {B})

        async def post(raw: bytes) -> None:
            response = await http.post(node_a.webhook_url, content=raw, headers=signature(raw))
            assert response.status_code == 200

        await post(
            _mixed(
                _value(A, messages=("wamid.A.IN",)),
                _value(B, messages=("wamid.B.IN",)),
            )
        )
        await wait_until(lambda: node_b.processor.stats.handoffs == 1, timeout=10)
        assert node_a.processor.stats.unknown_number == 0
        assert node_b.processor.stats.events == 1
        assert await _handoffs(node_a.store) == [(B, True)]
        assert {"m:wamid.A.IN", "m:wamid.B.IN"} <= set(await _seen(node_a.store))

        # b dies; a body naming B is handed off to nobody yet, then to b's successor.
        scopes["b"].cancel()
        await post(_mixed(_value(A, messages=("wamid.A.2",)), _value(B, messages=("wamid.B.2",))))
        await wait_until(lambda: node_a.processor.stats.handed_off == 2, timeout=10)
        assert await _handoffs(node_a.store) == [(B, False), (B, True)]
        node_c: Daemon = await nursery.start(run, config("c", "all", url))
        await wait_until(lambda: node_c.processor.stats.handoffs == 1, timeout=10)
        assert await _handoffs(node_a.store) == [(B, True), (B, True)]
        assert "m:wamid.B.2" in await _seen(node_a.store)
        assert await node_a.store.fetchval("SELECT count(*) FROM webhook_orphans") == 0
        for d in (node_a, node_c):
            d.stop.set()
        nursery.cancel_scope.cancel()

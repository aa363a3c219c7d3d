"""Templates against the simulator: paged sync, review webhooks, a rejected one never used."""

from __future__ import annotations

from pathlib import Path

from actors.chip import Refused, Send, Sent
from actors.waba import GetTemplates, SyncTemplates
from daemon.control.client import connect
from daemon.graph.port import WabaGraph
from tests.integration.daemon.conftest import CHIP, CONTACT, Env, wait_until

WABA = "100000000000001"


async def test_sync_follows_every_page(env: Env) -> None:
    expected = {(t.name, t.language) for t in env.sim.world.templates.values() if t.waba_id == WABA}
    assert len(expected) > 2
    paged = await WabaGraph(env.daemon.graph, page_size=2).templates(WABA)
    assert {(t.name, t.language) for t in paged} == expected
    count = await env.daemon.fleet.waba(WABA).call(lambda r: SyncTemplates(reply=r), timeout=30)
    assert count == len(expected)
    stored = await env.daemon.store.fetchval(
        "SELECT count(*) FROM templates WHERE waba_id = $1", WABA
    )
    assert stored == len(expected)


async def test_a_template_rejected_in_review_is_marked_and_never_used(env: Env) -> None:
    waba = env.daemon.fleet.waba(WABA)
    await waba.call(lambda r: SyncTemplates(reply=r), timeout=30)
    record = next(
        t for t in env.sim.world.templates.values() if t.waba_id == WABA and t.name == "hello_world"
    )
    env.sim.set_template_status(record, "REJECTED", "INVALID_FORMAT")  # webhook to metad

    async def marked() -> bool:
        templates = await waba.call(lambda r: GetTemplates(reply=r))
        return any(t.name == "hello_world" and t.status == "REJECTED" for t in templates)

    await wait_until(marked)
    template = {"name": "hello_world", "language": {"code": record.language}}
    chip = env.daemon.fleet.chip(CHIP)

    async def refused() -> bool:
        result = await chip.call(lambda r: Send(to=CONTACT, template=template, reply=r))
        return isinstance(result, Refused) and "REJECTED" in result.reason

    await wait_until(refused)
    assert not any(m.type == "template" for m in env.sim.world.messages.values())


async def test_templates_through_the_control_socket(env: Env) -> None:
    async with connect(Path(env.daemon.control_socket)) as client:
        counts = await client.call("templates.sync")
        listed = await client.call("templates.list")
    assert counts[WABA] == len([t for t in listed if t["waba_id"] == WABA])
    assert {"name", "status", "category"} <= set(listed[0])


async def test_an_approved_template_goes_out(env: Env) -> None:
    await env.daemon.fleet.waba(WABA).call(lambda r: SyncTemplates(reply=r), timeout=30)
    chip = env.daemon.fleet.chip(CHIP)
    sent = await chip.call(
        lambda r: Send(
            to=CONTACT, template={"name": "hello_world", "language": {"code": "en_US"}}, reply=r
        ),
        timeout=30,
    )
    assert isinstance(sent, Sent)

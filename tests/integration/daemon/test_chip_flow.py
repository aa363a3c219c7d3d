"""Chips against the simulator over real HTTP: windows, templates, quality, limits."""

from __future__ import annotations

import trio

from actors.chip import GetSnapshot, Refused, Send, Sent
from actors.waba import SyncTemplates
from tests.integration.daemon.conftest import CHIP, CONTACT, Env, wait_until

WABA = "100000000000001"

TEXT = {"type": "text", "text": {"body": "Plantão amanhã às 7h, ainda tem interesse?"}}
TEMPLATE = {"name": "hello_world", "language": {"code": "en_US"}}


async def _send(env: Env, **kwargs: object) -> object:
    chip = env.daemon.fleet.chip(CHIP)
    return await chip.call(lambda r: Send(reply=r, **kwargs), timeout=30)  # type: ignore[arg-type]


async def _outbox_state(env: Env, outbox_id: int) -> str:
    state: str = await env.daemon.store.fetchval(
        "SELECT state FROM outbox WHERE id = $1", outbox_id
    )
    return state


async def _inbound(env: Env, wa_id: str = CONTACT, kind: str = "text") -> None:
    env.sim.inbound(CHIP, wa_id, {"type": "text", "text": {"body": "oi"}})
    chip = env.daemon.fleet.chip(CHIP)

    async def window_open() -> bool:
        snap = await chip.call(lambda r: GetSnapshot(reply=r))
        return snap.open_windows > 0

    await wait_until(window_open)


async def test_free_form_needs_the_window_and_goes_out_inside_it(env: Env) -> None:
    refused = await _send(env, to=CONTACT, content=TEXT)
    assert refused == Refused("service window closed and no template given")

    await _inbound(env)  # the contact writes: a webhook opens the window in the chip
    sent = await _send(env, to="+55 (11) 98765-4321", content=TEXT)
    assert isinstance(sent, Sent)
    assert sent.method == "free_form"
    assert env.sim.world.messages[sent.wamid].type == "text"
    # Status webhooks come back through the endpoint and move the outbox row forward.
    await wait_until(lambda: _is(env, sent.outbox_id, "read"))


async def _is(env: Env, outbox_id: int, state: str) -> bool:
    return await _outbox_state(env, outbox_id) == state


async def test_outside_the_window_the_template_is_used(env: Env) -> None:
    sent = await _send(env, to=CONTACT, content=TEXT, template=TEMPLATE, category="utility")
    assert isinstance(sent, Sent)
    assert sent.method == "template"
    decision = await env.daemon.store.fetchval(
        "SELECT decision FROM outbox WHERE id = $1", sent.outbox_id
    )
    assert decision["business_initiated"] is True


async def test_131047_leads_to_the_template_not_a_retry(env: Env) -> None:
    await _inbound(env)
    # Meta's window closed behind our back (the simulator forgets it).
    env.sim.world.windows.clear()
    sent = await _send(env, to=CONTACT, content=TEXT, template=TEMPLATE)
    assert isinstance(sent, Sent)
    assert sent.method == "free_form"  # accepted, then failed by webhook with 131047
    await wait_until(lambda: _is(env, sent.outbox_id, "failed"))

    async def template_sent() -> bool:
        rows = await env.daemon.store.fetch(
            "SELECT kind, state FROM outbox WHERE wa_id = $1 ORDER BY id", CONTACT
        )
        return [r["kind"] for r in rows] == ["free_form", "template"] and rows[1]["state"] in (
            "accepted",
            "sent",
            "delivered",
            "read",
        )

    await wait_until(template_sent)
    free_forms = [m for m in env.sim.world.messages.values() if m.type == "text"]
    assert len(free_forms) == 1  # never retried as free-form


async def test_red_quality_pauses_business_sends_within_a_second(env: Env) -> None:
    chip = env.daemon.fleet.chip(CHIP)
    env.sim.set_quality(CHIP, "RED")
    with trio.fail_after(1.0):
        while (await chip.call(lambda r: GetSnapshot(reply=r))).mode != "PAUSED_BUSINESS":
            await trio.sleep(0.01)
    refused = await _send(env, to=CONTACT, template=TEMPLATE)
    assert isinstance(refused, Refused)
    assert "business-initiated sends stopped" in refused.reason


async def test_chip_recovers_after_the_configured_ramp(env: Env) -> None:
    actor_chip = env.daemon.fleet.chip(CHIP)
    env.sim.set_quality(CHIP, "RED")

    async def mode() -> str:
        return (await actor_chip.call(lambda r: GetSnapshot(reply=r))).mode

    await wait_until(lambda: _mode_is(mode, "PAUSED_BUSINESS"))
    env.sim.set_quality(CHIP, "GREEN")  # UNFLAGGED webhook
    await wait_until(lambda: _mode_is(mode, "RAMPING"))
    # The ramp in this config is 3 steps of ~1 s; ticks advance it.
    await wait_until(lambda: _mode_is(mode, "FULL"), timeout=15)
    rows = await env.daemon.store.fetch(
        "SELECT data->>'to_mode' AS m FROM quality_transitions WHERE chip = $1 ORDER BY id", CHIP
    )
    assert [r["m"] for r in rows][-1] == "FULL"


async def _mode_is(mode: object, want: str) -> bool:
    return await mode() == want  # type: ignore[operator,no-any-return]


async def test_throughput_errors_slow_the_chip_and_lose_nothing(env: Env) -> None:
    # The simulator allows this number 5 msg/s; the chip believes its configured 80.
    env.sim.world.numbers[CHIP].throughput_mps = 5
    contacts = list(env.sim.world.contacts)[:30]
    results: list[object] = []

    async def one(wa_id: str) -> None:
        results.append(await _send(env, to=wa_id, template=TEMPLATE))

    async with trio.open_nursery() as n:
        for wa_id in contacts:
            n.start_soon(one, wa_id)
    assert all(isinstance(r, Sent) for r in results), results
    assert len({r.wamid for r in results if isinstance(r, Sent)}) == 30
    errors = env.sim.counters.get("errors:130429", 0)
    assert errors > 0  # the limit was hit …
    snap = await env.daemon.fleet.chip(CHIP).call(lambda r: GetSnapshot(reply=r))
    assert snap.mps < 80  # … and the chip slowed down


async def test_killed_chip_comes_back_with_windows_and_quality(env: Env) -> None:
    await _inbound(env)
    env.sim.set_quality(CHIP, "YELLOW")  # no webhook for YELLOW: a poll sees it
    await env.daemon.fleet.actors[CHIP].poll_once()
    chip = env.daemon.fleet.chip(CHIP)
    await wait_until(lambda: _mode_is(lambda: _snap_mode(env), "SLOWED"))
    before = await chip.call(lambda r: GetSnapshot(reply=r))

    env.daemon.supervisor.kill(f"chip:{CHIP}", "test")
    await wait_until(lambda: env.daemon.supervisor.restarts(f"chip:{CHIP}") == 1)
    after = await chip.call(lambda r: GetSnapshot(reply=r))
    assert after.restarts == 1
    assert after.open_windows == before.open_windows == 1
    assert after.mode == before.mode == "SLOWED"
    assert after.record.quality_rating == "YELLOW"


async def _snap_mode(env: Env) -> str:
    return (await env.daemon.fleet.chip(CHIP).call(lambda r: GetSnapshot(reply=r))).mode


OTP_CODE = "482915"
OTP_TEMPLATE = {
    "name": "codigo_verificacao",
    "language": {"code": "pt_BR"},
    "components": [
        {"type": "body", "parameters": [{"type": "text", "text": OTP_CODE}]},
        {
            "type": "button",
            "sub_type": "url",
            "index": "0",
            "parameters": [{"type": "text", "text": OTP_CODE}],
        },
    ],
}

_CODES_IN_OUTBOX = (
    "SELECT payload->'template'->'components'->0->'parameters'->0->>'text' AS body,"
    " payload->'template'->'components'->1->'parameters'->0->>'text' AS button,"
    " payload::text AS whole"
    " FROM outbox WHERE payload->'template'->>'name' = 'codigo_verificacao'"
)
"""The operator's query that listed every one-time code metad had sent."""


async def test_a_one_time_code_reaches_meta_but_not_the_outbox(env: Env) -> None:
    sent = await _send(env, to=CONTACT, template=OTP_TEMPLATE, category="authentication")
    assert isinstance(sent, Sent)
    received = env.sim.world.messages[sent.wamid].payload["template"]
    assert received["components"][0]["parameters"][0]["text"] == OTP_CODE
    rows = await env.daemon.store.fetch(_CODES_IN_OUTBOX)
    assert [(r["body"], r["button"]) for r in rows] == [("••••••", "••••••")]
    assert OTP_CODE not in rows[0]["whole"]


async def test_after_a_sync_meta_never_sees_a_template_send_it_would_refuse(env: Env) -> None:
    await env.daemon.fleet.waba(WABA).call(lambda r: SyncTemplates(reply=r), timeout=30)
    short = {
        "name": "vaga_plantao",
        "language": {"code": "pt_BR"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ana"}]}],
    }
    missing = {"name": "nao_existe", "language": {"code": "pt_BR"}}

    async def refusal(template: dict[str, object]) -> str:
        result = await _send(env, to=CONTACT, template=template, category="marketing")
        assert isinstance(result, Refused), result
        return result.reason

    # The WABA actor hands its chips the registry before it answers the sync.
    assert await refusal(missing) == (
        f"template nao_existe/pt_BR is not in WABA {WABA};"
        " run metad ctl templates sync if it was just created"
    )
    assert await refusal(short) == (
        "template vaga_plantao/pt_BR takes 2 body parameters, the send gives 1"
    )
    assert await env.daemon.store.fetchval("SELECT count(*) FROM outbox") == 0
    assert not env.sim.world.messages

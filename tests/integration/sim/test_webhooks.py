"""The simulator's webhooks: signed with the app secret, shaped like Meta's samples.

Each sample body in ``shared/fixtures/webhooks`` is reproduced by making the same event
happen in the simulator; the received body must have the same structure (keys, nesting
and value types). Delivery faults (receiver errors, drops, duplicates, reordering) are
checked on the counters and on what arrives.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio

from daemon.graph import Accepted
from daemon.graph.models import (
    ButtonsAction,
    ButtonsInteractive,
    FlowAction,
    FlowInteractive,
    FlowParameters,
    InteractiveText,
    ReplyButton,
    ReplyButtonBody,
    Template,
)
from sim import SimKnobs
from tests.integration.sim.conftest import (
    CONTACT,
    FIXTURES,
    PID_A1,
    WABA_A,
    SimEnv,
    fixture,
    shape,
    start_env,
)

Scenario = Callable[[SimEnv], Awaitable[dict[str, Any]]]


async def _status(env: SimEnv, outcome: object, status: str) -> dict[str, Any]:
    assert isinstance(outcome, Accepted), outcome

    def found() -> list[dict[str, Any]]:
        return [
            c
            for c in env.receiver.changes("messages")
            for s in c["value"].get("statuses", [])
            if s["id"] == outcome.wamid and s["status"] == status
        ]

    changes = await env.receiver.wait_for(found, message=status)
    return changes[0]


async def _reply_to(env: SimEnv, outcome: object) -> dict[str, Any]:
    assert isinstance(outcome, Accepted), outcome

    def found() -> list[dict[str, Any]]:
        return [
            c
            for c in env.receiver.changes("messages")
            for m in c["value"].get("messages", [])
            if m.get("context", {}).get("id") == outcome.wamid
        ]

    return (await env.receiver.wait_for(found, message="reply"))[0]


async def _trigger(env: SimEnv, field: str, **event: Any) -> dict[str, Any]:
    before = len(env.receiver.changes(field))
    await env.ctl("POST", "trigger", event)
    changes = await env.receiver.wait_for(lambda: env.receiver.changes(field)[before:])
    return changes[0]


async def _no_window_contact(env: SimEnv) -> str:
    windows = {w["wa_id"] for w in (await env.ctl("GET", "windows"))["data"]}
    contacts = (await env.ctl("GET", "contacts?limit=100"))["data"]
    return next(c["wa_id"] for c in contacts if c["wa_id"] not in windows)


async def _template_event(env: SimEnv, body: str) -> dict[str, Any]:
    from daemon.graph.resources import TemplateComponentSpec, TemplateSpec

    spec = TemplateSpec(
        name="teste_webhook",
        language="pt_BR",
        category="MARKETING",
        components=[TemplateComponentSpec(type="BODY", text=body)],
    )
    created = await env.client.create_template(WABA_A, spec)
    changes = await env.receiver.wait_for(
        lambda: [
            c
            for c in env.receiver.changes("message_template_status_update")
            if c["value"]["message_template_id"] == int(created.id)
        ]
    )
    return changes[0]


async def _first_template_id(env: SimEnv) -> str:
    return (await env.client.list_templates(WABA_A, limit=1)).data[0].id


SCENARIOS: dict[str, Scenario] = {
    "status_sent_pmp.json": lambda env: _sent_marketing(env),
    "status_delivered_utility_free.json": lambda env: _delivered_utility(env),
    "status_read.json": lambda env: _read(env),
    "status_failed_131047.json": lambda env: _failed_131047(env),
    "status_failed_131049.json": lambda env: _failed_131049(env),
    "message_text.json": lambda env: _trigger(env, "messages", event="inbound", kind="text"),
    "message_text_no_ninth_digit.json": lambda env: _trigger(
        env, "messages", event="inbound", kind="text", **{"from": "551187654320"}
    ),
    "message_image.json": lambda env: _trigger(env, "messages", event="inbound", kind="image"),
    "message_list_reply.json": lambda env: _trigger(
        env, "messages", event="inbound", kind="list_reply"
    ),
    "message_ctwa_referral.json": lambda env: _trigger(
        env, "messages", event="inbound", kind="referral"
    ),
    "message_button_reply.json": lambda env: _button_reply(env),
    "message_template_quick_reply.json": lambda env: _quick_reply(env),
    "message_flow_completion.json": lambda env: _flow_completion(env),
    "phone_quality_flagged.json": lambda env: _trigger(
        env, "phone_number_quality_update", event="quality", quality_rating="RED"
    ),
    "phone_quality_downgrade.json": lambda env: _trigger(
        env, "phone_number_quality_update", event="tier", messaging_limit_tier="TIER_250"
    ),
    "template_status_approved.json": lambda env: _template_event(
        env, "Olá {{1}}, há novas vagas de plantão."
    ),
    "template_status_rejected.json": lambda env: _template_event(env, "{{1}} {{2}}"),
    "template_quality_update.json": lambda env: _template_trigger(
        env, "message_template_quality_update", score="YELLOW"
    ),
    "template_category_update.json": lambda env: _template_trigger(
        env, "template_category_update", category="UTILITY"
    ),
    "user_preferences_marketing_stop.json": lambda env: _trigger(
        env, "user_preferences", event="user_preferences", wa_id=CONTACT, value="stop"
    ),
    "account_update_restriction.json": lambda env: _trigger(
        env, "account_update", event="account_update", account_event="ACCOUNT_RESTRICTION"
    ),
}


async def _template_trigger(env: SimEnv, field: str, **event: Any) -> dict[str, Any]:
    kind = {"message_template_quality_update": "template_quality"}.get(field, "template_category")
    return await _trigger(
        env, field, event=kind, template_id=await _first_template_id(env), **event
    )


async def _sent_marketing(env: SimEnv) -> dict[str, Any]:
    out = await env.client.send_template(
        PID_A1,
        CONTACT,
        Template.simple("vaga_plantao", "pt_BR", "a", "b"),
        callback_data="outbox:1",
    )
    return await _status(env, out, "sent")


async def _delivered_utility(env: SimEnv) -> dict[str, Any]:
    out = await env.client.send_template(PID_A1, CONTACT, Template.simple("hello_world", "en_US"))
    change = await _status(env, out, "delivered")
    assert change["value"]["statuses"][0]["pricing"]["type"] == "free_customer_service"
    return change


async def _read(env: SimEnv) -> dict[str, Any]:
    out = await env.client.send_text(PID_A1, CONTACT, "Oi")
    return await _status(env, out, "read")


async def _failed_131047(env: SimEnv) -> dict[str, Any]:
    to = await _no_window_contact(env)
    return await _status(
        env, await env.client.send_text(PID_A1, to, "Oi", callback_data="outbox:2"), "failed"
    )


async def _failed_131049(env: SimEnv) -> dict[str, Any]:
    await env.ctl("PATCH", "knobs", {"marketing_cap_rate": 1.0})
    out = await env.client.send_template(
        PID_A1, CONTACT, Template.simple("vaga_plantao", "pt_BR", "a", "b")
    )
    return await _status(env, out, "failed")


async def _button_reply(env: SimEnv) -> dict[str, Any]:
    buttons = ButtonsAction(
        buttons=[ReplyButton(reply=ReplyButtonBody(id="confirm:V1", title="Confirmo"))]
    )
    interactive = ButtonsInteractive(body=InteractiveText(text="Confirma?"), action=buttons)
    return await _reply_to(env, await env.client.send_interactive(PID_A1, CONTACT, interactive))


async def _quick_reply(env: SimEnv) -> dict[str, Any]:
    out = await env.client.send_template(
        PID_A1, CONTACT, Template.simple("vaga_plantao", "pt_BR", "a", "b")
    )
    return await _reply_to(env, out)


async def _flow_completion(env: SimEnv) -> dict[str, Any]:
    params = FlowParameters(flow_token="ft-123", flow_id="123", flow_cta="Abrir")
    interactive = FlowInteractive(
        body=InteractiveText(text="Cadastro"), action=FlowAction(parameters=params)
    )
    return await _reply_to(env, await env.client.send_interactive(PID_A1, CONTACT, interactive))


def test_every_fixture_has_a_scenario() -> None:
    assert {p.name for p in FIXTURES.glob("*.json")} == set(SCENARIOS)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_webhook_matches_the_sample(env: SimEnv, name: str) -> None:
    change = await SCENARIOS[name](env)
    sample = fixture(name)
    assert shape(change) == shape(sample["entry"][0]["changes"][0])
    body = next(b for b in env.receiver.bodies if change in b["entry"][0]["changes"])
    assert shape({**body, "entry": [{**body["entry"][0], "changes": []}]}) == shape(
        {**sample, "entry": [{**sample["entry"][0], "changes": []}]}
    )
    assert env.receiver.bad_signatures == 0


async def test_failed_deliveries_are_retried(env: SimEnv) -> None:
    env.receiver.status = 500
    out = await env.client.send_text(PID_A1, CONTACT, "Oi", callback_data="retry")
    assert isinstance(out, Accepted)
    await env.receiver.wait_for(lambda: env.receiver.posts >= 2, message="a retried POST")
    env.receiver.status = 200
    await _status(env, out, "read")
    counters = await env.ctl("GET", "counters")
    assert counters["webhook_failures"] >= 1


async def test_drop_and_duplicate_knobs(env: SimEnv) -> None:
    await env.ctl("PATCH", "knobs", {"webhook_drop_rate": 1.0})
    dropped = await env.client.send_text(PID_A1, CONTACT, "Oi")
    await trio.sleep(0.2)
    assert isinstance(dropped, Accepted)
    assert not env.receiver.statuses(dropped.wamid)
    await env.ctl("PATCH", "knobs", {"webhook_drop_rate": 0.0, "webhook_duplicate_rate": 1.0})
    twice = await env.client.send_text(PID_A1, CONTACT, "Oi")
    assert isinstance(twice, Accepted)
    await env.receiver.wait_for(
        lambda: len([s for s in env.receiver.statuses(twice.wamid) if s["status"] == "read"]) == 2
    )


async def test_reorder_knob_lets_later_statuses_overtake(nursery: trio.Nursery) -> None:
    knobs = SimKnobs.quiet(
        delivered_delay_s=0.05,
        read_delay_s=0.05,
        webhook_reorder_rate=0.5,
        webhook_reorder_delay_s=0.3,
        pair_burst=20,
    )
    async for env in start_env(nursery, knobs):
        await _check_reordering(env)


async def _check_reordering(env: SimEnv) -> None:
    outs = [await env.client.send_text(PID_A1, CONTACT, f"m{i}") for i in range(8)]
    wamids = [o.wamid for o in outs if isinstance(o, Accepted)]
    await env.receiver.wait_for(
        lambda: all(len(env.receiver.statuses(w)) == 3 for w in wamids), timeout=5
    )
    orders = [[s["status"] for s in env.receiver.statuses(w)] for w in wamids]
    assert any(order != ["sent", "delivered", "read"] for order in orders), orders
    assert (await env.ctl("GET", "counters"))["webhooks_reordered"] > 0


async def test_batched_deliveries_hold_several_changes(env: SimEnv) -> None:
    await env.ctl("PATCH", "knobs", {"webhook_batch_max": 10, "pair_burst": 10})
    for i in range(4):
        assert isinstance(await env.client.send_text(PID_A1, CONTACT, f"m{i}"), Accepted)
    await env.receiver.wait_for(
        lambda: any(len(b["entry"][0]["changes"]) > 1 for b in env.receiver.bodies),
        message="a POST with several changes",
    )


async def test_contacts_write_and_quality_drifts_over_time(nursery: trio.Nursery) -> None:
    knobs = SimKnobs.quiet(
        inbound_per_min=1200, referral_share=0.5, quality_tick_s=0.05, quality_change_rate=1.0
    )
    async for env in start_env(nursery, knobs):
        await _check_activity(env)


async def _check_activity(env: SimEnv) -> None:
    r = env.receiver
    await r.wait_for(lambda: any("referral" in m for m in r.inbound()), message="a CTWA referral")
    await r.wait_for(lambda: r.changes("phone_number_quality_update"), message="a quality event")
    await r.wait_for(
        lambda: r.changes("message_template_quality_update"), message="template quality"
    )
    assert r.bad_signatures == 0

"""Every error code of the reaction table, provoked in the simulator, with its reaction.

Codes the simulator produces by itself are provoked naturally (bad token, limits,
windows, templates...); the ones it cannot (Meta's internal failures, policy blocks)
through ``POST /_sim/faults``. Synchronous errors come back as ``Failed`` or a raised
GraphError; asynchronous ones on the failed status webhook, whose ``errors[0]`` the
daemon turns into a GraphError the same way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from config.secrets import sandbox_token
from daemon.graph import ERROR_TABLE, Accepted, Failed, GraphClient, GraphError, Reaction
from daemon.graph.models import BodyComponent, Language, Media, Template, TextParam
from tests.integration.sim.conftest import CONTACT, PID_A1, PID_A2, PID_B1, WABA_A, SimEnv

EXPECTED: dict[int, Reaction] = {
    0: Reaction.STOP_TOKEN,
    190: Reaction.STOP_TOKEN,
    3: Reaction.STOP_ACTION,
    10: Reaction.STOP_ACTION,
    200: Reaction.STOP_ACTION,
    4: Reaction.BACKOFF_API,
    80007: Reaction.BACKOFF_API,
    130429: Reaction.SLOW_CHIP,
    131056: Reaction.RETRY_RECIPIENT_LATER,
    131000: Reaction.RETRY_BACKOFF,
    131016: Reaction.RETRY_BACKOFF,
    133004: Reaction.RETRY_BACKOFF,
    131057: Reaction.RETRY_BACKOFF,
    100: Reaction.FIX_REQUEST,
    131008: Reaction.FIX_REQUEST,
    131009: Reaction.FIX_REQUEST,
    131051: Reaction.FIX_REQUEST,
    131052: Reaction.FIX_REQUEST,
    131053: Reaction.FIX_REQUEST,
    132000: Reaction.FIX_REQUEST,
    132005: Reaction.FIX_REQUEST,
    132007: Reaction.FIX_REQUEST,
    132012: Reaction.FIX_REQUEST,
    131026: Reaction.GIVE_UP_RECIPIENT,
    130472: Reaction.GIVE_UP_RECIPIENT,
    130497: Reaction.GIVE_UP_RECIPIENT,
    131047: Reaction.FALLBACK_TEMPLATE,
    131048: Reaction.PAUSE_CHIP,
    133010: Reaction.PAUSE_CHIP,
    368: Reaction.PAUSE_CHIP,
    131049: Reaction.DEFER_RECIPIENT,
    131050: Reaction.OPTED_OUT,
    131031: Reaction.STOP_WABA,
    131042: Reaction.STOP_PAID_SENDS,
    132001: Reaction.TEMPLATE_UNUSABLE,
    132015: Reaction.TEMPLATE_UNUSABLE,
    132016: Reaction.TEMPLATE_UNUSABLE,
}
"""What each code must lead to, written out independently of ERROR_TABLE."""

Provoker = Callable[[SimEnv], Awaitable[Any]]


def _tpl(name: str, *params: str, lang: str = "pt_BR") -> Template:
    return Template.simple(name, lang, *params)


def _text(env: SimEnv, to: str = CONTACT, pid: str = PID_A1) -> Awaitable[Any]:
    return env.client.send_text(pid, to, "Oi")


def _injected(code: int) -> Provoker:
    async def provoke(env: SimEnv) -> Any:
        await env.inject("messages", code=code)
        return await _text(env)

    return provoke


async def _bad_token(env: SimEnv) -> Any:
    async with GraphClient(env.base_url, "v21.0", token_for={PID_A1: "EAAG-expired"}) as c:
        return await c.send_text(PID_A1, CONTACT, "Oi")


async def _other_wabas_token(env: SimEnv) -> Any:
    async with GraphClient(
        env.base_url, "v21.0", token_for=lambda _: sandbox_token("100000000000002")
    ) as c:
        return await c.send_text(PID_A1, CONTACT, "Oi")


async def _not_onboarded(env: SimEnv) -> Any:
    return await env.client.send_marketing(PID_B1, CONTACT, _tpl("vaga_plantao", "a", "b"))


async def _waba_rate_limit_on_reads(env: SimEnv) -> Any:
    await env.inject("message_templates", code=80007, count=10)
    try:
        await env.client.list_templates(WABA_A)
    except GraphError as err:
        counters = await env.ctl("GET", "counters")
        assert counters["requests:message_templates"] == 4  # retried with backoff
        return err
    raise AssertionError("no error")


async def _throughput(env: SimEnv) -> Any:
    await env.ctl("POST", f"numbers/{PID_A2}", {"throughput_mps": 1})
    first = await env.client.send_template(PID_A2, CONTACT, _tpl("hello_world", lang="en_US"))
    assert isinstance(first, Accepted)
    return await env.client.send_template(
        PID_A2, "5511987654320", _tpl("hello_world", lang="en_US")
    )


async def _pair_rate(env: SimEnv) -> Any:
    for _ in range(3):
        assert isinstance(await _text(env), Accepted)
    return await _text(env)


def _raw(payload: dict[str, Any]) -> Provoker:
    async def provoke(env: SimEnv) -> Any:
        return await env.client.send_raw(PID_A1, {"to": CONTACT, **payload})

    return provoke


async def _no_window(env: SimEnv) -> Any:
    windows = {
        w["wa_id"] for w in (await env.ctl("GET", f"windows?phone_number_id={PID_A1}"))["data"]
    }
    contacts = (await env.ctl("GET", "contacts?limit=100"))["data"]
    closed = next(c["wa_id"] for c in contacts if c["wa_id"] not in windows)
    return await _text(env, closed)


async def _tier_cap(env: SimEnv) -> Any:
    await env.ctl(
        "POST", f"numbers/{PID_A2}", {"messaging_limit_tier": "TIER_50", "throughput_mps": 1000}
    )
    await env.ctl("POST", "clock", {"advance_s": 25 * 3600})  # every window closed
    contacts = [c["wa_id"] for c in (await env.ctl("GET", "contacts?limit=60"))["data"]]
    hello = _tpl("hello_world", lang="en_US")
    last: Any = None
    for wa_id in contacts[:51]:
        last = await env.client.send_template(PID_A2, wa_id, hello)
        assert isinstance(last, Accepted)
    return last


async def _undeliverable(env: SimEnv) -> Any:
    return await env.client.send_template(
        PID_A1, "5511900000000", _tpl("hello_world", lang="en_US")
    )


async def _marketing_cap(env: SimEnv) -> Any:
    await env.ctl("PATCH", "knobs", {"marketing_cap_rate": 1.0})
    return await env.client.send_template(PID_A1, CONTACT, _tpl("vaga_plantao", "a", "b"))


async def _opted_out(env: SimEnv) -> Any:
    await env.ctl(
        "POST", "trigger", {"event": "user_preferences", "wa_id": CONTACT, "value": "stop"}
    )
    return await env.client.send_template(PID_A1, CONTACT, _tpl("vaga_plantao", "a", "b"))


def _sim_state(path: str, patch: dict[str, Any], template: bool = False) -> Provoker:
    async def provoke(env: SimEnv) -> Any:
        await env.ctl("POST", path, patch)
        if template:
            return await env.client.send_template(PID_A1, CONTACT, _tpl("vaga_plantao", "a", "b"))
        return await _text(env)

    return provoke


def _media(media: Media) -> Provoker:
    async def provoke(env: SimEnv) -> Any:
        return await env.client.send_media(PID_A1, CONTACT, "image", media)

    return provoke


def _template(template: Template) -> Provoker:
    async def provoke(env: SimEnv) -> Any:
        return await env.client.send_template(PID_A1, CONTACT, template)

    return provoke


PROVOKE: dict[int, Provoker] = {
    0: _injected(0),
    190: _bad_token,
    3: _not_onboarded,
    10: _injected(10),
    200: _other_wabas_token,
    4: _injected(4),
    80007: _waba_rate_limit_on_reads,
    130429: _throughput,
    131056: _pair_rate,
    131000: _injected(131000),
    131016: _injected(131016),
    133004: _injected(133004),
    131057: _injected(131057),
    100: _raw({"type": "text", "text": {"body": "sem messaging_product"}}),
    131008: _raw({"messaging_product": "whatsapp", "type": "image", "image": {"caption": "?"}}),
    131009: _raw(
        {
            "messaging_product": "whatsapp",
            "type": "interactive",
            "interactive": {
                "type": "button",
                "body": {"text": "Escolha"},
                "action": {
                    "buttons": [
                        {"type": "reply", "reply": {"id": str(i), "title": "x"}} for i in range(4)
                    ]
                },
            },
        }
    ),
    131051: _raw({"messaging_product": "whatsapp", "type": "hologram", "hologram": {}}),
    131052: _media(Media(link="https://media.invalid/a.jpg")),
    131053: _media(Media(id="1234567890")),
    132000: _template(_tpl("vaga_plantao", "só um")),
    132001: _template(_tpl("nao_existe")),
    132005: _template(_tpl("vaga_plantao", "x" * 1100, "y")),
    132007: _template(_tpl("vaga_plantao", "veja bit.ly/abc", "y")),
    132012: _template(
        Template(
            name="lembrete_plantao",
            language=Language(code="pt_BR"),
            components=[BodyComponent(parameters=[TextParam(text="a"), TextParam(text="b")])],
        )
    ),
    132015: _template(_tpl("promo_pausada")),
    132016: _template(_tpl("promo_desativada")),
    131026: _undeliverable,
    130472: _injected(130472),
    130497: _injected(130497),
    131047: _no_window,
    131048: _tier_cap,
    133010: _sim_state(f"numbers/{PID_A1}", {"registered": False}),
    368: _injected(368),
    131049: _marketing_cap,
    131050: _opted_out,
    131031: _sim_state(f"wabas/{WABA_A}", {"locked": True}),
    131042: _sim_state(f"wabas/{WABA_A}", {"payment_ok": False}, template=True),
}


async def _code_and_reaction(env: SimEnv, result: Any) -> tuple[int | None, Reaction, str]:
    if isinstance(result, GraphError):
        return result.code, result.reaction, "raised"
    if isinstance(result, Failed):
        assert result.reaction is result.error.reaction
        return result.error.code, result.reaction, "sync"
    assert isinstance(result, Accepted), result
    failed = await env.receiver.wait_for(
        lambda: [s for s in env.receiver.statuses(result.wamid) if s["status"] == "failed"]
    )
    err = GraphError.from_error_object(failed[0]["errors"][0], http_status=None)
    return err.code, err.reaction, "webhook"


def test_every_table_code_is_provoked() -> None:
    table_codes = {c for rule in ERROR_TABLE for c in rule.codes if not 200 < c < 300}
    assert table_codes == set(PROVOKE) == set(EXPECTED)


@pytest.mark.parametrize("code", sorted(PROVOKE))
async def test_code_is_provoked_and_gets_its_reaction(env: SimEnv, code: int) -> None:
    result = await PROVOKE[code](env)
    got, reaction, how = await _code_and_reaction(env, result)
    assert got == code, (how, result)
    assert reaction is EXPECTED[code], how

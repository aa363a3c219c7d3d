"""Intents against the simulator: the chip picks the cheapest legal method and template."""

from __future__ import annotations

from actors.chip import Refused, Send, Sent
from actors.waba import SyncTemplates
from tests.integration.daemon.conftest import CHIP, CONTACT, Env

WABA = "100000000000001"
REMINDER = {"nome": "Ana", "data": "sexta, 7h", "button.0": "123"}


async def _send(env: Env, **kwargs: object) -> object:
    await env.daemon.fleet.waba(WABA).call(lambda r: SyncTemplates(reply=r), timeout=30)
    chip = env.daemon.fleet.chip(CHIP)
    return await chip.call(lambda r: Send(reply=r, **kwargs), timeout=30)  # type: ignore[arg-type]


async def test_a_reminder_outside_the_window_goes_as_a_utility_template(env: Env) -> None:
    sent = await _send(env, to=CONTACT, intent="reminder", variables=REMINDER, languages=("pt_BR",))
    assert isinstance(sent, Sent), sent
    assert sent.method == "template"
    message = env.sim.world.messages[sent.wamid]
    assert message.type == "template"
    decision = await env.daemon.store.fetchval(
        "SELECT decision FROM outbox WHERE id = $1", sent.outbox_id
    )
    assert decision["plan"]["method"] == "utility_template"
    assert decision["plan"]["template"]["name"] == "lembrete_plantao"


async def test_missing_parameters_refuse_instead_of_sending_blanks(env: Env) -> None:
    refused = await _send(
        env, to=CONTACT, intent="reminder", variables={"nome": "Ana"}, languages=("pt_BR",)
    )
    assert isinstance(refused, Refused)
    assert "lembrete_plantao" not in {m.type for m in env.sim.world.messages.values()}


async def test_a_marketing_intent_never_uses_a_paused_or_utility_template(env: Env) -> None:
    sent = await _send(
        env,
        to=CONTACT,
        intent="marketing",
        variables={"1": "Ana", "2": "Sírio"},
        languages=("pt_BR",),
    )
    assert isinstance(sent, Sent), sent
    decision = await env.daemon.store.fetchval(
        "SELECT decision FROM outbox WHERE id = $1", sent.outbox_id
    )
    assert decision["plan"]["method"] == "marketing_template"
    assert decision["plan"]["template"]["name"] == "vaga_plantao"

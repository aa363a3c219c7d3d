"""Every send method of the Graph client against the running simulator."""

from __future__ import annotations

import pytest

from daemon.graph import Accepted
from daemon.graph.models import (
    BodyComponent,
    ButtonComponent,
    ButtonsAction,
    ButtonsInteractive,
    CarouselCard,
    CarouselComponent,
    CtaUrlAction,
    CtaUrlInteractive,
    CtaUrlParameters,
    FlowAction,
    FlowInteractive,
    FlowParameters,
    HeaderComponent,
    ImageParam,
    InteractiveText,
    Language,
    ListAction,
    ListInteractive,
    ListRow,
    ListSection,
    Media,
    PayloadParam,
    ReplyButton,
    ReplyButtonBody,
    Template,
    TextParam,
)
from tests.integration.sim.conftest import CONTACT, PID_A1, SimEnv


async def _accepted_with_callback(env: SimEnv, outcome: object, callback: str) -> Accepted:
    assert isinstance(outcome, Accepted), outcome
    assert outcome.wamid.startswith("wamid.")
    statuses = await env.receiver.wait_for(
        lambda: [s for s in env.receiver.statuses(outcome.wamid) if s["status"] == "delivered"]
    )
    assert statuses[0]["biz_opaque_callback_data"] == callback
    stored = await env.ctl("GET", f"messages/{outcome.wamid}")
    assert stored["biz_opaque_callback_data"] == callback
    return outcome


async def test_send_text_is_free_in_window_and_echoes_callback(env: SimEnv) -> None:
    out = await env.client.send_text(PID_A1, CONTACT, "Oi, tudo bem?", callback_data="outbox:1")
    accepted = await _accepted_with_callback(env, out, "outbox:1")
    assert accepted.wa_id == CONTACT
    assert accepted.message_status == "accepted"
    sent = next(s for s in env.receiver.statuses(accepted.wamid) if s["status"] == "sent")
    assert sent["pricing"] == {
        "billable": False,
        "pricing_model": "PMP",
        "category": "service",
        "type": "free_customer_service",
    }


async def test_send_text_to_number_without_ninth_digit(env: SimEnv) -> None:
    out = await env.client.send_template(
        PID_A1, "5511987654320", Template.simple("hello_world", "en_US")
    )
    assert isinstance(out, Accepted)
    assert out.wa_id == "551187654320"


async def test_send_template_positional_with_buttons_and_reply(env: SimEnv) -> None:
    template = Template(
        name="vaga_plantao",
        language=Language(code="pt_BR"),
        components=[
            BodyComponent(parameters=[TextParam(text="Carla"), TextParam(text="sábado")]),
            ButtonComponent(
                sub_type="quick_reply", index=0, parameters=[PayloadParam(payload="ACEITAR_V1")]
            ),
        ],
    )
    out = await env.client.send_template(PID_A1, CONTACT, template, callback_data="outbox:2")
    accepted = await _accepted_with_callback(env, out, "outbox:2")
    sent = next(s for s in env.receiver.statuses(accepted.wamid) if s["status"] == "sent")
    assert sent["pricing"]["category"] == "marketing"
    assert sent["pricing"]["billable"] is True
    # The first contact always answers: a quick-reply tap, in context of the template.
    replies = await env.receiver.wait_for(
        lambda: [
            m for m in env.receiver.inbound() if m.get("context", {}).get("id") == accepted.wamid
        ]
    )
    assert replies[0]["type"] == "button"


async def test_send_template_named_parameters_and_url_button(env: SimEnv) -> None:
    template = Template(
        name="lembrete_plantao",
        language=Language(code="pt_BR"),
        components=[
            BodyComponent(
                parameters=[
                    TextParam(text="Carla", parameter_name="nome"),
                    TextParam(text="12/12", parameter_name="data"),
                ]
            ),
            ButtonComponent(sub_type="url", index=0, parameters=[TextParam(text="V1001")]),
        ],
    )
    out = await env.client.send_template(PID_A1, CONTACT, template, callback_data="outbox:3")
    accepted = await _accepted_with_callback(env, out, "outbox:3")
    sent = next(s for s in env.receiver.statuses(accepted.wamid) if s["status"] == "sent")
    # A utility template inside an open window is free.
    assert sent["pricing"]["type"] == "free_customer_service"


async def test_send_template_header_and_carousel(env: SimEnv) -> None:
    card_image = Media(link="https://cdn.example.com/v.jpg")

    def card(i: int) -> CarouselCard:
        return CarouselCard(
            card_index=i,
            components=[
                HeaderComponent(parameters=[ImageParam(image=card_image)]),
                BodyComponent(parameters=[TextParam(text=f"Hospital {i}")]),
            ],
        )

    template = Template(
        name="carrossel_vagas",
        language=Language(code="pt_BR"),
        components=[
            BodyComponent(parameters=[TextParam(text="Carla")]),
            CarouselComponent(cards=[card(0), card(1)]),
        ],
    )
    out = await env.client.send_template(PID_A1, CONTACT, template, callback_data="outbox:4")
    await _accepted_with_callback(env, out, "outbox:4")


@pytest.mark.parametrize(
    ("interactive", "reply_type"),
    [
        (
            ButtonsInteractive(
                body=InteractiveText(text="Confirma o plantão?"),
                action=ButtonsAction(
                    buttons=[
                        ReplyButton(reply=ReplyButtonBody(id="sim", title="Confirmo")),
                        ReplyButton(reply=ReplyButtonBody(id="nao", title="Não posso")),
                    ]
                ),
            ),
            "button_reply",
        ),
        (
            ListInteractive(
                body=InteractiveText(text="Escolha a vaga"),
                action=ListAction(
                    button="Ver vagas",
                    sections=[ListSection(title="UTI", rows=[ListRow(id="V1", title="UTI 12/12")])],
                ),
            ),
            "list_reply",
        ),
        (
            FlowInteractive(
                body=InteractiveText(text="Complete o cadastro"),
                action=FlowAction(
                    parameters=FlowParameters(
                        flow_token="ft-1", flow_name="cadastro", flow_cta="Abrir"
                    )
                ),
            ),
            "nfm_reply",
        ),
        (
            CtaUrlInteractive(
                body=InteractiveText(text="Veja as vagas"),
                action=CtaUrlAction(
                    parameters=CtaUrlParameters(display_text="Abrir", url="https://example.com")
                ),
            ),
            None,
        ),
    ],
)
async def test_send_interactive_and_contact_reply(
    env: SimEnv, interactive: object, reply_type: str | None
) -> None:
    out = await env.client.send_interactive(PID_A1, CONTACT, interactive, callback_data="outbox:5")  # type: ignore[arg-type]
    accepted = await _accepted_with_callback(env, out, "outbox:5")
    if reply_type is None:
        return
    reply = await env.receiver.wait_for(
        lambda: [
            m for m in env.receiver.inbound() if m.get("context", {}).get("id") == accepted.wamid
        ]
    )
    assert reply[0]["interactive"]["type"] == reply_type


async def test_send_media_by_link_and_by_uploaded_id(env: SimEnv) -> None:
    out = await env.client.send_media(
        PID_A1,
        CONTACT,
        "image",
        Media(link="https://cdn.example.com/a.jpg", caption="Vaga"),
        callback_data="m1",
    )
    await _accepted_with_callback(env, out, "m1")
    media_id = await env.client.upload_media(
        PID_A1, b"%PDF-1.4 sample", "application/pdf", "escala.pdf"
    )
    out = await env.client.send_media(
        PID_A1, CONTACT, "document", Media(id=media_id, filename="escala.pdf"), callback_data="m2"
    )
    await _accepted_with_callback(env, out, "m2")


async def test_send_reaction_and_mark_read(env: SimEnv) -> None:
    inbound = await env.ctl(
        "POST", "trigger", {"event": "inbound", "phone_number_id": PID_A1, "from": CONTACT}
    )
    out = await env.client.send_reaction(PID_A1, CONTACT, inbound["id"], "👍", callback_data="r1")
    await _accepted_with_callback(env, out, "r1")
    await env.client.mark_read(PID_A1, inbound["id"])
    counters = await env.ctl("GET", "counters")
    assert counters["marked_read"] == 1


async def test_send_marketing_messages_api(env: SimEnv) -> None:
    template = Template.simple("vaga_plantao", "pt_BR", "Carla", "sábado")
    out = await env.client.send_marketing(PID_A1, CONTACT, template, callback_data="mm1")
    accepted = await _accepted_with_callback(env, out, "mm1")
    stored = await env.ctl("GET", f"messages/{accepted.wamid}")
    assert stored["endpoint"] == "marketing_messages"


async def test_send_raw_payload(env: SimEnv) -> None:
    payload = {
        "messaging_product": "whatsapp",
        "to": CONTACT,
        "type": "location",
        "location": {"latitude": -23.55, "longitude": -46.63, "name": "Hospital"},
        "biz_opaque_callback_data": "loc1",
    }
    out = await env.client.send_raw(PID_A1, payload)
    await _accepted_with_callback(env, out, "loc1")

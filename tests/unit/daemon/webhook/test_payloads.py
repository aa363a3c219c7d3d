"""Webhook bodies → typed events: every fixture in the shared directory, and a sample per
docs/cloud-api.md §1 for each message type and field without a fixture."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from daemon.webhook import events as ev
from daemon.webhook.payloads import parse
from tests.unit.daemon.webhook.samples import (
    DISPLAY,
    FIXTURES,
    PNID,
    TS,
    USER,
    WABA,
    body,
    fixture,
    inbound,
    messages_value,
    one,
    one_message,
)

# --- the fixtures ---------------------------------------------------------------------------


def _msg(wamid: str, mtype: str, content: Any, **kw: Any) -> ev.InboundMessage:
    fields = {"profile_name": "Dra. Carla Lima", **kw}
    return ev.InboundMessage(
        PNID, DISPLAY, WABA, wamid, fields.pop("from_wa_id", USER), None, TS, mtype, content,
        **fields,
    )  # fmt: skip


def _status(wamid: str, status: str, **kw: Any) -> ev.StatusUpdate:
    ts = kw.pop("timestamp", TS)
    return ev.StatusUpdate(PNID, DISPLAY, WABA, wamid, status, ts, recipient_id=USER, **kw)


def _ctx(wamid: str) -> ev.Context:
    return ev.Context(from_wa_id=DISPLAY, message_id=wamid)


EXPECTED: dict[str, Any] = {
    "message_text.json": _msg(
        "wamid.HBgNNTUxMTk4NzY1NDMyMRUCABIYFjNFQjBDMEE0",
        "text",
        ev.Text("Tenho interesse no plantão de sábado"),
    ),
    "message_text_no_ninth_digit.json": _msg(
        "wamid.HBgMNTUxMTg3NjU0MzIxFQIAEhgWM0VCMEMwQTU=",
        "text",
        ev.Text("Oi"),
        from_wa_id="551187654321",
    ),
    "message_button_reply.json": _msg(
        "wamid.IN2",
        "interactive",
        ev.ButtonReply("confirm:V1001", "Confirmo"),
        context=_ctx("wamid.OUTBOUND1"),
    ),
    "message_template_quick_reply.json": _msg(
        "wamid.IN3",
        "button",
        ev.ButtonTap("ACEITAR_V1002", "Aceitar"),
        context=_ctx("wamid.OUTBOUND2"),
    ),
    "message_list_reply.json": _msg(
        "wamid.IN4",
        "interactive",
        ev.ListReply("V1003", "UTI Adulto 12/12", "Hospital São Lucas 19h-07h"),
    ),
    "message_flow_completion.json": _msg(
        "wamid.IN5",
        "interactive",
        ev.FlowReply(
            "flow",
            "Sent",
            {"flow_token": "ft-123", "vaga_id": "V1004", "confirmado": True},
            '{"flow_token":"ft-123","vaga_id":"V1004","confirmado":true}',
        ),
        context=_ctx("wamid.OUTBOUND3"),
    ),
    "message_ctwa_referral.json": _msg(
        "wamid.IN6",
        "text",
        ev.Text("Vi o anúncio das vagas"),
        referral=ev.Referral(
            source_type="ad",
            source_id="120210000000",
            source_url="https://fb.me/abc",
            headline="Plantões em SP",
            body="Vagas abertas",
            media_type="image",
            image_url="https://cdn.example.com/ad.jpg",
            ctwa_clid="ARAkLkA8rmlFeiCktEJQ",
        ),
    ),
    "message_image.json": _msg(
        "wamid.IN7",
        "image",
        ev.Media("image", "1479537139650973", "image/jpeg", "abc123", caption="Meu CRM"),
    ),
    "status_sent_pmp.json": _status(
        "wamid.OUTBOUND1",
        "sent",
        biz_opaque_callback_data="outbox:000123",
        pricing=ev.Pricing(True, "PMP", "marketing", "regular"),
    ),
    "status_delivered_utility_free.json": _status(
        "wamid.OUTBOUND2",
        "delivered",
        pricing=ev.Pricing(False, "PMP", "utility", "free_customer_service"),
    ),
    "status_read.json": _status("wamid.OUTBOUND1", "read", timestamp=1764000060),
    "status_failed_131047.json": _status(
        "wamid.OUTBOUND4",
        "failed",
        biz_opaque_callback_data="outbox:000124",
        errors=(
            ev.ErrorDetail(
                131047,
                "Re-engagement message",
                "Re-engagement message",
                "Message failed to send because more than 24 hours have passed since the "
                "customer last replied to this number.",
            ),
        ),
    ),
    "status_failed_131049.json": _status(
        "wamid.OUTBOUND5",
        "failed",
        errors=(
            ev.ErrorDetail(
                131049,
                "This message was not delivered to maintain healthy ecosystem engagement.",
                "This message was not delivered to maintain healthy ecosystem engagement.",
                "In order to maintain a healthy ecosystem engagement, the message failed to be "
                "delivered.",
            ),
        ),
    ),
    "template_status_approved.json": ev.TemplateStatusUpdate(
        WABA, "APPROVED", "1689556908129832", "vaga_plantao_v2", "pt_BR", "NONE", "MARKETING"
    ),
    "template_status_rejected.json": ev.TemplateStatusUpdate(
        WABA, "REJECTED", "1689556908129833", "confirmacao_plantao", "pt_BR", "INVALID_FORMAT"
    ),
    "template_quality_update.json": ev.TemplateQualityUpdate(
        WABA, "1689556908129832", "vaga_plantao_v2", "pt_BR", "GREEN", "YELLOW"
    ),
    "template_category_update.json": ev.TemplateCategoryUpdate(
        WABA, "1689556908129834", "lembrete_plantao", "pt_BR", "UTILITY", "MARKETING"
    ),
    "phone_quality_downgrade.json": ev.PhoneQualityUpdate(
        WABA, DISPLAY, "DOWNGRADE", current_limit="TIER_1K", old_limit="TIER_10K"
    ),
    "phone_quality_flagged.json": ev.PhoneQualityUpdate(
        WABA, DISPLAY, "FLAGGED", current_limit="TIER_1K"
    ),
    "account_update_restriction.json": ev.AccountUpdate(
        WABA,
        "ACCOUNT_RESTRICTION",
        phone_number=DISPLAY,
        restrictions=(ev.Restriction("RESTRICTED_ADD_PHONE_NUMBER_ACTION", 1764600000),),
    ),
    "user_preferences_marketing_stop.json": ev.UserPreferences(
        PNID,
        WABA,
        USER,
        None,
        "marketing_messages",
        "stop",
        TS,
        detail="User requested to stop marketing messages",
    ),
}


def test_every_fixture_has_an_expectation() -> None:
    if not FIXTURES.is_dir():
        pytest.skip(f"{FIXTURES} not available")
    assert {p.name for p in FIXTURES.glob("*.json")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_parses_to_expected_event(name: str) -> None:
    raw = fixture(name)
    event = one(parse(raw))
    assert event == EXPECTED[name]
    assert event.raw  # kept for debugging


def test_status_fixtures_dedupe_by_wamid_and_status() -> None:
    sent = one(parse(fixture("status_sent_pmp.json")))
    read = one(parse(fixture("status_read.json")))
    assert sent.dedupe_key == ("wamid.OUTBOUND1", "sent")
    assert read.dedupe_key == ("wamid.OUTBOUND1", "read")
    assert one(parse(fixture("message_image.json"))).dedupe_key == "wamid.IN7"


def test_events_are_frozen_and_slotted() -> None:
    event = one(parse(fixture("message_text.json")))
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.wamid = "other"
    assert not hasattr(event, "__dict__")


# --- samples for the types without fixtures ------------------------------------------------


@pytest.mark.parametrize(
    ("mtype", "payload", "expected"),
    [
        (
            "audio",
            {"mime_type": "audio/ogg; codecs=opus", "sha256": "h1", "id": "9001", "voice": True},
            ev.Media("audio", "9001", "audio/ogg; codecs=opus", "h1", voice=True),
        ),
        (
            "video",
            {"caption": "plantão", "mime_type": "video/mp4", "sha256": "h2", "id": "9002"},
            ev.Media("video", "9002", "video/mp4", "h2", caption="plantão"),
        ),
        (
            "document",
            {"caption": "CRM", "filename": "crm.pdf", "mime_type": "application/pdf", "id": "9003"},
            ev.Media("document", "9003", "application/pdf", caption="CRM", filename="crm.pdf"),
        ),
        (
            "sticker",
            {"mime_type": "image/webp", "sha256": "h4", "id": "9004", "animated": False},
            ev.Media("sticker", "9004", "image/webp", "h4"),
        ),
    ],
)
def test_media_messages(mtype: str, payload: dict[str, Any], expected: ev.Media) -> None:
    assert one_message(inbound(mtype, **{mtype: payload})).content == expected


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            inbound(
                "location",
                location={"latitude": -23.55, "longitude": -46.63, "name": "HC", "address": "SP"},
            ),
            ev.Location(-23.55, -46.63, "HC", "SP"),
        ),
        (
            inbound("contacts", contacts=[{"name": {"formatted_name": "Ana"}, "phones": []}]),
            ev.Contacts(({"name": {"formatted_name": "Ana"}, "phones": []},)),
        ),
        (
            inbound("reaction", reaction={"message_id": "wamid.OUT9", "emoji": "👍"}),
            ev.Reaction("wamid.OUT9", "👍"),
        ),
        (
            inbound("reaction", reaction={"message_id": "wamid.OUT9", "emoji": ""}),
            ev.Reaction("wamid.OUT9", None),
        ),
        (
            inbound(
                "order",
                order={
                    "catalog_id": "777",
                    "text": "quero",
                    "product_items": [
                        {
                            "product_retailer_id": "V1",
                            "quantity": 2,
                            "item_price": 10.5,
                            "currency": "BRL",
                        },
                        "garbage",
                    ],
                },
            ),
            ev.Order("777", "quero", (ev.OrderItem("V1", 2, 10.5, "BRL"),)),
        ),
        (
            inbound(
                "system",
                system={
                    "body": "User A changed from 5511987654321 to 5511999990000",
                    "new_wa_id": "5511999990000",
                    "type": "user_changed_number",
                },
            ),
            ev.System(
                "user_changed_number",
                "User A changed from 5511987654321 to 5511999990000",
                new_wa_id="5511999990000",
            ),
        ),
        (
            inbound(
                "unsupported",
                errors=[{"code": 131051, "title": "Message type unknown"}],
                unsupported={"type": "poll"},
            ),
            ev.Unsupported((ev.ErrorDetail(131051, "Message type unknown"),), "poll"),
        ),
        (inbound("request_welcome"), ev.RequestWelcome()),
        (inbound("ephemeral", ephemeral={}), ev.Unknown("ephemeral")),
        (
            inbound("interactive", interactive={"type": "call_permission_reply"}),
            ev.Unknown("interactive.call_permission_reply"),
        ),
    ],
)
def test_other_message_types(message: dict[str, Any], expected: Any) -> None:
    event = one_message(message)
    assert event.content == expected
    assert event.type == message["type"]
    assert event.from_wa_id == USER
    assert event.timestamp == TS


def test_message_with_bsuid_only() -> None:
    value = messages_value(
        {"from_user_id": "BR.1349", "id": "wamid.B", "timestamp": TS, "type": "text",
         "text": {"body": "oi"}},
    )  # fmt: skip
    value["contacts"] = [{"profile": {"name": "Ana", "username": "@ana"}, "user_id": "BR.1349"}]
    event = one(parse(body(("messages", value))))
    assert (event.from_wa_id, event.bsuid, event.profile_name) == (None, "BR.1349", "Ana")
    assert event.username == "@ana"


def test_contact_bsuid_is_taken_from_contacts() -> None:
    value = messages_value(inbound("text", text={"body": "oi"}))
    value["contacts"][0]["user_id"] = "BR.77"
    assert one(parse(body(("messages", value)))).bsuid == "BR.77"


def test_status_deleted_with_conversation_and_bsuid() -> None:
    status = {
        "id": "wamid.OUT7",
        "status": "deleted",
        "timestamp": "1764000100",
        "recipient_id": USER,
        "recipient_user_id": "BR.1349",
        "conversation": {
            "id": "conv1",
            "expiration_timestamp": "1764086400",
            "origin": {"type": "service"},
        },
        "pricing": {"billable": "yes", "pricing_model": "CBP", "category": "service"},
    }
    value = messages_value(statuses=[status])
    del value["messages"]
    event = one(parse(body(("messages", value))))
    assert event == ev.StatusUpdate(
        PNID, DISPLAY, WABA, "wamid.OUT7", "deleted", 1764000100,
        recipient_id=USER, recipient_bsuid="BR.1349",
        conversation=ev.Conversation("conv1", 1764086400, "service"),
        pricing=ev.Pricing(None, "CBP", "service", None),
    )  # fmt: skip
    assert event.dedupe_key == ("wamid.OUT7", "deleted")


def test_value_level_errors() -> None:
    value = messages_value(errors=[{"code": 131000, "title": "Something went wrong"}])
    del value["messages"]
    event = one(parse(body(("messages", value))))
    assert event == ev.WebhookErrors(PNID, WABA, (ev.ErrorDetail(131000, "Something went wrong"),))


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        (
            "phone_number_name_update",
            {"display_phone_number": DISPLAY, "decision": "REJECTED",
             "requested_verified_name": "Plantões", "rejection_reason": "NAME_FORMAT_UNACCEPTABLE"},
            ev.PhoneNameUpdate(WABA, DISPLAY, "REJECTED", "Plantões", "NAME_FORMAT_UNACCEPTABLE"),
        ),
        (
            "business_capability_update",
            {"max_daily_conversation_per_phone": 1000, "max_phone_numbers_per_business": 2},
            ev.CapabilityUpdate(WABA, 1000, None, 2),
        ),
        (
            "business_capability_update",
            {"max_daily_conversations_per_business": "TIER_2K", "max_phone_numbers_per_waba": 25},
            ev.CapabilityUpdate(WABA, None, "TIER_2K", None, 25),
        ),
        (
            "flows",
            {"event": "FLOW_STATUS_CHANGE", "message": "Flow X changed status",
             "flow_id": "4433", "old_status": "DRAFT", "new_status": "PUBLISHED"},
            ev.FlowsEvent(WABA, "FLOW_STATUS_CHANGE", "4433", "Flow X changed status",
                          "DRAFT", "PUBLISHED"),
        ),
        (
            "flows",
            {"event": "ENDPOINT_ERROR_RATE", "flow_id": 4433, "alert_state": "ACTIVATED"},
            ev.FlowsEvent(WABA, "ENDPOINT_ERROR_RATE", "4433", alert_state="ACTIVATED"),
        ),
        (
            "security",
            {"display_phone_number": DISPLAY, "event": "PIN_RESET_REQUEST",
             "requester": "61555822107539"},
            ev.SecurityEvent(WABA, DISPLAY, "PIN_RESET_REQUEST", "61555822107539"),
        ),
        (
            "account_update",
            {"event": "DISABLED_UPDATE",
             "ban_info": {"waba_ban_state": "DISABLE", "waba_ban_date": "April 17, 2025"}},
            ev.AccountUpdate(WABA, "DISABLED_UPDATE",
                             ban_info=ev.BanInfo("DISABLE", "April 17, 2025")),
        ),
        (
            "account_update",
            {"event": "ACCOUNT_VIOLATION", "violation_info": {"violation_type": "SCAM"}},
            ev.AccountUpdate(WABA, "ACCOUNT_VIOLATION", violation_type="SCAM"),
        ),
    ],
)  # fmt: skip
def test_account_level_fields(field: str, value: dict[str, Any], expected: Any) -> None:
    assert one(parse(body((field, value)))) == expected


def test_smb_message_echo() -> None:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": DISPLAY, "phone_number_id": PNID},
        "message_echoes": [
            {"from": DISPLAY, "to": USER, "id": "wamid.E1", "timestamp": str(TS),
             "type": "text", "text": {"body": "Bom dia"}},
        ],
    }  # fmt: skip
    event = one(parse(body(("smb_message_echoes", value))))
    assert event == ev.MessageEcho(
        PNID, DISPLAY, WABA, "wamid.E1", DISPLAY, USER, None, TS, "text", ev.Text("Bom dia")
    )
    assert event.dedupe_key == "wamid.E1"


def test_several_entries_changes_and_items_in_body_order() -> None:
    statuses = [
        {"id": "wamid.S1", "status": "sent", "timestamp": TS, "recipient_id": USER},
        {"id": "wamid.S1", "status": "delivered", "timestamp": TS + 1, "recipient_id": USER},
    ]
    value = messages_value(
        inbound("text", text={"body": "a"}), inbound("image", image={"id": "5"}), statuses=statuses
    )
    value["contacts"] = []
    doc = json.loads(body(("messages", value), ("flows", {"event": "FLOW_STATUS_CHANGE"})))
    doc["entry"].append({"id": 555, "changes": [{"field": "security", "value": {"event": "X"}}]})
    result = parse(json.dumps(doc).encode())
    assert result.complete
    kinds = [(type(e).__name__, getattr(e, "wamid", None)) for e in result.events]
    assert kinds == [
        ("InboundMessage", "wamid.text"),
        ("InboundMessage", "wamid.image"),
        ("StatusUpdate", "wamid.S1"),
        ("StatusUpdate", "wamid.S1"),
        ("FlowsEvent", None),
        ("SecurityEvent", None),
    ]
    assert result.events[-1].waba_id == "555"
    assert [e.dedupe_key for e in result.events[2:4]] == [
        ("wamid.S1", "sent"),
        ("wamid.S1", "delivered"),
    ]
    assert result.events[0].profile_name is None  # no contacts, and not one-to-one

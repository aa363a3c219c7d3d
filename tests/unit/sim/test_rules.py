"""The simulator's pure rules, with time passed in: limits, windows, pricing, templates."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest

from config.model import MetadConfig
from daemon.graph import ERROR_TABLE
from sim import SimKnobs
from sim.errors import CATALOG, SimError
from sim.limits import Limits, TokenBucket, UniqueUsers
from sim.templates import TemplateRec, check_send, review
from sim.validate import parse_send
from sim.webhooks import sign
from sim.world import DAY, FIRST_CONTACT, NO_NINTH_DIGIT_CONTACT, World

T0 = 1_764_000_000.0
CFG = MetadConfig.model_validate(
    {
        "sandbox": {"enabled": True, "contacts": 30, "reply_rate": 0.5},
        "wabas": [{"id": "1"}, {"id": "2"}],
        "chips": [
            {"phone_number_id": "11", "display_number": "+55 11 94000-0001", "waba": "1"},
            {"phone_number_id": "21", "display_number": "+1 555 0100", "waba": "2"},
        ],
    }
)


def world(seed: int = 7, **knobs: Any) -> World:
    return World(CFG, seed=seed, knobs=SimKnobs.quiet(**knobs), now=T0)


def test_token_bucket() -> None:
    b = TokenBucket(rate=2.0, burst=2.0)
    assert [b.take(T0), b.take(T0), b.take(T0)] == [True, True, False]
    assert b.take(T0 + 0.5)
    assert not b.take(T0 + 0.5)


def test_pair_rate_and_tier_caps() -> None:
    lim = Limits(pair_interval_s=6.0, pair_burst=2)
    assert [lim.pair("p", "u", T0) for _ in range(3)] == [True, True, False]
    assert lim.pair("p", "other", T0)
    assert lim.pair("p", "u", T0 + 6.0)
    users = UniqueUsers()
    assert users.admit("a", 2, T0)
    assert users.admit("b", 2, T0)
    assert not users.admit("c", 2, T0)
    assert users.admit("a", 2, T0 + 10)  # already counted
    assert users.admit("c", 2, T0 + DAY)  # the oldest have rolled out of the 24 h


def test_contacts_are_seeded_and_brazil_ninth_digit_folds() -> None:
    a, b, c = world(1), world(1), world(2)
    assert list(a.contacts) == list(b.contacts) != list(c.contacts)
    assert len(a.contacts) == 30
    assert a.resolve(FIRST_CONTACT) == FIRST_CONTACT
    assert a.resolve("5511987654320") == NO_NINTH_DIGIT_CONTACT
    assert a.resolve("5500000000000") is None


def test_windows_open_close_and_free_entry_point() -> None:
    w = world(open_window_share=0.0)
    assert w.window("11", FIRST_CONTACT) is not None
    assert w.window("11", FIRST_CONTACT).may_send_free_form(T0)  # type: ignore[union-attr]
    assert not w.open_windows(T0 + DAY)
    win = w.open_window("11", FIRST_CONTACT, T0 + DAY, referral=True)
    number = w.numbers["11"]
    pricing, conversation = w.pricing(number, FIRST_CONTACT, "MARKETING", T0 + DAY + 60)
    assert pricing["type"] == "free_entry_point"
    assert not pricing["billable"]
    assert conversation is not None
    assert conversation["origin"]["type"] == "referral_conversion"
    assert win.free_entry(T0 + DAY + 71 * 3600)
    assert not win.service_open(T0 + 3 * DAY)


def test_pricing_per_message() -> None:
    w = world()
    n = w.numbers["11"]
    assert w.pricing(n, FIRST_CONTACT, None, T0)[0]["type"] == "free_customer_service"
    assert w.pricing(n, FIRST_CONTACT, "UTILITY", T0)[0]["billable"] is False
    assert w.pricing(n, FIRST_CONTACT, "UTILITY", T0 + 2 * DAY)[0]["billable"] is True
    marketing = w.pricing(n, FIRST_CONTACT, "MARKETING", T0)[0]
    assert marketing == {
        "billable": True,
        "pricing_model": "PMP",
        "category": "marketing",
        "type": "regular",
    }
    abroad = w.pricing(w.numbers["21"], FIRST_CONTACT, "AUTHENTICATION", T0 + 2 * DAY)[0]
    assert abroad["category"] == "authentication_international"


def test_tokens() -> None:
    w = world()
    assert w.waba_of_token("metad-sandbox-token-1") == "1"
    with pytest.raises(SimError) as exc:
        w.waba_of_token("x")
    assert exc.value.code == 190
    assert exc.value.http_status == 401
    with pytest.raises(SimError) as exc:
        w.require_access("metad-sandbox-token-2", "1")
    assert exc.value.code == 200


def _tpl(
    body: str, category: str = "MARKETING", fmt: str = "positional", **extra: Any
) -> TemplateRec:
    comps: list[dict[str, Any]] = [{"type": "BODY", "text": body}, *extra.get("more", [])]
    return TemplateRec("9", "1", "t", "pt_BR", category, comps, parameter_format=fmt)


@pytest.mark.parametrize(
    ("body", "category", "fmt", "verdict"),
    [
        (
            "Olá {{1}}, temos um plantão para você hoje.",
            "MARKETING",
            "positional",
            ("APPROVED", None),
        ),
        ("{{1}} temos um plantão para você hoje", "MARKETING", "positional", ("REJECTED", None)),
        ("Temos um plantão para você, {{1}}", "MARKETING", "positional", ("REJECTED", None)),
        (
            "Olá {{1}} {{2}} temos plantão para você hoje ok",
            "MARKETING",
            "positional",
            ("REJECTED", None),
        ),
        ("Oi {{1}}, e {{2}} x", "MARKETING", "positional", ("REJECTED", None)),
        (
            "Olá {{2}}, temos um plantão para você hoje.",
            "MARKETING",
            "positional",
            ("REJECTED", None),
        ),
        ("Olá {{nome}}, temos um plantão para você hoje.", "UTILITY", "named", ("APPROVED", None)),
        (
            "Aproveite a oferta de plantões desta semana.",
            "UTILITY",
            "positional",
            ("APPROVED", "MARKETING"),
        ),
        (
            "*{{1}}* é seu código de verificação.",
            "AUTHENTICATION",
            "positional",
            ("REJECTED", None),
        ),
        ("x" * 1025, "MARKETING", "positional", ("REJECTED", None)),
    ],
)
def test_template_review(
    body: str, category: str, fmt: str, verdict: tuple[str, str | None]
) -> None:
    status, _, new_category = review(_tpl(body, category, fmt))
    assert (status, new_category) == verdict


def _send(*params: dict[str, Any], comps: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "name": "t",
        "components": comps
        if comps is not None
        else [{"type": "body", "parameters": list(params)}],
    }


@pytest.mark.parametrize(
    ("rec", "payload", "code"),
    [
        (None, _send(), 132001),
        (_tpl("Oi {{1}}, tudo bem com você hoje?"), _send(), 132000),
        (
            _tpl("Oi {{1}}, tudo bem com você hoje?"),
            _send({"type": "text", "text": "a", "parameter_name": "x"}),
            132012,
        ),
        (_tpl("Oi {{nome}}, tudo bem?", fmt="named"), _send({"type": "text", "text": "a"}), 132012),
        (_tpl("Oi {{1}}, tudo bem?"), _send({"type": "image", "image": {}}), 132012),
        (_tpl("Oi {{1}}, tudo bem?"), _send({"type": "text", "text": "x" * 1025}), 132005),
        (_tpl("Oi {{1}}, tudo bem?"), _send({"type": "text", "text": "tinyurl.com/x"}), 132007),
        (_tpl("Oi."), _send(comps=[{"type": "footer"}]), 131009),
        (
            _tpl("Oi.", more=[{"type": "HEADER", "format": "IMAGE"}]),
            _send(comps=[]),
            132000,
        ),
        (
            _tpl(
                "Oi.",
                more=[{"type": "BUTTONS", "buttons": [{"type": "URL", "url": "https://x/{{1}}"}]}],
            ),
            _send(comps=[]),
            132000,
        ),
    ],
)
def test_template_send_checks(rec: TemplateRec | None, payload: dict[str, Any], code: int) -> None:
    with pytest.raises(SimError) as exc:
        check_send(rec, payload)
    assert exc.value.code == code


def test_paused_and_disabled_templates() -> None:
    for status, code in (("PAUSED", 132015), ("DISABLED", 132016), ("PENDING", 132001)):
        rec = _tpl("Oi.")
        rec.status = status
        with pytest.raises(SimError) as exc:
            check_send(rec, _send())
        assert exc.value.code == code


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("text", 100),
        ({"to": "55"}, 100),
        ({"messaging_product": "whatsapp"}, 100),
        ({"messaging_product": "whatsapp", "to": "5511987654321", "recipient_type": "group"}, 100),
        ({"messaging_product": "whatsapp", "to": "5511987654321", "type": "holo"}, 131051),
        ({"messaging_product": "whatsapp", "to": "5511987654321", "type": "text"}, 131008),
        ({"messaging_product": "whatsapp", "to": "5511987654321", "text": {"body": ""}}, 131008),
        (
            {"messaging_product": "whatsapp", "to": "5511987654321", "text": {"body": "x" * 4097}},
            131009,
        ),
        (
            {
                "messaging_product": "whatsapp",
                "to": "5511987654321",
                "type": "audio",
                "audio": {"id": "1", "caption": "x"},
            },
            131009,
        ),
        (
            {
                "messaging_product": "whatsapp",
                "to": "5511987654321",
                "type": "location",
                "location": {"latitude": 1},
            },
            131008,
        ),
        (
            {
                "messaging_product": "whatsapp",
                "to": "5511987654321",
                "type": "reaction",
                "reaction": {"message_id": "w"},
            },
            131008,
        ),
        (
            {
                "messaging_product": "whatsapp",
                "to": "5511987654321",
                "type": "template",
                "template": {"name": "t"},
            },
            131008,
        ),
        (
            {
                "messaging_product": "whatsapp",
                "to": "5511987654321",
                "type": "interactive",
                "interactive": {
                    "type": "list",
                    "body": {"text": "b"},
                    "action": {"button": "b", "sections": []},
                },
            },
            131008,
        ),
        (
            {
                "messaging_product": "whatsapp",
                "to": "5511987654321",
                "type": "interactive",
                "interactive": {
                    "type": "flow",
                    "body": {"text": "b"},
                    "action": {"name": "flow", "parameters": {"flow_message_version": "2"}},
                },
            },
            131009,
        ),
    ],
)
def test_payload_validation(body: Any, code: int) -> None:
    with pytest.raises(SimError) as exc:
        parse_send(body)
    assert exc.value.code == code


def test_catalog_covers_the_clients_table_and_signing() -> None:
    client_codes = {c for rule in ERROR_TABLE for c in rule.codes if not 200 < c < 300}
    assert client_codes <= set(CATALOG)
    body = b'{"object":"whatsapp_business_account"}'
    expected = hmac.new(b"secret", body, hashlib.sha256).hexdigest()
    assert sign("secret", body) == f"sha256={expected}"


def test_a_status_of_a_send_to_a_user_id_names_it_as_recipient_user_id() -> None:
    """As Meta does: ``recipient_user_id``, no ``recipient_id`` (the daemon warned on
    every such status that a BSUID is not a usable wa_id)."""
    from sim.webhooks import status_change
    from sim.world import Message, Number

    number = Number("200", "100", "+55 11 94000-0001", "Hospital", 80, "TIER_1K")

    def status(to: str, wa_id: str | None) -> dict[str, Any]:
        msg = Message("wamid.1", "200", "100", to, wa_id, "text", {}, None, 0.0)
        st: dict[str, Any] = status_change(number, msg, "sent", 1.0)["value"]["statuses"][0]
        return st

    by_user_id = status("BR.Xk9aZ81bQ", None)
    assert by_user_id["recipient_user_id"] == "BR.Xk9aZ81bQ"
    assert "recipient_id" not in by_user_id
    assert status("5511987654321", "5511987654321")["recipient_id"] == "5511987654321"

from __future__ import annotations

import pytest

from actors.chip.contacts import address_fields
from daemon.graph.addressing import Addressing

WA = "5511987654321"
BS = "BR.1349120865530274"


@pytest.mark.parametrize(
    ("mode", "bsuid", "expected"),
    [
        ("phone", BS, {"to": WA}),
        ("phone", None, {"to": WA}),
        ("prefer_bsuid", BS, {"recipient": BS}),
        ("prefer_bsuid", None, {"to": WA}),
        ("bsuid", BS, {"recipient": BS}),
        ("bsuid", None, None),
    ],
)
def test_the_switch_picks_the_field(
    mode: str, bsuid: str | None, expected: dict[str, str] | None
) -> None:
    assert address_fields(WA, bsuid, mode) == expected


@pytest.mark.parametrize("mode", ["phone", "prefer_bsuid", "bsuid"])
def test_a_contact_known_only_by_bsuid_is_sent_to_it(mode: str) -> None:
    assert address_fields(BS, None, mode) == {"recipient": BS}


def test_rewrite_uses_what_inbound_messages_taught() -> None:
    addressing = Addressing("prefer_bsuid")
    payload = {"messaging_product": "whatsapp", "to": WA, "type": "text", "text": {"body": "x"}}
    assert addressing.rewrite(payload) == payload  # nothing known yet: the phone
    addressing.learn("551187654321", BS)  # the wa_id without the ninth digit, same contact
    rewritten = addressing.rewrite(payload)
    assert rewritten is not None
    assert "to" not in rewritten
    assert rewritten["recipient"] == BS
    assert rewritten["text"] == {"body": "x"}
    assert Addressing("phone").rewrite(payload) == payload
    strict = Addressing("bsuid")
    assert strict.rewrite(payload) is None
    strict.load([(WA, BS), (WA, "not a bsuid")])
    assert strict.rewrite(payload) == {**{k: v for k, v in payload.items() if k != "to"},
                                       "recipient": BS}  # fmt: skip

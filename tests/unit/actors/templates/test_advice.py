"""The recommendation rules, table-driven: which facts yield which advice."""

from __future__ import annotations

from typing import Any

import pytest

from actors.templates.advice import (
    DEFAULT_THRESHOLDS,
    Advice,
    TemplateFacts,
    Thresholds,
    advise,
    template_texts,
)

PLAIN = [{"type": "BODY", "text": "Olá {{1}}, seu plantão de amanhã foi confirmado no hospital."}]
PROMO = [{"type": "BODY", "text": "Olá {{1}}, aproveite a promoção de plantões desta semana!"}]


def facts(**kw: Any) -> TemplateFacts:
    base: dict[str, Any] = {
        "waba_id": "1",
        "name": "t",
        "language": "pt_BR",
        "category": "UTILITY",
        "status": "APPROVED",
        "components": PLAIN,
    }
    return TemplateFacts(**{**base, **kw})


def kinds(advice: list[Advice]) -> list[tuple[str, str]]:
    return [(a.kind, a.severity) for a in advice]


@pytest.mark.parametrize(
    ("f", "expected"),
    [
        # healthy: nothing to say
        (facts(sent=100, delivered=95, read=60), []),
        # too few to judge, however bad
        (facts(sent=9, delivered=0, read=0, failed=9, failed_by_code={"131026": 9}), []),
        (facts(sent=100, delivered=70, read=60), [("low_delivery_rate", "warning")]),
        # read rate is over delivered: 20 of 40 delivered is 50 %, fine
        (facts(sent=100, delivered=40, read=20), [("low_delivery_rate", "warning")]),
        (facts(sent=100, delivered=90, read=20), [("low_read_rate", "warning")]),
        (
            facts(sent=100, delivered=85, read=50, failed=15, failed_by_code={"131026": 15}),
            [("high_fail_rate", "warning")],
        ),
        (
            facts(sent=100, delivered=70, read=50, failed=30, failed_by_code={"131026": 30}),
            [("high_fail_rate", "critical"), ("low_delivery_rate", "warning")],
        ),
        (
            facts(sent=100, delivered=95, read=50, failed=5, failed_by_code={"131050": 5}),
            [("high_opt_out_rate", "critical")],
        ),
        # marketing without promotional wording may be utility; with it, it may not
        (facts(category="MARKETING", sent=3), [("marketing_as_utility", "info")]),
        (facts(category="MARKETING", components=PROMO), []),
        (facts(category="MARKETING", status="PENDING"), []),
        (facts(category="UTILITY"), []),
        # paused or rejected and still referenced: critical; not referenced: nothing
        (
            facts(status="PAUSED", references=("campaign c1",)),
            [("unusable_referenced", "critical")],
        ),
        (
            facts(status="REJECTED", references=("2 waiting message(s)",)),
            [("unusable_referenced", "critical")],
        ),
        (facts(status="PAUSED"), []),
        (facts(status="APPROVED", references=("campaign c1",)), []),
    ],
)
def test_rules(f: TemplateFacts, expected: list[tuple[str, str]]) -> None:
    assert kinds(advise([f])) == expected


def test_most_severe_first_and_messages_say_why() -> None:
    out = advise(
        [
            facts(name="a", category="MARKETING"),
            facts(name="b", sent=50, delivered=48, read=5),
            facts(name="c", status="DISABLED", references=("campaign black_friday",)),
        ]
    )
    assert [(a.name, a.severity) for a in out] == [
        ("c", "critical"),
        ("b", "warning"),
        ("a", "info"),
    ]
    assert "DISABLED" in out[0].message
    assert "campaign black_friday" in out[0].message
    assert "10%" in out[1].message
    assert out[1].metrics["read_rate"] == 0.1042
    assert out[1].to_json()["kind"] == "low_read_rate"


def test_thresholds_are_configurable() -> None:
    f = facts(sent=20, delivered=20, read=8)
    assert kinds(advise([f])) == []
    strict = Thresholds(read_rate=0.5, min_sent=DEFAULT_THRESHOLDS.min_sent)
    assert kinds(advise([f], strict)) == [("low_read_rate", "warning")]


def test_texts_come_from_every_component_and_card() -> None:
    comps = [
        {"type": "HEADER", "format": "TEXT", "text": "h"},
        {"type": "BODY", "text": "b"},
        {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "ok"}]},
        {"type": "CAROUSEL", "cards": [{"components": [{"type": "BODY", "text": "card"}]}]},
        "junk",
    ]
    assert list(template_texts(comps)) == ["h", "b", "ok", "card"]

from __future__ import annotations

import json
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from actors.budget.ledger import Ledger
from actors.budget.values import Caps, Reservation
from actors.chip.quality import Mode, QualityState, Rating, SendPolicy, policy
from actors.chip.window import WindowState
from actors.policy.cost import (
    UNLIMITED,
    BudgetState,
    CostDecision,
    CostRequest,
    Intent,
    MarketingMessagesEligibility,
    TemplateOption,
    decide,
    pick_template,
)
from actors.policy.pricing import PriceTable
from config.model import PricingConfig, QualityConfig

D = Decimal
BR = "5511987654321"
PRICES = PriceTable.from_config(PricingConfig())
QCFG = QualityConfig()

FULL = policy(QualityState(), QCFG)
SLOWED = policy(QualityState(rating=Rating.YELLOW, mode=Mode.SLOWED), QCFG)
PAUSED_BUSINESS = policy(QualityState(rating=Rating.RED, mode=Mode.PAUSED_BUSINESS), QCFG)
PAUSED_ALL = policy(QualityState(status="BANNED", mode=Mode.PAUSED_ALL), QCFG)

MM_ON = MarketingMessagesEligibility(enabled=True, onboarded=True)
MM_OFF = MarketingMessagesEligibility(enabled=False, onboarded=False)
MM_NOT_ONBOARDED = MarketingMessagesEligibility(enabled=True, onboarded=False)


def tpl(
    name: str,
    category: str = "UTILITY",
    *,
    language: str = "pt_BR",
    status: str = "APPROVED",
    params: tuple[str, ...] = (),
    quality: str = "GREEN",
) -> TemplateOption:
    return TemplateOption(
        name=name,
        language=language,
        category=category,
        status=status,
        params=params,
        quality=quality,
    )


CONFIRM = tpl("julia_confirmacao_v1", params=("nome", "data"))
CONFIRM_EN = tpl("julia_confirmacao_v1", language="en_US", params=("nome", "data"))
FOLLOW = tpl("followup_v2", params=("nome",))
PROMO = tpl("promo_natal", "MARKETING", params=("nome",))
OTP = tpl("codigo_acesso", "AUTHENTICATION", params=("1",))
REGISTRY = (
    CONFIRM,
    CONFIRM_EN,
    FOLLOW,
    tpl("followup_old", status="PAUSED"),
    PROMO,
    tpl("promo_pending", "MARKETING", status="PENDING"),
    OTP,
)


def window(*, service: bool = False, free: bool = False) -> WindowState:
    return WindowState(
        service_open=service,
        free_entry_open=free,
        service_expires_at=None,
        free_entry_expires_at=None,
        seconds_left=3600.0 if service else 0.0,
    )


def req(
    intent: Intent,
    *,
    content: bool = False,
    params: tuple[str, ...] = ("nome", "data", "1"),
    names: tuple[str, ...] = (),
    languages: tuple[str, ...] = ("pt_BR",),
    wa_id: str = BR,
) -> CostRequest:
    return CostRequest(
        intent=intent,
        wa_id=wa_id,
        languages=languages,
        has_content=content,
        params=frozenset(params),
        template_names=names,
    )


def run(
    request: CostRequest,
    *,
    service: bool = False,
    free: bool = False,
    templates: tuple[TemplateOption, ...] = REGISTRY,
    mm: MarketingMessagesEligibility = MM_OFF,
    budget: BudgetState = UNLIMITED,
    pol: SendPolicy = FULL,
) -> CostDecision:
    return decide(
        request,
        window=window(service=service, free=free),
        templates=templates,
        marketing_messages=mm,
        budget=budget,
        policy=pol,
        prices=PRICES,
    )


# Each row: request, window, MM eligibility, policy →
# method, template, cost, category, business_initiated.
CASES = [
    pytest.param(
        req(Intent.REPLY, content=True),
        True,
        False,
        MM_OFF,
        FULL,
        "free_form",
        None,
        "0",
        "service",
        False,
        id="reply-in-window-free-form",
    ),
    pytest.param(
        req(Intent.MARKETING, content=True),
        True,
        False,
        MM_ON,
        FULL,
        "free_form",
        None,
        "0",
        "service",
        False,
        id="marketing-in-window-free-form",
    ),
    pytest.param(
        req(Intent.FOLLOW_UP, content=True, names=("followup_v2",)),
        False,
        False,
        MM_ON,
        FULL,
        "utility_template",
        FOLLOW,
        "0.0068",
        "utility",
        True,
        id="follow-up-outside-utility",
    ),
    pytest.param(
        req(Intent.CONFIRMATION, names=("julia_confirmacao_v1",)),
        True,
        False,
        MM_OFF,
        FULL,
        "utility_template",
        CONFIRM,
        "0",
        "utility",
        False,
        id="confirmation-in-window-without-content-free-utility",
    ),
    pytest.param(
        req(Intent.REMINDER, content=True, names=("julia_confirmacao_v1",)),
        False,
        True,
        MM_OFF,
        FULL,
        "utility_template",
        CONFIRM,
        "0",
        "utility",
        True,
        id="free-entry-window-makes-template-free",
    ),
    pytest.param(
        req(Intent.UPDATE, names=("julia_confirmacao_v1",)),
        False,
        False,
        MM_OFF,
        SLOWED,
        "utility_template",
        CONFIRM,
        "0.0068",
        "utility",
        True,
        id="slowed-still-sends-utility",
    ),
    pytest.param(
        req(Intent.MARKETING),
        False,
        False,
        MM_ON,
        FULL,
        "marketing_messages",
        PROMO,
        "0.0625",
        "marketing",
        True,
        id="marketing-mm-api",
    ),
    pytest.param(
        req(Intent.MARKETING),
        False,
        False,
        MM_NOT_ONBOARDED,
        FULL,
        "marketing_template",
        PROMO,
        "0.0625",
        "marketing",
        True,
        id="marketing-not-onboarded",
    ),
    pytest.param(
        req(Intent.MARKETING),
        False,
        False,
        MM_OFF,
        FULL,
        "marketing_template",
        PROMO,
        "0.0625",
        "marketing",
        True,
        id="marketing-mm-off",
    ),
    pytest.param(
        req(Intent.MARKETING),
        True,
        False,
        MM_OFF,
        FULL,
        "marketing_template",
        PROMO,
        "0.0625",
        "marketing",
        False,
        id="marketing-template-in-window-is-paid",
    ),
    pytest.param(
        req(Intent.MARKETING),
        False,
        True,
        MM_ON,
        FULL,
        "marketing_messages",
        PROMO,
        "0",
        "marketing",
        True,
        id="marketing-free-entry",
    ),
    pytest.param(
        req(Intent.OTP, content=True),
        True,
        False,
        MM_OFF,
        FULL,
        "authentication_template",
        OTP,
        "0.0068",
        "authentication",
        False,
        id="otp-never-free-form",
    ),
    pytest.param(
        req(Intent.OTP),
        False,
        False,
        MM_OFF,
        FULL,
        "authentication_template",
        OTP,
        "0.0068",
        "authentication",
        True,
        id="otp-outside",
    ),
    pytest.param(
        req(Intent.REPLY, content=True),
        True,
        False,
        MM_OFF,
        PAUSED_BUSINESS,
        "free_form",
        None,
        "0",
        "service",
        False,
        id="paused-business-still-answers",
    ),
    pytest.param(
        req(Intent.REPLY, names=("followup_v2",)),
        True,
        False,
        MM_OFF,
        PAUSED_BUSINESS,
        "utility_template",
        FOLLOW,
        "0",
        "utility",
        False,
        id="paused-business-template-inside-window",
    ),
]


@pytest.mark.parametrize(
    ("request_", "service", "free", "mm", "pol", "method", "template", "cost", "category", "bi"),
    CASES,
)
def test_decision(
    request_: CostRequest,
    service: bool,
    free: bool,
    mm: MarketingMessagesEligibility,
    pol: SendPolicy,
    method: str,
    template: TemplateOption | None,
    cost: str,
    category: str,
    bi: bool,
) -> None:
    d = run(request_, service=service, free=free, mm=mm, pol=pol)
    assert (d.method, d.template, d.estimated_cost, d.category, d.business_initiated) == (
        method,
        template,
        D(cost),
        category,
        bi,
    ), d.reason
    assert not d.refused
    assert d.reason


REFUSALS = [
    pytest.param(
        req(Intent.MARKETING),
        False,
        MM_ON,
        SLOWED,
        REGISTRY,
        "marketing stopped: slowed",
        id="slowed-stops-marketing-template",
    ),
    pytest.param(
        req(Intent.MARKETING, content=True),
        True,
        MM_ON,
        SLOWED,
        REGISTRY,
        "marketing stopped",
        id="slowed-stops-marketing-free-form-too",
    ),
    pytest.param(
        req(Intent.FOLLOW_UP, content=True),
        False,
        MM_OFF,
        PAUSED_BUSINESS,
        REGISTRY,
        "business-initiated sends stopped: business-initiated paused",
        id="paused-business-outside-window",
    ),
    pytest.param(
        req(Intent.REPLY, content=True),
        True,
        MM_OFF,
        PAUSED_ALL,
        REGISTRY,
        "quality: all sends paused",
        id="paused-all-in-window",
    ),
    pytest.param(
        req(Intent.REPLY),
        True,
        MM_OFF,
        PAUSED_ALL,
        REGISTRY,
        "quality: all sends paused",
        id="paused-all-template-in-window",
    ),
    pytest.param(
        req(Intent.FOLLOW_UP),
        False,
        MM_OFF,
        FULL,
        (PROMO,),
        "no utility template in the WABA",
        id="utility-intent-never-uses-marketing",
    ),
    pytest.param(
        req(Intent.OTP),
        False,
        MM_OFF,
        FULL,
        (CONFIRM, PROMO),
        "no authentication template in the WABA",
        id="otp-needs-authentication",
    ),
    pytest.param(
        req(Intent.FOLLOW_UP, names=("followup_old",)),
        False,
        MM_OFF,
        FULL,
        REGISTRY,
        "no usable utility template: followup_old/pt_BR is PAUSED",
        id="paused-template",
    ),
    pytest.param(
        req(Intent.MARKETING),
        False,
        MM_ON,
        FULL,
        (
            tpl("a", "MARKETING", status="PENDING"),
            tpl("b", "MARKETING", status="REJECTED"),
            tpl("c", "MARKETING", status="DISABLED"),
            tpl("d", "MARKETING", status="PAUSED"),
        ),
        "a/pt_BR is PENDING; b/pt_BR is REJECTED; c/pt_BR is DISABLED; d/pt_BR is PAUSED",
        id="no-approved-marketing",
    ),
    pytest.param(
        req(Intent.CONFIRMATION, params=("nome",), names=("julia_confirmacao_v1",)),
        False,
        MM_OFF,
        FULL,
        REGISTRY,
        "julia_confirmacao_v1/pt_BR needs parameters data",
        id="missing-parameter",
    ),
    pytest.param(
        req(Intent.CONFIRMATION, languages=("es",)),
        False,
        MM_OFF,
        FULL,
        REGISTRY,
        "no utility template in es",
        id="no-template-in-language",
    ),
    pytest.param(
        req(Intent.CONFIRMATION, names=("nao_existe",)),
        False,
        MM_OFF,
        FULL,
        REGISTRY,
        "no utility template named nao_existe in the WABA",
        id="unknown-name",
    ),
    pytest.param(
        req(Intent.FOLLOW_UP, wa_id="4915123456789"),
        False,
        MM_OFF,
        FULL,
        REGISTRY,
        "pricing: no price for destination '4915123456789'",
        id="unknown-destination",
    ),
]


@pytest.mark.parametrize(("request_", "service", "mm", "pol", "templates", "reason"), REFUSALS)
def test_refusal(
    request_: CostRequest,
    service: bool,
    mm: MarketingMessagesEligibility,
    pol: SendPolicy,
    templates: tuple[TemplateOption, ...],
    reason: str,
) -> None:
    d = run(request_, service=service, mm=mm, pol=pol, templates=templates)
    assert d.refused
    assert d.method == "refuse"
    assert d.template is None
    assert d.estimated_cost == D(0)
    assert d.business_initiated is False
    assert reason in d.reason, d.reason


def test_free_form_to_unknown_destination_still_goes() -> None:
    d = run(req(Intent.REPLY, content=True, wa_id="4915123456789"), service=True)
    assert d.method == "free_form"


@pytest.mark.parametrize(
    ("templates", "languages", "expected"),
    [
        # RED is avoided when another fits, even in a less preferred language...
        ((tpl("a", quality="RED"), tpl("b", language="en_US")), ("pt_BR", "en_US"), "b/en_US"),
        ((tpl("a", quality="RED"), tpl("b", quality="YELLOW")), ("pt_BR",), "b/pt_BR"),
        # ...but used when nothing else fits.
        ((tpl("a", quality="red"), tpl("b", status="PAUSED")), ("pt_BR",), "a/pt_BR"),
        # language preference, then name
        ((tpl("a", language="en_US"), tpl("b")), ("pt_BR", "en_US"), "b/pt_BR"),
        ((tpl("a", language="en_US"), tpl("b")), ("en_US", "pt_BR"), "a/en_US"),
        ((tpl("b"), tpl("a")), ("pt_BR",), "a/pt_BR"),
        ((tpl("a", language="pt-br"),), ("pt_BR",), "a/pt-br"),  # code spelling
        ((tpl("a", "utility", status="approved"),), ("pt_BR",), "a/pt_BR"),  # any case
    ],
)
def test_pick_template_ranking(
    templates: tuple[TemplateOption, ...], languages: tuple[str, ...], expected: str
) -> None:
    chosen, why = pick_template(templates, category="utility", languages=languages)
    assert chosen is not None, why
    assert chosen.label() == expected


def test_pick_template_name_preference() -> None:
    ts = (tpl("a"), tpl("b"), tpl("c"))
    chosen, _ = pick_template(ts, category="utility", languages=("pt_BR",), names=("c", "a"))
    assert chosen is not None
    assert chosen.name == "c"


def test_red_template_noted_in_reason() -> None:
    d = run(req(Intent.FOLLOW_UP), templates=(tpl("a", quality="RED"),))
    assert d.method == "utility_template"
    assert "quality RED" in d.reason


@pytest.mark.parametrize(
    ("remaining", "service", "content", "method", "reason"),
    [
        ({"daily": D("0.005")}, False, True, "refuse", "budget: daily cap would be crossed"),
        (
            {"daily": D("1"), "WABA 1 weekly": D("0")},
            False,
            False,
            "refuse",
            "budget: WABA 1 weekly cap would be crossed",
        ),
        ({"daily": D("0.0068")}, False, False, "utility_template", ""),  # exactly fits
        ({"daily": D("-3")}, True, True, "free_form", ""),  # overrun: free still goes
        ({"daily": D("-3")}, True, False, "utility_template", ""),  # free utility in window
    ],
)
def test_budget_gate(
    remaining: dict[str, Decimal], service: bool, content: bool, method: str, reason: str
) -> None:
    d = run(
        req(Intent.FOLLOW_UP, content=content, names=("followup_v2",)),
        service=service,
        budget=BudgetState.from_remaining(remaining),
    )
    assert d.method == method, d.reason
    assert reason in d.reason


def test_budget_gate_from_ledger() -> None:
    tz = ZoneInfo("America/Sao_Paulo")
    now = 1_790_000_000.0
    ledger = Ledger(tz=tz, caps=Caps(daily=D("0.10")))
    assert isinstance(ledger.reserve("m1", D("0.0625"), now), Reservation)
    budget = BudgetState.from_remaining(ledger.remaining(now))
    assert run(req(Intent.FOLLOW_UP), budget=budget).method == "utility_template"
    d = run(req(Intent.MARKETING), budget=budget)
    assert d.reason.startswith("budget: daily cap would be crossed"), d.reason


@pytest.mark.parametrize(
    ("remaining", "cost", "crossed"),
    [
        ((), D("100"), None),
        ((("daily", D("1")),), D("1"), None),
        ((("daily", D("1")),), D("1.0001"), ("daily", D("1"))),
        ((("daily", D("5")), ("weekly", D("0.5"))), D("1"), ("weekly", D("0.5"))),
        ((("daily", D("-1")),), D("0"), None),
    ],
)
def test_budget_state_crossed_by(
    remaining: tuple[tuple[str, Decimal], ...], cost: Decimal, crossed: tuple[str, Decimal] | None
) -> None:
    b = BudgetState(remaining)
    assert b.crossed_by(cost) == crossed
    assert b.allows(cost) is (crossed is None)


@pytest.mark.parametrize(
    ("raw", "intent", "category", "free_form"),
    [
        ("reply", Intent.REPLY, "utility", True),
        ("follow-up", Intent.FOLLOW_UP, "utility", True),
        ("followup", Intent.FOLLOW_UP, "utility", True),
        ("Confirmation", Intent.CONFIRMATION, "utility", True),
        ("reminder", Intent.REMINDER, "utility", True),
        ("update", Intent.UPDATE, "utility", True),
        ("otp", Intent.OTP, "authentication", False),
        ("marketing", Intent.MARKETING, "marketing", True),
        ("offer", Intent.MARKETING, "marketing", True),
    ],
)
def test_intent(raw: str, intent: Intent, category: str, free_form: bool) -> None:
    assert Intent.parse(raw) is intent
    assert intent.category == category
    assert intent.allows_free_form is free_form


def test_intent_unknown() -> None:
    with pytest.raises(ValueError, match="not a valid Intent"):
        Intent.parse("spam")


def test_to_json_is_json_and_exact() -> None:
    d = run(req(Intent.MARKETING), mm=MM_ON)
    data = d.to_json()
    assert json.loads(json.dumps(data)) == data
    assert data == {
        "method": "marketing_messages",
        "template": {
            "name": "promo_natal",
            "language": "pt_BR",
            "category": "MARKETING",
            "status": "APPROVED",
            "params": ["nome"],
            "quality": "GREEN",
        },
        "estimated_cost": "0.0625",
        "category": "marketing",
        "business_initiated": True,
        "reason": data["reason"],
    }
    assert "Marketing Messages API" in str(data["reason"])
    refused = run(req(Intent.MARKETING), pol=SLOWED).to_json()
    assert refused["method"] == "refuse"
    assert refused["template"] is None
    assert refused["estimated_cost"] == "0"

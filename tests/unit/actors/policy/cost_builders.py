"""Requests, templates, policies and the decision call for the send-decision tests
(test_cost_*.py): :func:`run` is :func:`~actors.policy.cost.decide` with the default
price table, a window, a WABA's templates (:data:`REGISTRY`), its Marketing Messages
eligibility, a budget and a quality policy, each overridable.
"""

from __future__ import annotations

from decimal import Decimal

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

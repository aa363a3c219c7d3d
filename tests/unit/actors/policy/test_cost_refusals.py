"""The send decision when a message may not go: refused (no template, cost 0, opens no
conversation) with a reason naming why: a quality pause, no usable template of the
intent's category, a missing parameter or language, an unpriced destination. Free-form
needs no price, so it still goes to an unpriced destination.
"""

from __future__ import annotations

import pytest

from actors.chip.quality import SendPolicy
from actors.policy.cost import CostRequest, Intent, MarketingMessagesEligibility, TemplateOption
from tests.unit.actors.policy.cost_builders import (
    CONFIRM,
    FULL,
    MM_OFF,
    MM_ON,
    PAUSED_ALL,
    PAUSED_BUSINESS,
    PROMO,
    REGISTRY,
    SLOWED,
    D,
    req,
    run,
    tpl,
)

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

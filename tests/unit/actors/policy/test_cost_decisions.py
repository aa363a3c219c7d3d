"""The send decision when a message may go: for each intent, window, Marketing Messages
eligibility and quality policy, which method and template, at what cost and category,
and whether it opens a conversation; and the decision as stored (its JSON).
"""

from __future__ import annotations

import json

import pytest

from actors.chip.quality import SendPolicy
from actors.policy.cost import CostRequest, Intent, MarketingMessagesEligibility, TemplateOption
from tests.unit.actors.policy.cost_builders import (
    CONFIRM,
    FOLLOW,
    FULL,
    MM_NOT_ONBOARDED,
    MM_OFF,
    MM_ON,
    OTP,
    PAUSED_BUSINESS,
    PROMO,
    SLOWED,
    D,
    req,
    run,
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

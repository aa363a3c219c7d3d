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

# The decision expected: method, template, cost, category, business_initiated.
Then = tuple[str, TemplateOption | None, str, str, bool]
# What the test takes: request, service window, free entry, MM eligibility, policy, then.
Case = tuple[
    CostRequest,
    bool,
    bool,
    MarketingMessagesEligibility,
    SendPolicy,
    str,
    TemplateOption | None,
    str,
    str,
    bool,
]


def case(
    request: CostRequest,
    *,
    then: Then,
    service: bool = False,
    free: bool = False,
    mm: MarketingMessagesEligibility = MM_OFF,
    pol: SendPolicy = FULL,
) -> Case:
    """One row of the table: the request and only what differs from ``run``'s defaults
    (no window, no free entry, MM off, full policy), named, so a row says what it turns
    instead of a column of bare booleans."""
    return (request, service, free, mm, pol, *then)


CASES: dict[str, Case] = {
    "reply-in-window-free-form": case(
        req(Intent.REPLY, content=True),
        service=True,
        then=("free_form", None, "0", "service", False),
    ),
    "marketing-in-window-free-form": case(
        req(Intent.MARKETING, content=True),
        service=True,
        mm=MM_ON,
        then=("free_form", None, "0", "service", False),
    ),
    "follow-up-outside-utility": case(
        req(Intent.FOLLOW_UP, content=True, names=("followup_v2",)),
        mm=MM_ON,
        then=("utility_template", FOLLOW, "0.0068", "utility", True),
    ),
    "confirmation-in-window-without-content-free-utility": case(
        req(Intent.CONFIRMATION, names=("julia_confirmacao_v1",)),
        service=True,
        then=("utility_template", CONFIRM, "0", "utility", False),
    ),
    "free-entry-window-makes-template-free": case(
        req(Intent.REMINDER, content=True, names=("julia_confirmacao_v1",)),
        free=True,
        then=("utility_template", CONFIRM, "0", "utility", True),
    ),
    "slowed-still-sends-utility": case(
        req(Intent.UPDATE, names=("julia_confirmacao_v1",)),
        pol=SLOWED,
        then=("utility_template", CONFIRM, "0.0068", "utility", True),
    ),
    "marketing-mm-api": case(
        req(Intent.MARKETING),
        mm=MM_ON,
        then=("marketing_messages", PROMO, "0.0625", "marketing", True),
    ),
    "marketing-not-onboarded": case(
        req(Intent.MARKETING),
        mm=MM_NOT_ONBOARDED,
        then=("marketing_template", PROMO, "0.0625", "marketing", True),
    ),
    "marketing-mm-off": case(
        req(Intent.MARKETING),
        then=("marketing_template", PROMO, "0.0625", "marketing", True),
    ),
    "marketing-template-in-window-is-paid": case(
        req(Intent.MARKETING),
        service=True,
        then=("marketing_template", PROMO, "0.0625", "marketing", False),
    ),
    "marketing-free-entry": case(
        req(Intent.MARKETING),
        free=True,
        mm=MM_ON,
        then=("marketing_messages", PROMO, "0", "marketing", True),
    ),
    "otp-never-free-form": case(
        req(Intent.OTP, content=True),
        service=True,
        then=("authentication_template", OTP, "0.0068", "authentication", False),
    ),
    "otp-outside": case(
        req(Intent.OTP),
        then=("authentication_template", OTP, "0.0068", "authentication", True),
    ),
    "paused-business-still-answers": case(
        req(Intent.REPLY, content=True),
        service=True,
        pol=PAUSED_BUSINESS,
        then=("free_form", None, "0", "service", False),
    ),
    "paused-business-template-inside-window": case(
        req(Intent.REPLY, names=("followup_v2",)),
        service=True,
        pol=PAUSED_BUSINESS,
        then=("utility_template", FOLLOW, "0", "utility", False),
    ),
}


@pytest.mark.parametrize(
    ("request_", "service", "free", "mm", "pol", "method", "template", "cost", "category", "bi"),
    list(CASES.values()),
    ids=list(CASES),
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

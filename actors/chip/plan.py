"""Plan a send from an intent: the cheapest legal method, the template, its parameters.

Pure: the chip hands in the contact's window, its templates, its policy and prices; the
cost rules (:mod:`actors.policy.cost`) choose, the mapper (:mod:`actors.templates.mapper`)
fills the parameters — or the plan is refused with the reason (never blank parameters).
"""

from __future__ import annotations

import dataclasses

from actors.chip.messages import Send
from actors.chip.quality import SendPolicy
from actors.chip.templates import TemplateBook
from actors.chip.window import WindowState
from actors.policy import cost
from actors.policy.pricing import PriceTable
from actors.templates.mapper import Missing, fill

__all__ = ["plan_send"]


def plan_send(
    req: Send,
    key: str,
    *,
    window: WindowState,
    templates: TemplateBook,
    policy: SendPolicy,
    prices: PriceTable,
    marketing_messages: bool,
) -> Send | str:
    """The request made concrete (template, category, endpoint, plan), or why not."""
    variables = dict(req.variables or {})
    decision = cost.decide(
        cost.CostRequest(
            intent=cost.Intent.parse(req.intent or ""),
            wa_id=key,
            languages=req.languages,
            has_content=req.content is not None,
            params=frozenset(variables),
            template_names=req.template_names,
        ),
        window=window,
        templates=templates.options,
        marketing_messages=cost.MarketingMessagesEligibility(
            enabled=marketing_messages, onboarded=marketing_messages
        ),
        budget=cost.UNLIMITED,  # the budget coordinator's reservation is the gate
        policy=policy,
        prices=prices,
    )
    if decision.refused:
        return decision.reason
    plan = decision.to_json()
    if decision.template is None:  # free-form inside the window
        return dataclasses.replace(req, intent=None, plan=plan)
    chosen = decision.template
    filled = fill(templates.schema(chosen.name, chosen.language), variables)
    if isinstance(filled, Missing):
        return f"template {chosen.name}: missing parameters {', '.join(filled.names)}"
    return dataclasses.replace(
        req,
        intent=None,
        template={
            "name": chosen.name,
            "language": {"code": chosen.language},
            "components": filled.components,
        },
        category=decision.category,
        via="marketing_messages" if decision.method == "marketing_messages" else "messages",
        plan=plan,
    )

"""How to send a message at the least cost among what is legal: the send decision.

Why this module exists: the old optimiser (behaviour.md 7.4, 15.1 #2-3) was called with
the intent hard-coded to "marketing", never picked a template (``template_name`` was
always None), sent "MM Lite" as free-form text that Meta rejects outside the window, and
billed by template-name substrings. Here the decision is one pure function of

* the contact's windows (:class:`~actors.chip.window.WindowState`, margin applied),
* the message's real :class:`Intent` (follow-ups and confirmations are utility),
* the templates of the *sending chip's* WABA with their category, status, quality and
  parameter schema (:class:`TemplateOption`),
* the WABA's Marketing Messages API eligibility,
* a :class:`BudgetState` snapshot and the chip's quality :class:`SendPolicy`,

and returns a :class:`CostDecision` — method, template, estimated cost, category,
whether it opens a conversation, and the reason — stored with the outbox row.

Rules, in order:

1. A marketing intent when the chip's policy stops marketing is refused, whatever the
   method: quality drops because users block and report, and a promotion annoys them as
   free-form text as much as a template.
2. Inside the customer-service window, with free-form content, for an intent that
   allows it (all but OTP): a free-form message, cost 0, unless the policy pauses all
   sends.
3. Otherwise a template of the intent's category: utility for replies, follow-ups,
   confirmations, reminders and updates; authentication for OTP; marketing for
   marketing. A template of another category is never used (a marketing template for a
   utility intent would cost ~9x and break Meta's rules). Only APPROVED templates whose
   parameters the request can all fill, in one of the request's languages, qualify;
   a template with RED quality is used only when nothing else fits.
4. A template outside the service window opens a conversation (business-initiated), so
   the policy must allow that; inside the window it only needs the policy not to pause
   all sends.
5. Marketing goes through the Marketing Messages API when the WABA is both enabled in
   config and onboarded at Meta, else as a marketing template on ``/messages``.
6. Paid methods must fit the budget snapshot: an estimate above what is left under any
   cap is refused naming the cap. Free messages always pass. The snapshot is advisory:
   the budget ledger's reservation is the atomic gate, so a race between two chips is
   settled there.

OTP never goes free-form: authentication templates carry Meta's fixed security text
and the copy-code / one-tap button, and codes are the one content Meta ties to them.

Pure: no I/O, no clock; time enters only through ``window``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Final, Literal, TypeAlias

from actors.chip.quality import SendPolicy
from actors.chip.window import WindowState
from actors.policy.pricing import ZERO, Category, PriceTable, UnknownDestination

__all__ = [
    "UNLIMITED",
    "BudgetState",
    "CostDecision",
    "CostRequest",
    "Intent",
    "MarketingMessagesEligibility",
    "Method",
    "TemplateOption",
    "decide",
    "pick_template",
]

Method: TypeAlias = Literal[
    "free_form",
    "utility_template",
    "authentication_template",
    "marketing_template",
    "marketing_messages",
    "refuse",
]
"""How the message goes. ``marketing_messages`` is ``POST /{id}/marketing_messages``;
every other template method is ``POST /{id}/messages`` with ``type: template``."""

APPROVED: Final = "APPROVED"
_RED: Final = "RED"
_MAX_DETAILS: Final = 4


class Intent(StrEnum):
    """What the message is for; this, not a name heuristic, picks the category."""

    REPLY = "reply"
    FOLLOW_UP = "follow_up"
    CONFIRMATION = "confirmation"
    REMINDER = "reminder"
    UPDATE = "update"
    OTP = "otp"
    MARKETING = "marketing"

    @classmethod
    def parse(cls, raw: str) -> Intent:
        """An intent from text; ``offer``/``promotion`` mean marketing, ``followup``
        and ``follow-up`` mean follow_up. Raises ValueError for anything else."""
        text = raw.strip().lower().replace("-", "_")
        text = _INTENT_ALIASES.get(text, text)
        return cls(text)

    @property
    def category(self) -> Category:
        """The template category that fits this intent."""
        if self is Intent.MARKETING:
            return "marketing"
        if self is Intent.OTP:
            return "authentication"
        return "utility"

    @property
    def allows_free_form(self) -> bool:
        """Whether free-form text may carry it inside the window (all but OTP)."""
        return self is not Intent.OTP


_INTENT_ALIASES: Final[Mapping[str, str]] = {
    "offer": "marketing",
    "promotion": "marketing",
    "followup": "follow_up",
}

_TEMPLATE_METHOD: Final[Mapping[Category, Method]] = {
    "utility": "utility_template",
    "authentication": "authentication_template",
    "marketing": "marketing_template",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateOption:
    """One template of the sending chip's WABA, as the template registry knows it.

    ``category``, ``status`` and ``quality`` are Meta's words in any case (MARKETING,
    UTILITY, AUTHENTICATION; APPROVED, PENDING, PAUSED, …; GREEN, YELLOW, RED, UNKNOWN).
    ``params`` are the parameter names the template needs at send time (``"1"``,
    ``"2"`` … for positional templates).
    """

    name: str
    language: str
    category: str
    status: str
    params: tuple[str, ...] = ()
    quality: str = "UNKNOWN"

    @property
    def approved(self) -> bool:
        return self.status.strip().upper() == APPROVED

    @property
    def red(self) -> bool:
        return self.quality.strip().upper() == _RED

    def label(self) -> str:
        return f"{self.name}/{self.language}"

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "language": self.language,
            "category": self.category,
            "status": self.status,
            "params": list(self.params),
            "quality": self.quality,
        }


@dataclass(frozen=True, slots=True)
class MarketingMessagesEligibility:
    """``enabled``: the WABA's ``marketing_messages`` config flag. ``onboarded``: Meta
    confirms the WABA is onboarded to the Marketing Messages API. Both are needed: the
    old system trusted a flag alone (behaviour.md 7.5)."""

    enabled: bool
    onboarded: bool

    @property
    def eligible(self) -> bool:
        return self.enabled and self.onboarded


@dataclass(frozen=True, slots=True)
class BudgetState:
    """What is left under each budget cap that applies to this send, at one instant.

    ``remaining`` pairs a cap's name (``daily``, ``WABA 123 weekly``, …) with the amount
    left; it may be negative after a settlement overshot the cap. No entry means no
    cap. Build it from :meth:`actors.budget.ledger.Ledger.remaining` with
    :meth:`from_remaining`.
    """

    remaining: tuple[tuple[str, Decimal], ...] = ()

    @classmethod
    def from_remaining(cls, remaining: Mapping[str, Decimal]) -> BudgetState:
        return cls(tuple(remaining.items()))

    def crossed_by(self, cost: Decimal) -> tuple[str, Decimal] | None:
        """The first cap (name, amount left) that ``cost`` would cross, else None.

        A free message crosses nothing, even when a cap is already overrun.
        """
        if cost <= ZERO:
            return None
        for name, left in self.remaining:
            if cost > left:
                return name, left
        return None

    def allows(self, cost: Decimal) -> bool:
        return self.crossed_by(cost) is None


UNLIMITED: Final = BudgetState()


@dataclass(frozen=True, slots=True, kw_only=True)
class CostRequest:
    """What the caller wants sent.

    ``has_content``: the request carries a free-form body usable inside the window.
    ``languages``: acceptable template languages, preferred first (exact codes such as
    ``pt_BR``; a template in any other language is never picked). ``params``: names of
    the template parameters the caller can fill. ``template_names``: templates that
    express this message, preferred first; empty accepts any template of the category
    whose parameters can be filled.
    """

    intent: Intent
    wa_id: str
    languages: tuple[str, ...]
    has_content: bool = False
    params: frozenset[str] = frozenset()
    template_names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class CostDecision:
    """The outcome, stored with the outbox row (:meth:`to_json`).

    ``category`` is the pricing category the message will be billed under (``service``
    for free-form); for a refusal, the category the intent called for.
    ``business_initiated``: the send opens a conversation (a template outside the
    service window), which counts against the messaging-limit tier.
    """

    method: Method
    template: TemplateOption | None
    estimated_cost: Decimal
    category: Category
    business_initiated: bool
    reason: str

    @property
    def refused(self) -> bool:
        return self.method == "refuse"

    @property
    def paid(self) -> bool:
        return self.estimated_cost > ZERO

    def to_json(self) -> dict[str, object]:
        """A JSON-safe dict; the cost is a decimal string so no precision is lost."""
        return {
            "method": self.method,
            "template": None if self.template is None else self.template.to_json(),
            "estimated_cost": str(self.estimated_cost),
            "category": self.category,
            "business_initiated": self.business_initiated,
            "reason": self.reason,
        }


def _refuse(category: Category, reason: str) -> CostDecision:
    return CostDecision(
        method="refuse",
        template=None,
        estimated_cost=ZERO,
        category=category,
        business_initiated=False,
        reason=reason,
    )


def _norm_lang(code: str) -> str:
    return code.strip().replace("-", "_").lower()


def pick_template(
    templates: Iterable[TemplateOption],
    *,
    category: str,
    languages: Sequence[str],
    params: Collection[str] = (),
    names: Sequence[str] = (),
) -> tuple[TemplateOption | None, str]:
    """The best template of ``category`` for a request, and why (or why none fits).

    Qualifies: same category (case-insensitive), APPROVED, language among
    ``languages``, every parameter in ``params``, name among ``names`` when given.
    Among those: non-RED quality first, then language preference, then name
    preference, then name (so the choice is deterministic).
    """
    cat = category.strip().upper()
    langs = [_norm_lang(lang) for lang in languages]
    have = frozenset(params)
    named = {n: i for i, n in enumerate(names)}
    of_category = [t for t in templates if t.category.strip().upper() == cat]
    what = f"{category.lower()} template"
    if names:
        of_category = [t for t in of_category if t.name in named]
        if not of_category:
            return None, f"no {what} named {', '.join(names)} in the WABA"
    if not of_category:
        return None, f"no {what} in the WABA"
    details: list[str] = []
    fits: list[TemplateOption] = []
    for t in sorted(of_category, key=lambda t: (t.name, t.language)):
        lang = _norm_lang(t.language)
        if lang not in langs:
            continue
        if not t.approved:
            details.append(f"{t.label()} is {t.status.strip().upper()}")
            continue
        missing = [p for p in t.params if p not in have]
        if missing:
            details.append(f"{t.label()} needs parameters {', '.join(missing)}")
            continue
        fits.append(t)
    if not fits:
        if not details:
            return None, f"no {what} in {', '.join(languages)}"
        shown = "; ".join(details[:_MAX_DETAILS])
        more = f"; {len(details) - _MAX_DETAILS} more" if len(details) > _MAX_DETAILS else ""
        return None, f"no usable {what}: {shown}{more}"
    best = min(
        fits,
        key=lambda t: (t.red, langs.index(_norm_lang(t.language)), named.get(t.name, 0), t.name),
    )
    note = " (quality RED: nothing else fits)" if best.red else ""
    return best, f"{what} {best.label()}{note}"


def decide(
    request: CostRequest,
    *,
    window: WindowState,
    templates: Iterable[TemplateOption],
    marketing_messages: MarketingMessagesEligibility,
    budget: BudgetState,
    policy: SendPolicy,
    prices: PriceTable,
) -> CostDecision:
    """Choose how to send ``request`` (see the module docstring for the rules).

    ``templates`` must be those of the sending chip's WABA (a template exists per WABA;
    using another WABA's fails with 132001). ``policy`` is the chip's quality policy
    with the WABA kill switch and any operator pause already laid over it.
    """
    intent = request.intent
    category = intent.category
    if intent is Intent.MARKETING and not policy.marketing_allowed:
        return _refuse(category, f"marketing stopped: {policy.reason}")

    in_window = window.service_open
    if in_window and request.has_content and intent.allows_free_form:
        if not policy.free_form_allowed:
            return _refuse("service", f"quality: {policy.reason}")
        return CostDecision(
            method="free_form",
            template=None,
            estimated_cost=ZERO,
            category="service",
            business_initiated=False,
            reason="free-form inside the customer-service window",
        )

    if in_window:
        if not policy.free_form_allowed:
            return _refuse(category, f"quality: {policy.reason}")
    elif not policy.business_initiated_allowed:
        return _refuse(category, f"business-initiated sends stopped: {policy.reason}")

    template, why = pick_template(
        templates,
        category=category,
        languages=request.languages,
        params=request.params,
        names=request.template_names,
    )
    if template is None:
        return _refuse(category, why)

    try:
        cost = prices.estimate(request.wa_id, category, window)
        if category == "authentication":
            # Meta decides per recipient whether the international rate applies; reserve
            # the higher of the two so the settlement can only come in lower.
            cost = max(cost, prices.estimate(request.wa_id, "authentication_international", window))
    except UnknownDestination as exc:
        return _refuse(category, f"pricing: {exc}")

    crossed = budget.crossed_by(cost)
    if crossed is not None:
        cap, left = crossed
        return _refuse(
            category,
            f"budget: {cap} cap would be crossed (estimate {cost} USD, {max(left, ZERO)} USD left)",
        )

    method = _TEMPLATE_METHOD[category]
    route = ""
    if category == "marketing":
        if marketing_messages.eligible:
            method = "marketing_messages"
            route = " via the Marketing Messages API"
        elif marketing_messages.enabled:
            route = " on /messages (WABA not onboarded to the Marketing Messages API)"
    where = "inside the service window" if in_window else "outside the service window"
    free = ""
    if cost == ZERO:
        free = ", free inside the free entry point window" if window.free_entry_open else ", free"
    return CostDecision(
        method=method,
        template=template,
        estimated_cost=cost,
        category=category,
        business_initiated=not in_window,
        reason=f"{why}{route} {where}{free}",
    )

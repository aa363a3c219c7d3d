"""The numbers and word lists Meta's template review applies, in one place.

Why a module of its own: every rule family of the linter (:mod:`actors.templates.lint`)
checks against these, the recommendations (:mod:`actors.templates.advice`) reuse the
promotional-wording pattern, and when Meta changes a limit this is the one place to change
it. Each constant says where it comes from: cloud-api.md 3, or Meta's public template
guidelines where cloud-api.md is silent.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "AUTH_EXPIRY_MINUTES",
    "BODY_MAX",
    "BUTTONS_MAX",
    "BUTTON_TEXT_MAX",
    "BUTTON_TYPES",
    "CARDS",
    "CARD_BODY_MAX",
    "CARD_BUTTONS",
    "CARD_BUTTON_TYPES",
    "CARD_HEADER_FORMATS",
    "CATEGORIES",
    "CODE_EXAMPLE_MAX",
    "COPY_CODE_BUTTONS_MAX",
    "FOOTER_MAX",
    "HEADER_FORMATS",
    "HEADER_TEXT_MAX",
    "HEADER_VARIABLES_MAX",
    "MIN_WORDS_PER_VARIABLE",
    "NAME_MAX",
    "NAME_RE",
    "OTP_TYPES",
    "PARAMETER_FORMATS",
    "PHONE_BUTTONS_MAX",
    "PHONE_MAX",
    "PROMOTIONAL",
    "URL_BUTTONS_MAX",
    "URL_MAX",
]

NAME_MAX: Final = 512
"""Template names; Meta's public limit (the simulator caps ``template.name`` at 512 too)."""
NAME_RE: Final = re.compile(r"[a-z0-9_]+")
"""cloud-api.md 3 says lowercase with underscores; Meta also allows digits."""
BODY_MAX: Final = 1024
"""cloud-api.md 3."""
HEADER_TEXT_MAX: Final = 60
"""cloud-api.md is silent; Meta's public limit for a text header."""
HEADER_VARIABLES_MAX: Final = 1
"""cloud-api.md is silent; Meta allows one variable in a text header."""
FOOTER_MAX: Final = 60
"""cloud-api.md is silent; Meta's public limit for a footer."""
BUTTONS_MAX: Final = 10
"""cloud-api.md is silent; Meta's public limit for buttons on one template."""
URL_BUTTONS_MAX: Final = 2
PHONE_BUTTONS_MAX: Final = 1
COPY_CODE_BUTTONS_MAX: Final = 1
"""Per-type caps: cloud-api.md is silent; Meta's public limits."""
BUTTON_TEXT_MAX: Final = 25
"""Button labels of every type; cloud-api.md is silent (its 20 is for *interactive* reply
buttons, not templates); Meta's public template limit is 25."""
URL_MAX: Final = 2000
"""cloud-api.md is silent; Meta's public limit for a URL button."""
PHONE_MAX: Final = 20
"""cloud-api.md is silent; Meta's public limit for a phone-number button."""
CODE_EXAMPLE_MAX: Final = 15
"""cloud-api.md is silent; Meta's public limit for copy-code coupons."""
CARDS: Final = (2, 10)
"""cloud-api.md 2: carousels take 2–10 cards (the old builder allowed 1, 15.5 #27)."""
CARD_BODY_MAX: Final = 160
"""cloud-api.md is silent; Meta's public limit for a carousel card's body."""
CARD_BUTTONS: Final = (1, 2)
"""cloud-api.md is silent; Meta requires one or two buttons on every card (behaviour.md 7.14)."""
AUTH_EXPIRY_MINUTES: Final = (1, 90)
"""cloud-api.md is silent; Meta's public range for ``code_expiration_minutes``."""
MIN_WORDS_PER_VARIABLE: Final = 3
"""Meta rejects "too many variables for the text length" (cloud-api.md 3) without
publishing the ratio. The simulator rejects fewer than 3 words of fixed text per
variable (words = whitespace-separated tokens once the variables are removed); so do we."""

CATEGORIES: Final = frozenset({"MARKETING", "UTILITY", "AUTHENTICATION"})
PARAMETER_FORMATS: Final = frozenset({"positional", "named"})
HEADER_FORMATS: Final = frozenset({"TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION"})
CARD_HEADER_FORMATS: Final = frozenset({"IMAGE", "VIDEO"})
BUTTON_TYPES: Final = frozenset(
    {"QUICK_REPLY", "URL", "PHONE_NUMBER", "COPY_CODE", "FLOW", "OTP", "CATALOG", "MPM"}
)
CARD_BUTTON_TYPES: Final = frozenset({"QUICK_REPLY", "URL", "PHONE_NUMBER"})
OTP_TYPES: Final = frozenset({"COPY_CODE", "ONE_TAP", "ZERO_TAP"})

PROMOTIONAL: Final = re.compile(
    r"(?<!\w)(?:"
    r"promo\w*|descont\w*|ofert\w*|gr[aá]tis|compre(?!end|ens)\w*|cupo[mn]\w*|"
    r"liquida[çc]\w*|imperd[ií]ve\w*|black\s+friday|"
    r"sales?(?!\w)|offer\w*|discount\w*|coupon\w*|free\s+(?:trial|shipping|gift)|buy\s+now"
    r")",
    re.IGNORECASE,
)
"""Promotional words that make Meta move a UTILITY/AUTHENTICATION template to MARKETING.

Matched at the start of a word, so "promoção" and "descontos" count. The simulator
matches its list ("promo", "desconto", "oferta", "discount", "sale", "cupom", "compre")
anywhere in the body; matching at word starts keeps "compreender" quiet and misses only
mid-word hits such as "wholesale"."""

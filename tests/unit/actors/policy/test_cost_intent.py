"""A message's intent as given (``Intent.parse``): its template category and whether
it may go free-form (all but OTP).
"""

from __future__ import annotations

import pytest

from actors.policy.cost import Intent


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

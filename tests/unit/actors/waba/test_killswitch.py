"""The WABA kill switch: account_update events and account-level error codes."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from actors.chip.quality import SendPolicy
from actors.waba.killswitch import (
    KillScope,
    KillSwitch,
    RestrictionInfo,
    WabaEffect,
    account_event_effect,
    account_update_effect,
    apply,
    error_effect,
    restrict,
)

FIXTURE = (
    Path(__file__).resolve().parents[5]
    / "shared"
    / "fixtures"
    / "webhooks"
    / "account_update_restriction.json"
)
T0 = 1_760_000_000.0
EXPIRY = 1764600000.0


def _fixture_value() -> dict[str, Any]:
    body = json.loads(FIXTURE.read_text())
    change = body["entry"][0]["changes"][0]
    assert change["field"] == "account_update"
    value: dict[str, Any] = change["value"]
    return value


def _with_types(*types: str) -> dict[str, Any]:
    """The fixture's value with its restriction_info rewritten to the given types."""
    value = copy.deepcopy(_fixture_value())
    template = value["restriction_info"][0]
    value["restriction_info"] = [{**template, "restriction_type": t} for t in types]
    return value


def test_fixture_restriction_does_not_touch_sending() -> None:
    effect = account_update_effect(_fixture_value())
    assert effect.kill is None
    assert "RESTRICTED_ADD_PHONE_NUMBER_ACTION" in effect.reason


FIXTURE_VARIANTS = [
    # (restriction types, kill, scope, expires_at)
    (("RESTRICTED_BIZ_INITIATED_MESSAGING",), True, "business_initiated", EXPIRY),
    (("RESTRICTED_CUSTOMER_INITIATED_MESSAGING",), True, "all", EXPIRY),
    (
        ("RESTRICTED_ADD_PHONE_NUMBER_ACTION", "RESTRICTED_BIZ_INITIATED_MESSAGING"),
        True,
        "business_initiated",
        EXPIRY,
    ),
    (
        ("RESTRICTED_BIZ_INITIATED_MESSAGING", "RESTRICTED_CUSTOMER_INITIATED_MESSAGING"),
        True,
        "all",
        EXPIRY,
    ),
    (("RESTRICTED_SOMETHING_NEW",), True, "all", EXPIRY),
    (("RESTRICTED_ADD_PHONE_NUMBER_ACTION",), None, "all", None),
]


@pytest.mark.parametrize(("types", "kill", "scope", "expires_at"), FIXTURE_VARIANTS)
def test_restriction_types_from_fixture(
    types: tuple[str, ...], kill: bool | None, scope: KillScope, expires_at: float | None
) -> None:
    effect = account_update_effect(_with_types(*types))
    assert (effect.kill, effect.scope, effect.expires_at) == (kill, scope, expires_at)


RESTRICTIONS: list[tuple[RestrictionInfo | None, bool | None, KillScope, float | None]] = [
    (None, True, "all", None),  # restricted without details: the safe side
    ([], True, "all", None),
    (
        {"restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING", "expiration": "1764600000"},
        True,
        "business_initiated",
        EXPIRY,
    ),
    (
        [
            {
                "restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING",
                "expiration": "2026-04-19T13:59:20+0000",
            }
        ],
        True,
        "business_initiated",
        1776607160.0,
    ),
    (
        [
            {
                "restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING",
                "expiration": "2022-12-12T07:09:27.000Z",
            },
            {"restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING", "expiration": EXPIRY},
        ],
        True,
        "business_initiated",
        EXPIRY,  # the longest one
    ),
    (
        [
            {"restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING", "expiration": EXPIRY},
            {"restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING"},
        ],
        True,
        "business_initiated",
        None,  # one has no end: until lifted
    ),
    (
        [{"restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING", "expiration": "garbage"}],
        True,
        "business_initiated",
        None,
    ),
]


@pytest.mark.parametrize(("info", "kill", "scope", "expires_at"), RESTRICTIONS)
def test_account_restriction(
    info: RestrictionInfo | None, kill: bool | None, scope: KillScope, expires_at: float | None
) -> None:
    effect = account_event_effect("ACCOUNT_RESTRICTION", info)
    assert (effect.kill, effect.scope, effect.expires_at) == (kill, scope, expires_at)


EVENTS: list[tuple[str, str | None, bool | None, KillScope]] = [
    ("ACCOUNT_VIOLATION", None, True, "all"),
    ("ACCOUNT_DELETED", None, True, "all"),
    ("BANNED", None, True, "all"),
    ("account_offboarded", None, True, "all"),
    ("PARTNER_REMOVED", None, True, "all"),
    ("DISABLED_UPDATE", "DISABLE", True, "all"),
    ("DISABLED_UPDATE", None, True, "all"),
    ("DISABLED_UPDATE", "SCHEDULE_FOR_DISABLE", True, "business_initiated"),
    ("DISABLED_UPDATE", "REINSTATE", False, "all"),
    ("VERIFIED_ACCOUNT", None, False, "all"),
    ("ACCOUNT_RECONNECTED", None, False, "all"),
    ("AUTH_INTL_PRICE_ELIGIBILITY_UPDATE", None, None, "all"),
    ("BUSINESS_PRIMARY_LOCATION_COUNTRY_UPDATE", None, None, "all"),
    ("", None, None, "all"),
]


@pytest.mark.parametrize(("event", "ban_state", "kill", "scope"), EVENTS)
def test_account_event(
    event: str, ban_state: str | None, kill: bool | None, scope: KillScope
) -> None:
    effect = account_event_effect(event, ban_state=ban_state)
    assert (effect.kill, effect.scope) == (kill, scope)
    assert effect.reason


def test_account_update_value_reads_ban_info() -> None:
    value = {"event": "DISABLED_UPDATE", "ban_info": {"waba_ban_state": "REINSTATE"}}
    assert account_update_effect(value).kill is False
    assert account_update_effect({"event": 7}).kill is None


ERRORS: list[tuple[int, bool | None, KillScope]] = [
    (131031, True, "all"),
    (131042, True, "paid"),
    (131048, None, "all"),  # chip-level: actors.chip.quality
    (368, None, "all"),
    (130429, None, "all"),
]


@pytest.mark.parametrize(("code", "kill", "scope"), ERRORS)
def test_error_effect(code: int, kill: bool | None, scope: KillScope) -> None:
    effect = error_effect(code)
    assert (effect.kill, effect.scope) == (kill, scope)
    assert str(code) in effect.reason


# ----------------------------------------------------------------- the switch itself

FULL = SendPolicy(
    business_initiated_allowed=True,
    marketing_allowed=True,
    free_form_allowed=True,
    throughput_fraction=0.75,
    reason="recovery ramp at 75%",
)
ON_ALL = WabaEffect(kill=True, scope="all", reason="account deleted")
ON_BIZ = WabaEffect(
    kill=True, scope="business_initiated", reason="restricted", expires_at=T0 + 3600
)
ON_PAID = error_effect(131042)
OFF_ALL = WabaEffect(kill=False, scope="all", reason="account reinstated")
OFF_PAID = WabaEffect(kill=False, scope="paid", reason="payment fixed")
NOOP = WabaEffect(kill=None, scope="all", reason="nothing")

# (effects applied at T0, policy at time, business, free form, fraction)
SWITCH = [
    ((), T0, True, True, 0.75),
    ((NOOP,), T0, True, True, 0.75),
    ((ON_ALL,), T0, False, False, 0.0),
    ((ON_BIZ,), T0, False, True, 0.75),
    ((ON_BIZ,), T0 + 3600, True, True, 0.75),  # restriction expired
    ((ON_PAID,), T0, False, True, 0.75),
    ((ON_ALL, OFF_ALL), T0, True, True, 0.75),
    ((ON_BIZ, OFF_ALL), T0, True, True, 0.75),
    ((ON_PAID, OFF_ALL), T0, False, True, 0.75),  # reinstatement does not fix payment
    ((ON_PAID, OFF_PAID), T0, True, True, 0.75),
    ((ON_BIZ, ON_ALL), T0, False, False, 0.0),
    ((ON_ALL, ON_BIZ, OFF_ALL), T0, True, True, 0.75),
]


@pytest.mark.parametrize(("effects", "at", "business", "free_form", "fraction"), SWITCH)
def test_switch_restricts_policy(
    effects: tuple[WabaEffect, ...], at: float, business: bool, free_form: bool, fraction: float
) -> None:
    switch = KillSwitch()
    for effect in effects:
        switch = apply(switch, effect, T0)
    p = restrict(FULL, switch, at)
    assert (p.business_initiated_allowed, p.free_form_allowed, p.throughput_fraction) == (
        business,
        free_form,
        fraction,
    )
    if not business:
        assert not p.marketing_allowed
        assert p.reason.startswith("WABA kill switch")
    else:
        assert p == FULL


def test_restrict_never_grants_what_quality_denied() -> None:
    paused = SendPolicy(
        business_initiated_allowed=False,
        marketing_allowed=False,
        free_form_allowed=False,
        throughput_fraction=0.0,
        reason="all sends paused: status BANNED",
    )
    switch = apply(KillSwitch(), ON_BIZ, T0)
    p = restrict(paused, switch, T0)
    assert (p.business_initiated_allowed, p.free_form_allowed, p.throughput_fraction) == (
        False,
        False,
        0.0,
    )
    assert "status BANNED" in p.reason


def test_kill_on_replaces_same_scope_and_expired_kills_drop() -> None:
    switch = apply(KillSwitch(), ON_BIZ, T0)
    switch = apply(switch, WabaEffect(kill=True, scope="business_initiated", reason="again"), T0)
    assert [k.reason for k in switch.kills] == ["again"]
    switch = apply(KillSwitch(), ON_BIZ, T0)
    switch = apply(switch, NOOP, T0 + 3600)
    assert switch.kills == ()

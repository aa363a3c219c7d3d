"""WABA kill switch: pure rules over ``account_update`` events and account-level errors.

Why this module exists: a restriction, ban or lock of a WhatsApp Business Account stops
every number in it at once, whatever each number's own quality. The system metad
replaces had two unrelated kill switches (one per WABA, one per chip that faked a RED
rating) and ignored ``account_update`` webhooks entirely. Here one rule maps what Meta
says about the account to a :class:`WabaEffect`; :class:`KillSwitch` folds effects into
the switch's current state; :func:`restrict` lays that state over a chip's quality
:class:`~actors.chip.quality.SendPolicy`. The kill switch is a layer, not a quality mode,
so lifting it hands each chip back its own quality state untouched.

No I/O and no clock: ``now`` is an argument.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeAlias

if TYPE_CHECKING:  # the chip imports this module; a runtime import would be circular
    from actors.chip.quality import SendPolicy

__all__ = [
    "ActiveKill",
    "KillScope",
    "KillSwitch",
    "RestrictionInfo",
    "WabaEffect",
    "account_event_effect",
    "account_update_effect",
    "apply",
    "error_effect",
    "restrict",
]

KillScope = Literal["all", "business_initiated", "paid"]
"""What a kill stops: every send; sends that open conversations; sends Meta bills."""

RestrictionInfo: TypeAlias = Sequence[Mapping[str, object]] | Mapping[str, object]
"""``restriction_info`` as Meta sends it: a list of ``{restriction_type, expiration}``
(some relays send a single object)."""

_SEVERITY: Mapping[KillScope, int] = {"paid": 0, "business_initiated": 1, "all": 2}


@dataclass(frozen=True, slots=True, kw_only=True)
class WabaEffect:
    """What an account event or error does to the WABA's kill switch.

    ``kill``: True switches ``scope`` on, False switches it off, None leaves the switch
    alone (the event does not affect sending). ``expires_at`` (epoch seconds) is when
    Meta says a restriction ends; None means until switched off.
    """

    kill: bool | None
    scope: KillScope
    reason: str
    expires_at: float | None = None


# Restriction types and what they stop. Adding phone numbers is no sending matter;
# customer-initiated messaging restricted means replies fail too, so everything stops
# (this module has no "replies only" scope). A type we do not know stops everything:
# an unexplained restriction on an account is not something to keep sending through.
_RESTRICTION_SCOPES: Mapping[str, KillScope | None] = {
    "RESTRICTED_ADD_PHONE_NUMBER_ACTION": None,
    "RESTRICTED_BIZ_INITIATED_MESSAGING": "business_initiated",
    "RESTRICTED_CUSTOMER_INITIATED_MESSAGING": "all",
}

# Events that switch everything off, with the reason shown to the operator.
_KILL_ALL_EVENTS: Mapping[str, str] = {
    "ACCOUNT_VIOLATION": "account violation reported by Meta",
    "ACCOUNT_DELETED": "account deleted",
    "BANNED": "account banned",
    "ACCOUNT_OFFBOARDED": "account offboarded (device change or re-registration)",
    "PARTNER_REMOVED": "account unshared from our app",
    "PARTNER_APP_UNINSTALLED": "app permissions revoked for the account",
}

# Events that lift the account-level kill (scopes "all" and "business_initiated").
_LIFT_EVENTS: Mapping[str, str] = {
    "VERIFIED_ACCOUNT": "account verified",
    "ACCOUNT_RECONNECTED": "account reconnected",
    "REINSTATED": "account reinstated",
}


def _expiry(raw: object) -> float | None:
    """Meta's ``expiration``: epoch seconds (number or digits) or an ISO 8601 string."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        return float(raw)
    if isinstance(raw, str) and raw.strip():
        text = raw.strip()
        if text.isdigit():
            return float(text)
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return parsed.timestamp()
    return None


def _restriction_effect(info: RestrictionInfo | None) -> WabaEffect:
    entries: Sequence[Mapping[str, object]] = [info] if isinstance(info, Mapping) else info or []
    if not entries:
        return WabaEffect(
            kill=True, scope="all", reason="account restricted (no restriction_info given)"
        )
    scope: KillScope | None = None
    names: list[str] = []
    expiries: list[float | None] = []
    for entry in entries:
        rtype = str(entry.get("restriction_type") or "UNKNOWN").strip().upper()
        entry_scope = _RESTRICTION_SCOPES.get(rtype, "all")
        names.append(rtype)
        if entry_scope is None:
            continue
        expiries.append(_expiry(entry.get("expiration")))
        if scope is None or _SEVERITY[entry_scope] > _SEVERITY[scope]:
            scope = entry_scope
    listed = ", ".join(names)
    if scope is None:
        return WabaEffect(
            kill=None, scope="all", reason=f"restriction does not affect sending: {listed}"
        )
    # The kill lasts as long as the longest sending restriction; one without an expiry
    # lasts until lifted.
    known = [e for e in expiries if e is not None]
    expires_at = max(known) if known and len(known) == len(expiries) else None
    return WabaEffect(
        kill=True, scope=scope, reason=f"account restricted: {listed}", expires_at=expires_at
    )


def account_event_effect(
    event: str, restriction_info: RestrictionInfo | None = None, *, ban_state: str | None = None
) -> WabaEffect:
    """Map an ``account_update`` event to its effect on the kill switch.

    * ACCOUNT_RESTRICTION: per restriction type (see ``_RESTRICTION_SCOPES``);
      RESTRICTED_BIZ_INITIATED_MESSAGING stops business-initiated sends only,
      RESTRICTED_ADD_PHONE_NUMBER_ACTION stops nothing.
    * DISABLED_UPDATE: ``ban_info.waba_ban_state`` DISABLE → all off;
      SCHEDULE_FOR_DISABLE → business-initiated off (answering users who wrote in does
      not worsen the case; campaigns might); REINSTATE → lifted. Without a ban state,
      treated as DISABLE.
    * ACCOUNT_VIOLATION, ACCOUNT_DELETED, BANNED, offboarding, losing access → all off.
    * VERIFIED_ACCOUNT, ACCOUNT_RECONNECTED, reinstatement → lifted.
    * Anything else (pricing, location, MM Lite terms, …) → no effect.
    """
    name = event.strip().upper()
    if name == "ACCOUNT_RESTRICTION":
        return _restriction_effect(restriction_info)
    if name == "DISABLED_UPDATE":
        state = (ban_state or "DISABLE").strip().upper()
        if state == "REINSTATE":
            return WabaEffect(kill=False, scope="all", reason="account reinstated")
        if state == "SCHEDULE_FOR_DISABLE":
            return WabaEffect(
                kill=True, scope="business_initiated", reason="account scheduled for disable"
            )
        return WabaEffect(kill=True, scope="all", reason=f"account disabled ({state})")
    if name in _KILL_ALL_EVENTS:
        return WabaEffect(kill=True, scope="all", reason=_KILL_ALL_EVENTS[name])
    if name in _LIFT_EVENTS:
        return WabaEffect(kill=False, scope="all", reason=_LIFT_EVENTS[name])
    return WabaEffect(kill=None, scope="all", reason=f"{name or 'empty event'}: no effect")


def account_update_effect(value: Mapping[str, object]) -> WabaEffect:
    """:func:`account_event_effect` for the ``value`` of an ``account_update`` change.

    Note: some payloads name a ``phone_number``; this rule still acts on the whole WABA
    (the safe side); narrowing to one number is the caller's choice.
    """
    raw_info = value.get("restriction_info")
    info: RestrictionInfo | None = None
    if isinstance(raw_info, Mapping):
        info = raw_info
    elif isinstance(raw_info, list):
        info = [e for e in raw_info if isinstance(e, Mapping)]
    ban_info = value.get("ban_info")
    ban_state = ban_info.get("waba_ban_state") if isinstance(ban_info, Mapping) else None
    event = value.get("event")
    return account_event_effect(
        event if isinstance(event, str) else "",
        info,
        ban_state=ban_state if isinstance(ban_state, str) else None,
    )


def error_effect(code: int) -> WabaEffect:
    """Account-level reaction to a Graph error code (cloud-api.md §5).

    131031 (account locked) stops everything; 131042 (payment problem) stops paid sends.
    Chip-level codes (131048, 368, 133010) belong to :mod:`actors.chip.quality`; every
    other code has no account-level effect (``kill`` None).
    """
    if code == 131031:
        return WabaEffect(kill=True, scope="all", reason="business account locked (131031)")
    if code == 131042:
        return WabaEffect(kill=True, scope="paid", reason="payment problem (131042)")
    return WabaEffect(kill=None, scope="all", reason=f"error {code}: no account-level effect")


@dataclass(frozen=True, slots=True, kw_only=True)
class ActiveKill:
    scope: KillScope
    reason: str
    since: float
    expires_at: float | None = None

    def live(self, now: float) -> bool:
        return self.expires_at is None or now < self.expires_at


@dataclass(frozen=True, slots=True)
class KillSwitch:
    """The kill switch of one WABA: the kills in force, at most one per scope.

    Rebuild after a restart by folding :func:`apply` over the journaled effects.
    """

    kills: tuple[ActiveKill, ...] = ()

    def active(self, now: float) -> tuple[ActiveKill, ...]:
        """Kills in force at ``now`` (expired restrictions drop out by themselves)."""
        return tuple(k for k in self.kills if k.live(now))


def apply(switch: KillSwitch, effect: WabaEffect, now: float) -> KillSwitch:
    """Fold one effect into the switch.

    On: replaces the kill of the same scope. Off for ``all``: lifts the account-level
    kills ("all" and "business_initiated"), not a payment stop, which only ends when
    paid sends are known to work (``WabaEffect(kill=False, scope="paid", …)``). Off for
    another scope lifts that scope. Expired kills are dropped.
    """
    kills = [k for k in switch.kills if k.live(now)]
    if effect.kill is True:
        kills = [k for k in kills if k.scope != effect.scope]
        kills.append(
            ActiveKill(
                scope=effect.scope, reason=effect.reason, since=now, expires_at=effect.expires_at
            )
        )
    elif effect.kill is False:
        lifted: set[KillScope] = (
            {"all", "business_initiated"} if effect.scope == "all" else {effect.scope}
        )
        kills = [k for k in kills if k.scope not in lifted]
    return KillSwitch(tuple(kills))


def restrict(policy: SendPolicy, switch: KillSwitch, now: float) -> SendPolicy:
    """Lay the WABA kill switch over a chip's quality policy; it only ever removes rights.

    "all" stops every send. "business_initiated" and "paid" stop opening conversations
    and marketing; answers inside open windows (free service messages) still go.
    """
    active = switch.active(now)
    if not active:
        return policy
    worst = max(active, key=lambda k: _SEVERITY[k.scope])
    reason = f"WABA kill switch ({worst.scope}): {worst.reason}"
    if worst.scope == "all":
        return dataclasses.replace(
            policy,
            business_initiated_allowed=False,
            marketing_allowed=False,
            free_form_allowed=False,
            throughput_fraction=0.0,
            reason=reason,
        )
    return dataclasses.replace(
        policy,
        business_initiated_allowed=False,
        marketing_allowed=False,
        reason=f"{reason}; {policy.reason}",
    )

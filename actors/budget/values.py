"""The budget's values: scopes, caps, usage, alerts, and what each ledger change returns
or journals. Pure data with their own checks (amounts are finite and non-negative); the
rules that book them are :class:`~actors.budget.ledger.Ledger`'s."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Final, Literal, TypeAlias

from actors.budget.periods import PERIODS, PeriodKeys, PeriodKind
from config.model import CapsConfig

__all__ = [
    "GLOBAL",
    "NO_CAPS",
    "ONE",
    "ZERO",
    "Alert",
    "CapRef",
    "Caps",
    "LedgerEntry",
    "Op",
    "Refusal",
    "Registered",
    "Release",
    "Reservation",
    "Scope",
    "ScopeKind",
    "Settlement",
    "Usage",
    "is_recount",
    "money",
]

ZERO: Final = Decimal(0)
ONE: Final = Decimal(1)

_ADJECTIVE: Final[Mapping[PeriodKind, str]] = {
    "day": "daily",
    "week": "weekly",
    "month": "monthly",
}

ScopeKind: TypeAlias = Literal["global", "waba", "campaign"]
Op: TypeAlias = Literal["reserve", "release", "settle"]


def money(value: Decimal | float | int | str, what: str) -> Decimal:
    """A finite, non-negative Decimal; floats through ``repr`` (0.0068 stays exact)."""
    try:
        d = (
            value
            if isinstance(value, Decimal)
            else Decimal(repr(value) if isinstance(value, float) else value)
        )
    except InvalidOperation:
        raise ValueError(f"{what} is not a number: {value!r}") from None
    if not d.is_finite() or d < ZERO:
        raise ValueError(f"{what} must be a finite amount >= 0, not {value!r}")
    return d


@dataclass(frozen=True, slots=True, order=True)
class Scope:
    """What a cap or a usage count covers: everything, one WABA, or one campaign."""

    kind: ScopeKind
    id: str = ""

    def __post_init__(self) -> None:
        if (self.kind == "global") != (self.id == ""):
            raise ValueError(f"scope {self.kind!r} with id {self.id!r}")

    @classmethod
    def waba(cls, waba_id: str) -> Scope:
        return cls("waba", waba_id)

    @classmethod
    def campaign(cls, campaign_id: str) -> Scope:
        return cls("campaign", campaign_id)

    def __str__(self) -> str:
        return self.kind if self.kind == "global" else f"{self.kind}:{self.id}"

    @property
    def label(self) -> str:
        """How a cap of this scope is named in words (empty for global)."""
        match self.kind:
            case "global":
                return ""
            case "waba":
                return f"WABA {self.id}"
            case "campaign":
                return f"campaign {self.id}"


GLOBAL: Final = Scope("global")


@dataclass(frozen=True, slots=True)
class Caps:
    """USD caps of one scope; None means no cap for that period."""

    daily: Decimal | None = None
    weekly: Decimal | None = None
    monthly: Decimal | None = None

    def __post_init__(self) -> None:
        for kind in PERIODS:
            cap = self.of(kind)
            if cap is not None:
                money(cap, f"{_ADJECTIVE[kind]} cap")

    @classmethod
    def from_config(cls, cfg: CapsConfig) -> Caps:
        """The caps of ``[budget]``, a ``[[budget.wabas]]`` or a ``[[budget.campaigns]]``."""

        def conv(v: float | None, what: str) -> Decimal | None:
            return None if v is None else money(v, what)

        return cls(
            daily=conv(cfg.daily_usd, "daily_usd"),
            weekly=conv(cfg.weekly_usd, "weekly_usd"),
            monthly=conv(cfg.monthly_usd, "monthly_usd"),
        )

    def tightest(self, other: Caps) -> Caps:
        """Per period, the lower of the two caps (a period capped by one only keeps it).

        Why: a campaign's caps come from two places, ``[[budget.campaigns]]`` in the
        config and its file's ``budget_usd``; each is a promise the operator made, so
        a send must fit under both, never under whichever was set last."""

        def low(a: Decimal | None, b: Decimal | None) -> Decimal | None:
            return b if a is None else a if b is None else min(a, b)

        return Caps(
            daily=low(self.daily, other.daily),
            weekly=low(self.weekly, other.weekly),
            monthly=low(self.monthly, other.monthly),
        )

    def of(self, kind: PeriodKind) -> Decimal | None:
        match kind:
            case "day":
                return self.daily
            case "week":
                return self.weekly
            case "month":
                return self.monthly


NO_CAPS: Final = Caps()


_RECOUNT: Final = "is recounted for"


def is_recount(reason: str) -> bool:
    """Whether a refusal's text is a :class:`Refusal` with ``recount``: the campaign
    must register its caps for the new month (it is not a cap crossed)."""
    return reason.startswith("budget unavailable: campaign ") and f" {_RECOUNT} " in reason


@dataclass(frozen=True, slots=True)
class Registered:
    """Caps a running campaign registered, and the month they were counted for.

    Why a month: a campaign file's ``budget_usd`` is what the campaign may spend in
    all, and the ledger only knows periods. The runner registers, as the campaign's
    monthly cap, what is left of it after the months before (read from the journal),
    for this month's key; once the month is another, the ledger refuses the campaign's
    paid sends as "to be recounted" until it registers again. So a campaign that runs
    into a new month does not get its budget afresh, and between the two there is no
    moment when the old figure applies to the new month."""

    caps: Caps
    month: str | None = None


@dataclass(frozen=True, slots=True)
class CapRef:
    """One cap: a scope's daily, weekly or monthly limit."""

    scope: Scope
    period: PeriodKind

    @property
    def label(self) -> str:
        """``daily`` for the global cap, ``WABA 123 weekly``, ``campaign c1 monthly``."""
        return f"{self.scope.label} {_ADJECTIVE[self.period]}".strip()


@dataclass(frozen=True, slots=True)
class Usage:
    """Amounts booked in one (scope, period)."""

    spent: Decimal
    reserved: Decimal
    cap: Decimal | None

    @property
    def used(self) -> Decimal:
        return self.spent + self.reserved

    @property
    def remaining(self) -> Decimal | None:
        """Left under the cap (negative after an overshoot); None without a cap."""
        return None if self.cap is None else self.cap - self.used


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """Usage of ``cap`` in ``period_key`` reached ``threshold`` (a fraction of the cap)."""

    cap: CapRef
    period_key: str
    threshold: Decimal
    used: Decimal
    cap_amount: Decimal
    at: float

    @property
    def message(self) -> str:
        pct = (self.threshold * 100).normalize()
        word = "reached" if self.threshold >= ONE else "at"
        return (
            f"budget: {self.cap.label} cap {word} {pct:f}% "
            f"({self.used} of {self.cap_amount} USD, {self.period_key})"
        )

    def to_json(self) -> dict[str, object]:
        return {
            "scope": str(self.cap.scope),
            "period": self.cap.period,
            "period_key": self.period_key,
            "threshold": str(self.threshold),
            "used": str(self.used),
            "cap": str(self.cap_amount),
            "at": self.at,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerEntry:
    """One journaled change; :meth:`Ledger.replay` of all of them rebuilds the ledger.

    ``amount`` is the reserved estimate (reserve), the amount freed (release) or the
    actual price (settle). ``waba``/``campaign`` are the message's scopes.

    A settlement of a message the ledger held also says when the message was booked
    (``booked_at``, where it counts) and, when it replaces an earlier price, that price
    (``prev``). Why: a ledger that does not remember the message (restored from a
    checkpoint, or one that forgot it) then still applies the difference in the
    message's periods instead of counting the whole price again, without reading the
    days of journal before it.
    """

    op: Op
    id: str
    amount: Decimal
    at: float
    waba: str | None = None
    campaign: str | None = None
    prev: Decimal | None = None
    booked_at: float | None = None

    def to_json(self) -> dict[str, object]:
        """JSON-safe; the amounts are decimal strings so no precision is lost."""
        out: dict[str, object] = {
            "op": self.op,
            "id": self.id,
            "amount": str(self.amount),
            "at": self.at,
            "waba": self.waba,
            "campaign": self.campaign,
        }
        if self.prev is not None:
            out["prev"] = str(self.prev)
        if self.booked_at is not None:
            out["booked_at"] = self.booked_at
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> LedgerEntry:
        """Inverse of :meth:`to_json`. Raises ValueError on a malformed entry."""
        op = data.get("op")
        if op not in ("reserve", "release", "settle"):
            raise ValueError(f"unknown ledger op: {op!r}")
        ident, at = data.get("id"), data.get("at")
        if not isinstance(ident, str) or not isinstance(at, int | float):
            raise ValueError(f"malformed ledger entry: {dict(data)!r}")
        amount = data.get("amount")
        if not isinstance(amount, str | int | float | Decimal):
            raise ValueError(f"malformed ledger amount: {amount!r}")
        waba, campaign = data.get("waba"), data.get("campaign")
        if not (waba is None or isinstance(waba, str)) or not (
            campaign is None or isinstance(campaign, str)
        ):
            raise ValueError(f"malformed ledger scopes: {dict(data)!r}")
        prev, booked_at = data.get("prev"), data.get("booked_at")
        if not (prev is None or isinstance(prev, str | int | float | Decimal)) or not (
            booked_at is None or isinstance(booked_at, int | float)
        ):
            raise ValueError(f"malformed ledger settlement: {dict(data)!r}")
        return cls(
            op=op,
            id=ident,
            amount=money(amount, "amount"),
            at=float(at),
            waba=waba,
            campaign=campaign,
            prev=None if prev is None else money(prev, "prev"),
            booked_at=None if booked_at is None else float(booked_at),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Reservation:
    """A reservation was booked; persist ``entry`` and send ``alerts``."""

    id: str
    amount: Decimal
    periods: PeriodKeys
    alerts: tuple[Alert, ...]
    entry: LedgerEntry


@dataclass(frozen=True, slots=True, kw_only=True)
class Refusal:
    """The reservation would cross ``cap``; nothing was booked.

    ``recount``: not a cap crossed but a campaign's cap counted for another month than
    ``period_key``'s (see :class:`Registered`): a "not now" the campaign answers by
    registering again, not a pause."""

    id: str
    amount: Decimal
    cap: CapRef
    cap_amount: Decimal
    used: Decimal
    period_key: str
    recount: bool = False

    @property
    def reason(self) -> str:
        if self.recount:
            return f"budget unavailable: {self.cap.scope.label} {_RECOUNT} {self.period_key}"
        left = max(self.cap_amount - self.used, ZERO)
        return (
            f"budget: {self.cap.label} cap would be crossed "
            f"({self.amount} USD needed, {left} of {self.cap_amount} USD left, "
            f"{self.period_key})"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Release:
    """A reservation was freed; persist ``entry``."""

    id: str
    amount: Decimal
    entry: LedgerEntry


@dataclass(frozen=True, slots=True, kw_only=True)
class Settlement:
    """A message's real cost was recorded.

    ``previous``: what it held before (the reservation, or an earlier settlement of a
    duplicate webhook); None when nothing was reserved for it. ``over_cap``: caps now
    overrun (see the module docstring). ``entry`` is None when nothing changed (a
    duplicate with the same amount), so there is nothing to persist.
    """

    id: str
    amount: Decimal
    previous: Decimal | None
    over_cap: tuple[CapRef, ...]
    alerts: tuple[Alert, ...]
    entry: LedgerEntry | None

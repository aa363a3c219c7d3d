"""What the console knows about the daemon: typed, and free of Textual and of sockets.

The wire dicts are parsed leniently (a missing or mistyped field gets a neutral default)
so a daemon one version ahead or behind still shows a usable fleet.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "QUALITY_RANK",
    "SORT_KEYS",
    "Chip",
    "DaemonInfo",
    "SendRate",
    "Snapshot",
    "SortKey",
    "Waba",
    "WebhookCounts",
    "chip_matches",
    "chip_state",
    "describe_change",
    "sort_chips",
]

QUALITY_RANK = {"RED": 0, "YELLOW": 1, "GREEN": 2}
"""Worst first; anything else (UNKNOWN) sorts last."""


def _str(doc: Mapping[str, Any], key: str, default: str = "") -> str:
    value = doc.get(key)
    return value if isinstance(value, str) else default


def _int(doc: Mapping[str, Any], key: str) -> int:
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return int(value)


def _float(doc: Mapping[str, Any], key: str) -> float:
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return float(value)


@dataclass(frozen=True, slots=True)
class Chip:
    phone_number_id: str
    display_number: str = ""
    waba_id: str = ""
    quality_rating: str = "UNKNOWN"
    status: str = ""
    tier: str = ""
    mode: str = ""
    policy: str = ""
    paused: bool = False
    pause_reason: str | None = None
    draining: bool = False
    open_windows: int = 0
    queued: int = 0
    in_flight: int = 0
    mps: float = 0.0
    mps_limit: int = 0
    tier_used: int = 0
    tier_limit: int | None = None
    restarts: int = 0
    sent_today: int = 0
    cost_today_usd: float = 0.0
    accepted: int = 0
    """Sends Meta accepted since the chip's actor started (the timeline counts its steps)."""
    failed: int = 0

    @classmethod
    def from_wire(cls, doc: Mapping[str, Any]) -> Chip:
        pnid = doc.get("phone_number_id")
        if not isinstance(pnid, str | int) or isinstance(pnid, bool) or str(pnid) == "":
            raise ValueError("a chip without phone_number_id")
        reason = doc.get("pause_reason")
        tier_limit = doc.get("tier_limit")
        return cls(
            phone_number_id=str(pnid),
            display_number=_str(doc, "display_number", str(pnid)),
            waba_id=_str(doc, "waba_id"),
            quality_rating=_str(doc, "quality_rating", "UNKNOWN").upper() or "UNKNOWN",
            status=_str(doc, "status"),
            tier=_str(doc, "tier"),
            mode=_str(doc, "mode"),
            policy=_str(doc, "policy"),
            paused=doc.get("paused") is True,
            pause_reason=reason if isinstance(reason, str) else None,
            draining=doc.get("draining") is True,
            open_windows=_int(doc, "open_windows"),
            queued=_int(doc, "queued"),
            in_flight=_int(doc, "in_flight"),
            mps=_float(doc, "mps"),
            mps_limit=_int(doc, "mps_limit"),
            tier_used=_int(doc, "tier_used"),
            tier_limit=tier_limit if isinstance(tier_limit, int) else None,
            restarts=_int(doc, "restarts"),
            sent_today=_int(doc, "sent_today"),
            cost_today_usd=_float(doc, "cost_today_usd"),
            accepted=_int(doc, "accepted"),
            failed=_int(doc, "failed"),
        )


@dataclass(frozen=True, slots=True)
class Waba:
    waba_id: str
    name: str = ""
    restricted: bool = False
    chips: tuple[str, ...] = ()

    @classmethod
    def from_wire(cls, doc: Mapping[str, Any]) -> Waba:
        chips = doc.get("chips")
        return cls(
            waba_id=_str(doc, "waba_id"),
            name=_str(doc, "name"),
            restricted=doc.get("restricted") is True,
            chips=tuple(str(c) for c in chips) if isinstance(chips, list) else (),
        )

    @property
    def label(self) -> str:
        return self.name or self.waba_id


@dataclass(frozen=True, slots=True)
class DaemonInfo:
    version: str = ""
    webhook_url: str = ""
    sim_url: str = ""
    uptime_s: float = 0.0

    @classmethod
    def from_wire(cls, doc: Mapping[str, Any]) -> DaemonInfo:
        return cls(
            version=_str(doc, "version"),
            webhook_url=_str(doc, "webhook_url"),
            sim_url=_str(doc, "sim_url"),
            uptime_s=_float(doc, "uptime_s"),
        )


@dataclass(frozen=True, slots=True)
class WebhookCounts:
    received: int = 0
    duplicates: int = 0
    parsed: int = 0
    unparsed: int = 0
    unknown_number: int = 0
    rejected_signature: int = 0
    pending: int = 0

    @classmethod
    def from_wire(cls, doc: Mapping[str, Any]) -> WebhookCounts:
        return cls(**{name: _int(doc, name) for name in cls.__dataclass_fields__})


@dataclass(frozen=True, slots=True)
class SendRate:
    """One second of the ``sends`` stream."""

    accepted: int = 0
    failed: int = 0
    statuses: int = 0

    @classmethod
    def from_wire(cls, doc: Mapping[str, Any]) -> SendRate:
        return cls(_int(doc, "accepted"), _int(doc, "failed"), _int(doc, "statuses"))


@dataclass(frozen=True, slots=True)
class Snapshot:
    daemon: DaemonInfo
    chips: tuple[Chip, ...]
    wabas: tuple[Waba, ...]
    webhooks: WebhookCounts | None = None

    @classmethod
    def from_wire(cls, doc: Mapping[str, Any]) -> Snapshot:
        daemon = doc.get("daemon")
        webhooks = doc.get("webhooks")
        chips: list[Chip] = []
        for raw in doc.get("chips") or ():
            if isinstance(raw, dict):
                try:
                    chips.append(Chip.from_wire(raw))
                except ValueError:
                    continue
        wabas = [Waba.from_wire(w) for w in doc.get("wabas") or () if isinstance(w, dict)]
        return cls(
            daemon=DaemonInfo.from_wire(daemon if isinstance(daemon, dict) else {}),
            chips=tuple(chips),
            wabas=tuple(wabas),
            webhooks=WebhookCounts.from_wire(webhooks) if isinstance(webhooks, dict) else None,
        )


def chip_state(chip: Chip) -> str:
    """What the chip is doing now: an operator pause or a drain wins over the policy mode."""
    if chip.paused:
        return "PAUSED"
    if chip.draining:
        return "DRAINING"
    return chip.mode or "—"


def describe_change(old: Chip | None, new: Chip) -> tuple[str, str] | None:
    """``(level, message)`` for a change worth a line in the event log, else None.

    Counters (queue, rate, sends) change every second and are shown in the fleet table only.
    """
    if old is None:
        return ("info", f"chip appeared ({new.quality_rating}, {chip_state(new)})")
    parts: list[str] = []
    level = "info"
    if old.quality_rating != new.quality_rating:
        parts.append(f"quality {old.quality_rating} → {new.quality_rating}")
        if QUALITY_RANK.get(new.quality_rating, 9) < QUALITY_RANK.get(old.quality_rating, 9):
            level = "warning"
    if old.status != new.status:
        parts.append(f"status {old.status} → {new.status}")
        if new.status != "CONNECTED":
            level = "warning"
    if old.paused != new.paused:
        if new.paused:
            parts.append(f"paused ({new.pause_reason or 'no reason given'})")
            level = "warning"
        else:
            parts.append("resumed")
    if old.draining != new.draining:
        parts.append("draining" if new.draining else "drain ended")
    if old.mode != new.mode:
        parts.append(f"mode {old.mode} → {new.mode}")
        if new.mode.startswith(("PAUSED", "SLOWED")):
            level = "warning"
    if old.tier != new.tier:
        parts.append(f"tier {old.tier} → {new.tier}")
    if new.restarts > old.restarts:
        parts.append(f"restarted ({new.restarts})")
        level = "warning"
    return (level, "; ".join(parts)) if parts else None


@dataclass(frozen=True, slots=True)
class SortKey:
    column: str
    label: str
    key: Callable[[Chip, Mapping[str, Waba]], Any]
    descending_first: bool = False
    """Numbers sort biggest first on the first press (the busiest chip is the interesting one)."""


def _number(chip: Chip, _: Mapping[str, Waba]) -> Any:
    return chip.display_number


SORT_KEYS: tuple[SortKey, ...] = (
    SortKey("number", "number", _number),
    SortKey("waba", "WABA", lambda c, w: w[c.waba_id].label if c.waba_id in w else c.waba_id),
    SortKey("quality", "quality", lambda c, _: QUALITY_RANK.get(c.quality_rating, 9)),
    SortKey("status", "status", lambda c, _: c.status),
    SortKey("tier", "tier", lambda c, _: (c.tier_limit is None, c.tier_limit or 0)),
    SortKey("state", "state", lambda c, _: chip_state(c)),
    SortKey("windows", "open windows", lambda c, _: c.open_windows, True),
    SortKey("mps", "msg/s", lambda c, _: c.mps, True),
    SortKey("queue", "queue", lambda c, _: c.queued + c.in_flight, True),
    SortKey("sent", "sent today", lambda c, _: c.sent_today, True),
    SortKey("cost", "cost today", lambda c, _: c.cost_today_usd, True),
)
SORT_BY_COLUMN = {s.column: s for s in SORT_KEYS}


def sort_chips(
    chips: list[Chip], wabas: Mapping[str, Waba], column: str, reverse: bool
) -> list[Chip]:
    """Stable: equal keys keep number order, whatever the direction."""
    by_number = sorted(chips, key=lambda c: (c.display_number, c.phone_number_id))
    spec = SORT_BY_COLUMN.get(column, SORT_KEYS[0])
    return sorted(by_number, key=lambda c: spec.key(c, wabas), reverse=reverse)


_FIELD_ALIASES = {"q": "quality", "quality": "quality", "status": "status", "tier": "tier"}
_FIELD_ALIASES |= {"mode": "state", "state": "state", "waba": "waba"}


@dataclass(frozen=True, slots=True)
class _Haystack:
    all: str
    fields: dict[str, str] = field(default_factory=dict)


def _haystack(chip: Chip, waba: Waba | None) -> _Haystack:
    waba_text = f"{chip.waba_id} {waba.name if waba else ''}".lower()
    fields = {
        "quality": chip.quality_rating.lower(),
        "status": chip.status.lower(),
        "tier": chip.tier.lower(),
        "state": f"{chip_state(chip)} {chip.mode}".lower(),
        "waba": waba_text,
    }
    digits = "".join(ch for ch in chip.display_number if ch.isdigit())
    free = [chip.display_number, digits, chip.phone_number_id, chip.policy]
    free.append(chip.pause_reason or "")
    return _Haystack(" ".join([*fields.values(), *free]).lower(), fields)


def chip_matches(chip: Chip, waba: Waba | None, query: str) -> bool:
    """Every whitespace-separated term must match; ``quality:red`` looks in one field."""
    if not query or query.isspace():
        return True
    hay = _haystack(chip, waba)
    for term in query.lower().split():
        name, sep, value = term.partition(":")
        if sep and name in _FIELD_ALIASES:
            if value not in hay.fields[_FIELD_ALIASES[name]]:
                return False
        elif term not in hay.all:
            return False
    return True

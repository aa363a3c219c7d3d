"""A fixed fleet and a fake control client for the console's tests.

The fake implements :class:`tui.client.ControlClient` in memory: it records every call,
answers the chip commands as the daemon does (with the changed chip), and lets a test
push events, drop the connection and bring it back.
"""

from __future__ import annotations

import asyncio
import copy
import io
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import DataTable

from daemon.control import protocol
from tui.app import MetadConsole
from tui.client import (
    ConnectionStatus,
    ControlClient,
    ControlEvent,
    ControlListener,
    LinkState,
    NotConnected,
    RpcError,
)

TARGET = "/run/metad/metad.sock"
EPOCH = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC: event times in the fixed state
PNIDS = tuple(f"10000000000000{n}" for n in range(1, 6))


def chip(pnid: str, number: str, waba: str, quality: str, **changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "phone_number_id": pnid,
        "display_number": number,
        "waba_id": waba,
        "quality_rating": quality,
        "status": "CONNECTED",
        "tier": "TIER_1K",
        "mode": "FULL",
        "policy": "full rate",
        "paused": False,
        "pause_reason": None,
        "draining": False,
        "open_windows": 0,
        "queued": 0,
        "in_flight": 0,
        "mps": 80.0,
        "mps_limit": 80,
        "tier_used": 0,
        "tier_limit": 1000,
        "restarts": 0,
        "sent_today": 0,
        "cost_today_usd": 0.0,
        "accepted": 0,
        "failed": 0,
    }
    doc.update(changes)
    return doc


def fleet_snapshot() -> dict[str, Any]:
    """Five chips on two WABAs, one of each quality and one paused."""
    a, b = "200000000000001", "200000000000002"
    return {
        "daemon": {
            "version": "0.1.0",
            "webhook_url": "https://metad.example.com/webhook",
            "sim_url": "http://127.0.0.1:8089",
            "uptime_s": 7384.0,
        },
        "chips": [
            chip(PNIDS[0], "+1 555 010 0001", a, "GREEN", open_windows=12, queued=3, in_flight=1,
                 mps=12.5, tier_used=140, sent_today=1234, cost_today_usd=3.2),
            chip(PNIDS[1], "+1 555 010 0002", a, "YELLOW", mode="SLOWED", mps=20.0, queued=40,
                 sent_today=560, cost_today_usd=1.15, tier_used=560),
            chip(PNIDS[2], "+1 555 010 0003", b, "RED", status="FLAGGED", mode="PAUSED_BUSINESS",
                 mps=0.0, tier="TIER_250", tier_limit=250, sent_today=12, cost_today_usd=0.05),
            chip(PNIDS[3], "+1 555 010 0004", b, "UNKNOWN", mode="RAMPING", mps=5.0,
                 tier="TIER_10K", tier_limit=10000, sent_today=0),
            chip(PNIDS[4], "+1 555 010 0005", a, "GREEN", paused=True, pause_reason="night",
                 sent_today=99, cost_today_usd=0.42, restarts=1),
        ],
        "wabas": [
            {"waba_id": a, "name": "Acme Sales", "restricted": False,
             "chips": [PNIDS[0], PNIDS[1], PNIDS[4]]},
            {"waba_id": b, "name": "Acme Care", "restricted": True,
             "chips": [PNIDS[2], PNIDS[3]]},
        ],
        "webhooks": {"received": 1520, "duplicates": 7, "parsed": 1509, "unparsed": 4,
                     "unknown_number": 2, "rejected_signature": 1, "pending": 0},
    }  # fmt: skip


def campaign(cid: str, name: str, state: str, total: int, **counts: Any) -> dict[str, Any]:
    """As ``campaign.status`` answers: ``sent`` includes the failed ones, and pending is
    what the other states leave of the total (the daemon's counts add up); stamped
    ``as_of`` EPOCH unless told (a test that races two versions stamps them apart)."""
    doc: dict[str, Any] = {"id": cid, "name": name, "state": state, "total": total}
    keys = ("in_flight", "sent", "delivered", "read", "replied", "failed", "skipped",
            "refused", "dropped", "in_doubt")  # fmt: skip
    for key in keys:
        doc[key] = counts.get(key, 0)
    dealt = ("in_flight", "sent", "skipped", "refused", "dropped", "in_doubt")
    doc["pending"] = total - sum(doc[key] for key in dealt)
    doc["cost_usd"] = counts.get("cost_usd", 0.0)
    doc["eta_s"] = counts.get("eta_s")
    doc.update({k: v for k, v in counts.items() if k in ("taps", "in_doubt_overdue")})
    doc["as_of"] = counts.get("as_of", EPOCH)
    return doc


def campaigns() -> list[dict[str, Any]]:
    """One running, one paused, one finished."""
    return [
        campaign("c-spring", "Spring sale", "running", 5000, in_flight=38, sent=2340,
                 delivered=2100, read=1500, replied=120, failed=40, skipped=60, in_doubt=2,
                 cost_usd=34.5, eta_s=1260.0, taps=75,
                 in_doubt_overdue=[{"recipient": "r7", "outbox_id": 42, "chip": PNIDS[0]}]),
        campaign("c-winback", "Win-back", "paused", 1200, sent=412, delivered=380, read=200,
                 replied=31, failed=12, skipped=8, cost_usd=9.84),
        campaign("c-welcome", "Welcome series", "finished", 300, sent=292, delivered=288,
                 read=250, replied=40, failed=4, skipped=6, refused=1, dropped=1,
                 cost_usd=2.9, eta_s=0.0),
    ]  # fmt: skip


def budget() -> dict[str, Any]:
    """The day past its 80 % alert, the week fine, the month past 95 %."""
    alert_at = ["0.5", "0.8", "0.95"]
    return {
        "day": {"spent": "41.20", "reserved": "1.30", "cap": "50", "alert_at": alert_at},
        "week": {"spent": "120.00", "reserved": "1.30", "cap": "250", "alert_at": alert_at},
        "month": {"spent": "880.50", "reserved": "1.30", "cap": "900", "alert_at": alert_at},
    }


def templates() -> list[dict[str, Any]]:
    def t(name: str, lang: str, cat: str, status: str, quality: str, reason: str = "NONE") -> Any:
        # Meta says "NONE" for the rejection reason of a template it did not reject.
        return {"waba_id": "200000000000001", "name": name, "language": lang, "category": cat,
                "status": status, "quality": quality, "reason": reason}  # fmt: skip

    return [
        t("hello_world", "en_US", "UTILITY", "APPROVED", "GREEN"),
        t("spring_promo", "pt_BR", "MARKETING", "APPROVED", "YELLOW"),
        t("order_update", "en_US", "UTILITY", "PENDING", "UNKNOWN"),
        t("winback_offer", "es", "MARKETING", "REJECTED", "UNKNOWN", "INVALID_FORMAT"),
    ]


def template_report() -> list[dict[str, Any]]:
    return [
        {"name": "spring_promo", "language": "pt_BR", "sent": 2300, "delivered": 2100,
         "read": 1500, "replied": 120, "failed": 40, "read_rate": 0.652, "cost_usd": 34.5,
         "fail_codes": ["131049"],
         "recommendations": ["quality YELLOW: send to engaged contacts only",
                             "131049 (per-user marketing limit) on 40: space the sends"]},
        {"name": "hello_world", "language": "en_US", "sent": 1200, "delivered": 1180,
         "read": 950, "replied": 80, "failed": 5, "read_rate": 0.792, "cost_usd": 0.0,
         "fail_codes": [], "recommendations": []},
    ]  # fmt: skip


class FakeControlClient:
    """Connects at once (unless ``connected=False``) and serves :func:`fleet_snapshot`,
    the campaigns, the budget and the templates above; a method named in ``missing`` is
    unknown to it (as to an older daemon)."""

    def __init__(
        self,
        snapshot: dict[str, Any] | None = None,
        *,
        connected: bool = True,
        missing: tuple[str, ...] = (),
    ) -> None:
        self.target = TARGET
        self.snapshot = snapshot if snapshot is not None else fleet_snapshot()
        self.campaigns = campaigns()
        self.budget = budget()
        self.templates = templates()
        self.report: Any = template_report()
        self.missing = set(missing)
        self.quality_history: list[dict[str, Any]] = []
        """What ``quality.history`` answers: ``{"chip", "at", "from_rating", "to_rating"}``."""
        self.backlog: list[dict[str, Any]] = []
        """What ``events.recent`` keeps: ``{"kind", "at", "data"}`` happenings."""
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.errors: dict[str, RpcError] = {}
        self.gates: dict[str, asyncio.Event] = {}
        """A method named here answers once its event is set (a call on its way)."""
        self.reconnects = 0
        self.connected = False
        self.listener: ControlListener | None = None
        self._start_connected = connected

    async def run(self, listener: ControlListener) -> None:
        self.listener = listener
        if self._start_connected:
            self.connect()
        else:
            self.disconnect("no daemon socket (is metad running?)", retry_in=0.5)
        await asyncio.Event().wait()  # until the app cancels its worker

    def _listener(self) -> ControlListener:
        assert self.listener is not None, "the app has not started the client yet"
        return self.listener

    def connect(self) -> None:
        self.connected = True
        self._listener().connection_changed(ConnectionStatus(LinkState.CONNECTED, TARGET))
        self._listener().snapshot_received(copy.deepcopy(self.snapshot))

    def disconnect(
        self, error: str = "connection lost", retry_in: float = 3.0, attempt: int = 1
    ) -> None:
        self.connected = False
        self._listener().connection_changed(
            ConnectionStatus(
                LinkState.DISCONNECTED, TARGET, error, retry_in=retry_in, attempt=attempt
            )
        )

    def connecting(self, attempt: int = 2) -> None:
        status = ConnectionStatus(LinkState.CONNECTING, TARGET, attempt=attempt)
        self._listener().connection_changed(status)

    def push(self, kind: str, data: dict[str, Any], at: float = EPOCH) -> None:
        self._listener().event_received(ControlEvent(kind, at, data))

    def chip(self, pnid: str) -> dict[str, Any]:
        found: dict[str, Any] = next(
            c for c in self.snapshot["chips"] if c["phone_number_id"] == pnid
        )
        return found

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        params = dict(params or {})
        self.calls.append((method, params))
        if not self.connected:
            raise NotConnected("not connected to the daemon")
        if method in self.errors:
            raise self.errors[method]
        if method in self.gates:
            await self.gates[method].wait()
        if method in self.missing:
            raise RpcError(protocol.METHOD_NOT_FOUND, f"unknown method {method!r}")
        verbs = {"campaign.pause": "paused", "campaign.resume": "running",
                 "campaign.cancel": "cancelled"}  # fmt: skip
        if method == "campaign.resolve":
            found = next(c for c in self.campaigns if c["id"] == params["id"])
            doubt = found.get("in_doubt_overdue", [])
            hit = [d for d in doubt if d["recipient"] == params["recipient"]]
            found["in_doubt_overdue"] = [d for d in doubt if d not in hit]
            return {"resolved": bool(hit)}
        if method in verbs:
            found = next(c for c in self.campaigns if c["id"] == params["id"])
            found["state"] = verbs[method]
            return copy.deepcopy(found)
        answers = {
            "campaign.list": self.campaigns,
            "budget.status": self.budget,
            "templates.list": self.templates,
            "templates.report": self.report,
            "templates.sync": {"200000000000001": len(self.templates)},
            "quality.history": {"changes": self.quality_history},
            "events.recent": {
                "events": [e for e in self.backlog if e["at"] > params.get("after", 0)]
            },
        }
        if method in answers:
            return copy.deepcopy(answers[method])
        changes: dict[str, Callable[[dict[str, Any]], None]] = {
            "chip.pause": lambda c: c.update(paused=True, pause_reason=params.get("reason")),
            "chip.resume": lambda c: c.update(paused=False, pause_reason=None),
            "chip.drain": lambda c: c.update(draining=True),
        }
        if method in changes:
            target = self.chip(params["phone_number_id"])
            changes[method](target)
            return copy.deepcopy(target)
        if method == "webhooks.stats":
            return dict(self.snapshot["webhooks"])
        if method == "status.snapshot":
            return copy.deepcopy(self.snapshot)
        raise RpcError(protocol.METHOD_NOT_FOUND, f"unknown method {method!r}")

    def reconnect_now(self) -> None:
        self.reconnects += 1

    def sent(self, method: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == method]


async def wait_until(
    pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = 5.0
) -> None:
    """Network-driven state lands asynchronously: poll instead of sleeping a guess."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.01)


def make_console(client: ControlClient, **options: Any) -> MetadConsole:
    """The console with fixed clocks (stable uptime, countdowns and timestamps)."""
    options.setdefault("clock", lambda: 1000.0)
    options.setdefault("wall_clock", lambda: EPOCH + 60)
    options.setdefault("poll_interval", None)
    return MetadConsole(client, **options)


def cells(table: DataTable[Text], row_key: str) -> list[str]:
    return [cell.plain for cell in table.get_row(row_key)]


def column(table: DataTable[Text], key: str) -> list[str]:
    return [cell.plain for cell in table.get_column(key)]


def screen_text(app: MetadConsole) -> list[str]:
    """The screen as the terminal shows it, one string per row (what a narrow terminal
    cuts or wraps is visible here, unlike in a widget's own text)."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system=None,
        record=True,
        legacy_windows=False,
        safe_box=False,
    )
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text(styles=False).splitlines()


BUDGET_ALERT = "budget: global day cap at 80% (40.05 of 50 USD)"
"""A budget alert's text, as the daemon's budget event and its log mirror say it."""


def budget_mirror(at: float, message: str = f"budget alert: {BUDGET_ALERT}") -> ControlEvent:
    """The warning the daemon logs for a budget alert (the event's mirror)."""
    return ControlEvent(
        "log", at, {"level": "WARNING", "logger": "metad.budget", "message": message}
    )


def budget_alert(at: float) -> ControlEvent:
    """The budget event itself (the mirror's twin)."""
    data = {"scope": "global", "period": "day", "period_key": "2026-01-01",
            "threshold": "0.8", "used": "40.05", "cap": "50", "message": BUDGET_ALERT}  # fmt: skip
    return ControlEvent("budget", at, data)


def wire(event: ControlEvent) -> dict[str, Any]:
    """``event`` as ``events.recent`` answers it (the backlog)."""
    return {"kind": event.kind, "at": event.at, "data": event.data}

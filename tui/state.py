"""The console's memory: the last snapshot, chips as events update them, and the event log.

Everything here is plain Python so the rules (what becomes a log line, what a filter
matches) are tested without a terminal.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from tui.budget import BudgetAlert, BudgetPeriod
from tui.campaigns import Campaign
from tui.client import ConnectionStatus, ControlEvent, LinkState
from tui.mirrors import HeldMirrors, Shown
from tui.model import Chip, DaemonInfo, SendRate, Snapshot, Waba, WebhookCounts
from tui.templates import TemplateRow
from tui.timeline import QualityTimeline

__all__ = ["ENTRY_KINDS", "LEVELS", "ConsoleState", "LogEntry", "entry_matches"]

LEVELS = ("debug", "info", "warning", "error")
ENTRY_KINDS = (
    "chip", "actor", "budget", "tap", "campaign", "log", "console",
    "config", "keeper", "shift", "flow.completed",
)  # fmt: skip
"""The kinds of the log's lines: the console's own names, then the daemon's other
happenings, logged under their event's kind (the events table sizes its column to fit)."""
_LEVEL_ALIASES = {"warn": "warning", "critical": "error", "fatal": "error", "exception": "error"}


@dataclass(frozen=True, slots=True)
class LogEntry:
    seq: int
    at: float
    """Epoch seconds (the daemon's clock for daemon events, the console's for its own)."""
    level: str
    kind: str
    """One of :data:`ENTRY_KINDS` (console: the console's own, connections and operator
    actions), or an event kind the console does not know."""
    source: str
    message: str


def _level(raw: object) -> str:
    text = str(raw or "info").lower()
    text = _LEVEL_ALIASES.get(text, text)
    return text if text in LEVELS else "info"


def entry_matches(entry: LogEntry, query: str) -> bool:
    """Every term must match; ``kind:actor``, ``level:error``, ``source:…`` look in one field."""
    fields = {"kind": entry.kind, "level": entry.level, "source": entry.source.lower()}
    hay = f"{entry.level} {entry.kind} {entry.source} {entry.message}".lower()
    for term in query.lower().split():
        name, sep, value = term.partition(":")
        if sep and name in fields:
            if value not in fields[name]:
                return False
        elif term not in hay:
            return False
    return True


class ConsoleState:
    def __init__(self, target: str, max_entries: int = 5000) -> None:
        self.connection = ConnectionStatus(LinkState.CONNECTING, target)
        self.daemon: DaemonInfo | None = None
        self.chips: dict[str, Chip] = {}
        self.wabas: dict[str, Waba] = {}
        self.webhooks: WebhookCounts | None = None
        self.sends: SendRate | None = None
        self.entries: deque[LogEntry] = deque(maxlen=max_entries)
        self.snapshot_at: float | None = None
        """The console's monotonic clock when the snapshot arrived (uptime counts on from it)."""
        self.retry_deadline: float | None = None
        self.reconnecting = False
        """Trying again after a lost or failed connection (not the first attempt)."""
        self.timeline = QualityTimeline()
        self.campaigns: dict[str, Campaign] = {}
        self.campaigns_listed = False
        """The daemon listed its campaigns once (a campaign not seen since is new)."""
        self.mirrors = HeldMirrors()
        self.shown = Shown()
        """What the log showed, by happening and by pairing key (see :mod:`tui.mirrors`):
        kept across reconnections, as a happening may come again in the next backlog."""
        self.budget: tuple[BudgetPeriod, ...] = ()
        self.budget_alerts: deque[BudgetAlert] = deque(maxlen=200)
        self.templates: list[TemplateRow] = []
        self.available: dict[str, bool] = {}
        """Per optional method (``campaign.list``, ``templates.report`` …): False once
        the daemon said it has no such method, True once it answered; absent: not asked."""
        self._seq = 0
        self._happened_at = 0.0  # the newest happening logged (live or from the backlog)
        self._backlog_after = 0.0
        self._live_since: float | None = None

    def expect_backlog(self) -> float:
        """A new subscription has begun: the daemon's kept happenings after the returned
        time are the ones this console has not logged (0: all, at the first connection).

        Called when the snapshot arrives, before any event of the new subscription is
        applied: called later (when the backlog is asked for, in a worker), a live event
        applied meanwhile moved the time past what happened while the console was away."""
        self._backlog_after, self._live_since = self._happened_at, None
        return self._backlog_after

    @property
    def backlog_after(self) -> float:
        """What :meth:`expect_backlog` returned last."""
        return self._backlog_after

    def note_live(self, event: ControlEvent) -> None:
        """A happening came live (not a state stream): the backlog stops before the first."""
        if self._live_since is None:
            self._live_since = event.at
        self._happened_at = max(self._happened_at, event.at)

    def new_in_backlog(self, events: Iterable[ControlEvent]) -> list[ControlEvent]:
        """Of ``events.recent``'s answer, oldest first, those neither logged before the
        subscription nor received live since (a happening published after subscribing is
        in both)."""
        out = sorted(
            (
                e
                for e in events
                if e.at > self._backlog_after
                and (self._live_since is None or e.at < self._live_since)
            ),
            key=lambda e: e.at,
        )
        if out:
            self._happened_at = max(self._happened_at, out[-1].at)
        return out

    @property
    def connected(self) -> bool:
        return self.connection.state is LinkState.CONNECTED

    def set_connection(self, status: ConnectionStatus, now: float) -> None:
        if status.state is LinkState.CONNECTING:
            previous = self.connection.state
            self.reconnecting = self.reconnecting or previous is not LinkState.CONNECTING
        else:
            self.reconnecting = False
        self.connection = status
        self.retry_deadline = None if status.retry_in is None else now + status.retry_in

    def apply_snapshot(self, snapshot: Snapshot, now: float) -> None:
        self.daemon = snapshot.daemon
        self.chips = {chip.phone_number_id: chip for chip in snapshot.chips}
        self.wabas = {waba.waba_id: waba for waba in snapshot.wabas}
        if snapshot.webhooks is not None:
            self.webhooks = snapshot.webhooks
        self.sends = None
        self.snapshot_at = now
        self.timeline.baseline(snapshot.chips)
        self.available.clear()  # a restarted daemon may be another version

    def apply_chip(self, chip: Chip) -> Chip | None:
        """Store a chip; the previous version, if any."""
        old = self.chips.get(chip.phone_number_id)
        self.chips[chip.phone_number_id] = chip
        return old

    def apply_campaign(self, campaign: Campaign) -> Campaign | None:
        """Store a campaign; the previous version, if any."""
        old = self.campaigns.get(campaign.id)
        self.campaigns[campaign.id] = campaign
        return old

    def set_campaigns(self, campaigns: list[Campaign]) -> list[tuple[Campaign | None, Campaign]]:
        """Replace the campaigns with the daemon's list; per campaign listed, (the version
        before or None, the new one)."""
        before = self.campaigns
        self.campaigns = {c.id: c for c in campaigns}
        self.campaigns_listed = True
        return [(before.get(c.id), c) for c in campaigns]

    def uptime(self, now: float) -> float | None:
        if self.daemon is None or self.snapshot_at is None:
            return None
        if not self.connected:
            return self.daemon.uptime_s
        return self.daemon.uptime_s + max(0.0, now - self.snapshot_at)

    def log(self, at: float, level: str, kind: str, source: str, message: str) -> LogEntry:
        self._seq += 1
        entry = LogEntry(self._seq, at, _level(level), kind, source, message)
        self.entries.append(entry)
        return entry

    def clear_log(self) -> None:
        self.entries.clear()

    def entry_for_event(self, event: ControlEvent) -> LogEntry | None:
        """Log the actor, budget and log events (anything else as its JSON); ``chip``,
        ``sends`` and ``campaign.progress`` are handled by the caller."""
        data = event.data
        if event.kind == "actor":
            what = str(data.get("kind", "?"))
            message = what
            if data.get("error"):
                message += f": {data['error']}"
            if "restarts" in data:
                message += f" (restarts {data['restarts']})"
            level = "info" if what == "restarted" else "error"
            return self.log(event.at, level, "actor", str(data.get("actor_id", "?")), message)
        if event.kind == "budget":
            alert = self.budget_alert(event)
            level = "error" if alert.threshold >= 1 else "warning"
            source = f"{alert.scope} {alert.period}".strip()
            message = alert.message or f"{alert.threshold:.0%} of the cap used"
            return self.log(event.at, level, "budget", source, message)
        if event.kind == "campaign.tap":
            who = data.get("wa_id") or data.get("bsuid") or "?"
            what = data.get("text") or data.get("ref") or "?"
            return self.log(
                event.at, "info", "tap", str(data.get("campaign", "")), f"{what} ({who})"
            )
        if event.kind == "log":
            return self.log(
                event.at,
                str(data.get("level", "info")),
                "log",
                str(data.get("logger", "")),
                str(data.get("message", "")),
            )
        text = json.dumps(data, separators=(",", ":"), default=str)
        return self.log(event.at, "debug", event.kind, "", text)

    def budget_alert(self, event: ControlEvent) -> BudgetAlert:
        """Keep a ``budget`` event's alert for the budget screen (also when its line is
        not logged: its mirror showed it already)."""
        alert = BudgetAlert.from_wire(event.at, event.data)
        self.budget_alerts.appendleft(alert)
        return alert

    def chip_label(self, phone_number_id: str) -> str:
        chip = self.chips.get(phone_number_id)
        return chip.display_number if chip is not None else phone_number_id

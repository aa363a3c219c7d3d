"""``metad tui``: the operator console, a Textual app on asyncio beside the trio daemon.

Why the client is injected: the app only knows :class:`tui.client.ControlClient`, so the
pilot and snapshot tests drive it with a fake that serves a fixed fleet, and the real
:class:`tui.client.SocketControlClient` is chosen in :func:`run`. No handler awaits the
socket: every daemon call runs in a worker and applies its answer when it arrives.

What the client reports goes into an inbox that is applied once per frame (see
:mod:`tui.inbox`): state takes every event, the screens are told once per frame what
changed. Methods a daemon may not have (``campaign.list``, ``templates.report``) are
asked leniently: "method not found" leaves that screen saying "not available".
"""

from __future__ import annotations

import gc
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from daemon.control import protocol
from tui.budget import parse_budget
from tui.campaign_actions import CampaignActions
from tui.campaign_feed import CampaignFeed
from tui.campaigns import Campaign, parse_campaigns
from tui.client import (
    ConnectionStatus,
    ControlClient,
    ControlError,
    ControlEvent,
    LinkState,
    RpcError,
    SocketControlClient,
)
from tui.commands import ConsoleCommands, PaletteCommand
from tui.confirm import ConfirmScreen
from tui.happenings import HappeningLog
from tui.inbox import FRAME_S, Changes, Inbox, InboxItem, SnapshotArrived, is_logged
from tui.model import Chip, SendRate, Snapshot, WebhookCounts, chip_state, describe_change
from tui.palette import console_commands
from tui.screens import ConsoleScreen, EventsScreen, FleetScreen
from tui.state import ConsoleState, LogEntry
from tui.templates import merge_templates, parse_report
from tui.timeline import parse_rating_changes
from tui.views.budget import BudgetScreen
from tui.views.campaigns import CampaignsScreen
from tui.views.quality import QualityScreen
from tui.views.templates import TemplatesScreen

__all__ = ["SCREENS_IN_ORDER", "MetadConsole", "run"]

SCREENS_IN_ORDER = ("fleet", "campaigns", "budget", "templates", "quality", "events")
TEMPLATES_EVERY = 12
"""Templates change rarely: asked again every this many polls (and when their screen opens)."""


class _Listener:
    """Puts what the client reports into the app's inbox."""

    def __init__(self, app: MetadConsole) -> None:
        self._app = app

    def connection_changed(self, status: ConnectionStatus) -> None:
        self._app.receive(status, urgent=True)

    def snapshot_received(self, snapshot: dict[str, Any]) -> None:
        self._app.receive(SnapshotArrived(snapshot), urgent=True)

    def event_received(self, event: ControlEvent) -> None:
        self._app.receive(event, urgent=False)


class MetadConsole(App[None]):
    TITLE = "metad console"
    CSS_PATH = "metad.tcss"
    MODES: ClassVar[dict[str, str | Callable[[], Screen[Any]]]] = {
        "fleet": FleetScreen,
        "campaigns": CampaignsScreen,
        "budget": BudgetScreen,
        "templates": TemplatesScreen,
        "quality": QualityScreen,
        "events": EventsScreen,
    }
    DEFAULT_MODE = "fleet"
    COMMANDS = App.COMMANDS | {ConsoleCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "show_screen('fleet')", "Fleet", id="app.fleet"),
        Binding("c", "show_screen('campaigns')", "Campaigns", id="app.campaigns"),
        Binding("b", "show_screen('budget')", "Budget", id="app.budget"),
        Binding("t", "show_screen('templates')", "Templates", id="app.templates"),
        Binding("g", "show_screen('quality')", "Quality", id="app.quality"),
        Binding("e", "show_screen('events')", "Events", id="app.events"),
        Binding("ctrl+r", "reconnect", "Reconnect", show=False, id="app.reconnect"),
        Binding("q", "quit", "Quit", id="app.quit"),
    ]

    def __init__(
        self,
        client: ControlClient,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        poll_interval: float | None = 5.0,
        max_pending_events: int = 20_000,
        freeze_gc: bool = False,
        mirror_hold_s: float = 5.0,
    ) -> None:
        """``clock`` times countdowns and uptime, ``wall_clock`` stamps the console's own
        log lines and places the quality timeline; tests fix both. ``poll_interval``
        refreshes the webhook counters, the budget and the campaigns. ``freeze_gc``: see
        :meth:`_freeze_gc` (``metad tui`` sets it; a test process keeps its collector).
        ``mirror_hold_s``: how long a log line the daemon also publishes as an event
        waits for that event (see :mod:`tui.mirrors`)."""
        super().__init__()
        self.client = client
        self.state = ConsoleState(client.target)
        self.inbox = Inbox(max_pending_events)
        self.selected_chip_id: str | None = None
        self.selected_campaign_id: str | None = None
        self.campaign_actions = CampaignActions(self)
        self._clock = clock
        self._wall_clock = wall_clock
        self._poll_interval = poll_interval
        self._poll_webhooks = True
        self._polls = 0
        self._frame_pending = False
        self._urgent_pending = False
        self._applied_at = 0.0
        self._freeze_gc = freeze_gc
        self.happenings = HappeningLog(
            self.state,
            hold_s=mirror_hold_s,
            later=self.set_timer,
            deliver=self._deliver,
            budget_moved=lambda: self.fetch("budget"),
        )
        self.campaign_feed = CampaignFeed(self.state)
        self._fetching: set[str] = set()
        self._views: list[ConsoleScreen] = []

    # -- lifecycle -------------------------------------------------------------------

    def on_mount(self) -> None:
        self.run_worker(self.client.run(_Listener(self)), name="control", group="control")
        self.set_interval(1.0, self._tick)
        if self._poll_interval:
            self.set_interval(self._poll_interval, self._poll)

    def now(self) -> float:
        return self._clock()

    def wall_now(self) -> float:
        return self._wall_clock()

    def attach(self, view: ConsoleScreen) -> None:
        self._views.append(view)

    def detach(self, view: ConsoleScreen) -> None:
        if view in self._views:
            self._views.remove(view)

    def view(self, kind: type[ConsoleScreen]) -> ConsoleScreen | None:
        return next((v for v in self._views if isinstance(v, kind)), None)

    def _tell(self, what: Callable[[ConsoleScreen], None]) -> None:
        for view in list(self._views):
            what(view)

    def _tick(self) -> None:
        self._tell(lambda view: view.refresh_chrome())

    # -- what the client reports -------------------------------------------------------

    def receive(self, item: InboxItem, *, urgent: bool) -> None:
        """Called by the client, on this loop: queue it; apply at the next frame (at once
        for a connection change or a snapshot)."""
        if not self.inbox.put(item):
            dropped = self.inbox.drop_events()
            self.console_log(
                "warning", f"the console fell behind ({dropped:,} events waiting): resyncing"
            )
            self.client.reconnect_now()
        if urgent:
            self._apply_soon()
        elif not self._frame_pending:
            # At most one application per FRAME_S, and no later than that: the first
            # event after a quiet spell (the daemon's once-a-second burst) goes at once.
            self._frame_pending = True
            wait = self._applied_at + FRAME_S - time.monotonic()
            if wait > 0:
                self.set_timer(wait, self.apply_inbox)
            else:
                self.call_later(self.apply_inbox)

    def _apply_soon(self) -> None:
        """Apply the inbox at the loop's next turn; once, however many urgent items come
        before it (a daemon that stays down reports every attempt)."""
        if not self._urgent_pending:
            self._urgent_pending = True
            self.call_later(self.apply_inbox)

    def apply_inbox(self) -> None:
        """Apply everything gathered since the last frame, in arrival order."""
        self._frame_pending = self._urgent_pending = False
        self._applied_at = time.monotonic()
        changes = Changes()
        for item in self.inbox.take():
            if isinstance(item, ConnectionStatus):
                self._deliver(changes)
                changes = Changes()
                self._connection_changed(item)
            elif isinstance(item, SnapshotArrived):
                changes = Changes()  # superseded: every screen redraws from the snapshot
                self._snapshot_received(item.doc)
            else:
                self._ingest(item, changes)
        self._deliver(changes)

    def _connection_changed(self, status: ConnectionStatus) -> None:
        before = self.state.connection.state
        self.state.set_connection(status, self._clock())
        if status.state is LinkState.CONNECTED:
            self.console_log("info", f"connected to {status.target}")
        elif status.state is LinkState.DISCONNECTED and (
            before is LinkState.CONNECTED or is_logged(status)
        ):
            self.console_log("warning", f"disconnected: {status.error}")
        self._tick()

    def _snapshot_received(self, doc: dict[str, Any]) -> None:
        self.state.apply_snapshot(Snapshot.from_wire(doc), self._clock())
        self._poll_webhooks = True  # a restarted daemon may be a newer one
        self._tell(lambda view: view.redraw())
        self.state.expect_backlog()  # now: the events after the snapshot are live ones
        self.fetch("budget", "campaigns", "templates", "backlog", "quality")
        if self._freeze_gc:
            self._freeze_gc = False
            self.call_after_refresh(self._freeze_gc_now)

    @staticmethod
    def _freeze_gc_now() -> None:
        """Once the first snapshot is drawn: move every object alive (Textual's DOM and
        styles, the fleet's rows and their rendered cells, 100,000+ of them at 1,000 chips)
        out of the cyclic collector's reach.

        Why: events allocate fast, so the collector runs often, and each full collection
        walked all of them: 4 full collections took 0.9 s of a 15 s bench run, one of them
        375 ms, stalling the console's loop (events waited, frames were late). What is
        frozen is still freed by reference counting; only cyclic garbage among it (say a
        screen removed later) would stay, which a console that keeps its screens does not make.
        """
        gc.freeze()

    def _ingest(self, event: ControlEvent, changes: Changes) -> None:
        if event.kind == "chip":
            try:
                chip = Chip.from_wire(event.data)
            except ValueError:
                return
            self._ingest_chip(chip, event.at, changes)
        elif event.kind == "sends":
            self.state.sends = SendRate.from_wire(event.data)
            changes.chrome = True
        elif event.kind == "campaign.progress":
            try:
                campaign = Campaign.from_wire(event.data)
            except ValueError:
                return
            self.campaign_feed.progress(campaign, event.at, changes)
        else:
            self.happenings.live(event, changes)

    def _ingest_chip(self, chip: Chip, at: float, changes: Changes) -> None:
        old = self.state.apply_chip(chip)
        self.state.timeline.observe(chip, at)
        change = describe_change(old, chip)
        if change is not None:
            detail = self.happenings.chip_detail(old, chip, at)
            if detail is not None:  # None: its mirrored log line showed it
                level, text = change
                entry = self.state.log(at, level, "chip", chip.display_number, text + detail)
                changes.entries.append(entry)
        changes.chip(old, chip)

    def _deliver(self, changes: Changes) -> None:
        if not changes:
            return
        for view in list(self._views):
            if changes.chips:
                view.chips_changed(changes.chips)
            if changes.entries:
                view.entries_added(changes.entries)
            if changes.campaigns:
                view.campaigns_changed()
            if changes.budget:
                view.budget_changed()
        if changes.chrome:
            self._tick()

    def console_log(self, level: str, text: str, source: str = "console") -> None:
        self._entries_added([self.state.log(self._wall_clock(), level, "console", source, text)])

    def _entries_added(self, entries: list[LogEntry]) -> None:
        self._tell(lambda view: view.entries_added(entries))

    # -- asking the daemon -------------------------------------------------------------

    def _poll(self) -> None:
        if not self.state.connected:
            return
        if self._poll_webhooks:
            self.run_worker(self._fetch_webhooks(), group="poll", exclusive=True)
        self._polls += 1
        self.fetch("budget", "campaigns")
        if self._polls % TEMPLATES_EVERY == 0:
            self.fetch("templates")

    async def _fetch_webhooks(self) -> None:
        try:
            counts = await self.client.call("webhooks.stats")
        except RpcError as exc:
            if exc.code == protocol.METHOD_NOT_FOUND:
                self._poll_webhooks = False
            return
        except ControlError:
            return
        if isinstance(counts, dict):
            self.state.webhooks = WebhookCounts.from_wire(counts)
            self._tick()

    def fetch(self, *what: str) -> None:
        """Ask the daemon again for the budget, the campaigns or the templates."""
        if not self.state.connected:
            return
        jobs = {
            "budget": self._fetch_budget,
            "campaigns": self._fetch_campaigns,
            "templates": self._fetch_templates,
            "backlog": self._fetch_backlog,
            "quality": self._fetch_quality,
        }
        for name in what:
            if name not in self._fetching:  # the one asking now will answer for both
                self._fetching.add(name)
                self.run_worker(self._fetch_one(name, jobs[name]), group="fetch")

    async def _fetch_one(self, name: str, job: Callable[[], Awaitable[None]]) -> None:
        try:
            await job()
        finally:
            self._fetching.discard(name)

    async def _optional_call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """A call the daemon may not know: None when it does not (remembered in
        ``state.available`` until the next snapshot) or when the call failed."""
        if self.state.available.get(method) is False:
            return None
        try:
            answer = await self.client.call(method, params)
        except RpcError as exc:
            if exc.code == protocol.METHOD_NOT_FOUND:
                self.state.available[method] = False
            return None
        except ControlError:
            return None
        self.state.available[method] = True
        return answer

    async def _fetch_budget(self) -> None:
        answer = await self._optional_call("budget.status")
        if answer is not None:
            self.state.budget = parse_budget(answer)
        self._tell(lambda view: view.budget_changed())

    async def _fetch_campaigns(self) -> None:
        answer = await self._optional_call("campaign.list")
        if answer is not None:
            listed = parse_campaigns(answer)
            self._deliver(self.campaign_feed.listed(listed, self._wall_clock()))
        self._tell(lambda view: view.campaigns_changed())

    async def _fetch_backlog(self) -> None:
        """What the daemon kept of what happened before this connection (``events.recent``):
        logged once, in time order, after a line that says so."""
        after = self.state.backlog_after
        answer = await self._optional_call("events.recent", {"after": after})
        raw = answer.get("events") if isinstance(answer, dict) else None
        parsed = (ControlEvent.from_params(e) for e in raw if isinstance(e, dict)) if raw else ()
        changes = self.happenings.backlog((e for e in parsed if e is not None), self._wall_clock())
        self._deliver(changes)

    async def _fetch_quality(self) -> None:
        """The chips' rating changes of the timeline's span, from before this connection."""
        timeline = self.state.timeline
        answer = await self._optional_call("quality.history", {"minutes": timeline.minutes})
        raw = answer.get("changes") if isinstance(answer, dict) else None
        if isinstance(raw, list) and timeline.seed(parse_rating_changes(raw)):
            self._tell(lambda view: view.redraw())

    async def _fetch_templates(self) -> None:
        listed = await self._optional_call("templates.list")
        report = await self._optional_call("templates.report", {"per_waba": True})
        if listed is not None or report is not None:
            self.state.templates = merge_templates(listed, parse_report(report))
        self._tell(lambda view: view.templates_changed())

    def action_sync_templates(self) -> None:
        """Fetch every WABA's templates from Meta now, then show them."""
        if self.can_act():
            self.run_worker(self._sync_templates(), group="templates-sync")

    async def _sync_templates(self) -> None:
        try:
            counts = await self.client.call("templates.sync")
        except ControlError as exc:
            self.notify(f"templates sync: {exc}", title="Refused", severity="error")
            return
        found = counts.values() if isinstance(counts, dict) else ()
        total = sum(v for v in found if isinstance(v, int))
        self.notify(f"{total} templates synced", title="Templates")
        self.fetch("templates")

    # -- chip actions ------------------------------------------------------------------

    def can_act(self) -> bool:
        if not self.state.connected:
            self.notify("Not connected to the daemon (retrying)", severity="warning")
            return False
        return True

    def request_pause(self, pnid: str) -> None:
        if not self.can_act():
            return
        label = self.state.chip_label(pnid)

        def confirmed(reason: str | None) -> None:
            if reason is not None:
                self.chip_command("chip.pause", pnid, {"reason": reason})

        detail = "New sends stop until it is resumed; queued messages wait."
        self.push_screen(ConfirmScreen(f"Pause {label}?", detail, "Pause", "operator"), confirmed)

    def request_resume(self, pnid: str) -> None:
        if self.can_act():
            self.chip_command("chip.resume", pnid)

    def request_drain(self, pnid: str) -> None:
        if not self.can_act():
            return
        label = self.state.chip_label(pnid)

        def confirmed(answer: str | None) -> None:
            if answer is not None:
                self.chip_command("chip.drain", pnid)

        detail = "It takes no new sends and finishes what is queued."
        self.push_screen(ConfirmScreen(f"Drain {label}?", detail, "Drain"), confirmed)

    def chip_command(self, method: str, pnid: str, extra: dict[str, Any] | None = None) -> None:
        """Send one chip command in a worker; the chip it answers replaces the row."""
        params = {"phone_number_id": pnid, **(extra or {})}
        self.run_worker(self._chip_call(method, params), group="chip-actions")

    async def _chip_call(self, method: str, params: dict[str, Any]) -> None:
        label = self.state.chip_label(str(params["phone_number_id"]))
        verb = method.removeprefix("chip.")
        try:
            answer = await self.client.call(method, params)
            chip = Chip.from_wire(answer if isinstance(answer, dict) else {})
        except (ControlError, ValueError) as exc:
            self.notify(f"{verb} {label}: {exc}", title="Refused", severity="error")
            self.console_log("error", f"{verb} failed: {exc}", label)
            return
        changes = Changes()
        self._ingest_chip(chip, self._wall_clock(), changes)
        self._deliver(changes)
        self.notify(f"{label}: {chip_state(chip)}", title=verb.capitalize())

    # -- campaign actions (tui.campaign_actions) ---------------------------------------

    def request_campaign(self, verb: str, campaign_id: str) -> None:
        """Pause, resume or cancel a campaign, once the operator confirms."""
        self.campaign_actions.request(verb, campaign_id)

    def request_resolve(self, action: str, campaign_id: str) -> None:
        """Resend or drop the campaign's oldest message in doubt, once confirmed."""
        self.campaign_actions.request_resolve(action, campaign_id)

    def tell_campaigns_changed(self) -> None:
        self._tell(lambda view: view.campaigns_changed())

    # -- actions -----------------------------------------------------------------------

    def action_show_screen(self, name: str) -> None:
        if isinstance(self.screen, ConfirmScreen):
            return  # answer the question first
        if name in self.MODES and self.current_mode != name:
            self.switch_mode(name)

    def action_next_screen(self) -> None:
        index = (
            SCREENS_IN_ORDER.index(self.current_mode)
            if self.current_mode in SCREENS_IN_ORDER
            else -1
        )
        self.action_show_screen(SCREENS_IN_ORDER[(index + 1) % len(SCREENS_IN_ORDER)])

    def action_reconnect(self) -> None:
        self.client.reconnect_now()
        self.notify("Reconnecting …")

    def action_clear_log(self) -> None:
        self.state.clear_log()
        self._tell(lambda view: view.log_cleared())

    def on_screen(self, mode: str, kind: type[ConsoleScreen], act: Callable[[Any], None]) -> None:
        """Show ``mode``'s screen, then act on it (once it is mounted)."""

        def later() -> None:
            view = self.view(kind)
            if view is not None:
                act(view)

        self.action_show_screen(mode)
        self.call_after_refresh(later)

    # -- the command palette -----------------------------------------------------------

    def palette_commands(self) -> list[PaletteCommand]:
        return console_commands(self)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        # Ours has "Quit" already.
        yield from (c for c in super().get_system_commands(screen) if c.title != "Quit")


def run(socket_path: str) -> int:
    """Run the console against the daemon at ``socket_path`` until the operator quits."""
    app = MetadConsole(SocketControlClient(socket_path), freeze_gc=True)
    app.run()
    return app.return_code or 0

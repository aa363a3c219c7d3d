"""``metad tui``: the operator console, a Textual app on asyncio beside the trio daemon.

Why the client is injected: the app only knows :class:`tui.client.ControlClient`, so the
pilot and snapshot tests drive it with a fake that serves a fixed fleet, and the real
:class:`tui.client.SocketControlClient` is chosen in :func:`run`. No handler awaits the
socket: every daemon call runs in a worker and applies its answer when it arrives.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from textual import on
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from daemon.control import protocol
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
from tui.messages import ConnectionChanged, EventReceived, SnapshotReceived
from tui.model import (
    SORT_KEYS,
    Chip,
    SendRate,
    Snapshot,
    WebhookCounts,
    chip_state,
    describe_change,
)
from tui.screens import ConsoleScreen, EventsScreen, FleetScreen
from tui.state import ConsoleState, LogEntry

__all__ = ["MetadConsole", "run"]

SCREENS_IN_ORDER = ("fleet", "events")


class _Listener:
    """Turns client callbacks into messages for the app's queue."""

    def __init__(self, app: MetadConsole) -> None:
        self._app = app

    def connection_changed(self, status: ConnectionStatus) -> None:
        self._app.post_message(ConnectionChanged(status))

    def snapshot_received(self, snapshot: dict[str, Any]) -> None:
        self._app.post_message(SnapshotReceived(snapshot))

    def event_received(self, event: ControlEvent) -> None:
        self._app.post_message(EventReceived(event))


class MetadConsole(App[None]):
    TITLE = "metad console"
    CSS_PATH = "metad.tcss"
    MODES: ClassVar[dict[str, str | Callable[[], Screen[Any]]]] = {
        "fleet": FleetScreen,
        "events": EventsScreen,
    }
    DEFAULT_MODE = "fleet"
    COMMANDS = App.COMMANDS | {ConsoleCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "show_screen('fleet')", "Fleet", id="app.fleet"),
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
    ) -> None:
        """``clock`` times countdowns and uptime, ``wall_clock`` stamps the console's own
        log lines; tests fix both. ``poll_interval`` refreshes the webhook counters."""
        super().__init__()
        self.client = client
        self.state = ConsoleState(client.target)
        self.selected_chip_id: str | None = None
        self._clock = clock
        self._wall_clock = wall_clock
        self._poll_interval = poll_interval
        self._poll_webhooks = True
        self._views: list[ConsoleScreen] = []

    # -- lifecycle -------------------------------------------------------------------

    def on_mount(self) -> None:
        self.run_worker(self.client.run(_Listener(self)), name="control", group="control")
        self.set_interval(1.0, self._tick)
        if self._poll_interval:
            self.set_interval(self._poll_interval, self._poll)

    def now(self) -> float:
        return self._clock()

    def attach(self, view: ConsoleScreen) -> None:
        self._views.append(view)

    def detach(self, view: ConsoleScreen) -> None:
        if view in self._views:
            self._views.remove(view)

    def _fleet(self) -> FleetScreen | None:
        return next((v for v in self._views if isinstance(v, FleetScreen)), None)

    def _tick(self) -> None:
        for view in self._views:
            view.refresh_chrome()

    # -- what the client reports -------------------------------------------------------

    @on(ConnectionChanged)
    def _connection_changed(self, message: ConnectionChanged) -> None:
        before = self.state.connection.state
        status = message.status
        self.state.set_connection(status, self._clock())
        if status.state is LinkState.CONNECTED:
            self._console_log("info", f"connected to {status.target}")
        elif status.state is LinkState.DISCONNECTED and (
            before is LinkState.CONNECTED or status.attempt <= 1
        ):
            self._console_log("warning", f"disconnected: {status.error}")
        self._tick()

    @on(SnapshotReceived)
    def _snapshot_received(self, message: SnapshotReceived) -> None:
        self.state.apply_snapshot(Snapshot.from_wire(message.snapshot), self._clock())
        self._poll_webhooks = True  # a restarted daemon may be a newer one
        for view in self._views:
            view.redraw()

    @on(EventReceived)
    def _event_received(self, message: EventReceived) -> None:
        event = message.event
        if event.kind == "chip":
            try:
                chip = Chip.from_wire(event.data)
            except ValueError:
                return
            self._apply_chip(chip, event.at)
        elif event.kind == "sends":
            self.state.sends = SendRate.from_wire(event.data)
            self._tick()
        else:
            entry = self.state.entry_for_event(event)
            if entry is not None:
                self._entries_added([entry])

    def _apply_chip(self, chip: Chip, at: float) -> None:
        old = self.state.apply_chip(chip)
        change = describe_change(old, chip)
        if change is not None:
            level, text = change
            self._entries_added([self.state.log(at, level, "chip", chip.display_number, text)])
        for view in self._views:
            view.chip_changed(chip, old)

    def _console_log(self, level: str, text: str, source: str = "console") -> None:
        self._entries_added([self.state.log(self._wall_clock(), level, "console", source, text)])

    def _entries_added(self, entries: list[LogEntry]) -> None:
        for view in self._views:
            view.entries_added(entries)

    # -- periodic refresh --------------------------------------------------------------

    def _poll(self) -> None:
        if self.state.connected and self._poll_webhooks:
            self.run_worker(self._fetch_webhooks(), group="poll", exclusive=True)

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

    # -- chip actions ------------------------------------------------------------------

    def _can_act(self) -> bool:
        if not self.state.connected:
            self.notify("Not connected to the daemon (retrying)", severity="warning")
            return False
        return True

    def request_pause(self, pnid: str) -> None:
        if not self._can_act():
            return
        label = self.state.chip_label(pnid)

        def confirmed(reason: str | None) -> None:
            if reason is not None:
                self.chip_command("chip.pause", pnid, {"reason": reason})

        detail = "New sends stop until it is resumed; queued messages wait."
        self.push_screen(ConfirmScreen(f"Pause {label}?", detail, "Pause", "operator"), confirmed)

    def request_resume(self, pnid: str) -> None:
        if self._can_act():
            self.chip_command("chip.resume", pnid)

    def request_drain(self, pnid: str) -> None:
        if not self._can_act():
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
            self._console_log("error", f"{verb} failed: {exc}", label)
            return
        self._apply_chip(chip, self._wall_clock())
        self.notify(f"{label}: {chip_state(chip)}", title=verb.capitalize())

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
        for view in self._views:
            view.log_cleared()

    def _on_fleet(self, act: Callable[[FleetScreen], None]) -> None:
        self.action_show_screen("fleet")
        fleet = self._fleet()
        if fleet is not None:
            act(fleet)

    def _on_events(self, act: Callable[[ConsoleScreen], None]) -> None:
        def later() -> None:
            view = next((v for v in self._views if isinstance(v, EventsScreen)), None)
            if view is not None:
                act(view)

        self.action_show_screen("events")
        self.call_after_refresh(later)

    # -- the command palette -----------------------------------------------------------

    def palette_commands(self) -> list[PaletteCommand]:
        commands = [
            PaletteCommand(
                "Show fleet", "The table of chips (f)", lambda: self.action_show_screen("fleet")
            ),
            PaletteCommand(
                "Show events", "The live event log (e)", lambda: self.action_show_screen("events")
            ),
        ]
        chip = self.state.chips.get(self.selected_chip_id or "")
        if chip is not None:
            commands += self._chip_commands(chip, discover=True)
        commands += [self._sort_command(spec.column, spec.label) for spec in SORT_KEYS]
        commands += [
            PaletteCommand(
                "Reverse fleet sort",
                "Flip the sort order (S)",
                lambda: self._on_fleet(lambda f: f.action_reverse_sort()),
            ),
            PaletteCommand(
                "Filter fleet",
                "Focus the fleet filter (/)",
                lambda: self._on_fleet(lambda f: f.action_focus_filter()),
            ),
            PaletteCommand(
                "Clear fleet filter",
                "Show every chip",
                lambda: self._on_fleet(lambda f: f.clear_filter()),
            ),
            PaletteCommand(
                "Filter events",
                "Focus the event filter (/)",
                lambda: self._on_events(lambda v: v.action_focus_filter()),
            ),
            PaletteCommand(
                "Clear event log", "Forget the events shown so far (c)", self.action_clear_log
            ),
            PaletteCommand(
                "Reconnect now",
                "Skip the wait, or reopen the socket (ctrl+r)",
                self.action_reconnect,
            ),
            PaletteCommand(
                "Quit", "Leave the console; the daemon keeps running (q)", self.action_quit
            ),
        ]
        for other in sorted(self.state.chips.values(), key=lambda c: c.display_number):
            commands += self._chip_commands(other, discover=False)
        return commands

    def _sort_command(self, column: str, label: str) -> PaletteCommand:
        def sort() -> None:
            self._on_fleet(lambda fleet: fleet.set_sort(column))

        return PaletteCommand(f"Sort fleet by {label}", "Sort the fleet table (s cycles)", sort)

    def _chip_commands(self, chip: Chip, *, discover: bool) -> list[PaletteCommand]:
        pnid, label = chip.phone_number_id, chip.display_number
        return [
            PaletteCommand(
                f"Pause {label}",
                "Stop its sends, with a reason (p)",
                lambda: self.request_pause(pnid),
                discover,
            ),
            PaletteCommand(
                f"Resume {label}",
                "Let it send again (r)",
                lambda: self.request_resume(pnid),
                discover,
            ),
            PaletteCommand(
                f"Drain {label}",
                "Finish its queue, take nothing new (d)",
                lambda: self.request_drain(pnid),
                discover,
            ),
        ]

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        # Ours has "Quit" already.
        yield from (c for c in super().get_system_commands(screen) if c.title != "Quit")


def run(socket_path: str) -> int:
    """Run the console against the daemon at ``socket_path`` until the operator quits."""
    app = MetadConsole(SocketControlClient(socket_path))
    app.run()
    return app.return_code or 0

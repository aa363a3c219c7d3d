"""Every console action as a command palette entry (ctrl+p).

Why a list built on each opening: it names the selected chip and campaign, and offers
pause / resume / drain for every chip and pause / resume / cancel for every campaign (and
resend / drop for its oldest message in doubt) to a search ("pause +1 555 …"); discovery
(nothing typed yet) shows the general actions and those of the selection only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from tui.campaigns import ACTIONS, RESOLUTIONS, Campaign
from tui.commands import PaletteCommand
from tui.model import SORT_KEYS, Chip
from tui.screens import EventsScreen, FleetScreen

if TYPE_CHECKING:
    from tui.app import MetadConsole

__all__ = ["console_commands"]

SCREENS = (
    ("fleet", "Show fleet", "The table of chips (f)"),
    ("campaigns", "Show campaigns", "Progress, counts, cost and ETA of each campaign (c)"),
    ("budget", "Show budget", "Day, week and month spending against the caps (b)"),
    ("templates", "Show templates", "Status, category, quality, read rate, advice (t)"),
    ("quality", "Show quality timeline", "Rating changes and sends per minute per chip (g)"),
    ("events", "Show events", "The live event log (e)"),
)


def console_commands(app: MetadConsole) -> list[PaletteCommand]:
    commands = [PaletteCommand(title, help, _show(app, mode)) for mode, title, help in SCREENS]
    chip = app.state.chips.get(app.selected_chip_id or "")
    if chip is not None:
        commands += _chip_commands(app, chip, discover=True)
    campaign = app.state.campaigns.get(app.selected_campaign_id or "")
    if campaign is not None:
        commands += _campaign_commands(app, campaign, discover=True)
    commands += _fleet_commands(app)
    commands += [
        PaletteCommand(
            "Refresh budget", "Ask the daemon for the budget now", lambda: app.fetch("budget")
        ),
        PaletteCommand(
            "Refresh campaigns",
            "Ask the daemon for the campaigns now",
            lambda: app.fetch("campaigns"),
        ),
        PaletteCommand(
            "Refresh templates",
            "Ask the daemon for the templates and their report now",
            lambda: app.fetch("templates"),
        ),
        PaletteCommand(
            "Sync templates from Meta",
            "Fetch every WABA's templates now (s on templates)",
            app.action_sync_templates,
        ),
        PaletteCommand(
            "Filter events",
            "Focus the event filter (/)",
            lambda: app.on_screen("events", EventsScreen, lambda v: v.action_focus_filter()),
        ),
        PaletteCommand(
            "Clear event log", "Forget the events shown so far (x)", app.action_clear_log
        ),
        PaletteCommand(
            "Reconnect now", "Skip the wait, or reopen the socket (ctrl+r)", app.action_reconnect
        ),
        PaletteCommand("Quit", "Leave the console; the daemon keeps running (q)", app.action_quit),
    ]
    for other in sorted(app.state.chips.values(), key=lambda c: c.display_number):
        if other is not chip:
            commands += _chip_commands(app, other, discover=False)
    for other_campaign in sorted(app.state.campaigns.values(), key=lambda c: c.name):
        if other_campaign is not campaign:
            commands += _campaign_commands(app, other_campaign, discover=False)
    return commands


def _show(app: MetadConsole, mode: str) -> Callable[[], None]:
    return lambda: app.action_show_screen(mode)


def _on_fleet(app: MetadConsole, act: Callable[[FleetScreen], None]) -> None:
    app.on_screen("fleet", FleetScreen, act)


def _sort(app: MetadConsole, column: str) -> Callable[[], None]:
    return lambda: _on_fleet(app, lambda f: f.set_sort(column))


def _fleet_commands(app: MetadConsole) -> list[PaletteCommand]:
    commands = [
        PaletteCommand(
            f"Sort fleet by {spec.label}",
            "Sort the fleet table (s cycles)",
            _sort(app, spec.column),
        )
        for spec in SORT_KEYS
    ]
    return [
        *commands,
        PaletteCommand(
            "Reverse fleet sort",
            "Flip the sort order (S)",
            lambda: _on_fleet(app, lambda f: f.action_reverse_sort()),
        ),
        PaletteCommand(
            "Filter fleet",
            "Focus the fleet filter (/)",
            lambda: _on_fleet(app, lambda f: f.action_focus_filter()),
        ),
        PaletteCommand(
            "Clear fleet filter",
            "Show every chip",
            lambda: _on_fleet(app, lambda f: f.clear_filter()),
        ),
    ]


def _chip_commands(app: MetadConsole, chip: Chip, *, discover: bool) -> list[PaletteCommand]:
    pnid, label = chip.phone_number_id, chip.display_number
    return [
        PaletteCommand(
            f"Pause {label}",
            "Stop its sends, with a reason (p)",
            lambda: app.request_pause(pnid),
            discover,
        ),
        PaletteCommand(
            f"Resume {label}", "Let it send again (r)", lambda: app.request_resume(pnid), discover
        ),
        PaletteCommand(
            f"Drain {label}",
            "Finish its queue, take nothing new (d)",
            lambda: app.request_drain(pnid),
            discover,
        ),
    ]


def _campaign_action(app: MetadConsole, verb: str, campaign_id: str) -> Callable[[], None]:
    return lambda: app.request_campaign(verb, campaign_id)


def _campaign_commands(
    app: MetadConsole, campaign: Campaign, *, discover: bool
) -> list[PaletteCommand]:
    keys = {"pause": "p", "resume": "r", "cancel": "x", "resend": "s", "drop": "d"}
    commands = [
        PaletteCommand(
            f"{label} campaign {campaign.name}",
            f"{detail} ({keys[verb]})",
            _campaign_action(app, verb, campaign.id),
            discover,
        )
        for verb, (label, detail) in ACTIONS.items()
        if campaign.can(verb)
    ]
    if campaign.overdue:
        first = campaign.overdue[0].recipient
        commands += [
            PaletteCommand(
                f"{label} {first} of campaign {campaign.name}",
                f"In doubt past its hold. {detail} ({keys[action]})",
                _resolve_action(app, action, campaign.id),
                discover,
            )
            for action, (label, detail) in RESOLUTIONS.items()
        ]
    return commands


def _resolve_action(app: MetadConsole, action: str, campaign_id: str) -> Callable[[], None]:
    return lambda: app.request_resolve(action, campaign_id)

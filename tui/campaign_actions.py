"""What the operator does to a campaign from the console: pause, resume or cancel it, and
answer for a message a crash left in doubt (resend or drop). Each asks first.

Why apart from the app: the app wires screens, the client and the frame loop; these are
the campaign calls and their confirmations, which a reader looks for together.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from daemon.control import protocol
from tui.campaigns import ACTIONS, RESOLUTIONS, Campaign
from tui.client import ControlError, RpcError
from tui.confirm import ConfirmScreen

if TYPE_CHECKING:
    from tui.app import MetadConsole

__all__ = ["CampaignActions"]


class CampaignActions:
    def __init__(self, console: MetadConsole) -> None:
        self._console = console

    def request(self, verb: str, campaign_id: str) -> None:
        """Pause, resume or cancel a campaign, once the operator confirms."""
        app = self._console
        if not app.can_act():
            return
        campaign = app.state.campaigns.get(campaign_id)
        name = campaign.name if campaign is not None else campaign_id
        if campaign is not None and not campaign.can(verb):
            app.notify(f"{name} is {campaign.state}: it cannot {verb}", severity="warning")
            return
        label, detail = ACTIONS[verb]
        params = {"id": campaign_id}
        self._confirm(f"{label} campaign {name}?", detail, label, verb, verb, name, params)

    def request_resolve(self, action: str, campaign_id: str) -> None:
        """Resend or drop the oldest message of the campaign in doubt past its hold."""
        app = self._console
        if not app.can_act():
            return
        campaign = app.state.campaigns.get(campaign_id)
        if campaign is None or not campaign.overdue:
            name = campaign.name if campaign is not None else campaign_id
            app.notify(f"{name}: no message in doubt past its hold", severity="warning")
            return
        first = campaign.overdue[0]
        label, detail = RESOLUTIONS[action]
        params = {"id": campaign_id, "recipient": first.recipient, "action": action}
        title = f"{label} {first.recipient} of {campaign.name}?"
        detail = f"Outbox {first.outbox_id}, chip {first.chip}. {detail}"
        self._confirm(title, detail, label, "resolve", action, campaign.name, params)

    def _confirm(
        self,
        title: str,
        detail: str,
        label: str,
        method: str,
        verb: str,
        name: str,
        params: dict[str, Any],
    ) -> None:
        """Ask; once confirmed, call ``campaign.<method>`` (``verb`` names it to the operator)."""
        app = self._console

        def confirmed(answer: str | None) -> None:
            if answer is not None:
                call = self._call(method, verb, name, params)
                app.run_worker(call, group="campaigns")

        app.push_screen(ConfirmScreen(title, detail, label), confirmed)

    async def _call(self, method: str, verb: str, name: str, params: dict[str, Any]) -> None:
        app = self._console
        try:
            answer = await app.client.call(f"campaign.{method}", params)
        except ControlError as exc:
            missing = isinstance(exc, RpcError) and exc.code == protocol.METHOD_NOT_FOUND
            text = "this daemon runs no campaigns" if missing else str(exc)
            app.notify(f"{verb} {name}: {text}", title="Refused", severity="error")
            app.console_log("error", f"{verb} failed: {text}", name)
            return
        if method == "resolve":
            done = isinstance(answer, dict) and answer.get("resolved") is True
            what = f"{verb} {params['recipient']}" if done else "nothing was in doubt any more"
            app.console_log("info" if done else "warning", what, name)
            app.notify(f"{name}: {what}", title=verb.capitalize())
        else:
            if isinstance(answer, dict) and answer.get("id") is not None:
                with contextlib.suppress(ValueError):
                    app.campaign_feed.answered(Campaign.from_wire(answer))
            app.console_log("info", f"{verb} requested", name)
            app.notify(f"{name}: {verb} requested", title=verb.capitalize())
            app.tell_campaigns_changed()
        app.fetch("campaigns")

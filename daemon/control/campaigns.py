"""Control methods for campaigns: plan, start, pause, resume, cancel, status, list,
resolve. Registered in :data:`daemon.control.methods.METHODS`.

Why ``campaign.start`` takes a file or a name: the operator names the campaign as it is
in the campaigns directory; the first start reads and checks the file and stores the
campaign with its recipients; later starts (after a pause) use what is stored, so an
edited file never changes a campaign half-way.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from actors.campaign.coordinator import (
    CampaignCmd,
    CampaignError,
    CampaignStatus,
    ListCampaigns,
    ResolveInDoubt,
)
from config import ConfigError
from daemon.campaigns.service import create_campaign, find_campaign_file, load_prepared, plan

if TYPE_CHECKING:
    from daemon.control.methods import ControlContext

__all__ = ["CAMPAIGN_METHODS"]


def _errors() -> tuple[type[Exception], ...]:
    return (CampaignError,)


async def _call(ctx: ControlContext, build: Any) -> Any:
    from daemon.control.methods import REFUSED, UNAVAILABLE, MethodError, _guard

    if ctx.campaigns is None:
        raise MethodError(UNAVAILABLE, "the campaign coordinator is not running")
    try:
        return await _guard(ctx.campaigns.call(build, timeout=30))
    except CampaignError as exc:
        raise MethodError(REFUSED, str(exc)) from None


def _name(params: dict[str, Any]) -> str:
    from daemon.control.methods import _param

    return _param(params, "id") if "id" in params else _param(params, "name")


async def _prepared(ctx: ControlContext, params: dict[str, Any]) -> Any:
    from daemon.control.methods import INVALID_PARAMS, MethodError

    path = find_campaign_file(ctx.cfg, _name(params) if "file" not in params else params["file"])
    try:
        return path, await load_prepared(ctx.store, ctx.cfg, path)
    except ConfigError as exc:
        raise MethodError(INVALID_PARAMS, str(exc)) from None


async def campaign_plan(ctx: ControlContext, params: dict[str, Any]) -> dict[str, Any]:
    _, prepared = await _prepared(ctx, params)
    return await plan(ctx.store, ctx.cfg, prepared, now=dt.datetime.now(dt.UTC))


async def campaign_start(ctx: ControlContext, params: dict[str, Any]) -> dict[str, Any]:
    """Create the campaign from its file on first start, then start (or restart) it."""
    cid = params.get("id") or params.get("name")
    row = await ctx.store.campaigns.get(str(cid)) if cid else None
    if row is None:
        path, prepared = await _prepared(ctx, params)
        cid = prepared.spec.name
        await create_campaign(ctx.store, prepared, str(path))
    return await _action(ctx, "start", str(cid), params)  # type: ignore[no-any-return]


async def _action(ctx: ControlContext, action: str, cid: str, params: dict[str, Any]) -> Any:
    reason = params.get("reason")
    return await _call(
        ctx,
        lambda r: CampaignCmd(
            action=action, campaign_id=cid, reason=str(reason) if reason else None, reply=r
        ),
    )


def _simple(action: str) -> Any:
    async def handler(ctx: ControlContext, params: dict[str, Any]) -> dict[str, Any]:
        return await _action(ctx, action, _name(params), params)  # type: ignore[no-any-return]

    return handler


async def campaign_status(ctx: ControlContext, params: dict[str, Any]) -> dict[str, Any]:
    cid = _name(params)
    return await _call(ctx, lambda r: CampaignStatus(campaign_id=cid, reply=r))  # type: ignore[no-any-return]


async def campaign_list(ctx: ControlContext, params: dict[str, Any]) -> list[dict[str, Any]]:
    return await _call(ctx, lambda r: ListCampaigns(reply=r))  # type: ignore[no-any-return]


async def campaign_resolve(ctx: ControlContext, params: dict[str, Any]) -> dict[str, Any]:
    from daemon.control.methods import _param

    cid, key, action = _name(params), _param(params, "recipient"), _param(params, "action")
    done = await _call(
        ctx,
        lambda r: ResolveInDoubt(campaign_id=cid, recipient=key, action=action, reply=r),
    )
    return {"resolved": bool(done)}


CAMPAIGN_METHODS = {
    "campaign.plan": campaign_plan,
    "campaign.start": campaign_start,
    "campaign.pause": _simple("pause"),
    "campaign.resume": _simple("resume"),
    "campaign.cancel": _simple("cancel"),
    "campaign.status": campaign_status,
    "campaign.list": campaign_list,
    "campaign.resolve": campaign_resolve,
}

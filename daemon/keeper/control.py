"""Control calls: ``window.keep`` (mark or unmark a conversation) and ``window.kept``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from daemon.control.methods import INVALID_PARAMS, REFUSED, MethodError
from daemon.store.keeper import KeeperRepository, Mark
from daemon.store.otp import ContactKeys

if TYPE_CHECKING:
    from daemon.control.methods import ControlContext, Handler

__all__ = ["METHODS"]


def _mark_dict(mark: Mark) -> dict[str, Any]:
    return {
        "chip": mark.chip,
        "contact": mark.contact,
        "window_expiry": mark.window_expiry,
        "last_kept": mark.last_kept,
        "last_result": mark.last_result,
        "last_error_code": mark.last_error_code,
    }


async def window_keep(ctx: ControlContext, params: dict[str, Any]) -> dict[str, Any]:
    """Mark (``active``: true, the default) or unmark a chip's conversation."""
    chip, contact = params.get("chip"), params.get("contact")
    if not isinstance(chip, str) or not isinstance(contact, str) or not chip or not contact:
        raise MethodError(INVALID_PARAMS, "give chip and contact")
    if ctx.fleet.find_chip(chip) is None:
        raise MethodError(REFUSED, f"unknown chip {chip}")
    key = await ContactKeys(ctx.store).key(contact)
    if key is None:
        raise MethodError(INVALID_PARAMS, f"not a phone number or user id: {contact!r}")
    repo = KeeperRepository(ctx.store)
    if params.get("active", True) is False:
        removed = await repo.unmark(chip, key)
        return {"chip": chip, "contact": key, "active": False, "removed": removed}
    await repo.mark(chip, key)
    mark = await repo.get(chip, key)
    assert mark is not None
    return {**_mark_dict(mark), "active": True}


async def window_kept(ctx: ControlContext, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Every marked conversation, its window and the last follow-up."""
    return [_mark_dict(m) for m in await KeeperRepository(ctx.store).marks()]


METHODS: dict[str, Handler] = {"window.keep": window_keep, "window.kept": window_kept}

"""Control calls ``media.upload`` (a media id for a chip) and ``media.handle`` (a header
handle for a template), both from a file on the daemon's machine, both cached."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from daemon.control.methods import INVALID_PARAMS, REFUSED, UNAVAILABLE, MethodError
from daemon.graph.errors import GraphError
from daemon.media.cache import MediaCache
from daemon.store.media import MediaRepository

if TYPE_CHECKING:
    from daemon.control.methods import ControlContext, Handler

__all__ = ["METHODS"]


async def _file(params: dict[str, Any]) -> tuple[bytes, str, str]:
    path = params.get("path")
    if not isinstance(path, str) or not path:
        raise MethodError(INVALID_PARAMS, "give path (a file the daemon can read)")
    try:
        content = await trio.Path(path).read_bytes()
    except OSError as exc:
        raise MethodError(INVALID_PARAMS, f"cannot read {path}: {exc.strerror}") from None
    mime = params.get("mime_type") or mimetypes.guess_type(path)[0]
    if not isinstance(mime, str):
        raise MethodError(INVALID_PARAMS, "unknown file type: give mime_type")
    return content, mime, Path(path).name


def _cache(ctx: ControlContext) -> MediaCache:
    if ctx.graph is None:
        raise MethodError(UNAVAILABLE, "no Graph API client in this daemon")
    return MediaCache(ctx.graph, MediaRepository(ctx.store), ctx.cfg.media)


async def media_upload(ctx: ControlContext, params: dict[str, Any]) -> dict[str, Any]:
    chip = params.get("chip")
    if not isinstance(chip, str) or ctx.fleet.find_chip(chip) is None:
        raise MethodError(REFUSED, f"unknown chip {chip}")
    content, mime, name = await _file(params)
    try:
        media_id = await _cache(ctx).media_id(chip, content, mime, name)
    except GraphError as exc:
        raise MethodError(REFUSED, f"Graph API: {exc}") from None
    return {"chip": chip, "media_id": media_id, "mime_type": mime}


async def media_handle(ctx: ControlContext, params: dict[str, Any]) -> dict[str, Any]:
    waba = params.get("waba") or (ctx.fleet.waba_ids[0] if ctx.fleet.waba_ids else None)
    if not isinstance(waba, str) or ctx.fleet.find_waba(waba) is None:
        raise MethodError(REFUSED, f"unknown WABA {waba}")
    content, mime, name = await _file(params)
    try:
        handle = await _cache(ctx).header_handle(waba, content, mime, name)
    except GraphError as exc:
        raise MethodError(REFUSED, f"Graph API: {exc}") from None
    return {"waba_id": waba, "handle": handle, "mime_type": mime}


METHODS: dict[str, Handler] = {"media.upload": media_upload, "media.handle": media_handle}

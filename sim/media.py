"""Resumable uploads on the simulated Meta side: ``/{app_id}/uploads`` and
``/upload:{session}``.

Meta's protocol: ``POST /{app_id}/uploads?file_name&file_length&file_type`` opens a
session (``{"id": "upload:…"}``); ``POST /upload:…`` with the raw bytes and a
``file_offset`` header uploads them and answers the handle (``{"h": "4::…"}``);
``GET /upload:…`` tells how far an interrupted upload got (``file_offset``). Only image,
video and PDF files are accepted, as for template header examples.
"""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING, Any

from sim.errors import SimError, bad_param, unknown_object

if TYPE_CHECKING:
    from sim.engine import Sim
    from sim.graph_api import GraphRequest

__all__ = ["DEFAULT_APP_ID", "is_upload", "upload_edge"]

DEFAULT_APP_ID = "900000000000001"
_TYPES = ("image/jpeg", "image/png", "video/mp4", "application/pdf")


def _app_id(sim: Sim) -> str:
    return sim.cfg.media.app_id or DEFAULT_APP_ID


def is_upload(sim: Sim, parts: list[str]) -> bool:
    return bool(parts) and (
        parts[0].startswith("upload:") or (parts[0] == _app_id(sim) and parts[1:] == ["uploads"])
    )


def _open(sim: Sim, req: GraphRequest) -> dict[str, Any]:
    name, kind = req.param("file_name"), req.param("file_type")
    try:
        length = int(req.param("file_length"))
    except (TypeError, ValueError):
        raise SimError(100, message="(#100) The parameter file_length is required.") from None
    if not name or kind not in _TYPES:
        raise bad_param(f"file_name and a file_type of {', '.join(_TYPES)} are required")
    if not 0 < length <= 100 << 20:
        raise bad_param("file_length must be between 1 byte and 100 MB")
    session = "upload:" + base64.urlsafe_b64encode(sim.world.new_id().encode()).decode()
    sim.world.uploads[session] = {"name": name, "type": kind, "length": length, "data": b""}
    return {"id": session}


def _send(sim: Sim, req: GraphRequest, session: dict[str, Any]) -> dict[str, Any]:
    try:
        offset = int(req.param("file_offset") or 0)
    except ValueError:
        raise bad_param("file_offset must be a number") from None
    if offset != len(session["data"]):
        raise bad_param(f"file_offset must be {len(session['data'])}")
    session["data"] += req.raw
    if len(session["data"]) > session["length"]:
        raise bad_param("more bytes than file_length")
    if len(session["data"]) < session["length"]:
        return {"file_offset": len(session["data"])}
    digest = hashlib.sha256(session["data"]).hexdigest()[:24]
    handle = f"4::{base64.b64encode(session['type'].encode()).decode()}:{digest}"
    session["handle"] = handle
    sim.counters["resumable_uploads"] += 1
    return {"h": handle}


def upload_edge(sim: Sim, req: GraphRequest) -> dict[str, Any]:
    sim.world.waba_of_token(req.token)  # any valid token of the app
    oid = req.parts[0]
    if oid != _app_id(sim) and not oid.startswith("upload:"):
        raise unknown_object(req.method, oid)
    if req.method == "POST" and req.parts[1:] == ["uploads"]:
        return _open(sim, req)
    session = sim.world.uploads.get(oid)
    if session is None or len(req.parts) != 1:
        raise unknown_object(req.method, oid)
    if req.method == "GET":
        return {"id": oid, "file_offset": len(session["data"])}
    if req.method == "POST":
        return _send(sim, req, session)
    raise unknown_object(req.method, oid)

"""The management side of the simulated Graph API: ids → objects → edges.

Why a dispatcher and not one route per URL: Graph addresses everything as
``/{version}/{object id}[/{edge}]`` and the id alone says what the object is (a number,
a WABA, a template, a media file, a flow, a catalog). Resolving the id first also gives
Meta's error order for free: a bad token is 190 before anything else, an unknown id is
100/33 ("Unsupported get request. Object with ID … does not exist…"), and a valid token
for another WABA's object is 200. Sends are served by the lean path in :mod:`sim.app`
and only reach :meth:`Sim.send` through here when they were not JSON.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Any

from sim.auth import expand as expand_auth
from sim.catalog import catalog_edge
from sim.engine import Sim
from sim.errors import SimError, bad_param, unknown_object
from sim.flows import FLOW_HANDLERS, flows_edge
from sim.media import is_upload, upload_edge
from sim.templates import TemplateRec

__all__ = ["GraphRequest", "classify", "handle"]

_NAME = re.compile(r"^[a-z0-9_]{1,512}$")
_CATEGORIES = ("MARKETING", "UTILITY", "AUTHENTICATION")
_MEDIA_LIMITS = {
    "image/jpeg": 5 << 20,
    "image/png": 5 << 20,
    "image/webp": 500 << 10,
    "video/mp4": 16 << 20,
    "video/3gpp": 16 << 20,
    "audio/aac": 16 << 20,
    "audio/mp4": 16 << 20,
    "audio/mpeg": 16 << 20,
    "audio/amr": 16 << 20,
    "audio/ogg": 16 << 20,
    "text/plain": 100 << 20,
    "application/pdf": 100 << 20,
    "application/msword": 100 << 20,
    "application/vnd.ms-excel": 100 << 20,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": 100 << 20,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": 100 << 20,
}


@dataclass(slots=True)
class GraphRequest:
    method: str
    parts: list[str]
    """Path segments after the version: ``[object_id]`` or ``[object_id, edge]``."""
    token: str | None
    base_url: str
    query: dict[str, str] = field(default_factory=dict)
    version: str = ""
    """``v21.0/`` when the path carried a version (kept in paging links)."""
    json: Any = None
    json_error: str | None = None
    form: dict[str, Any] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes, str]] = field(default_factory=dict)
    raw: bytes = b""
    """The body of an ``application/octet-stream`` POST (resumable uploads)."""

    def param(self, name: str) -> Any:
        """A parameter from the JSON body, the form, or the query string (Graph takes all)."""
        if isinstance(self.json, dict) and name in self.json:
            return self.json[name]
        if name in self.form:
            return self.form[name]
        return self.query.get(name)

    def fields(self) -> list[str] | None:
        raw = self.query.get("fields")
        return [f.strip() for f in raw.split(",") if f.strip()] if raw else None


def classify(sim: Sim, parts: list[str], method: str) -> tuple[str, str | None]:
    """(endpoint name for fault matching, object id) of a request."""
    if not parts:
        return "*", None
    oid, edge = parts[0], parts[1] if len(parts) > 1 else ""
    w = sim.world
    if is_upload(sim, parts):
        return "uploads", oid
    if oid in w.numbers:
        names = {"": "phone_number", "media": "media_upload"}
        names.update({"whatsapp_business_encryption": "encryption"})
        return names.get(edge, edge or "phone_number"), oid
    if oid in w.wabas:
        return {"message_templates": "message_templates", "flows": "flows"}.get(
            edge, "phone_numbers"
        ), oid
    if oid in w.templates:
        return "template", oid
    if oid in w.media:
        return "media", oid
    if oid in w.flows:
        return "flow", oid
    if oid in w.catalogs:
        return ("items_batch" if edge == "items_batch" else "batch_status"), oid
    return "*", oid


def _owner(sim: Sim, oid: str) -> str | None:
    w = sim.world
    if oid in w.numbers:
        return w.numbers[oid].waba_id
    if oid in w.wabas:
        return oid
    if oid in w.templates:
        return w.templates[oid].waba_id
    if oid in w.media:
        return w.media[oid].waba_id
    if oid in w.flows:
        return w.flows[oid].waba_id
    return w.catalogs.get(oid)


def handle(sim: Sim, req: GraphRequest) -> dict[str, Any]:
    """Answer one management request, or raise the SimError Meta would answer."""
    sim.world.waba_of_token(req.token)
    if is_upload(sim, req.parts):
        return upload_edge(sim, req)
    if not req.parts or len(req.parts) > 2:
        raise bad_param(f"Unknown path components: /{'/'.join(req.parts)}")
    oid = req.parts[0]
    edge = req.parts[1] if len(req.parts) > 1 else ""
    owner = _owner(sim, oid) if oid.isdigit() else None
    if owner is None:
        raise unknown_object(req.method, oid)
    sim.world.require_access(req.token, owner)
    if req.json_error is not None:  # after the token and the object, in Meta's order
        raise bad_param(req.json_error)
    w = sim.world
    if oid in w.numbers:
        return _number(sim, req, oid, edge)
    if oid in w.wabas:
        return _waba(sim, req, oid, edge)
    if oid in w.templates and not edge:
        return _template(sim, req, w.templates[oid])
    if oid in w.media and not edge:
        return _media(sim, req, oid)
    if oid in w.flows:
        handler = FLOW_HANDLERS.get((req.method, edge))
        if handler is not None:
            return handler(sim, req, w.flows[oid])
    if oid in w.catalogs:
        return _catalog(sim, req, oid, edge)
    raise unknown_object(req.method, f"{oid}/{edge}" if edge else oid)


# --- numbers -------------------------------------------------------------------------


def _number(sim: Sim, req: GraphRequest, pid: str, edge: str) -> dict[str, Any]:
    number = sim.world.numbers[pid]
    if req.method == "GET" and not edge:
        return number.graph(req.fields())
    if req.method == "POST" and edge in ("messages", "marketing_messages"):
        body = req.json if req.json is not None else dict(req.form)
        return sim.send(pid, req.token, body, endpoint=edge)
    if req.method == "POST" and edge == "media":
        return _upload(sim, req, pid)
    if edge == "whatsapp_business_encryption":
        if req.method == "GET":
            key = number.public_key
            status = "VALID"
            data = [{"business_public_key": key, "business_public_key_signature_status": status}]
            return {"data": data if key else []}
        if req.method == "POST":
            number.public_key = _check_public_key(req.param("business_public_key"))
            return {"success": True}
    raise unknown_object(req.method, f"{pid}/{edge}")


def _check_public_key(pem: Any) -> str:
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    if not isinstance(pem, str) or not pem.strip():
        raise SimError(100, message="(#100) The parameter business_public_key is required.")
    try:
        key = load_pem_public_key(pem.encode())
    except ValueError:
        raise bad_param("business_public_key is not a PEM public key") from None
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < 2048:
        raise bad_param("business_public_key must be a 2048-bit RSA key")
    return pem


def _upload(sim: Sim, req: GraphRequest, pid: str) -> dict[str, Any]:
    if req.param("messaging_product") != "whatsapp":
        raise SimError(100, message="(#100) The parameter messaging_product is required.")
    upload = req.files.get("file")
    if upload is None:
        raise SimError(100, message="(#100) The parameter file is required.")
    filename, data, file_mime = upload
    mime = str(req.param("type") or file_mime).split(";")[0].strip()
    limit = _MEDIA_LIMITS.get(mime)
    if limit is None:
        raise SimError(131053, f"Param file must be a file with one of the supported types: {mime}")
    if len(data) > limit:
        raise SimError(131053, f"file of {len(data)} bytes is over the {limit} bytes for {mime}")
    from sim.world import MediaRec

    media_id = sim.world.new_id(500000000000000)
    waba = sim.world.numbers[pid].waba_id
    sim.world.media[media_id] = MediaRec(media_id, pid, waba, mime, filename, data, sim.clock.now())
    return {"id": media_id}


def _media(sim: Sim, req: GraphRequest, media_id: str) -> dict[str, Any]:
    rec = sim.world.media[media_id]
    if req.method == "GET":
        return {
            "messaging_product": "whatsapp",
            "url": f"{req.base_url}/_sim/lookaside/{media_id}?mid={media_id}",
            "mime_type": rec.mime_type,
            "sha256": rec.sha256,
            "file_size": len(rec.data),
            "id": media_id,
        }
    if req.method == "DELETE":
        del sim.world.media[media_id]
        return {"success": True}
    raise unknown_object(req.method, media_id)


# --- WABAs and templates -------------------------------------------------------------


def _cursor(i: int) -> str:
    return base64.urlsafe_b64encode(f"i:{i}".encode()).decode()


def _uncursor(c: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(c.encode()).decode().removeprefix("i:"))
    except ValueError:
        raise bad_param(f"Invalid cursor {c!r}") from None


def page(
    items: list[dict[str, Any]], req: GraphRequest, path: str, default_limit: int = 25
) -> dict[str, Any]:
    """Graph cursor paging: ``data`` plus ``paging.cursors`` and ``next`` while more exist."""
    try:
        limit = int(req.query.get("limit", default_limit))
    except ValueError:
        raise bad_param("limit must be a number") from None
    if not 1 <= limit <= 1000:
        raise bad_param("limit must be between 1 and 1000")
    start = _uncursor(req.query["after"]) if req.query.get("after") else 0
    chunk = items[start : start + limit]
    out: dict[str, Any] = {"data": chunk}
    if chunk:
        paging: dict[str, Any] = {
            "cursors": {"before": _cursor(start), "after": _cursor(start + len(chunk))}
        }
        if start + len(chunk) < len(items):
            query = {k: v for k, v in req.query.items() if k != "after"}
            query["after"] = _cursor(start + len(chunk))
            qs = "&".join(f"{k}={v}" for k, v in query.items())
            paging["next"] = f"{req.base_url}/{req.version}{path}?{qs}"
        out["paging"] = paging
    return out


def _waba(sim: Sim, req: GraphRequest, waba_id: str, edge: str) -> dict[str, Any]:
    w = sim.world
    if edge == "message_templates":
        if req.method == "GET":
            recs = [t for t in w.templates.values() if t.waba_id == waba_id]
            for key in ("name", "status", "category", "language"):
                if req.query.get(key):
                    recs = [t for t in recs if getattr(t, key) == req.query[key]]
            items = [t.graph(req.fields()) for t in recs]
            return page(items, req, f"{waba_id}/message_templates")
        if req.method == "POST":
            return _create_template(sim, req, waba_id)
        if req.method == "DELETE":
            return _delete_template(sim, req, waba_id)
    if edge == "phone_numbers" and req.method == "GET":
        numbers = [n.graph(req.fields()) for n in w.numbers.values() if n.waba_id == waba_id]
        return page(numbers, req, f"{waba_id}/phone_numbers")
    if edge == "flows":
        return flows_edge(sim, req, waba_id)
    if not edge and req.method == "GET":
        return {"id": waba_id, "name": w.wabas[waba_id].name, "currency": "USD"}
    raise unknown_object(req.method, f"{waba_id}/{edge}")


def _components(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value or not all(isinstance(c, dict) for c in value):
        raise SimError(100, message="(#100) The parameter components is required.")
    for c in value:
        if str(c.get("type", "")).upper() not in (
            "HEADER",
            "BODY",
            "FOOTER",
            "BUTTONS",
            "CAROUSEL",
        ):
            raise bad_param(f"Invalid component type {c.get('type')!r}")
    if not any(str(c.get("type")).upper() == "BODY" for c in value):
        raise bad_param("A template needs a BODY component")
    return value


def _create_template(sim: Sim, req: GraphRequest, waba_id: str) -> dict[str, Any]:
    name, language = req.param("name"), req.param("language")
    category = str(req.param("category") or "").upper()
    if not isinstance(name, str) or not _NAME.match(name):
        raise bad_param("name must be lowercase letters, digits and underscores")
    if not isinstance(language, str) or len(language) < 2:
        raise SimError(100, message="(#100) The parameter language is required.")
    if category not in _CATEGORIES:
        raise bad_param(f"category must be one of {', '.join(_CATEGORIES)}")
    fmt = str(req.param("parameter_format") or "positional").lower()
    if fmt not in ("positional", "named"):
        raise bad_param("parameter_format must be positional or named")
    components = _components(req.param("components"))
    if category == "AUTHENTICATION":
        components = expand_auth(components, language)
    for t in sim.world.templates.values():
        if t.waba_id == waba_id and t.name == name and t.language == language:
            raise SimError(
                100,
                message="(#100) Invalid parameter",
                details=f"Content in this language already exists for {name} ({language})",
                subcode=2388024,
            )
    rec = TemplateRec(
        sim.world.new_id(400000000000000),
        waba_id,
        name,
        language,
        category,
        components,
        parameter_format=fmt,
        quality="UNKNOWN",
        created_at=sim.clock.now(),
    )
    sim.world.templates[rec.id] = rec
    sim.submit_template(rec)
    return {"id": rec.id, "status": "PENDING", "category": category}


def _delete_template(sim: Sim, req: GraphRequest, waba_id: str) -> dict[str, Any]:
    name, hsm_id = req.param("name"), req.param("hsm_id")
    if not isinstance(name, str) or not name:
        raise SimError(100, message="(#100) The parameter name is required.")
    doomed = [
        t.id
        for t in sim.world.templates.values()
        if t.waba_id == waba_id and t.name == name and (not hsm_id or t.id == hsm_id)
    ]
    if not doomed:
        raise SimError(
            100,
            message="(#100) Invalid parameter",
            details=f"Message template {name!r} not found",
            subcode=2593002,
        )
    for tid in doomed:
        del sim.world.templates[tid]
    return {"success": True}


def _template(sim: Sim, req: GraphRequest, rec: TemplateRec) -> dict[str, Any]:
    if req.method == "GET":
        return rec.graph(req.fields())
    if req.method == "POST":
        if rec.status == "PENDING":
            raise bad_param("The template is in review and cannot be edited now")
        components, category = req.param("components"), req.param("category")
        if components is None and category is None:
            raise SimError(100, message="(#100) The parameter components is required.")
        if components is not None:
            rec.components = _components(components)
        if category is not None:
            if str(category).upper() not in _CATEGORIES:
                raise bad_param(f"category must be one of {', '.join(_CATEGORIES)}")
            rec.category = str(category).upper()
        sim.submit_template(rec)
        return {"success": True}
    raise unknown_object(req.method, rec.id)


# --- catalogs ------------------------------------------------------------------------


def _catalog(sim: Sim, req: GraphRequest, catalog_id: str, edge: str) -> dict[str, Any]:
    return catalog_edge(sim, req, catalog_id, edge)

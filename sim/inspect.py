"""``/_sim/``: look inside the simulator and steer it (tests, demos). Not Graph API.

Why: a test must check what Meta "received" (the messages, their payloads, the
``biz_opaque_callback_data``), see windows and counters, inject "the next request to X
fails with code N", and make things happen now (a contact writes, a number gets flagged,
a template is paused) instead of waiting for chance. Answers are plain JSON; mistakes get
400 with ``{"error": ...}``.

Endpoints::

    GET    /_sim/health                  {"ok": true}
    GET    /_sim/state                   numbers, WABAs, templates, flows, catalogs, knobs
    GET    /_sim/messages[?phone_number_id=&to=&status=&limit=]   accepted messages
    GET    /_sim/messages/<wamid>
    GET    /_sim/windows[?phone_number_id=]                      open windows now
    GET    /_sim/contacts[?limit=&offset=]
    GET    /_sim/counters                requests, errors by code, statuses, webhooks
    GET    /_sim/webhooks                recent deliveries (status, attempt, fields)
    GET    /_sim/knobs        PATCH /_sim/knobs {name: value, ...}
    GET    /_sim/faults       POST /_sim/faults {endpoint, mode, code?, http_status?,
                              count?, object_id?, hang_s?}      DELETE /_sim/faults
    POST   /_sim/trigger      {"event": inbound|quality|tier|template_status|
                              template_quality|template_category|user_preferences|
                              account_update, ...}
    POST   /_sim/numbers/<id>    {quality_rating?, messaging_limit_tier?, registered?,
                                  throughput_mps?, status?}
    POST   /_sim/wabas/<id>      {locked?, payment_ok?, marketing_messages?}
    POST   /_sim/contacts/<wa_id> {reachable?, replies?, marketing_opt_out?}
    POST   /_sim/clock           {"advance_s": seconds}  (windows and tiers age)
    GET    /_sim/lookaside/<media_id>, /_sim/flow_assets/<flow_id>   downloads
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from quart import Response, request
from quart_trio import QuartTrio

from sim.errors import SimError
from sim.faults import Injection
from sim.webhooks import account_update_change, user_preferences_change
from sim.world import TIERS

if TYPE_CHECKING:
    from sim.engine import Sim

__all__ = ["register_inspection"]

_INBOUND_KINDS = ("text", "image", "button", "button_reply", "list_reply", "nfm_reply", "referral")


class _BadRequest(Exception):
    pass


def _json(doc: Any, status: int = 200) -> Response:
    return Response(json.dumps(doc, default=str), status, content_type="application/json")


async def _body() -> dict[str, Any]:
    raw = await request.get_data(as_text=False)
    try:
        doc = json.loads(raw) if raw else {}
    except ValueError:
        raise _BadRequest("the body is not JSON") from None
    if not isinstance(doc, dict):
        raise _BadRequest("the body must be a JSON object")
    return doc


def register_inspection(app: QuartTrio, sim: Sim) -> None:
    """Add the ``/_sim/`` routes for ``sim`` to ``app``."""

    @app.errorhandler(_BadRequest)
    async def bad_request(exc: _BadRequest) -> Response:
        return _json({"error": str(exc)}, 400)

    @app.get("/_sim/health")
    async def health() -> Response:
        return _json({"ok": True})

    @app.get("/_sim/state")
    async def state() -> Response:
        w, now = sim.world, sim.clock.now()
        numbers = [
            {
                **dataclasses.asdict(n),
                "reached_24h": sim.limits.reached(n.phone_number_id, now),
                "public_key": bool(n.public_key),
            }
            for n in w.numbers.values()
        ]
        templates = [
            {k: v for k, v in t.graph().items() if k != "components"} for t in w.templates.values()
        ]
        return _json(
            {
                "seed": sim.seed,
                "clock_offset_s": sim.clock.offset,
                "webhook_url": sim.dispatcher.url,
                "wabas": [dataclasses.asdict(x) for x in w.wabas.values()],
                "numbers": numbers,
                "templates": templates,
                "flows": [f.graph() for f in w.flows.values()],
                "catalogs": w.catalogs,
                "contacts": len(w.contacts),
                "pending": {"timeline": len(sim.timeline), "webhooks": sim.dispatcher.pending},
                "knobs": sim.knobs.model_dump(),
            }
        )

    @app.get("/_sim/messages")
    async def messages() -> Response:
        a = request.args
        found = [
            m.summary()
            for m in sim.world.messages.values()
            if (not a.get("phone_number_id") or m.phone_number_id == a["phone_number_id"])
            and (not a.get("to") or a["to"] in (m.to, m.wa_id))
            and (not a.get("status") or m.status == a["status"])
        ]
        limit = int(a.get("limit", "100"))
        return _json({"data": found[-limit:], "total": len(found)})

    @app.get("/_sim/messages/<wamid>")
    async def message(wamid: str) -> Response:
        m = sim.world.messages.get(wamid)
        return _json(m.summary()) if m else _json({"error": "no such message"}, 404)

    @app.get("/_sim/windows")
    async def windows() -> Response:
        pid = request.args.get("phone_number_id")
        return _json({"data": sim.world.open_windows(sim.clock.now(), pid)})

    @app.get("/_sim/contacts")
    async def contacts() -> Response:
        limit, offset = int(request.args.get("limit", "100")), int(request.args.get("offset", "0"))
        items = list(sim.world.contacts.values())[offset : offset + limit]
        return _json(
            {"data": [dataclasses.asdict(c) for c in items], "total": len(sim.world.contacts)}
        )

    @app.get("/_sim/counters")
    async def counters() -> Response:
        return _json(dict(sorted(sim.counters.items())))

    @app.get("/_sim/webhooks")
    async def webhooks() -> Response:
        return _json({"data": list(sim.dispatcher.recent), "pending": sim.dispatcher.pending})

    @app.route("/_sim/knobs", methods=["GET", "PATCH", "POST"])
    async def knobs() -> Response:
        if request.method != "GET":
            try:
                sim.set_knobs(await _body())
            except ValidationError as exc:
                raise _BadRequest(str(exc)) from None
        return _json(sim.knobs.model_dump())

    @app.route("/_sim/faults", methods=["GET", "POST", "DELETE"])
    async def faults() -> Response:
        if request.method == "POST":
            try:
                sim.faults.inject(Injection(**await _body()))
            except (TypeError, ValueError) as exc:
                raise _BadRequest(str(exc)) from None
        elif request.method == "DELETE":
            sim.faults.clear()
        return _json({"queue": [dataclasses.asdict(i) for i in sim.faults.queue]})

    @app.post("/_sim/trigger")
    async def trigger() -> Response:
        try:
            return _json(_trigger(sim, await _body()))
        except (KeyError, ValueError, IndexError) as exc:
            raise _BadRequest(f"cannot trigger: {exc!r}") from None

    @app.post("/_sim/numbers/<pid>")
    async def patch_number(pid: str) -> Response:
        number = sim.world.numbers.get(pid)
        if number is None:
            raise _BadRequest(f"unknown phone_number_id {pid}")
        doc = await _body()
        if "quality_rating" in doc:
            sim.set_quality(pid, _pick(doc["quality_rating"], ("GREEN", "YELLOW", "RED")))
        if "messaging_limit_tier" in doc:
            sim.set_tier(pid, _pick(doc["messaging_limit_tier"], tuple(TIERS)))
        for key in ("registered", "throughput_mps", "status", "name_status"):
            if key in doc:
                setattr(number, key, type(getattr(number, key))(doc[key]))
        return _json(dataclasses.asdict(number))

    @app.post("/_sim/wabas/<waba_id>")
    async def patch_waba(waba_id: str) -> Response:
        waba = sim.world.wabas.get(waba_id)
        if waba is None:
            raise _BadRequest(f"unknown WABA {waba_id}")
        doc = await _body()
        for key in ("locked", "payment_ok", "marketing_messages"):
            if key in doc:
                setattr(waba, key, bool(doc[key]))
        return _json(dataclasses.asdict(waba))

    @app.post("/_sim/contacts/<wa_id>")
    async def patch_contact(wa_id: str) -> Response:
        contact = sim.world.contacts.get(wa_id)
        if contact is None:
            raise _BadRequest(f"unknown contact {wa_id}")
        doc = await _body()
        for key in ("reachable", "replies", "marketing_opt_out"):
            if key in doc:
                setattr(contact, key, bool(doc[key]))
        return _json(dataclasses.asdict(contact))

    @app.post("/_sim/clock")
    async def clock() -> Response:
        doc = await _body()
        sim.clock.advance(float(doc.get("advance_s", 0.0)))
        return _json({"offset_s": sim.clock.offset, "now": sim.clock.now()})

    @app.get("/_sim/lookaside/<media_id>")
    async def lookaside(media_id: str) -> Response:
        rec = sim.world.media.get(media_id)
        auth = request.headers.get("Authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        try:
            if rec is None:
                raise SimError(100, "Unknown media")
            sim.world.require_access(token, rec.waba_id)
        except SimError as err:
            return _json(err.body(sim.world.trace_id()), err.http_status)
        return Response(rec.data, 200, content_type=rec.mime_type)

    @app.get("/_sim/flow_assets/<flow_id>")
    async def flow_asset(flow_id: str) -> Response:
        flow = sim.world.flows.get(flow_id)
        if flow is None or flow.flow_json is None:
            return _json({"error": "no such flow asset"}, 404)
        return Response(flow.flow_json, 200, content_type="application/json")


def _pick(value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise _BadRequest(f"{value!r} is not one of {', '.join(allowed)}")
    return str(value)


def _trigger(sim: Sim, doc: dict[str, Any]) -> dict[str, Any]:
    """Make one event happen now; returns what was done (ids of new messages)."""
    event = doc.get("event")
    w = sim.world
    pid = str(doc.get("phone_number_id") or next(iter(w.numbers)))
    if event == "inbound":
        wa_id = w.resolve(str(doc.get("from") or "")) or next(iter(w.contacts))
        kind = _pick(doc.get("kind", "text"), _INBOUND_KINDS)
        content, referral = _inbound_content(sim, kind, doc)
        wamid = sim.inbound(pid, wa_id, content, context=doc.get("context"), referral=referral)
        return {"id": wamid, "from": wa_id, "phone_number_id": pid}
    if event == "quality":
        sim.set_quality(pid, _pick(doc.get("quality_rating"), ("GREEN", "YELLOW", "RED")))
    elif event == "tier":
        sim.set_tier(pid, _pick(doc.get("messaging_limit_tier"), tuple(TIERS)))
    elif event in ("template_status", "template_quality", "template_category"):
        rec = w.templates[str(doc["template_id"])]
        if event == "template_status":
            sim.set_template_status(rec, str(doc["status"]), str(doc.get("reason", "NONE")))
        elif event == "template_quality":
            sim.set_template_quality(rec, _pick(doc.get("score"), ("GREEN", "YELLOW", "RED")))
        else:
            cat = _pick(doc.get("category"), ("MARKETING", "UTILITY", "AUTHENTICATION"))
            sim.set_template_category(rec, cat)
    elif event == "user_preferences":
        contact = w.contacts[w.resolve(str(doc.get("wa_id"))) or ""]
        value = _pick(doc.get("value", "stop"), ("stop", "resume"))
        contact.marketing_opt_out = value == "stop"
        change = user_preferences_change(w.numbers[pid], contact, value, sim.clock.now())
        sim.dispatcher.post(w.numbers[pid].waba_id, change)
    elif event == "account_update":
        number = w.numbers[pid]
        change = account_update_change(
            number, str(doc.get("account_event", "ACCOUNT_RESTRICTION")), sim.clock.now()
        )
        sim.dispatcher.post(number.waba_id, change)
    else:
        raise _BadRequest(f"unknown event {event!r}")
    return {"ok": True, "event": event}


def _inbound_content(
    sim: Sim, kind: str, doc: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    text = str(doc.get("text", "Olá, tenho interesse"))
    if kind == "text":
        return {"type": "text", "text": {"body": text}}, None
    if kind == "referral":
        return {"type": "text", "text": {"body": text}}, sim.referral()
    if kind == "image":
        image = {
            "caption": text,
            "mime_type": "image/jpeg",
            "sha256": "0" * 64,
            "id": sim.world.new_id(),
        }
        return {"type": "image", "image": image}, None
    if kind == "button":
        return {
            "type": "button",
            "button": {"payload": doc.get("payload", text), "text": text},
        }, None
    if kind == "button_reply":
        reply = {"id": str(doc.get("id", "b1")), "title": text[:20]}
        return {
            "type": "interactive",
            "interactive": {"type": "button_reply", "button_reply": reply},
        }, None
    if kind == "list_reply":
        item = {
            "id": str(doc.get("id", "r1")),
            "title": text[:24],
            "description": str(doc.get("description", "")),
        }
        return {
            "type": "interactive",
            "interactive": {"type": "list_reply", "list_reply": item},
        }, None
    response = json.dumps({"flow_token": doc.get("flow_token", "ft"), **doc.get("response", {})})
    nfm = {"name": "flow", "body": "Sent", "response_json": response}
    return {"type": "interactive", "interactive": {"type": "nfm_reply", "nfm_reply": nfm}}, None

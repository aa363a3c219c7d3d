"""HTTP face of the simulator: a lean ASGI send path in front of a quart-trio app.

Why two layers: ``POST /{id}/messages`` is the hot path (the benchmark drives thousands
a second) and Quart's request machinery costs ~40% on hypercorn's trio worker
(docs/stack-notes.md §3). So :class:`SimASGI` answers sends itself, straight from the
ASGI scope, and hands everything else (management endpoints, ``/_sim/``, lifespan) to
the Quart app. Both paths go through :func:`graph_call`, which applies the fault knobs
and turns every :class:`~sim.errors.SimError` into Meta's error body; an unexpected
exception becomes Graph's code 1 answer, never a traceback.

Paths are served under ``/v{major}.{minor}/…`` for any version (and unversioned), like
graph.facebook.com.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Callable
from typing import Any

import orjson
import trio
from quart import Response, request
from quart_trio import QuartTrio

from sim.engine import Sim
from sim.errors import SimError, bad_param
from sim.flow_exchange import register_flow_exchange
from sim.graph_api import GraphRequest, classify, handle
from sim.inspect import register_inspection

__all__ = ["SimASGI", "create_app", "graph_call"]

log = logging.getLogger("metad.sim")

_SEND_PATH = re.compile(r"^/(?:v[0-9]+\.[0-9]+/)?([0-9]+)/(messages|marketing_messages)/?$")
_VERSION = re.compile(r"^(?:v[0-9]+\.[0-9]+/?)?")
_JSON = "application/json"
_HTML_502 = b"<html><head><title>502 Bad Gateway</title></head><body>Bad Gateway</body></html>"
_HTML_504 = b"<html><head><title>504 Gateway Time-out</title></head><body>Timeout</body></html>"
_NOT_JSON = object()

Reply = tuple[int, bytes, str]


def _dumps(doc: Any) -> bytes:
    # orjson: every send's answer goes through here (json's encoder was 6 % of the
    # simulator's CPU in a campaign benchmark, which shares the machine with metad).
    return orjson.dumps(doc)


def _error(sim: Sim, err: SimError) -> Reply:
    sim.counters[f"errors:{err.code}"] += 1
    return err.http_status, _dumps(err.body(sim.world.trace_id())), _JSON


async def graph_call(
    sim: Sim, endpoint: str, object_id: str | None, action: Callable[[], dict[str, Any]]
) -> Reply:
    """Run one Graph request: faults first, then the action, then added latency."""
    sim.counters[f"requests:{endpoint}"] += 1
    knobs = sim.knobs
    fault = sim.faults.take(endpoint, object_id, knobs)
    if fault is not None:
        sim.counters[f"faults:{fault.mode}"] += 1
        if fault.mode == "timeout":
            await trio.sleep(fault.hang_s)
            return 504, _HTML_504, "text/html"
        if fault.mode == "error":
            assert fault.code is not None
            return _error(sim, SimError(fault.code, http_status=fault.http_status))
        if fault.mode == "garbage":
            return fault.http_status or 502, _HTML_502, "text/html"
        if fault.mode == "empty":
            return 200, b"{}", _JSON
    try:
        reply: Reply = (200, _dumps(action()), _JSON)
    except SimError as err:
        reply = _error(sim, err)
    except Exception:
        log.exception("simulator bug")
        reply = _error(sim, SimError(1, "An unexpected error happened in the simulator."))
    if fault is not None and fault.mode == "accept_then_timeout":
        await trio.sleep(fault.hang_s)
    if knobs.latency_s:
        await trio.sleep(knobs.latency_s)
    return reply


def _bearer(auth: str | None) -> str | None:
    if auth and auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    if auth and auth[:6].lower() == "oauth ":  # resumable uploads authenticate this way
        return auth[6:].strip()
    return None


class SimASGI:
    """The ASGI app served: sends answered here, the rest delegated to Quart."""

    def __init__(self, sim: Sim, quart: QuartTrio) -> None:
        self.sim = sim
        self.quart = quart

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            m = _SEND_PATH.match(scope["path"])
            if m is not None:
                headers = dict(scope["headers"])
                ctype = headers.get(b"content-type", b"application/json").decode("latin-1")
                if "json" in ctype:
                    await self._send(scope, headers, receive, send, m.group(1), m.group(2))
                    return
        await self.quart(scope, receive, send)

    async def _send(
        self, scope: Any, headers: dict[bytes, bytes], receive: Any, send: Any, pid: str, edge: str
    ) -> None:
        chunks = []
        while True:
            event = await receive()
            if event["type"] != "http.request":
                return  # the client went away
            chunks.append(event.get("body", b""))
            if not event.get("more_body", False):
                break
        raw = b"".join(chunks)
        auth = headers.get(b"authorization")
        token = _bearer(auth.decode("latin-1")) if auth else None
        if token is None and scope.get("query_string"):
            token = _query_token(scope["query_string"].decode("latin-1"))
        try:
            body: Any = orjson.loads(raw)
        except ValueError:
            body = _NOT_JSON
        sim = self.sim
        status, payload, ctype = await graph_call(
            sim, edge, pid, lambda: sim.send(pid, token, body, endpoint=edge)
        )
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", ctype.encode()),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def _query_token(qs: str) -> str | None:
    for part in qs.split("&"):
        name, _, value = part.partition("=")
        if name == "access_token":
            return value
    return None


def create_app(sim: Sim) -> SimASGI:
    """The simulator's ASGI application for ``sim`` (no module-level state)."""
    app = QuartTrio("metad-sim")
    app.config["MAX_CONTENT_LENGTH"] = 110 << 20
    register_inspection(app, sim)
    register_flow_exchange(app, sim)

    @app.route("/<path:path>", methods=["GET", "POST", "DELETE"])
    async def graph(path: str) -> Response:
        if path.startswith("_sim/"):
            return Response(_dumps({"error": f"no such inspection path /{path}"}), 404, {})
        version = _VERSION.match(path)
        prefix = version.group(0) if version else ""
        req = await _graph_request(path[len(prefix) :])
        req.version = prefix if prefix.endswith("/") or not prefix else prefix + "/"
        endpoint, oid = classify(sim, req.parts, req.method)
        status, body, ctype = await graph_call(sim, endpoint, oid, lambda: handle(sim, req))
        return Response(body, status, content_type=ctype)

    @app.errorhandler(404)
    @app.errorhandler(405)
    async def unknown_path(_: Exception) -> Response:
        err = bad_param(f"Unknown path components: {request.path}")
        status, body, ctype = _error(sim, err)
        return Response(body, status, content_type=ctype)

    @app.errorhandler(413)
    async def too_large(_: Exception) -> Response:
        status, body, ctype = _error(sim, SimError(131053, "The file is too large."))
        return Response(body, status, content_type=ctype)

    return SimASGI(sim, app)


async def _graph_request(rest: str) -> GraphRequest:
    token = _bearer(request.headers.get("Authorization")) or request.args.get("access_token")
    parts = [p for p in rest.split("/") if p]
    req = GraphRequest(
        request.method,
        parts,
        token,
        request.host_url.rstrip("/"),
        query={k: v for k, v in request.args.items() if k != "access_token"},
    )
    if request.method == "POST":
        if request.mimetype == _JSON:
            raw = await request.get_data(as_text=False)
            try:
                req.json = json.loads(raw) if raw else None
            except ValueError:
                req.json_error = "The request body is not valid JSON."
        elif request.mimetype == "application/octet-stream":
            body = await request.get_data(as_text=False)
            req.raw = body if isinstance(body, bytes) else body.encode()
            req.form["file_offset"] = request.headers.get("file_offset", "0")
        else:
            form = await request.form
            req.form = dict(form.items())
            for name, storage in (await request.files).items():
                req.files[name] = (storage.filename or name, storage.read(), storage.mimetype)
            for key in ("components", "requests", "categories"):
                if key in req.form:
                    with contextlib.suppress(ValueError):
                        req.form[key] = json.loads(req.form[key])
    return req

"""WhatsApp Flows on the simulated Graph API: create, flow.json, publish, metrics.

Why its own module: flows have a life cycle of their own (DRAFT → PUBLISHED →
DEPRECATED; only drafts take new JSON or can be deleted; only a draft whose JSON
validates can be published) and a metrics field syntax
(``metric.name(X).granularity(DAY).since(…).until(…)``) that the client must get right.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sim.errors import SimError, bad_param, unknown_object
from sim.world import FlowRec

if TYPE_CHECKING:
    from sim.engine import Sim
    from sim.graph_api import GraphRequest

__all__ = ["FLOW_CATEGORIES", "FLOW_HANDLERS", "flows_edge", "validate_flow_json"]

FLOW_CATEGORIES = frozenset(
    {
        "SIGN_UP",
        "SIGN_IN",
        "APPOINTMENT_BOOKING",
        "LEAD_GENERATION",
        "CONTACT_US",
        "CUSTOMER_SUPPORT",
        "SURVEY",
        "OTHER",
    }
)
_METRIC = re.compile(r"metric\.name\((\w+)\)((?:\.\w+\([^)]*\))*)")
_METRICS = frozenset(
    {
        "ENDPOINT_REQUEST_COUNT",
        "ENDPOINT_REQUEST_ERROR",
        "ENDPOINT_REQUEST_ERROR_RATE",
        "ENDPOINT_REQUEST_LATENCY_SECONDS_CEIL",
        "ENDPOINT_AVAILABILITY",
    }
)


def validate_flow_json(text: str) -> tuple[str | None, list[dict[str, Any]]]:
    """(json version, validation errors) of a flow.json, in Meta's error shape."""

    def err(code: str, message: str) -> dict[str, Any]:
        return {
            "error": code,
            "error_type": "FLOW_JSON_ERROR",
            "message": message,
            "line_start": 1,
            "line_end": 1,
            "column_start": 1,
            "column_end": 1,
        }

    try:
        doc = json.loads(text)
    except ValueError as exc:
        return None, [err("INVALID_JSON", f"Invalid JSON: {exc}")]
    if not isinstance(doc, dict):
        return None, [err("INVALID_PROPERTY_TYPE", "flow.json must be an object")]
    errors = []
    version = doc.get("version")
    if not isinstance(version, str):
        errors.append(err("MISSING_REQUIRED_PROPERTY", "The property 'version' is required."))
    screens = doc.get("screens")
    if not isinstance(screens, list) or not screens:
        errors.append(err("MISSING_REQUIRED_PROPERTY", "The property 'screens' is required."))
    else:
        for s in screens:
            if not isinstance(s, dict) or not s.get("id") or "layout" not in s:
                errors.append(err("INVALID_PROPERTY", "Every screen needs an id and a layout."))
                break
    return (version if isinstance(version, str) else None), errors


def flows_edge(sim: Sim, req: GraphRequest, waba_id: str) -> dict[str, Any]:
    """``GET /{waba_id}/flows`` and ``POST /{waba_id}/flows`` (create a draft)."""
    from sim.graph_api import page

    if req.method == "GET":
        items = [f.graph() for f in sim.world.flows.values() if f.waba_id == waba_id]
        return page(items, req, f"{waba_id}/flows")
    if req.method != "POST":
        raise unknown_object(req.method, f"{waba_id}/flows")
    name = req.param("name")
    if not isinstance(name, str) or not name.strip():
        raise SimError(100, message="(#100) The parameter name is required.")
    categories = req.param("categories")
    if isinstance(categories, str):
        try:
            categories = json.loads(categories)
        except ValueError:
            categories = [categories]
    if (
        not isinstance(categories, list)
        or not categories
        or not all(c in FLOW_CATEGORIES for c in categories)
    ):
        raise bad_param(f"categories must be a list of {sorted(FLOW_CATEGORIES)}")
    endpoint = req.param("endpoint_uri")
    flow = FlowRec(
        sim.world.new_id(600000000000000),
        waba_id,
        name,
        list(categories),
        endpoint_uri=str(endpoint) if endpoint else None,
    )
    sim.world.flows[flow.id] = flow
    return {"id": flow.id, "success": True, "validation_errors": []}


def _get(sim: Sim, req: GraphRequest, flow: FlowRec) -> dict[str, Any]:
    fields = req.query.get("fields", "")
    match = _METRIC.search(fields)
    if match is None:
        wanted = req.fields()
        full = flow.graph()
        return full if not wanted else {k: full[k] for k in [*wanted, "id"] if k in full}
    name = match.group(1)
    if name not in _METRICS:
        raise bad_param(f"Unknown metric name {name}")
    mods = dict(re.findall(r"\.(\w+)\(([^)]*)\)", match.group(2)))
    granularity = mods.get("granularity", "DAY")
    if granularity not in ("DAY", "HOUR", "LIFETIME"):
        raise bad_param(f"Invalid granularity {granularity}")
    today = dt.datetime.fromtimestamp(sim.clock.now(), dt.UTC).date()
    try:
        until = dt.date.fromisoformat(mods["until"]) if "until" in mods else today
        since = dt.date.fromisoformat(mods["since"]) if "since" in mods else until - dt.timedelta(6)
    except ValueError:
        raise bad_param("since/until must be dates like 2025-07-01") from None
    if since > until:
        raise bad_param("since must not be after until")
    points: list[dict[str, Any]] = []
    day = since
    while day <= until and len(points) < 90:
        value = (int(flow.id) + day.toordinal()) % 50 if name.endswith("COUNT") else 0
        stamp = f"{day.isoformat()}T00:00:00+0000"
        points.append({"timestamp": stamp, "data": [{"key": "value", "value": value}]})
        day += dt.timedelta(1)
    metric = {"name": name, "granularity": granularity, "data_points": points}
    return {"id": flow.id, "metric": metric}


def _update(sim: Sim, req: GraphRequest, flow: FlowRec) -> dict[str, Any]:
    name, categories, endpoint = (req.param(k) for k in ("name", "categories", "endpoint_uri"))
    if isinstance(name, str) and name:
        flow.name = name
    if isinstance(categories, list) and all(c in FLOW_CATEGORIES for c in categories):
        flow.categories = list(categories)
    if isinstance(endpoint, str):
        flow.endpoint_uri = endpoint
    return {"success": True}


def _upload_json(sim: Sim, req: GraphRequest, flow: FlowRec) -> dict[str, Any]:
    if flow.status != "DRAFT":
        raise bad_param(f"Flow {flow.id} is {flow.status}: only drafts can be updated")
    if req.param("asset_type") != "FLOW_JSON":
        raise bad_param("asset_type must be FLOW_JSON")
    upload = req.files.get("file")
    if upload is None:
        raise SimError(100, message="(#100) The parameter file is required.")
    text = upload[1].decode("utf-8", errors="replace")
    flow.flow_json = text
    flow.json_version, flow.validation_errors = validate_flow_json(text)
    return {"success": True, "validation_errors": flow.validation_errors}


def _assets(sim: Sim, req: GraphRequest, flow: FlowRec) -> dict[str, Any]:
    if flow.flow_json is None:
        return {"data": []}
    url = f"{req.base_url}/_sim/flow_assets/{flow.id}"
    return {"data": [{"name": "flow.json", "asset_type": "FLOW_JSON", "download_url": url}]}


def _publish(sim: Sim, req: GraphRequest, flow: FlowRec) -> dict[str, Any]:
    if flow.status != "DRAFT":
        raise bad_param(f"Flow {flow.id} is {flow.status}, not a draft")
    if flow.flow_json is None or flow.validation_errors:
        raise bad_param("The flow has no valid flow.json and cannot be published")
    flow.status = "PUBLISHED"
    return {"success": True}


def _deprecate(sim: Sim, req: GraphRequest, flow: FlowRec) -> dict[str, Any]:
    if flow.status != "PUBLISHED":
        raise bad_param(f"Flow {flow.id} is {flow.status}: only published flows are deprecated")
    flow.status = "DEPRECATED"
    return {"success": True}


def _delete(sim: Sim, req: GraphRequest, flow: FlowRec) -> dict[str, Any]:
    if flow.status != "DRAFT":
        raise bad_param(f"Flow {flow.id} is {flow.status}: only drafts can be deleted")
    del sim.world.flows[flow.id]
    return {"success": True}


FlowHandler = Callable[["Sim", "GraphRequest", FlowRec], dict[str, Any]]
FLOW_HANDLERS: dict[tuple[str, str], FlowHandler] = {
    ("GET", ""): _get,
    ("POST", ""): _update,
    ("DELETE", ""): _delete,
    ("POST", "assets"): _upload_json,
    ("GET", "assets"): _assets,
    ("POST", "publish"): _publish,
    ("POST", "deprecate"): _deprecate,
}

"""What ``metad flows`` does at Meta: find a flow by name, create, update, publish, key.

Why apart from the CLI: these are the steps, in Meta's order and with its rules (only a
draft takes new JSON or can be deleted; only a published flow can be deprecated; a
flow with an endpoint needs its ``endpoint_uri``), over the typed Graph client; the CLI
only parses arguments and prints. Each call raises GraphError as the client does, or
:class:`FlowsError` for a problem found before asking Meta.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config import MetadConfig
from daemon.flows.settings import FlowSettings
from daemon.flows.validate import Finding, has_errors, shape, validate_text
from daemon.graph import GraphClient
from daemon.graph.resources import Flow, FlowValidationError

__all__ = [
    "Definition",
    "FlowsError",
    "Uploaded",
    "create_flow",
    "endpoint_uri",
    "find_flow",
    "load_definition",
    "register_public_key",
    "unserved",
    "update_flow",
]


class FlowsError(Exception):
    """A flow operation refused before Meta is asked (unknown flow, invalid JSON…)."""


@dataclass(frozen=True, slots=True)
class Uploaded:
    flow_id: str
    meta_errors: list[FlowValidationError]
    """Meta's validation of the uploaded JSON (empty: it can be published)."""


@dataclass(frozen=True, slots=True)
class Definition:
    """A Flow JSON file read and validated: its text (uploaded as is) and document."""

    path: Path
    text: str
    doc: dict[str, Any]
    warnings: list[Finding]


def load_definition(path: Path) -> Definition:
    """The valid definition at ``path``, or FlowsError listing its errors."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FlowsError(f"cannot read {path}: {exc}") from None
    doc, findings = validate_text(text)
    if doc is None or has_errors(findings):
        lines = "\n".join(f"  {f}" for f in findings if f.severity == "error")
        raise FlowsError(f"{path} is not a valid flow:\n{lines}")
    return Definition(path, text, doc, findings)


def endpoint_uri(cfg: MetadConfig, name: str) -> str | None:
    """Where Meta reaches flow ``name``'s endpoint: ``[flows] endpoint_url`` or, in
    sandbox mode, the local webhook listener."""
    if cfg.flows.endpoint_url:
        return f"{cfg.flows.endpoint_url}/flows/{name}"
    if cfg.sandbox.enabled:
        return f"http://{cfg.webhook.listen}/flows/{name}"
    return None


async def find_flow(
    client: GraphClient, settings: FlowSettings, name: str, waba: str | None = None
) -> tuple[Flow, str]:
    """(the flow called ``name``, its WABA): the configured ``flow_id`` or, else, the
    newest flow of that name that is not deprecated."""
    waba = waba or settings.waba_of(name)
    if waba is None:
        raise FlowsError("no WABA: configure one or pass --waba")
    configured = settings.flow(name)
    if configured is not None and configured.flow_id:
        return await client.get_flow(configured.flow_id, waba_id=waba), waba
    named = [f for f in await client.list_flows(waba) if f.name == name]
    if not named:
        raise FlowsError(f'no flow named "{name}" in WABA {waba}')
    live = [f for f in named if f.status != "DEPRECATED"] or named
    return _newest(live), waba


def _newest(flows: Sequence[Flow]) -> Flow:
    return max(flows, key=lambda f: int(f.id) if f.id.isdigit() else 0)


async def _refuse_existing(client: GraphClient, waba: str, name: str) -> None:
    """FlowsError when ``waba`` already has a flow ``name`` that is not deprecated.

    Why: Meta takes a second flow of the same name, and from then on ``update``,
    ``publish`` and ``delete`` (which find a flow by name) act on whichever is newest,
    not the one meant. A deprecated flow is retired: replacing a published flow is
    deprecate, then create again under the same name.
    """
    live = [f for f in await client.list_flows(waba) if f.name == name]
    live = [f for f in live if f.status != "DEPRECATED"]
    if not live:
        return
    flow = _newest(live)
    status = flow.status or "DRAFT"
    hint = (
        f"change it with: metad flows update {name} FILE"
        if status == "DRAFT"
        else f"a {status} flow takes no new JSON; deprecate it first to replace it"
    )
    raise FlowsError(
        f'a flow named "{name}" already exists in WABA {waba} ({flow.id}, {status}): '
        f"{hint} (--allow-duplicate creates another)"
    )


def unserved(settings: FlowSettings, definition: Definition, name: str) -> bool:
    """True when flow ``name`` exchanges data with an endpoint but no ``[[flows.flow]]``
    of that name has a handler: the daemon would answer its requests 404."""
    configured = settings.flow(name)
    return shape(definition.doc).uses_endpoint and (configured is None or not configured.handler)


async def create_flow(
    client: GraphClient,
    cfg: MetadConfig,
    settings: FlowSettings,
    definition: Definition,
    *,
    name: str,
    waba: str | None,
    categories: Sequence[str] | None,
    endpoint: str | None,
    allow_duplicate: bool = False,
) -> Uploaded:
    """Create the draft ``name`` and upload the definition to it; refused when a flow of
    that name is already there, unless ``allow_duplicate``."""
    doc = definition.doc
    waba = waba or settings.waba_of(name)
    if waba is None:
        raise FlowsError("no WABA: configure one or pass --waba")
    configured = settings.flow(name)
    cats = list(categories or (configured.categories if configured else ["OTHER"]))
    uri = endpoint or (endpoint_uri(cfg, name) if shape(doc).uses_endpoint else None)
    if shape(doc).uses_endpoint and uri is None:
        raise FlowsError(
            f"{name} exchanges data with an endpoint: set [flows] endpoint_url or --endpoint-uri"
        )
    if not allow_duplicate:
        await _refuse_existing(client, waba, name)
    flow_id = await client.create_flow(waba, name, cats, endpoint_uri=uri)
    errors = await client.update_flow_json(flow_id, definition.text, waba_id=waba)
    return Uploaded(flow_id, errors)


async def update_flow(
    client: GraphClient,
    settings: FlowSettings,
    name: str,
    definition: Definition,
    waba: str | None,
) -> Uploaded:
    """Upload the definition as the JSON of the draft ``name``."""
    flow, waba = await find_flow(client, settings, name, waba)
    if flow.status not in (None, "DRAFT"):
        raise FlowsError(f"{name} is {flow.status}: only a draft takes new JSON")
    errors = await client.update_flow_json(flow.id, definition.text, waba_id=waba)
    return Uploaded(flow.id, errors)


async def register_public_key(
    client: GraphClient, pem: str, phone_number_ids: Sequence[str]
) -> dict[str, str | None]:
    """Register ``pem`` on each number; phone_number_id → None, or why it failed."""
    from daemon.graph import GraphError

    out: dict[str, str | None] = {}
    for pid in phone_number_ids:
        try:
            await client.set_business_public_key(pid, pem)
        except GraphError as exc:
            out[pid] = str(exc)
        else:
            out[pid] = None
    return out

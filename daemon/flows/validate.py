"""Check a Flow JSON definition before it is uploaded, and say what Meta would reject.

Why: Meta validates ``flow.json`` only after the upload and answers with terse errors;
a flow that declares ``data_api_version`` but routes inconsistently, or whose terminal
screen has no footer, cannot be published, and an endpoint flow whose handler names a
screen the JSON does not have fails only when a user taps. The old system declared
``data_api_version`` and a routing model with no endpoint behind them (behaviour.md
§7.17). The rules here are the structural ones from Meta's Flow JSON reference:

- ``version`` is ``"<major>.<minor>"``; ``screens`` is a non-empty list;
- every screen has a unique ``id`` (``SUCCESS`` is reserved for the endpoint's answer)
  and a ``SingleColumnLayout`` with ``children``;
- at least one screen is ``terminal``, and every terminal screen has a ``Footer``;
- actions: ``navigate`` names an existing screen, ``complete`` only on terminal screens,
  ``data_exchange`` only with ``data_api_version``;
- with an endpoint (``data_api_version``, which must be ``"3.0"``): a ``routing_model``
  that names every screen, only existing screens, no cycle, a way on from every
  non-terminal screen, and every ``navigate`` as one of its routes;
  ``data_channel_uri`` is gone from version 3.0 (the flow's ``endpoint_uri`` replaces it);
- ``${data.x}`` bindings are declared in the screen's ``data``; ``${form.x}`` bindings
  name an input of the same screen.

Severity: ``error`` — Meta refuses the JSON or publishing; ``warning`` — accepted but
probably not what was meant. Field paths name the value: ``screens[1].layout.children[0]``.
Pure except :func:`validate_file`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field as dc_field
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "DATA_API_VERSION",
    "RESERVED_SCREEN",
    "Finding",
    "FlowShape",
    "has_errors",
    "shape",
    "validate",
    "validate_file",
    "validate_text",
]

DATA_API_VERSION = "3.0"
RESERVED_SCREEN = "SUCCESS"
_VERSION = re.compile(r"^[0-9]+\.[0-9]+$")
_SCREEN_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_DATA_REF = re.compile(r"\$\{data\.([A-Za-z_][A-Za-z0-9_]*)")
_FORM_REF = re.compile(r"\$\{form\.([A-Za-z_][A-Za-z0-9_]*)")
_ACTIONS = frozenset({"navigate", "complete", "data_exchange", "update_data", "open_url"})

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Finding:
    severity: Severity
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.field}: {self.message}"


@dataclass(frozen=True, slots=True)
class FlowShape:
    """What a valid definition declares: its screens, which end it, whether it has an
    endpoint. Handlers are checked against it (a handler must not answer a screen the
    flow does not have)."""

    screens: tuple[str, ...]
    terminal: frozenset[str]
    uses_endpoint: bool


def has_errors(findings: Sequence[Finding]) -> bool:
    return any(f.severity == "error" for f in findings)


@dataclass(slots=True)
class _Screen:
    index: int
    id: str
    terminal: bool
    declared: frozenset[str]
    node: Mapping[str, Any]


@dataclass(slots=True)
class _Checker:
    findings: list[Finding] = dc_field(default_factory=list)
    navigations: list[tuple[str, str, str]] = dc_field(default_factory=list)
    """(from screen, to screen, field) of every navigate action."""

    def error(self, where: str, message: str) -> None:
        self.findings.append(Finding("error", where, message))

    def warning(self, where: str, message: str) -> None:
        self.findings.append(Finding("warning", where, message))


def _walk(node: Any, where: str) -> Iterator[tuple[str, Any]]:
    """Every (path, value) below ``node``, depth first."""
    yield where, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{where}[{i}]")


def _screens(doc: Mapping[str, Any], c: _Checker) -> list[_Screen]:
    screens = doc.get("screens")
    if not isinstance(screens, list) or not screens:
        c.error("screens", "a non-empty list of screens is required")
        return []
    out: list[_Screen] = []
    seen: set[str] = set()
    for i, node in enumerate(screens):
        where = f"screens[{i}]"
        if not isinstance(node, dict):
            c.error(where, "a screen is an object")
            continue
        sid = node.get("id")
        if not isinstance(sid, str) or not _SCREEN_ID.match(sid):
            c.error(f"{where}.id", "a screen id of letters, digits and _ is required")
            continue
        if sid == RESERVED_SCREEN:
            c.error(f"{where}.id", f"{RESERVED_SCREEN} is reserved for the endpoint's answer")
        if sid in seen:
            c.error(f"{where}.id", f'duplicate screen id "{sid}"')
        seen.add(sid)
        terminal = node.get("terminal", False)
        if not isinstance(terminal, bool):
            c.error(f"{where}.terminal", "terminal is true or false")
            terminal = False
        data = node.get("data", {})
        if not isinstance(data, dict):
            c.error(f"{where}.data", "data is an object of declared fields")
            data = {}
        for key, spec in data.items():
            if not isinstance(spec, dict) or "type" not in spec:
                c.error(f"{where}.data.{key}", "a data field declares its type")
            elif "__example__" not in spec:
                c.warning(f"{where}.data.{key}", "no __example__: the builder preview is empty")
        layout = node.get("layout")
        if not isinstance(layout, dict) or layout.get("type") != "SingleColumnLayout":
            c.error(f"{where}.layout", "layout must be {type: SingleColumnLayout, children}")
        elif not isinstance(layout.get("children"), list):
            c.error(f"{where}.layout.children", "the layout needs a list of children")
        out.append(_Screen(i, sid, terminal, frozenset(data), node))
    return out


def _components(screen: _Screen, ids: set[str], endpoint: bool, c: _Checker) -> None:
    base = f"screens[{screen.index}]"
    layout = screen.node.get("layout")
    inputs: set[str] = set()
    footers = 0
    for _, value in _walk(layout, f"{base}.layout"):
        if isinstance(value, dict):
            if value.get("type") == "Footer":
                footers += 1
            name = value.get("name")
            if isinstance(name, str) and value.get("type") not in ("Form", "screen", None):
                inputs.add(name)
    if screen.terminal and not footers:
        c.error(f"{base}.layout", "a terminal screen needs a Footer")
    for where, value in _walk(layout, f"{base}.layout"):
        if isinstance(value, str):
            for ref in _DATA_REF.findall(value):
                if ref not in screen.declared:
                    c.error(where, f"${{data.{ref}}} is not declared in the screen's data")
            for ref in _FORM_REF.findall(value):
                if ref not in inputs:
                    c.error(where, f"${{form.{ref}}} names no input of this screen")
        if not isinstance(value, dict):
            continue
        for key, action in value.items():
            if key.endswith("-action") and isinstance(action, dict):
                _action(screen, action, f"{where}.{key}", ids, endpoint, c)


def _action(
    screen: _Screen,
    action: Mapping[str, Any],
    where: str,
    ids: set[str],
    endpoint: bool,
    c: _Checker,
) -> None:
    name = action.get("name")
    if name not in _ACTIONS:
        c.error(f"{where}.name", f"unknown action {name!r}")
    elif name == "navigate":
        nxt = action.get("next")
        target = nxt.get("name") if isinstance(nxt, dict) else None
        if not isinstance(target, str) or target not in ids:
            c.error(f"{where}.next", f"navigate must name an existing screen, not {target!r}")
        else:
            c.navigations.append((screen.id, target, f"{where}.next"))
    elif name == "complete" and not screen.terminal:
        c.error(f"{where}.name", "complete is only allowed on a terminal screen")
    elif name == "data_exchange" and not endpoint:
        c.error(f"{where}.name", f'data_exchange needs data_api_version "{DATA_API_VERSION}"')


def _cycle(routes: Mapping[str, Sequence[str]]) -> list[str] | None:
    """One cycle of the routing graph, as a path, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in routes.get(node, ()):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in routes:
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def _routing(doc: Mapping[str, Any], screens: list[_Screen], endpoint: bool, c: _Checker) -> None:
    model = doc.get("routing_model")
    if model is None:
        if endpoint:
            c.error("routing_model", "a flow with an endpoint (data_api_version) needs one")
        return
    if not endpoint:
        c.warning("routing_model", "only flows with an endpoint (data_api_version) use it")
    if not isinstance(model, dict):
        c.error("routing_model", "routing_model maps each screen id to a list of screen ids")
        return
    ids = {s.id for s in screens}
    routes: dict[str, list[str]] = {}
    for key, targets in model.items():
        where = f"routing_model.{key}"
        if key not in ids:
            c.error(where, f'"{key}" is not a screen')
        if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
            c.error(where, "a list of screen ids")
            continue
        for t in targets:
            if t not in ids:
                c.error(where, f'routes to "{t}", which is not a screen')
        routes[key] = [t for t in targets if t in ids]
    for s in screens:
        if s.id not in model:
            c.error("routing_model", f'screen "{s.id}" is missing')
        elif not s.terminal and not routes.get(s.id):
            c.error(f"routing_model.{s.id}", "a non-terminal screen needs a route onwards")
    cycle = _cycle(routes)
    if cycle is not None:
        c.error("routing_model", f"routes form a cycle: {' → '.join(cycle)}")
    for src, dst, where in c.navigations:
        if src in routes and dst not in routes[src]:
            c.error(where, f'navigate {src} → {dst} is not a route in routing_model["{src}"]')


def validate(doc: Any) -> list[Finding]:
    """Every finding for a decoded Flow JSON document."""
    c = _Checker()
    if not isinstance(doc, dict):
        c.error("", "a Flow JSON definition is an object")
        return c.findings
    version = doc.get("version")
    if not isinstance(version, str) or not _VERSION.match(version):
        c.error("version", 'a Flow JSON version such as "7.0" is required')
        version = "0.0"
    api = doc.get("data_api_version")
    endpoint = api is not None
    if endpoint and api != DATA_API_VERSION:
        c.error("data_api_version", f'data_api_version must be "{DATA_API_VERSION}"')
    if "data_channel_uri" in doc and int(version.split(".")[0]) >= 3:
        c.error("data_channel_uri", "gone from version 3.0: set the flow's endpoint_uri")
    screens = _screens(doc, c)
    if screens and not any(s.terminal for s in screens):
        c.error("screens", "at least one screen must be terminal")
    ids = {s.id for s in screens}
    for s in screens:
        _components(s, ids, endpoint, c)
    _routing(doc, screens, endpoint, c)
    return c.findings


def shape(doc: Mapping[str, Any]) -> FlowShape:
    """Screens, terminal screens and endpoint use of a definition (assumed valid)."""
    screens = [s for s in doc.get("screens", []) if isinstance(s, dict)]
    return FlowShape(
        screens=tuple(str(s.get("id")) for s in screens),
        terminal=frozenset(str(s.get("id")) for s in screens if s.get("terminal") is True),
        uses_endpoint="data_api_version" in doc,
    )


def validate_text(text: str) -> tuple[dict[str, Any] | None, list[Finding]]:
    """(the document, its findings) for JSON text; the document is None when unreadable."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return None, [Finding("error", "", f"not JSON: {exc}")]
    findings = validate(doc)
    return (doc if isinstance(doc, dict) else None), findings


def validate_file(path: Path) -> tuple[dict[str, Any] | None, list[Finding]]:
    """As :func:`validate_text`, for a file; an unreadable file is one error."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Finding("error", "", f"cannot read {path}: {exc}")]
    return validate_text(text)

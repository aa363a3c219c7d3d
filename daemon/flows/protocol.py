"""What a decrypted data-exchange request says, and what the endpoint answers.

Why apart from the HTTP and crypto layers: the rules are Meta's (cloud-api.md §7) and
worth testing on their own — a ``ping`` is a health check that always answers
``{"data": {"status": "active"}}``; a request whose ``data`` holds ``error`` is an error
notification (the client hit a problem with our last answer) that wants
``{"data": {"acknowledged": true}}``; ``INIT``, ``data_exchange`` and ``BACK`` go to the
flow's handler, which answers with the next screen, or finishes the flow with Meta's
reserved ``SUCCESS`` screen, whose ``extension_message_response.params`` come back to
the business in the ``nfm_reply`` webhook.

Sans-IO: handlers are awaited, but nothing here reads a socket or a clock.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "ACTIONS",
    "SUCCESS_SCREEN",
    "BadFlowRequest",
    "FlowHandler",
    "FlowRequest",
    "FlowResponse",
    "InvalidFlowToken",
    "answer",
    "finish",
    "parse_request",
    "screen_error",
]

log = logging.getLogger("metad.flows")

ACTIONS = frozenset({"ping", "INIT", "data_exchange", "BACK"})
SUCCESS_SCREEN = "SUCCESS"
"""Meta's reserved screen name that closes the flow and sends the completion message."""


class BadFlowRequest(ValueError):
    """Decrypted, but not a data-exchange request (the endpoint answers 400)."""


class InvalidFlowToken(Exception):
    """Raised by a handler for a flow token it does not know or that expired (427)."""


@dataclass(frozen=True, slots=True)
class FlowRequest:
    """One decrypted request to ``/flows/<flow_name>``. ``data`` is the screen's payload."""

    flow_name: str
    action: str
    version: str = "3.0"
    screen: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    flow_token: str | None = None

    @property
    def is_error_notification(self) -> bool:
        return "error" in self.data


@dataclass(frozen=True, slots=True)
class FlowResponse:
    """The next screen and its data (the screen's ``${data.…}`` bindings)."""

    screen: str
    data: Mapping[str, Any] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        return {"screen": self.screen, "data": dict(self.data)}


class FlowHandler(Protocol):
    """One flow's business logic: a request in, the next screen out.

    Raise :class:`InvalidFlowToken` for a token it does not accept; answer a user's
    mistake with :func:`screen_error` rather than raising, so the user can fix it.
    """

    async def __call__(self, request: FlowRequest) -> FlowResponse: ...


def finish(request: FlowRequest, **params: Any) -> FlowResponse:
    """Close the flow; ``params`` reach us in the ``nfm_reply`` webhook.

    The flow token and the flow's name are added: the completion message itself names no
    flow (Meta's ``nfm_reply.name`` is always ``"flow"``), so the params must.
    """
    body = {"flow_token": request.flow_token or "", "flow_name": request.flow_name, **params}
    return FlowResponse(SUCCESS_SCREEN, {"extension_message_response": {"params": body}})


def screen_error(screen: str, message: str, **data: Any) -> FlowResponse:
    """``screen`` with ``message`` as its ``error_message`` (empty: no error to show).

    Screens that can show an error declare ``error_message`` in their data, and Meta
    wants every declared field in the answer, so the happy path sends it empty.
    """
    return FlowResponse(screen, {**data, "error_message": message})


def _opt_str(doc: Mapping[str, Any], key: str) -> str | None:
    value = doc.get(key)
    if value is None or isinstance(value, str):
        return value
    raise BadFlowRequest(f"{key} must be a string")


def parse_request(doc: Mapping[str, Any], flow_name: str) -> FlowRequest:
    """The request in a decrypted payload, or BadFlowRequest naming what is wrong."""
    action = doc.get("action")
    if not isinstance(action, str) or action not in ACTIONS:
        raise BadFlowRequest(f"action must be one of {', '.join(sorted(ACTIONS))}")
    data = doc.get("data", {})
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise BadFlowRequest("data must be an object")
    version = doc.get("version", "3.0")
    if not isinstance(version, str):
        raise BadFlowRequest("version must be a string")
    return FlowRequest(
        flow_name=flow_name,
        action=action,
        version=version,
        screen=_opt_str(doc, "screen"),
        data=data,
        flow_token=_opt_str(doc, "flow_token"),
    )


async def answer(request: FlowRequest, handler: FlowHandler) -> dict[str, Any]:
    """The reply document (before sealing) for ``request``.

    Handler exceptions other than InvalidFlowToken propagate: the endpoint logs them and
    answers 500, and Meta shows the user a generic error.
    """
    if request.action == "ping":
        return {"data": {"status": "active"}}
    if request.is_error_notification:
        log.warning(
            "flow %s reported an error on screen %s: %s",
            request.flow_name,
            (request.screen or "")[:64],
            str(request.data.get("error"))[:200],
        )
        return {"data": {"acknowledged": True}}
    response = await handler(request)
    return response.payload()

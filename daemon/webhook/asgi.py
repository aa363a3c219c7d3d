"""ASGI's shapes, for the quart-trio app behind the front door (:mod:`daemon.webhook.app`)
and the Flows endpoint in front of it (:mod:`daemon.flows.endpoint`).

Why a module of their own: they are the interface between those two and hypercorn; the
webhook intake (:mod:`daemon.webhook.ingest`) no longer speaks ASGI.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["ASGIApp", "Message", "Receive", "Scope", "Send"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

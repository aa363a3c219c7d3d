"""The webhook port's app: everything on the port that is not a webhook POST.

Why a Quart app behind the front door: the webhook POST is the fleet's hot path and the
front door (:mod:`daemon.webhook.front`) takes it itself; what it relays here (the GET
verification handshake, health, the Flows endpoint) is ordinary routing, which Quart does
well. Served by hypercorn on the daemon's Unix socket ``<runtime_dir>/webhook-app.sock``.
A ``POST`` to the webhook path that reaches this app directly (a client on that socket)
gets 405: only the front door stores webhooks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from quart import Response, request
from quart_trio import QuartTrio

from daemon.webhook.asgi import ASGIApp
from daemon.webhook.signature import verify_token_matches

__all__ = ["create_app", "create_quart_app"]


def create_quart_app(*, path: str, verify_token: str) -> QuartTrio:
    app = QuartTrio("metad.webhook")

    @app.get(path)
    async def handshake() -> Response:
        args = request.args
        if args.get("hub.mode") == "subscribe" and verify_token_matches(
            verify_token, args.get("hub.verify_token")
        ):
            return Response(args.get("hub.challenge", ""), status=200, mimetype="text/plain")
        return Response("verification failed", status=403, mimetype="text/plain")

    @app.get("/healthz")
    async def health() -> Response:
        return Response("ok", mimetype="text/plain")

    return app


def create_app(
    *, path: str, verify_token: str, flows: Callable[[ASGIApp], ASGIApp] | None = None
) -> ASGIApp:
    """The ASGI app the front door relays to; ``flows`` puts the Flows endpoint
    (``/flows/…``) in front of the Quart app."""
    quart_app: Any = create_quart_app(path=path, verify_token=verify_token)
    app: ASGIApp = quart_app
    return app if flows is None else flows(app)

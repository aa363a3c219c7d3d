"""Flows in the running daemon: the endpoint built from the config, completions on the bus.

Why these two together: they are the daemon's whole contact with Flows — what Meta asks
while a user is inside a flow (the endpoint) and what it tells once the user is done
(an ``nfm_reply`` message, published as a ``flow.completed`` event so the console and
any consumer see the answers).

The key: in sandbox mode a missing key pair is made in the state directory on first
use; outside it a missing key turns the endpoint off with a warning naming the command
that makes one (``metad flows keygen``), and a key that cannot be loaded (wrong
passphrase, not RSA) stops the start like any bad config. The endpoint holds a
:class:`~daemon.flows.keyring.KeyRing`, not the key: ``metad flows keygen --force``
while the daemon runs takes effect at the next request, no restart or reload needed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from config import ConfigError, ConfigIssue, MetadConfig, ResolvedSecrets
from config.errors import format_loc
from daemon.flows.endpoint import FlowsEndpoint
from daemon.flows.handlers import BUILTIN_HANDLERS
from daemon.flows.keyring import KeyRing
from daemon.flows.keys import KeyFileError, ensure_key_pair
from daemon.flows.settings import FlowSettings, flow_settings
from daemon.webhook import events as e
from daemon.webhook.content import FlowReply
from daemon.webhook.processor import EventSink

__all__ = ["FLOW_COMPLETED", "FlowCompletions", "build_endpoint", "completed_event"]

log = logging.getLogger("metad.flows")

FLOW_COMPLETED = "flow.completed"


def _key_error(cfg: MetadConfig, exc: KeyFileError) -> ConfigError:
    loc = ("flows", "private_key")
    if cfg.source is not None:
        return ConfigError([cfg.source.issue(loc, str(exc))])
    return ConfigError([ConfigIssue("<config>", None, format_loc(loc), str(exc))])


def build_endpoint(
    cfg: MetadConfig, secrets: ResolvedSecrets, settings: FlowSettings | None = None
) -> FlowsEndpoint | None:
    """The endpoint serving every flow with a handler, or None when there is none to serve."""
    settings = settings or flow_settings(cfg)
    served = {f.name: BUILTIN_HANDLERS[f.handler]() for f in settings.flows if f.handler}
    if not served:
        return None
    passphrase = secrets.flows_passphrase
    try:
        if cfg.sandbox.enabled:
            ensure_key_pair(settings.private_key, passphrase)
        elif not settings.private_key.exists():
            log.warning(
                "Flows endpoint off: no private key at %s (make one with: metad flows keygen)",
                settings.private_key,
            )
            return None
        keys = KeyRing.load(settings.private_key, passphrase)
    except KeyFileError as exc:
        raise _key_error(cfg, exc) from None
    assert secrets.app_secret is not None
    log.info("Flows endpoint serves %s", ", ".join(f"/flows/{n}" for n in sorted(served)))
    return FlowsEndpoint(
        app_secret=secrets.app_secret.encode(),
        private_key=keys,
        handlers=served,
        max_body_bytes=cfg.webhook.max_body_bytes,
    )


def completed_event(event: e.InboundMessage) -> dict[str, Any] | None:
    """The ``flow.completed`` event data of a completed-flow message, else None."""
    content = event.content
    if not isinstance(content, FlowReply):
        return None
    token = content.response.get("flow_token")
    name = content.response.get("flow_name")
    return {
        "phone_number_id": event.phone_number_id,
        "waba_id": event.waba_id,
        "from": event.from_wa_id or event.bsuid,
        "wamid": event.wamid,
        "name": name if isinstance(name, str) else content.name,
        "flow_token": token if isinstance(token, str) else None,
        "response": {
            k: v for k, v in content.response.items() if k not in ("flow_token", "flow_name")
        },
    }


class FlowCompletions:
    """An event sink that publishes completed flows, then hands every event on.

    It wraps the router rather than living in it: the processor already delivers each
    message once (by wamid), so each completion is published once.
    """

    def __init__(self, inner: EventSink, publish: Callable[[str, dict[str, Any]], None]) -> None:
        self._inner = inner
        self._publish = publish

    async def deliver(self, event: e.Event) -> bool:
        delivered = await self._inner.deliver(event)
        if isinstance(event, e.InboundMessage):
            data = completed_event(event)
            if data is not None:
                log.info("flow %s completed by %s", data["name"], data["from"])
                self._publish(FLOW_COMPLETED, data)
        return delivered

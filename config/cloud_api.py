"""Meta's Cloud API: how metad reaches it, how it reaches metad, and what metad runs there.

Why these together: ``[graph]`` and ``[webhook]`` are the two directions of the one
connection, ``[sandbox]`` stands in for Meta at both ends, and the ``[[wabas]]`` and
``[[chips]]`` are the accounts and numbers the connection is used for (each with a token
that is a secret reference, never a secret).
"""

from __future__ import annotations

from pydantic import Field, field_validator

from config.base import _API_VERSION, _URL_PATH, GraphId, HostPort, _Model
from config.secrets import SecretRef

__all__ = ["ChipConfig", "GraphConfig", "SandboxConfig", "WabaConfig", "WebhookConfig"]


class GraphConfig(_Model):
    base_url: str = "https://graph.facebook.com"
    api_version: str = Field(default="v21.0", pattern=_API_VERSION)
    connect_timeout_s: float = Field(default=5.0, gt=0)
    read_timeout_s: float = Field(default=20.0, gt=0)
    send_timeout_s: float = Field(default=15.0, gt=0)
    app_secret: SecretRef | None = None
    """Meta app secret: signs webhooks and Flows requests. Required outside sandbox mode."""

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("base_url must be an http(s) URL")
        return v.rstrip("/")


class WebhookConfig(_Model):
    listen: HostPort = "127.0.0.1:8088"
    path: str = Field(default="/webhook", pattern=_URL_PATH)
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    verify_token: SecretRef | None = None
    """Token Meta echoes in the GET verification handshake. Required outside sandbox mode."""
    ingest_workers: int = Field(default=0, ge=0, le=32)
    """Separate processes that take the webhook POSTs (0: the daemon takes them itself).

    Each worker verifies and commits bodies to the inbox on its own interpreter, so a
    flood of webhooks does not starve the daemon's actors; the daemon still parses and
    routes them. One or two per spare core (see README, Operations)."""


class SandboxConfig(_Model):
    enabled: bool = False
    """Sandbox mode: the simulator stands in for Meta and missing secrets take its values."""
    listen: HostPort = "127.0.0.1:8089"
    serve: bool = True
    """``metad run`` serves the simulator itself; false when ``metad sim`` runs apart."""
    seed: int = 7
    contacts: int = Field(default=200, ge=1)
    reply_rate: float = Field(default=0.2, ge=0, le=1)


class WabaConfig(_Model):
    id: GraphId
    name: str = ""
    token: SecretRef | None = None
    """System-user access token for this WABA's numbers. Required outside sandbox mode."""
    marketing_messages: bool = False
    """Onboarded to the Marketing Messages API."""


class ChipConfig(_Model):
    phone_number_id: GraphId
    display_number: str
    waba: str
    """Id of the WABA (in ``wabas``) this number belongs to."""
    throughput_mps: int = Field(default=80, ge=1, le=1000)
    token: SecretRef | None = None
    """Overrides the WABA's token for this number."""

"""``[flows]``: the WhatsApp Flows metad manages, and the key its endpoint decrypts with.

Why a module of its own: a flow ties together a name at Meta, a definition file, an
endpoint path and a data-exchange handler, and the key files are found relative to both
the state directory and the config file; none of that concerns the other tables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from config.base import _FLOW_NAME, _GRAPH_ID, _Model
from config.secrets import SecretRef

__all__ = ["FlowCategory", "FlowConfig", "FlowsConfig"]

FlowCategory = Literal[
    "SIGN_UP",
    "SIGN_IN",
    "APPOINTMENT_BOOKING",
    "LEAD_GENERATION",
    "CONTACT_US",
    "CUSTOMER_SUPPORT",
    "SURVEY",
    "OTHER",
]


def _other_category() -> list[FlowCategory]:
    return ["OTHER"]


class FlowConfig(_Model):
    """``[[flows.flow]]``: one WhatsApp Flow metad manages and, with a handler, serves."""

    name: str = Field(pattern=_FLOW_NAME)
    """Name at Meta, the endpoint path ``/flows/<name>`` and the file ``<dir>/<name>.json``."""
    handler: str | None = Field(default=None, pattern=_FLOW_NAME)
    """Data-exchange handler (built in: shift_booking, doctor_onboarding); none: no endpoint."""
    waba: str | None = Field(default=None, pattern=_GRAPH_ID)
    """WABA the flow belongs to (default: the first WABA)."""
    flow_id: str | None = Field(default=None, pattern=_GRAPH_ID)
    """Meta's id of the flow; without it the flow is found by name."""
    categories: list[FlowCategory] = Field(default_factory=_other_category, min_length=1)


class FlowsConfig(_Model):
    """WhatsApp Flows: definitions, the data-exchange endpoint's key, handlers."""

    dir: Path = Path("flows")
    """Flow JSON definitions, relative to the config file."""
    private_key: Path | None = None
    """PEM RSA key the endpoint decrypts with (default ``<state_dir>/flows/private_key.pem``;
    ``metad flows keygen`` makes it, sandbox mode on first use); the public key is beside it
    as ``<name>.pub``."""
    passphrase: SecretRef | None = None
    """Passphrase the private key is encrypted with, if any."""
    endpoint_url: str | None = None
    """Public base URL Meta reaches the webhook listener at; flows with a handler are
    created with ``endpoint_uri = <endpoint_url>/flows/<name>``."""
    flow: list[FlowConfig] = Field(default_factory=list)

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError("endpoint_url must be an http(s) URL")
        return v.rstrip("/") if v else v

    @field_validator("flow")
    @classmethod
    def _unique(cls, v: list[FlowConfig]) -> list[FlowConfig]:
        names = [f.name for f in v]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"duplicate flow name {', '.join(repeated)}")
        return v

    def key_files(self, *, state_dir: Path, base_dir: Path) -> tuple[Path, Path]:
        """(private, public) key paths; a relative ``private_key`` is taken from ``base_dir``."""
        private = self.private_key or state_dir / "flows" / "private_key.pem"
        if not private.is_absolute():
            private = base_dir / private
        return private, private.with_name(private.name + ".pub")

"""The daemon process: its directories and logs, supervision, metrics, and the cluster.

Why these together: they say how one ``metad run`` process runs on its host and among its
peers (where it keeps files, when it gives up, where it is watched from, which chips it
leases), not what it sends or to whom.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from config.base import _HOST_PORT_OR_OFF, _Model

__all__ = ["ClusterConfig", "DaemonConfig", "MetricsConfig", "SupervisorConfig"]


class DaemonConfig(_Model):
    state_dir: Path = Path("var/state")
    """Where durable local state lives (the embedded PostgreSQL among it)."""
    runtime_dir: Path = Path("var/run")
    """Where the control socket is created."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["text", "json"] = "text"
    shutdown_timeout_s: float = Field(default=8.0, gt=0, le=60)
    """Hard bound between SIGTERM and exit."""


class SupervisorConfig(_Model):
    max_restarts: int = Field(default=5, ge=0)
    """Restarts of one actor allowed within ``period_s`` before the daemon exits non-zero."""
    period_s: float = Field(default=30.0, gt=0)
    backoff_min_s: float = Field(default=0.05, ge=0)
    backoff_max_s: float = Field(default=2.0, ge=0)

    @model_validator(mode="after")
    def _backoff_bounds(self) -> SupervisorConfig:
        if self.backoff_max_s < self.backoff_min_s:
            raise ValueError("backoff_max_s must be >= backoff_min_s")
        return self


class MetricsConfig(_Model):
    listen: str = Field(default="", pattern=_HOST_PORT_OR_OFF)
    """Where ``/metrics``, ``/healthz`` and ``/readyz`` are served; empty: not served."""


class ClusterConfig(_Model):
    """Several daemons on one PostgreSQL (see ``daemon.cluster``): which chips this one
    leases. The default (``chips = "all"``) takes every chip no other daemon holds, so a
    single daemon behaves as if there were no cluster."""

    node_id: str = Field(default="", max_length=48, pattern=r"^[A-Za-z0-9_.:@-]*$")
    """This daemon's name in the fleet; empty: ``hostname:pid``."""
    chips: str | list[str] = "all"
    """``"all"``: every chip it can lease; ``"auto"``: a fair share of the chips among
    the live daemons; a list: only these phone_number_ids."""
    lease_s: float = Field(default=10.0, ge=3.0, le=60.0)
    """A lost daemon's chips move within this; it stops sending after 2/3 of it."""

    @field_validator("chips", mode="before")
    @classmethod
    def _chips(cls, v: object) -> object:
        if v in ("all", "auto"):
            return v
        if isinstance(v, list) and all(isinstance(c, str) and c.isdigit() for c in v):
            return v
        raise ValueError('must be "all", "auto" or a list of phone_number_ids (digits)')

    @property
    def clustered(self) -> bool:
        """Sharing the fleet with other daemons (``"auto"`` or a list of chips)."""
        return self.chips != "all"

"""The simulator's tunable behaviour: timings, limits, activity and fault rates.

Why not in ``metad.toml``: the config models forbid unknown keys and belong to the
config package; these knobs are the simulator's own. They are given to
:func:`sim.serve_sim`, on the command line (``--knob NAME=VALUE``), or changed while it
runs (``PATCH /_sim/knobs``). Every random decision they drive is drawn from rngs seeded
by the run's seed, so the same seed and the same requests give the same run.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SimKnobs", "parse_knob_args"]


class SimKnobs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # --- fate of accepted messages -----------------------------------------------------
    sent_delay_s: float = Field(default=0.05, ge=0)
    """Accepted → ``sent`` status."""
    delivered_delay_s: float = Field(default=0.3, ge=0)
    """``sent`` → ``delivered``."""
    read_delay_s: float = Field(default=1.5, ge=0)
    """``delivered`` → ``read`` (for the share ``read_rate``)."""
    read_rate: float = Field(default=0.7, ge=0, le=1)
    reply_delay_s: float = Field(default=3.0, ge=0)
    """``delivered`` → the contact's reply (contacts that reply; see sandbox.reply_rate)."""
    text_reply_rate: float = Field(default=0.25, ge=0, le=1)
    """Share of free-form texts a replying contact answers (templates/interactive: all)."""

    # --- limits ------------------------------------------------------------------------
    enforce_throughput: bool = True
    """Per-number messages/s (the chip's throughput_mps) → 130429 over it."""
    pair_interval_s: float = Field(default=6.0, ge=0)
    pair_burst: int = Field(default=3, ge=1)
    """Messages to one user allowed back to back before 131056."""
    initial_tier: str = "TIER_1K"
    """Messaging-limit tier of every number at start (unique users / 24 h, templates)."""
    marketing_cap_rate: float = Field(default=0.05, ge=0, le=1)
    """Share of marketing templates that fail with 131049 (ecosystem limit)."""
    open_window_share: float = Field(default=0.25, ge=0, le=1)
    """Share of contacts inside a customer-service window at start."""

    # --- activity over time ------------------------------------------------------------
    inbound_per_min: float = Field(default=1.0, ge=0)
    """Spontaneous inbound messages per minute across the fleet (0: none)."""
    referral_share: float = Field(default=0.3, ge=0, le=1)
    """Share of spontaneous inbound messages that come from a click-to-WhatsApp ad."""
    quality_tick_s: float = Field(default=60.0, gt=0)
    quality_change_rate: float = Field(default=0.02, ge=0, le=1)
    """Chance per number per tick that its quality rating moves."""
    template_review_s: float = Field(default=3.0, ge=0)
    """Created/edited template: PENDING → APPROVED/REJECTED after this long."""

    # --- faults ------------------------------------------------------------------------
    error_5xx_rate: float = Field(default=0.0, ge=0, le=1)
    """Share of Graph requests answered 500/503 (code 131000/131016/133004)."""
    latency_s: float = Field(default=0.0, ge=0)
    """Added to every Graph answer."""
    timeout_rate: float = Field(default=0.0, ge=0, le=1)
    """Share of requests that hang ``timeout_hang_s`` (a send is accepted first)."""
    timeout_hang_s: float = Field(default=30.0, ge=0)
    webhook_drop_rate: float = Field(default=0.0, ge=0, le=1)
    webhook_duplicate_rate: float = Field(default=0.0, ge=0, le=1)
    webhook_reorder_rate: float = Field(default=0.0, ge=0, le=1)
    """Share of webhooks held back ``webhook_reorder_delay_s`` so later ones overtake."""
    webhook_reorder_delay_s: float = Field(default=0.5, ge=0)

    # --- webhook delivery --------------------------------------------------------------
    webhook_batch_max: int = Field(default=1, ge=1, le=100)
    """Changes of one WABA bundled in one POST (Meta may send several)."""
    webhook_batch_window_s: float = Field(default=0.05, ge=0)
    """With batching on, events due within the same window go out together."""
    webhook_concurrency: int = Field(default=8, ge=1, le=256)
    webhook_max_attempts: int = Field(default=6, ge=1)
    webhook_retry_base_s: float = Field(default=1.0, ge=0)
    webhook_timeout_s: float = Field(default=5.0, gt=0)
    webhook_queue_max: int = Field(default=100_000, ge=1)
    """Pending deliveries kept; beyond it the oldest are dropped (and counted)."""

    @classmethod
    def quiet(cls, **changes: Any) -> SimKnobs:
        """Fast, deterministic and calm: for tests (no spontaneous events or 131049)."""
        base: dict[str, Any] = {
            "sent_delay_s": 0.0,
            "delivered_delay_s": 0.01,
            "read_delay_s": 0.02,
            "read_rate": 1.0,
            "reply_delay_s": 0.03,
            "marketing_cap_rate": 0.0,
            "inbound_per_min": 0.0,
            "quality_change_rate": 0.0,
            "template_review_s": 0.05,
            "webhook_retry_base_s": 0.05,
            "webhook_timeout_s": 2.0,
        }
        base.update(changes)
        return cls.model_validate(base)

    def patched(self, changes: dict[str, Any]) -> SimKnobs:
        """A validated copy with ``changes`` applied (unknown names are an error)."""
        return type(self).model_validate({**self.model_dump(), **changes})


def parse_knob_args(items: list[str]) -> dict[str, Any]:
    """``["a=1", "b=true"]`` → ``{"a": "1", "b": "true"}`` (pydantic converts the values)."""
    out: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ValueError(f"--knob wants NAME=VALUE, got {item!r}")
        out[name.strip()] = value.strip()
    return out

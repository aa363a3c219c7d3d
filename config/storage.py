"""``[storage]`` and ``[storage.retention]``: where durable state lives and how long it is kept.

Why a module of its own: a retention setting that is too small applies a webhook twice,
raises a budget alert again or starves the budget journal's replay, so the horizons it
must outlive (Meta's retries, the longest budget period, the replay) are named here beside
the checks that enforce them.
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from config.base import _Model

__all__ = [
    "LONGEST_BUDGET_PERIOD_DAYS",
    "MESSAGE_HISTORY_MIN_DAYS",
    "META_RETRY_DAYS",
    "RetentionConfig",
    "StorageConfig",
]

META_RETRY_DAYS = 7
"""Meta retries an unanswered webhook for up to 7 days (docs/cloud-api.md, Webhooks)."""
LONGEST_BUDGET_PERIOD_DAYS = 32
"""A budget month (31 days) plus a day for the zone's offset and DST: a budget alert's
claim must outlive the period it was raised in, or the alert is raised again."""
MESSAGE_HISTORY_MIN_DAYS = 45
"""A start with no budget checkpoint replays the journal back to the oldest current period
(a month, or an ISO week begun the month before: up to 37 days) and 8 days of message
prices before it; 45 covers both with a week to spare."""


class RetentionConfig(_Model):
    """How long rows that only ever grow are kept (``[storage.retention]``).

    Why minimums: a row is deleted only when nothing needs it any more. An event key in
    ``webhook_seen`` and a processed body in ``webhook_inbox`` (its hash catches an
    identical retry) are what make one of Meta's retries harmless, so they must outlive
    Meta's retry horizon; a budget alert's claim must outlive its longest period.
    """

    webhook_seen_days: int = Field(default=8, gt=0)
    """Webhook event keys (dedup); at least Meta's 7-day retry horizon."""
    webhook_inbox_days: int = Field(default=8, gt=0)
    """Processed webhook bodies (and refused-signature counts) after processing; at least
    7 days. Unprocessed bodies and bodies with pending hand-offs are always kept."""
    webhook_handoff_days: int = Field(default=2, gt=0)
    """Hand-offs between daemons, once applied; pending ones are always kept."""
    budget_alerts_days: int = Field(default=90, gt=0)
    """Budget alert claims; at least 32 days (a month, with a day to spare)."""
    messages_days: int = Field(default=180, gt=0)
    """Finished messages (outbox rows, their budget entries) and finished campaigns'
    recipients, counted from the last change; at least 45 days. A campaign keeps its
    row and its totals."""
    interval_s: float = Field(default=3600.0, gt=0)
    """How often the leader prunes (a backlog is worked through one bounded run a minute)."""
    batch_rows: int = Field(default=5000, ge=1, le=100_000)
    """Rows deleted per statement: each batch commits on its own, so no delete holds its
    locks for long whatever the backlog."""

    @field_validator("webhook_seen_days", "webhook_inbox_days")
    @classmethod
    def _outlive_meta_retries(cls, v: int) -> int:
        if v < META_RETRY_DAYS:
            raise ValueError(
                f"must be at least {META_RETRY_DAYS} days: Meta retries a webhook for up to"
                f" {META_RETRY_DAYS} days, and a retry that outlives its dedup record is"
                " applied twice"
            )
        return v

    @field_validator("messages_days")
    @classmethod
    def _outlive_budget_replay(cls, v: int) -> int:
        if v < MESSAGE_HISTORY_MIN_DAYS:
            raise ValueError(
                f"must be at least {MESSAGE_HISTORY_MIN_DAYS} days: a start without a budget"
                " checkpoint replays the budget journal from the oldest current period"
                " (up to 37 days back), and this month's reports read these rows"
            )
        return v

    @field_validator("budget_alerts_days")
    @classmethod
    def _outlive_budget_periods(cls, v: int) -> int:
        if v < LONGEST_BUDGET_PERIOD_DAYS:
            raise ValueError(
                f"must be at least {LONGEST_BUDGET_PERIOD_DAYS} days: an alert's claim must"
                " outlive its budget month, or the alert is raised again"
            )
        return v


class StorageConfig(_Model):
    dsn: str = ""
    """PostgreSQL DSN; empty starts a private embedded server in ``<state_dir>/pg``."""
    pool_min_size: int = Field(default=2, ge=1)
    pool_max_size: int = Field(default=10, ge=1)
    writer_batch_rows: int = Field(default=500, ge=1)
    writer_flush_ms: float = Field(default=5.0, gt=0)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    """When rows that only grow are pruned (``[storage.retention]``)."""

    @model_validator(mode="after")
    def _pool_bounds(self) -> StorageConfig:
        if self.pool_max_size < self.pool_min_size:
            raise ValueError("pool_max_size must be >= pool_min_size")
        return self

    @field_validator("dsn")
    @classmethod
    def _dsn_scheme(cls, v: str) -> str:
        if v and not v.startswith(("postgresql://", "postgres://")):
            raise ValueError("dsn must start with postgresql:// (or be empty for embedded)")
        return v

"""Pydantic models of ``metad.toml``.

Why this module exists: the daemon, the simulator and the console all read one file, and
every mistake in it must be caught before anything starts. The models are frozen and
forbid unknown keys, so a typo is an error rather than a silently ignored setting. Checks
within one table live here; checks across tables (a chip's WABA, duplicate ids) live in
:mod:`config.loader`, which knows the text and can point each at its own line.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from config.errors import ConfigSource
from config.secrets import SecretRef

__all__ = [
    "PATTERN_HINTS",
    "BudgetConfig",
    "CampaignBudget",
    "CampaignsConfig",
    "CapsConfig",
    "CatalogConfig",
    "ChipConfig",
    "ClusterConfig",
    "ContactsConfig",
    "DaemonConfig",
    "FlowConfig",
    "FlowsConfig",
    "GraphConfig",
    "KeeperConfig",
    "LimitsConfig",
    "MediaConfig",
    "MetadConfig",
    "MetricsConfig",
    "OtpConfig",
    "PriceRate",
    "PricingConfig",
    "QualityConfig",
    "RetentionConfig",
    "SandboxConfig",
    "ShiftsConfig",
    "StorageConfig",
    "SupervisorConfig",
    "WabaBudget",
    "WabaConfig",
    "WebhookConfig",
    "WindowsConfig",
]

_GRAPH_ID = r"^[0-9]{1,20}$"
_HOST_PORT = r"^[^\s:]+:[0-9]{1,5}$"
_HOST_PORT_OR_OFF = r"^([^\s:]+:[0-9]{1,5})?$"
_API_VERSION = r"^v[0-9]+\.[0-9]+$"
_URL_PATH = r"^/[A-Za-z0-9_./-]*$"
_PREFIX = r"^[0-9]{1,4}$"

PATTERN_HINTS: dict[str, str] = {
    _GRAPH_ID: "a numeric Graph API id (digits only)",
    _HOST_PORT: "HOST:PORT such as 127.0.0.1:8088",
    _HOST_PORT_OR_OFF: 'HOST:PORT such as 127.0.0.1:9108, or "" for off',
    _API_VERSION: "a Graph API version such as v21.0",
    _URL_PATH: "a URL path starting with /",
    _PREFIX: "a calling-code prefix of 1 to 4 digits",
}
"""Words for each pattern, so an error says what is expected rather than showing a regex."""

GraphId = Annotated[str, Field(pattern=_GRAPH_ID, description="a numeric Graph API id")]
HostPort = Annotated[str, Field(pattern=_HOST_PORT, description="HOST:PORT")]


class _Model(BaseModel):
    # hide_input_in_errors: a literal secret written where a reference belongs must not be
    # echoed by a ValidationError's text. allow_inf_nan: no setting means "inf" or "nan".
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
        hide_input_in_errors=True,
        allow_inf_nan=False,
    )


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


class PriceRate(_Model):
    prefix: str = Field(pattern=_PREFIX)
    """Calling-code prefix of the destination; the longest matching prefix wins."""
    marketing: float = Field(ge=0)
    utility: float = Field(ge=0)
    authentication: float = Field(ge=0)
    authentication_international: float | None = Field(default=None, ge=0)
    service: float = Field(default=0.0, ge=0)


def _brazil() -> list[PriceRate]:
    return [PriceRate(prefix="55", marketing=0.0625, utility=0.0068, authentication=0.0068)]


class PricingConfig(_Model):
    currency: Literal["USD"] = "USD"
    effective_date: dt.date = dt.date(2025, 7, 1)
    rates: list[PriceRate] = Field(default_factory=_brazil)


class CapsConfig(_Model):
    """USD caps per local day, ISO week and month; absent means no cap for that period."""

    daily_usd: float | None = Field(default=None, ge=0)
    weekly_usd: float | None = Field(default=None, ge=0)
    monthly_usd: float | None = Field(default=None, ge=0)


class WabaBudget(CapsConfig):
    """``[[budget.wabas]]``: caps on what the sends of one WABA's numbers may spend."""

    waba: str
    """Id of the WABA (in ``wabas``)."""


class CampaignBudget(CapsConfig):
    """``[[budget.campaigns]]``: caps on what one campaign may spend."""

    campaign: str = Field(min_length=1)
    """Id of the campaign (a campaign may also register its cap when it starts)."""


class BudgetConfig(CapsConfig):
    alert_at: list[Annotated[float, Field(gt=0, le=1)]] = Field(
        default_factory=lambda: [0.5, 0.8, 0.95]
    )
    wabas: list[WabaBudget] = Field(default_factory=list)
    campaigns: list[CampaignBudget] = Field(default_factory=list)
    alert_webhook_url: str = ""
    """Every budget alert is also POSTed here as JSON; empty: bus and log only."""
    alert_webhook_timeout_s: float = Field(default=5.0, gt=0, le=60)
    alert_webhook_retries: int = Field(default=3, ge=0, le=10)
    """Attempts after the first, with doubling backoff, before an alert is dropped (logged)."""
    unpriced_settle_days: float = Field(default=8.0, ge=META_RETRY_DAYS)
    """A message Meta accepted whose price never arrived (its status webhooks were lost
    past Meta's 7 days of retries) is settled at its estimate after this many days, so
    its reservation does not stay open for ever."""

    @field_validator("alert_webhook_url")
    @classmethod
    def _webhook_url(cls, v: str) -> str:
        if v and not v.startswith(("http://", "https://")):
            raise ValueError("alert_webhook_url must be an http(s) URL (or empty)")
        return v


class CampaignsConfig(_Model):
    dir: Path = Path("campaigns")


class WindowsConfig(_Model):
    safety_margin_s: float = Field(default=300.0, ge=0, le=3600)
    """A window closer than this to its expiry counts as closed (a send takes time)."""
    service_hours: float = Field(default=24.0, gt=0)
    """Customer-service window opened by each inbound message (Meta: 24 h)."""
    free_entry_hours: float = Field(default=72.0, gt=0)
    """Free-entry-point window opened by a click-to-WhatsApp referral (Meta: 72 h)."""


class LimitsConfig(_Model):
    pair_interval_s: float = Field(default=6.0, ge=0)
    """Minimum gap between two messages to the same contact (Meta's pair rate limit)."""
    pair_burst: int = Field(default=1, ge=1)
    """Messages allowed back to back to one contact before the gap applies."""
    slow_factor: float = Field(default=0.5, gt=0, le=1)
    """Throughput multiplier applied on each 130429 (throughput exceeded)."""
    slow_recover_s: float = Field(default=60.0, gt=0)
    """Quiet time after which a slowed chip doubles its rate back towards its limit."""


class QualityConfig(_Model):
    poll_interval_s: float = Field(default=900.0, gt=0)
    """Phone-number polling period, degraded chips included (so recovery is seen)."""
    yellow_throughput_fraction: float = Field(default=0.5, gt=0, le=1)
    """Share of its throughput a YELLOW chip keeps; marketing stops."""
    ramp_hours: list[Annotated[float, Field(gt=0)]] = Field(default_factory=lambda: [2.0, 4.0, 6.0])
    """Hours spent at each recovery step (25 %, 50 %, 75 % of throughput) before full speed."""
    flap_max_changes: int = Field(default=3, ge=1)
    """More rating changes than this within ``flap_window_h`` blocks recovery."""
    flap_window_h: float = Field(default=24.0, gt=0)
    flap_block_h: float = Field(default=6.0, gt=0)


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


class MetricsConfig(_Model):
    listen: str = Field(default="", pattern=_HOST_PORT_OR_OFF)
    """Where ``/metrics``, ``/healthz`` and ``/readyz`` are served; empty: not served."""


class OtpConfig(_Model):
    """One-time passcodes sent with an authentication template (``metad ctl otp``)."""

    template: str = "codigo_verificacao"
    """The AUTHENTICATION template carrying the code (body and button take the code)."""
    language: str = "pt_BR"
    digits: int = Field(default=6, ge=4, le=10)
    ttl_s: float = Field(default=600.0, gt=0, le=86_400)
    """How long a code stays valid."""
    max_attempts: int = Field(default=5, ge=1)
    """Wrong guesses allowed per (contact, purpose) before it is locked."""
    lockout_s: float = Field(default=900.0, ge=0)
    max_sends_per_hour: int = Field(default=5, ge=1)
    """Codes sent per (contact, purpose) per hour."""


class ShiftsConfig(_Model):
    """Shift confirmation: a UTILITY template with confirm/decline quick replies."""

    template: str = "confirmar_plantao"
    language: str = "pt_BR"


class ContactsConfig(_Model):
    send_to: Literal["phone", "bsuid", "prefer_bsuid"] = "phone"
    """How sends address a contact: its phone (wa_id; a contact known only by its
    business-scoped user id gets that), ``prefer_bsuid`` (the BSUID when one is known,
    else the phone) or ``bsuid`` (BSUID only: contacts without one are not sent to)."""


class MediaConfig(_Model):
    ttl_days: float = Field(default=30.0, gt=0)
    """How long Meta keeps an uploaded media id (30 days)."""
    refresh_margin_h: float = Field(default=24.0, ge=0)
    """Re-upload when less than this is left, so a send never carries an expired id."""
    app_id: str = Field(default="", pattern=r"^[0-9]{0,20}$")
    """Meta app id for resumable uploads (template header handles); sandbox: any id."""


class CatalogConfig(_Model):
    id: str = Field(default="", pattern=r"^[0-9]{0,20}$")
    """Default catalog for ``metad catalog push`` (``--catalog`` overrides it)."""
    waba: str = ""
    """WABA whose token manages the catalog (default: the first WABA)."""
    currency: str = Field(default="BRL", pattern=r"^[A-Z]{3}$")
    link_base: str = "https://example.com/vagas/"
    """Product page link: this prefix followed by the listing id."""
    batch_size: int = Field(default=1000, ge=1, le=5000)


class KeeperConfig(_Model):
    """The window keeper: one in-window follow-up before a marked conversation closes."""

    enabled: bool = True
    text: str = Field(default="Oi! Ainda tem alguma dúvida sobre o plantão?", min_length=1)
    lead_h: float = Field(default=2.0, gt=0, le=24)
    """Send when the 24 h window has less than this left."""
    interval_s: float = Field(default=60.0, gt=0)
    quiet_start: dt.time = dt.time(20, 0)
    """Quiet hours in the configured time zone: nothing is sent from ``quiet_start`` to
    ``quiet_end`` (equal values: no quiet hours)."""
    quiet_end: dt.time = dt.time(8, 0)


_FLOW_NAME = r"^[a-z0-9_]{1,64}$"
PATTERN_HINTS[_FLOW_NAME] = "a name of lowercase letters, digits and _ (at most 64)"
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


class MetadConfig(_Model):
    """The whole of ``metad.toml``. ``source`` is the file it came from (not a TOML key)."""

    _source: ConfigSource | None = PrivateAttr(default=None)

    timezone: str = "America/Sao_Paulo"
    daemon: DaemonConfig = Field(default_factory=DaemonConfig)
    supervisor: SupervisorConfig = Field(default_factory=SupervisorConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    graph: GraphConfig = Field(default_factory=GraphConfig)
    webhook: WebhookConfig = Field(default_factory=WebhookConfig)
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)
    wabas: list[WabaConfig] = Field(default_factory=list)
    chips: list[ChipConfig] = Field(default_factory=list)
    pricing: PricingConfig = Field(default_factory=PricingConfig)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    campaigns: CampaignsConfig = Field(default_factory=CampaignsConfig)
    windows: WindowsConfig = Field(default_factory=WindowsConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    quality: QualityConfig = Field(default_factory=QualityConfig)
    otp: OtpConfig = Field(default_factory=OtpConfig)
    shifts: ShiftsConfig = Field(default_factory=ShiftsConfig)
    contacts: ContactsConfig = Field(default_factory=ContactsConfig)
    media: MediaConfig = Field(default_factory=MediaConfig)
    catalog: CatalogConfig = Field(default_factory=CatalogConfig)
    keeper: KeeperConfig = Field(default_factory=KeeperConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    flows: FlowsConfig = Field(default_factory=FlowsConfig)
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f'unknown time zone "{v}"') from None
        return v

    @property
    def source(self) -> ConfigSource | None:
        """The file and text this config was loaded from; None when built in code.

        Kept so that checks made after loading (secrets, at start-up) can still name lines.
        """
        return self._source

    def with_source(self, source: ConfigSource | None) -> MetadConfig:
        """A copy that remembers ``source`` (the model is frozen, so this never mutates)."""
        copy = self.model_copy()
        copy._source = source
        return copy

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def waba(self, waba_id: str) -> WabaConfig:
        for w in self.wabas:
            if w.id == waba_id:
                return w
        raise KeyError(waba_id)

"""Pydantic models of ``metad.toml``: the whole file, :class:`MetadConfig`.

Why this module exists: the daemon, the simulator and the console all read one file, and
every mistake in it must be caught before anything starts. The models are frozen and
forbid unknown keys (:mod:`config.base`), so a typo is an error rather than a silently
ignored setting. Checks within one table live with its model, in the modules of related
sections (:mod:`config.runtime`, :mod:`config.storage`, :mod:`config.cloud_api`,
:mod:`config.spending`, :mod:`config.sending`, :mod:`config.features`,
:mod:`config.flows`); checks across tables (a chip's WABA, duplicate ids) live in
:mod:`config.loader`, which knows the text and can point each at its own line.

This module assembles the sections into the file and re-exports every one of them, so
``from config.model import StorageConfig`` is the one import the rest of metad uses.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, PrivateAttr, field_validator

from config.base import PATTERN_HINTS, GraphId, HostPort, _Model as _Model
from config.cloud_api import ChipConfig, GraphConfig, SandboxConfig, WabaConfig, WebhookConfig
from config.errors import ConfigSource
from config.features import CatalogConfig, KeeperConfig, MediaConfig, OtpConfig, ShiftsConfig
from config.flows import FlowCategory, FlowConfig, FlowsConfig
from config.runtime import ClusterConfig, DaemonConfig, MetricsConfig, SupervisorConfig
from config.sending import (
    CampaignsConfig,
    ContactsConfig,
    LimitsConfig,
    QualityConfig,
    WindowsConfig,
)
from config.spending import (
    BudgetConfig,
    CampaignBudget,
    CapsConfig,
    PriceRate,
    PricingConfig,
    WabaBudget,
)
from config.storage import (
    LONGEST_BUDGET_PERIOD_DAYS,
    MESSAGE_HISTORY_MIN_DAYS,
    META_RETRY_DAYS,
    RetentionConfig,
    StorageConfig,
)

__all__ = [
    "LONGEST_BUDGET_PERIOD_DAYS",
    "MESSAGE_HISTORY_MIN_DAYS",
    "META_RETRY_DAYS",
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
    "FlowCategory",
    "FlowConfig",
    "FlowsConfig",
    "GraphConfig",
    "GraphId",
    "HostPort",
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

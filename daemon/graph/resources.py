"""Typed bodies of the management endpoints: templates, numbers, media, flows, catalogs.

Why separate from :mod:`daemon.graph.models`: those are the hot send path; these are
the slower account-management calls (docs/cloud-api.md §3). Answers ignore unknown
fields, since Meta adds some with each version; template *definitions* keep extra keys
(``example``, ``buttons``, ``cards``…) because their grammar is large and metad passes
them through from the template files rather than building them field by field.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "BatchStatus",
    "BusinessPublicKey",
    "CatalogItemData",
    "CatalogItemRequest",
    "Flow",
    "FlowAsset",
    "FlowMetric",
    "FlowMetricPoint",
    "FlowValidationError",
    "MediaInfo",
    "Paging",
    "PhoneNumber",
    "TemplateCategory",
    "TemplateComponentSpec",
    "TemplateCreated",
    "TemplateInfo",
    "TemplatePage",
    "TemplateSpec",
    "TemplateStatus",
    "Throughput",
]


class _Resp(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Req(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


TemplateCategory = Literal["MARKETING", "UTILITY", "AUTHENTICATION"]
TemplateStatus = Literal[
    "APPROVED",
    "PENDING",
    "REJECTED",
    "PAUSED",
    "DISABLED",
    "IN_APPEAL",
    "PENDING_DELETION",
    "LIMIT_EXCEEDED",
    "DELETED",
]


class Cursors(_Resp):
    before: str | None = None
    after: str | None = None


class Paging(_Resp):
    cursors: Cursors | None = None
    next: str | None = None
    """Present only when another page exists."""


class TemplateComponentSpec(BaseModel):
    """One component of a template *definition* (HEADER, BODY, FOOTER, BUTTONS…)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: Literal["HEADER", "BODY", "FOOTER", "BUTTONS", "CAROUSEL"]
    format: str | None = None
    text: str | None = None
    example: dict[str, Any] | None = None
    buttons: list[dict[str, Any]] | None = None


class TemplateSpec(_Req):
    """Body of ``POST /{waba_id}/message_templates`` (create)."""

    name: str = Field(pattern=r"^[a-z0-9_]{1,512}$")
    language: str = Field(min_length=2)
    category: TemplateCategory
    parameter_format: Literal["positional", "named"] | None = None
    components: list[TemplateComponentSpec] = Field(min_length=1)
    allow_category_change: bool | None = None


class TemplateCreated(_Resp):
    id: str
    status: str
    category: str


class QualityScore(_Resp):
    score: str
    date: int | None = None


class TemplateInfo(_Resp):
    """A template as Meta lists it."""

    id: str
    name: str
    language: str
    status: str
    category: str
    parameter_format: str | None = None
    components: list[TemplateComponentSpec] = Field(default_factory=list)
    quality_score: QualityScore | None = None
    rejected_reason: str | None = None


class TemplatePage(_Resp):
    data: list[TemplateInfo]
    paging: Paging | None = None

    @property
    def after(self) -> str | None:
        """The cursor of the next page, or None on the last page."""
        if self.paging is None or self.paging.next is None or self.paging.cursors is None:
            return None
        return self.paging.cursors.after


class Throughput(_Resp):
    level: str


class PhoneNumber(_Resp):
    """A phone number's live state (the fields metad polls for quality and limits)."""

    id: str
    display_phone_number: str | None = None
    verified_name: str | None = None
    quality_rating: str | None = None
    messaging_limit_tier: str | None = None
    status: str | None = None
    name_status: str | None = None
    throughput: Throughput | None = None
    code_verification_status: str | None = None


class MediaInfo(_Resp):
    id: str
    url: str
    mime_type: str
    sha256: str
    file_size: int
    messaging_product: str = "whatsapp"


class FlowValidationError(_Resp):
    error: str
    error_type: str | None = None
    message: str
    line_start: int | None = None
    line_end: int | None = None


class Flow(_Resp):
    id: str
    name: str | None = None
    status: str | None = None
    categories: list[str] = Field(default_factory=list)
    validation_errors: list[FlowValidationError] = Field(default_factory=list)
    json_version: str | None = None
    endpoint_uri: str | None = None


class FlowAsset(_Resp):
    name: str
    asset_type: str
    download_url: str


class FlowMetricValue(_Resp):
    key: str
    value: float


class FlowMetricPoint(_Resp):
    timestamp: str
    data: list[FlowMetricValue]


class FlowMetric(_Resp):
    name: str
    granularity: str
    data_points: list[FlowMetricPoint] = Field(default_factory=list)


class BusinessPublicKey(_Resp):
    business_public_key: str
    business_public_key_signature_status: str


class CatalogItemData(BaseModel):
    """A product's fields for ``items_batch``; ``id`` is the retailer id."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str
    title: str | None = None
    description: str | None = None
    availability: Literal["in stock", "out of stock"] | None = None
    condition: str | None = None
    price: str | None = Field(default=None, pattern=r"^[0-9]+\.[0-9]{2} [A-Z]{3}$")
    link: str | None = None
    image_link: str | None = None
    brand: str | None = None


class CatalogItemRequest(_Req):
    method: Literal["CREATE", "UPDATE", "DELETE"]
    data: CatalogItemData


class BatchStatus(_Resp):
    handle: str
    status: str
    errors: list[dict[str, Any]] = Field(default_factory=list)
    warnings: list[dict[str, Any]] = Field(default_factory=list)

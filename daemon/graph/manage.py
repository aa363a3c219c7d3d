"""Account-management calls of the Graph client: templates, numbers, media, flows, catalogs.

Why apart from the sends: these calls raise :class:`~daemon.graph.errors.GraphError`
on failure (they are not in the hot path and a failure is exceptional), are retried when
idempotent (see :mod:`daemon.graph.transport`), and validate every answer into a typed
model, so an answer of the wrong shape becomes a GraphError that keeps the body.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from daemon.graph.errors import GraphError
from daemon.graph.resources import (
    BatchStatus,
    BusinessPublicKey,
    CatalogItemRequest,
    Flow,
    FlowAsset,
    FlowMetric,
    FlowValidationError,
    MediaInfo,
    PhoneNumber,
    TemplateComponentSpec,
    TemplateCreated,
    TemplateInfo,
    TemplatePage,
    TemplateSpec,
)
from daemon.graph.transport import Transport

__all__ = ["PHONE_FIELDS", "TEMPLATE_FIELDS", "ManagementCalls"]

_M = TypeVar("_M", bound=BaseModel)

PHONE_FIELDS = (
    "display_phone_number",
    "verified_name",
    "quality_rating",
    "messaging_limit_tier",
    "throughput",
    "status",
    "name_status",
)
"""What metad polls on each number (quality, limits, status)."""

TEMPLATE_FIELDS = (
    "id",
    "name",
    "language",
    "status",
    "category",
    "parameter_format",
    "components",
    "quality_score",
    "rejected_reason",
)


class ManagementCalls(Transport):
    """Typed management endpoints; mixed into :class:`~daemon.graph.GraphClient`."""

    # --- templates ---------------------------------------------------------------

    async def list_templates(
        self,
        waba_id: str,
        *,
        limit: int = 100,
        after: str | None = None,
        fields: Sequence[str] = TEMPLATE_FIELDS,
        name: str | None = None,
        status: str | None = None,
    ) -> TemplatePage:
        """One page of the WABA's templates; pass ``page.after`` to get the next."""
        params: dict[str, str | int] = {"fields": ",".join(fields), "limit": limit}
        if after:
            params["after"] = after
        if name:
            params["name"] = name
        if status:
            params["status"] = status
        doc = await self.call("GET", f"{waba_id}/message_templates", owner=waba_id, params=params)
        return _parse(TemplatePage, doc)

    async def iter_templates(
        self, waba_id: str, *, page_size: int = 100, **filters: str
    ) -> AsyncIterator[TemplateInfo]:
        """Every template of the WABA, following the paging cursors."""
        after: str | None = None
        while True:
            page = await self.list_templates(waba_id, limit=page_size, after=after, **filters)
            for template in page.data:
                yield template
            after = page.after
            if after is None:
                return

    async def get_template(self, template_id: str, *, waba_id: str) -> TemplateInfo:
        doc = await self.call(
            "GET", template_id, owner=waba_id, params={"fields": ",".join(TEMPLATE_FIELDS)}
        )
        return _parse(TemplateInfo, doc)

    async def create_template(self, waba_id: str, spec: TemplateSpec) -> TemplateCreated:
        """Submit a template for review; it starts PENDING (a webhook says the verdict)."""
        doc = await self.call(
            "POST",
            f"{waba_id}/message_templates",
            owner=waba_id,
            json_body=spec.model_dump(mode="json", exclude_none=True),
        )
        return _parse(TemplateCreated, doc)

    async def edit_template(
        self,
        template_id: str,
        *,
        waba_id: str,
        components: Sequence[TemplateComponentSpec] | None = None,
        category: str | None = None,
    ) -> None:
        """Change an existing template (it goes back to review)."""
        body: dict[str, Any] = {}
        if components is not None:
            body["components"] = [c.model_dump(mode="json", exclude_none=True) for c in components]
        if category is not None:
            body["category"] = category
        await self.call("POST", template_id, owner=waba_id, idempotent=True, json_body=body)

    async def delete_template(self, waba_id: str, name: str, *, hsm_id: str | None = None) -> None:
        """Delete every language of ``name`` (or only ``hsm_id``)."""
        params: dict[str, str | int] = {"name": name}
        if hsm_id:
            params["hsm_id"] = hsm_id
        await self.call("DELETE", f"{waba_id}/message_templates", owner=waba_id, params=params)

    # --- phone numbers -----------------------------------------------------------

    async def get_phone_number(
        self, phone_number_id: str, *, fields: Sequence[str] = PHONE_FIELDS
    ) -> PhoneNumber:
        doc = await self.call(
            "GET", phone_number_id, owner=phone_number_id, params={"fields": ",".join(fields)}
        )
        return _parse(PhoneNumber, doc)

    async def list_phone_numbers(
        self, waba_id: str, *, fields: Sequence[str] = PHONE_FIELDS
    ) -> list[PhoneNumber]:
        doc = await self.call(
            "GET",
            f"{waba_id}/phone_numbers",
            owner=waba_id,
            params={"fields": ",".join(("id", *fields))},
        )
        return [_parse(PhoneNumber, d) for d in _data(doc)]

    # --- media -------------------------------------------------------------------

    async def upload_media(
        self, phone_number_id: str, content: bytes, mime_type: str, filename: str = "file"
    ) -> str:
        """Upload a file for later sends (kept 30 days); returns the media id."""
        doc = await self.call(
            "POST",
            f"{phone_number_id}/media",
            owner=phone_number_id,
            data={"messaging_product": "whatsapp", "type": mime_type},
            files={"file": (filename, content, mime_type)},
        )
        return _str_field(doc, "id")

    async def get_media(self, media_id: str, *, phone_number_id: str) -> MediaInfo:
        """The media's metadata and a short-lived download URL."""
        doc = await self.call(
            "GET", media_id, owner=phone_number_id, params={"phone_number_id": phone_number_id}
        )
        return _parse(MediaInfo, doc)

    async def download_media(self, info: MediaInfo, *, phone_number_id: str) -> bytes:
        """The media bytes behind :meth:`get_media`'s URL (needs the same token)."""
        content: bytes = await self.call(
            "GET", "", owner=phone_number_id, absolute_url=info.url, raw=True
        )
        return content

    async def delete_media(self, media_id: str, *, phone_number_id: str) -> None:
        await self.call(
            "DELETE", media_id, owner=phone_number_id, params={"phone_number_id": phone_number_id}
        )

    # --- flows -------------------------------------------------------------------

    async def create_flow(
        self,
        waba_id: str,
        name: str,
        categories: Sequence[str],
        *,
        endpoint_uri: str | None = None,
    ) -> str:
        """Create a draft flow; returns its id."""
        body: dict[str, Any] = {"name": name, "categories": list(categories)}
        if endpoint_uri:
            body["endpoint_uri"] = endpoint_uri
        doc = await self.call("POST", f"{waba_id}/flows", owner=waba_id, json_body=body)
        return _str_field(doc, "id")

    async def update_flow_json(
        self, flow_id: str, flow_json: str | dict[str, Any], *, waba_id: str
    ) -> list[FlowValidationError]:
        """Upload flow.json to a draft; returns Meta's validation errors (empty: valid)."""
        text = flow_json if isinstance(flow_json, str) else json.dumps(flow_json)
        doc = await self.call(
            "POST",
            f"{flow_id}/assets",
            owner=waba_id,
            idempotent=True,
            data={"name": "flow.json", "asset_type": "FLOW_JSON"},
            files={"file": ("flow.json", text.encode(), "application/json")},
        )
        errors = doc.get("validation_errors", []) if isinstance(doc, dict) else []
        return [_parse(FlowValidationError, e) for e in errors]

    async def publish_flow(self, flow_id: str, *, waba_id: str) -> None:
        await self.call("POST", f"{flow_id}/publish", owner=waba_id, idempotent=True)

    async def deprecate_flow(self, flow_id: str, *, waba_id: str) -> None:
        await self.call("POST", f"{flow_id}/deprecate", owner=waba_id, idempotent=True)

    async def delete_flow(self, flow_id: str, *, waba_id: str) -> None:
        """Delete a draft flow (published flows can only be deprecated)."""
        await self.call("DELETE", flow_id, owner=waba_id)

    async def get_flow(self, flow_id: str, *, waba_id: str) -> Flow:
        fields = "id,name,status,categories,validation_errors,json_version,endpoint_uri"
        doc = await self.call("GET", flow_id, owner=waba_id, params={"fields": fields})
        return _parse(Flow, doc)

    async def list_flows(self, waba_id: str) -> list[Flow]:
        doc = await self.call("GET", f"{waba_id}/flows", owner=waba_id)
        return [_parse(Flow, d) for d in _data(doc)]

    async def flow_assets(self, flow_id: str, *, waba_id: str) -> list[FlowAsset]:
        doc = await self.call("GET", f"{flow_id}/assets", owner=waba_id)
        return [_parse(FlowAsset, d) for d in _data(doc)]

    async def flow_metrics(
        self,
        flow_id: str,
        *,
        waba_id: str,
        metric: str,
        granularity: str = "DAY",
        since: str | None = None,
        until: str | None = None,
    ) -> FlowMetric:
        """One metric (e.g. ENDPOINT_REQUEST_COUNT) over time, via the ``metric`` field."""
        expr = f"metric.name({metric}).granularity({granularity})"
        if since:
            expr += f".since({since})"
        if until:
            expr += f".until({until})"
        doc = await self.call("GET", flow_id, owner=waba_id, params={"fields": expr})
        if not isinstance(doc, dict) or "metric" not in doc:
            raise GraphError.unexpected(200, json.dumps(doc).encode(), "no metric object")
        return _parse(FlowMetric, doc["metric"])

    async def set_business_public_key(self, phone_number_id: str, public_key_pem: str) -> None:
        """Register the RSA public key the Flows data-exchange requests are sealed with."""
        await self.call(
            "POST",
            f"{phone_number_id}/whatsapp_business_encryption",
            owner=phone_number_id,
            idempotent=True,
            data={"business_public_key": public_key_pem},
        )

    async def get_business_public_key(self, phone_number_id: str) -> BusinessPublicKey:
        doc = await self.call(
            "GET", f"{phone_number_id}/whatsapp_business_encryption", owner=phone_number_id
        )
        items = _data(doc)
        if not items:
            raise GraphError.unexpected(200, json.dumps(doc).encode(), "no key registered")
        return _parse(BusinessPublicKey, items[0])

    # --- catalogs ----------------------------------------------------------------

    async def items_batch(
        self, catalog_id: str, requests: Sequence[CatalogItemRequest], *, waba_id: str
    ) -> list[str]:
        """Create/update/delete products in one batch; returns the batch handles."""
        doc = await self.call(
            "POST",
            f"{catalog_id}/items_batch",
            owner=waba_id,
            json_body={
                "item_type": "PRODUCT_ITEM",
                "requests": [r.model_dump(mode="json", exclude_none=True) for r in requests],
            },
        )
        handles = doc.get("handles") if isinstance(doc, dict) else None
        if not isinstance(handles, list):
            raise GraphError.unexpected(200, json.dumps(doc).encode(), "no handles")
        return [str(h) for h in handles]

    async def batch_status(self, catalog_id: str, handle: str, *, waba_id: str) -> BatchStatus:
        doc = await self.call(
            "GET",
            f"{catalog_id}/check_batch_request_status",
            owner=waba_id,
            params={"handle": handle},
        )
        items = _data(doc)
        if not items:
            raise GraphError.unexpected(200, json.dumps(doc).encode(), "no batch status")
        return _parse(BatchStatus, items[0])


def _parse(model: type[_M], doc: Any) -> _M:
    """Validate an answer; a wrong shape is a GraphError that keeps the body."""
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        body = json.dumps(doc, default=str).encode()
        raise GraphError.unexpected(
            200, body, f"not a {model.__name__}: {exc.errors()[:1]}"
        ) from None


def _data(doc: Any) -> list[Any]:
    items = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise GraphError.unexpected(200, json.dumps(doc, default=str).encode(), "no data list")
    return items


def _str_field(doc: Any, name: str) -> str:
    value = doc.get(name) if isinstance(doc, dict) else None
    if not isinstance(value, str | int):
        raise GraphError.unexpected(200, json.dumps(doc, default=str).encode(), f"no {name}")
    return str(value)

"""The Graph API as a chip actor sees it (``actors.ports.GraphPort``).

Why an adapter: actors must not know Graph error codes or the client's types. Here a
send outcome becomes one of the port's three values, with the error table's reaction
already chosen, and a phone-number poll becomes the raw body the quality rules read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actors.ports import (
    PortError,
    PortOutcome,
    SendAccepted,
    SendFailed,
    SendInDoubt,
    TemplateRecord,
)
from actors.reactions import Reaction
from daemon.graph.addressing import Addressing
from daemon.graph.client import GraphClient
from daemon.graph.errors import GraphError
from daemon.graph.manage import PHONE_FIELDS
from daemon.graph.outcome import Accepted, Failed, InDoubt

__all__ = ["ChipGraph", "WabaGraph"]


class ChipGraph:
    def __init__(self, client: GraphClient, *, addressing: Addressing | None = None) -> None:
        self._client = client
        self._addressing = addressing

    async def send(
        self,
        phone_number_id: str,
        payload: Mapping[str, Any],
        callback_data: str,
        endpoint: str = "messages",
    ) -> PortOutcome:
        body = {**payload, "biz_opaque_callback_data": callback_data}
        if self._addressing is not None:
            addressed = self._addressing.rewrite(body)
            if addressed is None:
                why = "no BSUID known for this contact and [contacts] send_to = bsuid"
                return SendFailed(None, why, Reaction.GIVE_UP_RECIPIENT)
            body = addressed
        outcome = await self._client.send_raw(phone_number_id, body, endpoint=endpoint)
        match outcome:
            case Accepted(wamid=wamid, wa_id=wa_id):
                return SendAccepted(wamid, wa_id)
            case Failed(error=error, reaction=reaction):
                return SendFailed(error.code, error.message, reaction)
            case InDoubt(reason=reason):
                return SendInDoubt(reason)
        raise AssertionError(f"unexpected send outcome {outcome!r}")

    async def phone_number(self, phone_number_id: str) -> Mapping[str, object]:
        doc: Mapping[str, object] = await self._client.call(
            "GET",
            phone_number_id,
            owner=phone_number_id,
            params={"fields": ",".join(PHONE_FIELDS)},
        )
        return doc


class WabaGraph:
    """The Graph API as a WABA actor sees it: its templates."""

    def __init__(self, client: GraphClient, *, page_size: int = 100) -> None:
        self._client = client
        self._page_size = page_size

    async def templates(self, waba_id: str) -> list[TemplateRecord]:
        try:
            return await self._templates(waba_id)
        except GraphError as exc:
            raise PortError(f"template sync of WABA {waba_id} failed: {exc}") from exc

    async def _templates(self, waba_id: str) -> list[TemplateRecord]:
        found: list[TemplateRecord] = []
        async for t in self._client.iter_templates(waba_id, page_size=self._page_size):
            found.append(
                TemplateRecord(
                    waba_id=waba_id,
                    name=t.name,
                    language=t.language,
                    id=t.id,
                    category=t.category,
                    status=t.status,
                    quality=t.quality_score.score if t.quality_score is not None else None,
                    parameter_format=(t.parameter_format or "POSITIONAL").upper(),
                    components=tuple(c.model_dump(exclude_none=True) for c in t.components),
                    reason=t.rejected_reason,
                )
            )
        return found

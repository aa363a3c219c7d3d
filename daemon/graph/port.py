"""The Graph API as a chip actor sees it (``actors.ports.GraphPort``).

Why an adapter: actors must not know Graph error codes or the client's types. Here a
send outcome becomes one of the port's three values, with the error table's reaction
already chosen, and a phone-number poll becomes the raw body the quality rules read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actors.ports import PortOutcome, SendAccepted, SendFailed, SendInDoubt
from daemon.graph.client import GraphClient
from daemon.graph.manage import PHONE_FIELDS
from daemon.graph.outcome import Accepted, Failed, InDoubt

__all__ = ["ChipGraph"]


class ChipGraph:
    def __init__(self, client: GraphClient) -> None:
        self._client = client

    async def send(
        self, phone_number_id: str, payload: Mapping[str, Any], callback_data: str
    ) -> PortOutcome:
        body = {**payload, "biz_opaque_callback_data": callback_data}
        outcome = await self._client.send_raw(phone_number_id, body)
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

"""``GraphClient``: one typed method per Graph API endpoint metad uses.

Why: the daemon talks to Meta only through this class, so every call has typed input,
typed output and the same error behaviour (see :mod:`daemon.graph.transport`). Sends
return a :data:`~daemon.graph.outcome.SendOutcome` rather than raising, because each of
the three fates needs handling by the chip actor; management calls raise
:class:`~daemon.graph.errors.GraphError`, since a failure there is exceptional.

Each call needs a token; it is looked up by the *owner* id: the phone_number_id for
sends, numbers, media and the encryption key, the WABA id for templates, flows and
catalogs (objects such as a template or flow id are addressed with ``waba_id=``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from daemon.graph.errors import GraphError
from daemon.graph.manage import PHONE_FIELDS, TEMPLATE_FIELDS, ManagementCalls
from daemon.graph.models import (
    Context,
    Interactive,
    Media,
    MediaKind,
    MessageReaction,
    OutboundMessage,
    SendResponse,
    Template,
    Text,
)
from daemon.graph.outcome import Accepted, Failed, InDoubt, SendOutcome
from daemon.graph.uploads import UploadCalls

if TYPE_CHECKING:
    from config.model import MetadConfig
    from config.secrets import ResolvedSecrets

__all__ = ["PHONE_FIELDS", "TEMPLATE_FIELDS", "GraphClient"]


class GraphClient(ManagementCalls, UploadCalls):
    """Async Graph API client on trio: message sends on keep-alive connections of their
    own (:mod:`daemon.graph.h1`), every other call through httpx.

    ``GraphClient(base_url, api_version, *, token_for, http=None, timeouts=None,
    retry=None, rng=None, sleep=None, max_connections=256)``; ``token_for`` is a mapping
    or a function from owner id to token. Use as an async context manager, or call
    :meth:`aclose`.
    """

    async def __aenter__(self) -> GraphClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @classmethod
    def from_config(cls, cfg: MetadConfig, secrets: ResolvedSecrets, **kwargs: Any) -> GraphClient:
        """A client for the configured Graph endpoint with every chip's and WABA's token."""
        from daemon.graph.transport import GraphTimeouts

        tokens = {**secrets.waba_tokens, **secrets.tokens}
        g = cfg.graph
        kwargs.setdefault(
            "timeouts", GraphTimeouts(g.connect_timeout_s, g.read_timeout_s, g.send_timeout_s)
        )
        return cls(g.base_url, g.api_version, token_for=tokens, **kwargs)

    # --- sends -------------------------------------------------------------------

    async def send(self, phone_number_id: str, message: OutboundMessage) -> SendOutcome:
        """POST the message once and classify the answer; never retried here."""
        return await self._send(f"{phone_number_id}/messages", phone_number_id, message)

    async def send_raw(
        self, phone_number_id: str, payload: dict[str, Any], *, endpoint: str = "messages"
    ) -> SendOutcome:
        """POST a body the typed models do not cover (e.g. product or contacts messages).

        No local validation: Meta's answer decides, with the same outcome rules as
        :meth:`send`. ``endpoint`` ``marketing_messages`` is the Marketing Messages API.
        """
        if endpoint not in ("messages", "marketing_messages"):
            raise ValueError(f"not a send endpoint: {endpoint!r}")
        return await self._post_send(f"{phone_number_id}/{endpoint}", phone_number_id, payload)

    async def send_marketing(
        self,
        phone_number_id: str,
        to: str,
        template: Template,
        *,
        callback_data: str | None = None,
    ) -> SendOutcome:
        """A marketing template through the Marketing Messages API (``/marketing_messages``)."""
        message = OutboundMessage(
            to=to, type="template", template=template, biz_opaque_callback_data=callback_data
        )
        return await self._send(f"{phone_number_id}/marketing_messages", phone_number_id, message)

    async def send_text(
        self,
        phone_number_id: str,
        to: str,
        body: str,
        *,
        preview_url: bool = False,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> SendOutcome:
        """Free-form text: only inside the contact's 24 h window (else 131047)."""
        return await self.send(
            phone_number_id,
            OutboundMessage(
                to=to,
                type="text",
                text=Text(body=body, preview_url=preview_url),
                context=Context(message_id=reply_to) if reply_to else None,
                biz_opaque_callback_data=callback_data,
            ),
        )

    async def send_template(
        self,
        phone_number_id: str,
        to: str,
        template: Template,
        *,
        callback_data: str | None = None,
    ) -> SendOutcome:
        return await self.send(
            phone_number_id,
            OutboundMessage(
                to=to, type="template", template=template, biz_opaque_callback_data=callback_data
            ),
        )

    async def send_interactive(
        self,
        phone_number_id: str,
        to: str,
        interactive: Interactive,
        *,
        reply_to: str | None = None,
        callback_data: str | None = None,
    ) -> SendOutcome:
        return await self.send(
            phone_number_id,
            OutboundMessage(
                to=to,
                type="interactive",
                interactive=interactive,
                context=Context(message_id=reply_to) if reply_to else None,
                biz_opaque_callback_data=callback_data,
            ),
        )

    async def send_media(
        self,
        phone_number_id: str,
        to: str,
        kind: MediaKind,
        media: Media,
        *,
        callback_data: str | None = None,
    ) -> SendOutcome:
        """Image, video, audio, document or sticker, by uploaded id or by link."""
        message = OutboundMessage.model_validate(
            {"to": to, "type": kind, kind: media, "biz_opaque_callback_data": callback_data}
        )
        return await self.send(phone_number_id, message)

    async def send_reaction(
        self,
        phone_number_id: str,
        to: str,
        message_id: str,
        emoji: str,
        *,
        callback_data: str | None = None,
    ) -> SendOutcome:
        return await self.send(
            phone_number_id,
            OutboundMessage(
                to=to,
                type="reaction",
                reaction=MessageReaction(message_id=message_id, emoji=emoji),
                biz_opaque_callback_data=callback_data,
            ),
        )

    async def mark_read(self, phone_number_id: str, message_id: str) -> None:
        """Mark an inbound message read (blue ticks). Idempotent, so retried like a read."""
        await self.call(
            "POST",
            f"{phone_number_id}/messages",
            owner=phone_number_id,
            idempotent=True,
            json_body={"messaging_product": "whatsapp", "status": "read", "message_id": message_id},
        )

    async def _send(self, path: str, owner: str, message: OutboundMessage) -> SendOutcome:
        return await self._post_send(path, owner, message.payload())

    async def _post_send(self, path: str, owner: str, payload: dict[str, Any]) -> SendOutcome:
        try:
            status, content = await self.post_send(path, owner=owner, json_body=payload)
        except GraphError as err:
            if err.sent:
                return InDoubt(f"no answer: {err.transport or err.message}", err)
            return Failed(err, err.reaction)
        if 200 <= status < 300:
            try:
                parsed = SendResponse.model_validate_json(content)
            except ValidationError:
                odd = GraphError.unexpected(status, content, "not a send answer")
                return InDoubt("accepted with an unreadable answer", odd)
            first = parsed.messages[0]
            who = parsed.contacts[0] if parsed.contacts else None
            addressed = str(payload.get("to") or payload.get("recipient") or "")
            wa_id = (who.wa_id or who.user_id or addressed) if who else addressed
            return Accepted(first.id, wa_id, first.message_status)
        error = GraphError.from_response(status, content)
        if not error.explicit and status >= 500:
            return InDoubt(f"HTTP {status} without a Graph error", error)
        return Failed(error, error.reaction)

"""Webhooks the simulator sends: Meta's payload shapes, signing, and a delivery queue.

Why: metad's webhook endpoint must be exercised the way Meta exercises it. Bodies follow
docs/cloud-api.md §1 and the samples in ``shared/fixtures/webhooks`` (one builder per
field); each POST is signed ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret,
raw body)>``; failed deliveries are retried with growing delays; and the fault knobs drop,
duplicate or hold back (reorder) deliveries, since Meta does all three.

The builders are pure; :class:`Dispatcher` is the only part doing I/O.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import logging
import math
import random
import urllib.parse
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import trio

from daemon.graph.h1 import H1Pool
from sim.knobs import SimKnobs
from sim.templates import TemplateRec
from sim.validate import is_bsuid
from sim.world import Contact, Message, Number

__all__ = [
    "Dispatcher",
    "account_update_change",
    "envelope",
    "inbound_change",
    "quality_change",
    "sign",
    "status_change",
    "template_category_change",
    "template_quality_change",
    "template_status_change",
    "user_preferences_change",
]

log = logging.getLogger("metad.sim.webhooks")

Change = dict[str, Any]


def sign(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` header value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def envelope(waba_id: str, changes: list[Change]) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": waba_id, "changes": changes}],
    }


def _metadata(number: Number) -> dict[str, str]:
    return {
        "display_phone_number": number.display_phone_number,
        "phone_number_id": number.phone_number_id,
    }


def status_change(number: Number, msg: Message, status: str, ts: float) -> Change:
    """A ``statuses[]`` change: sent/delivered carry pricing; failed carries errors."""
    st: dict[str, Any] = {
        "id": msg.wamid,
        "status": status,
        "timestamp": str(int(ts)),
    }
    # A message sent to a business-scoped user id is reported by that id, as Meta does:
    # ``recipient_user_id``, no ``recipient_id`` (a BSUID there is not a wa_id).
    if msg.wa_id is None and is_bsuid(msg.to):
        st["recipient_user_id"] = msg.to
    else:
        st["recipient_id"] = msg.wa_id or msg.to
    if msg.callback is not None:
        st["biz_opaque_callback_data"] = msg.callback
    if status == "failed" and msg.failure is not None:
        st["errors"] = [msg.failure.status_error()]
    elif status in ("sent", "delivered") and msg.pricing is not None:
        if msg.conversation is not None:
            st["conversation"] = msg.conversation
        st["pricing"] = msg.pricing
    value = {"messaging_product": "whatsapp", "metadata": _metadata(number), "statuses": [st]}
    return {"field": "messages", "value": value}


def inbound_change(number: Number, contact: Contact, message: dict[str, Any]) -> Change:
    value = {
        "messaging_product": "whatsapp",
        "metadata": _metadata(number),
        "contacts": [{"profile": {"name": contact.name}, "wa_id": contact.wa_id}],
        "messages": [message],
    }
    return {"field": "messages", "value": value}


def quality_change(number: Number, event: str, old_limit: str | None = None) -> Change:
    value: dict[str, Any] = {
        "display_phone_number": number.display_phone_number,
        "event": event,
        "current_limit": number.messaging_limit_tier,
    }
    if old_limit is not None:
        value["old_limit"] = old_limit
    return {"field": "phone_number_quality_update", "value": value}


def _template_ids(rec: TemplateRec) -> dict[str, Any]:
    return {
        "message_template_id": int(rec.id),
        "message_template_name": rec.name,
        "message_template_language": rec.language,
    }


def template_status_change(rec: TemplateRec, event: str, reason: str = "NONE") -> Change:
    value = {"event": event, **_template_ids(rec), "reason": reason}
    if event == "APPROVED":
        value["message_template_category"] = rec.category
    return {"field": "message_template_status_update", "value": value}


def template_quality_change(rec: TemplateRec, previous: str, new: str) -> Change:
    value = {"previous_quality_score": previous, "new_quality_score": new, **_template_ids(rec)}
    return {"field": "message_template_quality_update", "value": value}


def template_category_change(rec: TemplateRec, previous: str, new: str) -> Change:
    value = {**_template_ids(rec), "previous_category": previous, "new_category": new}
    return {"field": "template_category_update", "value": value}


def user_preferences_change(number: Number, contact: Contact, value: str, ts: float) -> Change:
    pref = {
        "wa_id": contact.wa_id,
        "detail": f"User requested to {value} marketing messages",
        "category": "marketing_messages",
        "value": value,
        "timestamp": int(ts),
    }
    body = {
        "messaging_product": "whatsapp",
        "metadata": _metadata(number),
        "contacts": [{"wa_id": contact.wa_id, "profile": {"name": contact.name}}],
        "user_preferences": [pref],
    }
    return {"field": "user_preferences", "value": body}


def account_update_change(number: Number, event: str, ts: float) -> Change:
    value: dict[str, Any] = {"phone_number": number.display_phone_number, "event": event}
    if event == "ACCOUNT_RESTRICTION":
        value["restriction_info"] = [
            {
                "restriction_type": "RESTRICTED_ADD_PHONE_NUMBER_ACTION",
                "expiration": int(ts) + 86400,
            }
        ]
    return {"field": "account_update", "value": value}


# --- delivery ------------------------------------------------------------------------


@dataclass(order=True, slots=True)
class _Pending:
    due: float
    seq: int
    waba_id: str = field(compare=False)
    change: Change = field(compare=False)
    attempt: int = field(default=1, compare=False)


class Dispatcher:
    """Signs and POSTs webhooks to one URL; retries, drops, duplicates, reorders.

    ``post`` is synchronous (safe to call from request handlers and timeline actions);
    :meth:`run` owns the queue and the delivery workers until cancelled.
    """

    def __init__(
        self,
        url: str | None,
        secret: str,
        knobs: Callable[[], SimKnobs],
        rng: random.Random,
        counters: Counter[str],
    ) -> None:
        self.url = url
        parts = urllib.parse.urlsplit(url or "")
        self._target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        """The webhook URL's path and query: what each POST's request line names."""
        self.secret = secret
        self._knobs = knobs
        self._rng = rng
        self.counters = counters
        self._heap: list[_Pending] = []
        self._seq = 0
        self._wake = trio.Event()
        self.recent: deque[dict[str, Any]] = deque(maxlen=500)
        self._inflight = 0

    @property
    def pending(self) -> int:
        return len(self._heap) + self._inflight

    def post(self, waba_id: str, change: Change, *, delay: float = 0.0) -> None:
        """Queue one change for delivery, applying the drop/duplicate/reorder knobs."""
        if self.url is None:
            return
        k = self._knobs()
        self.counters["webhooks_emitted"] += 1
        if k.webhook_drop_rate and self._rng.random() < k.webhook_drop_rate:
            self.counters["webhooks_dropped"] += 1
            return
        if k.webhook_reorder_rate and self._rng.random() < k.webhook_reorder_rate:
            delay += k.webhook_reorder_delay_s
            self.counters["webhooks_reordered"] += 1
        self._push(waba_id, change, delay, 1)
        if k.webhook_duplicate_rate and self._rng.random() < k.webhook_duplicate_rate:
            self.counters["webhooks_duplicated"] += 1
            self._push(waba_id, change, delay + 0.01, 1)

    def _push(self, waba_id: str, change: Change, delay: float, attempt: int) -> None:
        if len(self._heap) >= self._knobs().webhook_queue_max:
            heapq.heappop(self._heap)
            self.counters["webhooks_overflowed"] += 1
        self._seq += 1
        due = trio.current_time() + delay
        k = self._knobs()
        if k.webhook_batch_max > 1 and k.webhook_batch_window_s > 0:
            window = k.webhook_batch_window_s  # align to the window: neighbours share a POST
            due = math.ceil(due / window) * window
        heapq.heappush(self._heap, _Pending(due, self._seq, waba_id, change, attempt))
        self._wake.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        k = self._knobs()
        send, recv = trio.open_memory_channel[list[_Pending]](k.webhook_concurrency)
        # metad's own keep-alive client: at 1,000 messages a second the simulator posts
        # 150 webhook batches a second, and httpx's per-request machinery was a tenth
        # of its CPU. The workers bound the connections (one each at most).
        http = H1Pool(self.url or "http://unset.invalid", user_agent="metad-sim")
        try:
            async with trio.open_nursery() as nursery:
                for _ in range(k.webhook_concurrency):
                    nursery.start_soon(self._worker, http, recv.clone())
                task_status.started()
                async with send:
                    await self._schedule(send)
        finally:
            http.close()

    async def _schedule(self, send: trio.MemorySendChannel[list[_Pending]]) -> None:
        while True:
            now = trio.current_time()
            batches: dict[str, list[_Pending]] = {}
            batch_max = self._knobs().webhook_batch_max
            ready: list[list[_Pending]] = []
            while self._heap and self._heap[0].due <= now:
                item = heapq.heappop(self._heap)
                group = batches.setdefault(item.waba_id, [])
                group.append(item)
                if len(group) >= batch_max:
                    ready.append(group)
                    batches[item.waba_id] = []
            ready.extend(g for g in batches.values() if g)
            for group in ready:
                self._inflight += len(group)
                await send.send(group)
            if ready:
                continue
            self._wake = trio.Event()
            if self._heap:
                with trio.move_on_at(self._heap[0].due):
                    await self._wake.wait()
            else:
                await self._wake.wait()

    async def _worker(self, http: H1Pool, recv: trio.MemoryReceiveChannel[list[_Pending]]) -> None:
        async with recv:
            async for group in recv:
                # Shielded: a delivery counts as done or failed, never half-way; the
                # timeout still bounds shutdown.
                with trio.CancelScope(shield=True):
                    await self._deliver(http, group)
                    self._inflight -= len(group)

    async def _deliver(self, http: H1Pool, group: list[_Pending]) -> None:
        assert self.url is not None
        body = orjson.dumps(envelope(group[0].waba_id, [p.change for p in group]))
        headers = (
            ("Content-Type", "application/json"),
            ("X-Hub-Signature-256", sign(self.secret, body)),
        )
        timeout = self._knobs().webhook_timeout_s
        status: int | str
        try:
            status, _ = await http.post(
                self._target, headers, body, connect_s=timeout, timeout_s=timeout
            )
            ok = 200 <= status < 300
        except httpx.HTTPError as exc:
            status, ok = type(exc).__name__, False
        fields = [p.change["field"] for p in group]
        self.recent.append({"status": status, "attempt": group[0].attempt, "fields": fields})
        if ok:
            self.counters["webhooks_delivered"] += len(group)
            return
        self.counters["webhook_failures"] += 1
        k = self._knobs()
        for p in group:
            if p.attempt >= k.webhook_max_attempts:
                self.counters["webhooks_abandoned"] += 1
                continue
            delay = k.webhook_retry_base_s * 2 ** (p.attempt - 1)
            self._push(p.waba_id, p.change, delay, p.attempt + 1)

"""The simulator's core: accepts sends, decides their fates, makes contacts answer.

Why one object: a send touches everything (token, number, limits, windows, templates,
pricing) and then schedules its future (status webhooks, a reply that opens a window).
:class:`Sim` holds the world, limits, rngs, timeline and webhook dispatcher, and exposes
synchronous operations the HTTP layer calls; the only awaiting it does is in
:meth:`Sim.run`, its background activity (spontaneous inbound messages, quality drift).
"""

from __future__ import annotations

import json
import random
from typing import Any

import trio

from config.model import MetadConfig
from config.secrets import SANDBOX_APP_SECRET
from sim.errors import SimError, bad_param, unknown_object
from sim.faults import Faults
from sim.knobs import SimKnobs
from sim.limits import Limits
from sim.templates import TemplateRec, check_send, review
from sim.timeline import SimClock, Timeline
from sim.validate import MEDIA_TYPES, ParsedSend, parse_send
from sim.webhooks import (
    Dispatcher,
    inbound_change,
    quality_change,
    status_change,
    template_category_change,
    template_quality_change,
    template_status_change,
)
from sim.world import TIERS, Message, Number, World

__all__ = ["Sim"]

_REPLIES = ("Tenho interesse", "Pode me mandar mais detalhes?", "Obrigado!", "Qual o valor?")
_QUALITY = ("GREEN", "YELLOW", "RED")
_TIER_ORDER = list(TIERS)
MESSAGES_KEPT = 200_000
"""Accepted messages remembered for /_sim/messages (the oldest are forgotten)."""


class Sim:
    """State and behaviour of one simulator run (see module docstring)."""

    def __init__(
        self,
        cfg: MetadConfig,
        *,
        seed: int,
        knobs: SimKnobs,
        webhook_url: str | None,
        app_secret: str = SANDBOX_APP_SECRET,
    ) -> None:
        self.cfg = cfg
        self.seed = seed
        self.knobs = knobs
        self.app_secret = app_secret
        self.clock = SimClock()
        self.world = World(cfg, seed=seed, knobs=knobs, now=self.clock.now())
        self.counters = self.world.counters
        self.limits = Limits(pair_interval_s=knobs.pair_interval_s, pair_burst=knobs.pair_burst)
        self.rng = {
            name: random.Random(f"{seed}:{name}")
            for name in ("fate", "replies", "faults", "webhooks", "activity")
        }
        self.faults = Faults(self.rng["faults"])
        self.timeline = Timeline(self.counters)
        self.dispatcher = Dispatcher(
            webhook_url, app_secret, lambda: self.knobs, self.rng["webhooks"], self.counters
        )
        self.inbound_ids: dict[str, tuple[str, str]] = {}

    def set_knobs(self, changes: dict[str, Any]) -> SimKnobs:
        self.knobs = self.knobs.patched(changes)
        self.limits.pair_interval_s = self.knobs.pair_interval_s
        self.limits.pair_burst = self.knobs.pair_burst
        return self.knobs

    # --- access --------------------------------------------------------------------

    def number_for(self, pid: str, token: str | None, method: str) -> Number:
        """The number behind ``pid`` if ``token`` may use it (190 / 100 / 200 otherwise)."""
        waba_id = self.world.waba_of_token(token)
        number = self.world.numbers.get(pid)
        if number is None:
            raise unknown_object(method, pid)
        if number.waba_id != waba_id:
            self.world.require_access(token, number.waba_id)
        return number

    # --- sends ---------------------------------------------------------------------

    def send(self, pid: str, token: str | None, body: Any, *, endpoint: str) -> dict[str, Any]:
        """Accept or refuse one POST to ``/messages`` or ``/marketing_messages``."""
        number = self.number_for(pid, token, "post")
        if isinstance(body, dict) and body.get("status") == "read" and endpoint == "messages":
            return self._mark_read(number, body)
        parsed = parse_send(body)
        world, k, now = self.world, self.knobs, self.clock.now()
        waba = world.wabas[number.waba_id]
        if waba.locked:
            raise SimError(131031)
        if not number.registered:
            raise SimError(133010)
        template: TemplateRec | None = None
        if parsed.type == "template":
            template = self._find_template(number.waba_id, parsed.content)
        if endpoint == "marketing_messages":
            self._check_marketing(waba.marketing_messages, parsed, template)
        if k.enforce_throughput and not self.limits.throughput(pid, number.throughput_mps, now):
            raise SimError(130429, f"more than {number.throughput_mps} messages/s from {pid}")
        wa_id = world.resolve(parsed.to)
        if not self.limits.pair(pid, wa_id or parsed.to, now):
            raise SimError(131056)
        if parsed.type == "template":
            check_send(template, parsed.content)
        msg = Message(
            world.new_wamid(wa_id or parsed.to),
            pid,
            number.waba_id,
            parsed.to,
            wa_id,
            parsed.type,
            body,
            parsed.callback,
            now,
            endpoint,
        )
        msg.failure = self._fate(number, parsed, template, wa_id, now)
        if msg.failure is None and wa_id is not None:
            category = template.category if template else None
            msg.pricing, msg.conversation = world.pricing(number, wa_id, category, now)
        self._remember(msg)
        self._schedule_fate(number, msg, parsed, template)
        self.counters["sends_accepted"] += 1
        return {
            "messaging_product": "whatsapp",
            "contacts": [
                {"input": body.get("to") or body["recipient"], "wa_id": wa_id or parsed.to}
            ],
            "messages": [{"id": msg.wamid, "message_status": "accepted"}],
        }

    def _find_template(self, waba_id: str, content: dict[str, Any]) -> TemplateRec | None:
        name, lang = content.get("name"), content.get("language", {}).get("code")
        for rec in self.world.templates.values():
            if rec.waba_id == waba_id and rec.name == name and rec.language == lang:
                return rec
        return None

    @staticmethod
    def _check_marketing(onboarded: bool, parsed: ParsedSend, rec: TemplateRec | None) -> None:
        if not onboarded:
            raise SimError(
                3,
                "This WhatsApp Business Account is not onboarded to the Marketing Messages API.",
            )
        if parsed.type != "template":
            raise bad_param("marketing_messages sends templates only")
        if rec is not None and rec.category != "MARKETING":
            raise bad_param("marketing_messages sends marketing templates only")

    def _fate(
        self,
        number: Number,
        parsed: ParsedSend,
        template: TemplateRec | None,
        wa_id: str | None,
        now: float,
    ) -> SimError | None:
        """The asynchronous failure Meta would report on the status webhook, if any."""
        world = self.world
        contact = world.contacts.get(wa_id) if wa_id else None
        if contact is None or not contact.reachable:
            return SimError(131026)
        if parsed.type in MEDIA_TYPES:
            media_id, link = parsed.content.get("id"), parsed.content.get("link")
            if media_id is not None and media_id not in world.media:
                return SimError(131053, f"media id {media_id} not found")
            if link is not None and (
                not link.startswith(("http://", "https://")) or ".invalid" in link
            ):
                return SimError(131052, f"cannot download {link}")
        window = world.window(number.phone_number_id, contact.wa_id)
        in_window = window is not None and window.may_send_free_form(now)
        if template is None:
            return None if in_window else SimError(131047)
        waba = world.wabas[number.waba_id]
        if not waba.payment_ok:
            return SimError(131042)
        if template.category == "MARKETING":
            if contact.marketing_opt_out:
                return SimError(131050)
            if self.rng["fate"].random() < self.knobs.marketing_cap_rate:
                return SimError(131049)
        if not in_window:
            cap = TIERS.get(number.messaging_limit_tier)
            if not self.limits.tier(number.phone_number_id, contact.wa_id, cap, now):
                return SimError(131048, f"messaging limit {number.messaging_limit_tier} reached")
        return None

    def _remember(self, msg: Message) -> None:
        messages = self.world.messages
        if len(messages) >= MESSAGES_KEPT:
            del messages[next(iter(messages))]
        messages[msg.wamid] = msg

    def _schedule_fate(
        self, number: Number, msg: Message, parsed: ParsedSend, template: TemplateRec | None
    ) -> None:
        k, tl = self.knobs, self.timeline
        t = trio.current_time() + k.sent_delay_s
        if msg.failure is not None:
            tl.at(t, lambda: self._status(number, msg, "failed"))
            return
        tl.at(t, lambda: self._status(number, msg, "sent"))
        t += k.delivered_delay_s
        tl.at(t, lambda: self._status(number, msg, "delivered"))
        if self.rng["fate"].random() < k.read_rate:
            tl.at(t + k.read_delay_s, lambda: self._status(number, msg, "read"))
        reply = self._plan_reply(msg, parsed, template)
        if reply is not None and msg.wa_id is not None:
            wa_id = msg.wa_id
            pid = number.phone_number_id

            def answer() -> None:
                self.inbound(pid, wa_id, reply, context=msg.wamid)

            tl.at(t + k.reply_delay_s, answer)

    def _status(self, number: Number, msg: Message, status: str) -> None:
        msg.status = status
        self.counters[f"status_{status}"] += 1
        change = status_change(number, msg, status, self.clock.now())
        self.dispatcher.post(number.waba_id, change)

    def _mark_read(self, number: Number, body: dict[str, Any]) -> dict[str, Any]:
        message_id = body.get("message_id")
        if body.get("messaging_product") != "whatsapp":
            raise SimError(100, message="(#100) The parameter messaging_product is required.")
        if not isinstance(message_id, str):
            raise SimError(100, message="(#100) The parameter message_id is required.")
        known = self.inbound_ids.get(message_id)
        if known is None or known[0] != number.phone_number_id:
            raise bad_param(f"Invalid parameter message_id: {message_id} is not a received message")
        self.counters["marked_read"] += 1
        return {"success": True}

    # --- contacts answering --------------------------------------------------------

    def _plan_reply(
        self, msg: Message, parsed: ParsedSend, template: TemplateRec | None
    ) -> dict[str, Any] | None:
        contact = self.world.contacts.get(msg.wa_id or "")
        if contact is None or not contact.replies:
            return None
        rng = self.rng["replies"]
        c = parsed.content
        if template is not None:
            cards = next((x for x in c.get("components", []) if x.get("type") == "carousel"), None)
            if cards and cards.get("cards"):  # a tap on one card's quick reply
                card = rng.choice(cards["cards"])
                payload = _button_payload(card, 0)
                if payload:
                    return {"type": "button", "button": {"payload": payload, "text": "Quero"}}
            buttons = template.component("BUTTONS")
            quick = [
                b for b in (buttons or {}).get("buttons", []) if b.get("type") == "QUICK_REPLY"
            ]
            if quick:
                i = rng.randrange(len(quick))
                payload = _button_payload(c, i) or quick[i]["text"]
                return {"type": "button", "button": {"payload": payload, "text": quick[i]["text"]}}
            return _text_reply(rng.choice(_REPLIES))
        if parsed.type == "interactive":
            return _interactive_reply(c, rng)
        if parsed.type == "text" and rng.random() < self.knobs.text_reply_rate:
            return _text_reply(rng.choice(_REPLIES))
        return None

    def inbound(
        self,
        pid: str,
        wa_id: str,
        content: dict[str, Any],
        *,
        context: str | None = None,
        referral: dict[str, Any] | None = None,
    ) -> str:
        """A contact writes to a number: opens the window and sends the webhook."""
        world = self.world
        number, contact = world.numbers[pid], world.contacts[wa_id]
        now = self.clock.now()
        world.open_window(pid, wa_id, now, referral=referral is not None)
        wamid = world.new_wamid(wa_id)
        message: dict[str, Any] = {}
        if context is not None:
            message["context"] = {"from": number.display_phone_number, "id": context}
        message.update({"from": wa_id, "id": wamid, "timestamp": str(int(now)), **content})
        if referral is not None:
            message["referral"] = referral
        self.inbound_ids[wamid] = (pid, wa_id)
        self.counters["inbound"] += 1
        self.dispatcher.post(number.waba_id, inbound_change(number, contact, message))
        return wamid

    def referral(self) -> dict[str, Any]:
        rng = self.rng["activity"]
        return {
            "source_url": "https://fb.me/sim",
            "source_id": str(120210000000 + rng.randrange(10**6)),
            "source_type": "ad",
            "headline": "Plantões em SP",
            "body": "Vagas abertas",
            "media_type": "image",
            "image_url": "https://cdn.example.com/ad.jpg",
            "ctwa_clid": "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefgh") for _ in range(20)),
        }

    # --- account events ------------------------------------------------------------

    def set_quality(self, pid: str, rating: str) -> None:
        """Move a number's rating; entering/leaving RED is announced (FLAGGED/UNFLAGGED)."""
        number = self.world.numbers[pid]
        before, number.quality_rating = number.quality_rating, rating
        if rating == "RED" and before != "RED":
            number.status = "FLAGGED"
            self.dispatcher.post(number.waba_id, quality_change(number, "FLAGGED"))
        elif before == "RED" and rating != "RED":
            number.status = "CONNECTED"
            self.dispatcher.post(number.waba_id, quality_change(number, "UNFLAGGED"))

    def set_tier(self, pid: str, tier: str) -> None:
        number = self.world.numbers[pid]
        before = number.messaging_limit_tier
        if tier == before:
            return
        number.messaging_limit_tier = tier
        up = _TIER_ORDER.index(tier) > _TIER_ORDER.index(before)
        change = quality_change(number, "UPGRADE" if up else "DOWNGRADE", before)
        self.dispatcher.post(number.waba_id, change)

    def submit_template(self, rec: TemplateRec) -> None:
        """A created or edited template goes PENDING, then gets its verdict by webhook."""
        rec.status = "PENDING"
        self.timeline.after(self.knobs.template_review_s, lambda: self._review(rec))

    def _review(self, rec: TemplateRec) -> None:
        if rec.id not in self.world.templates or rec.status != "PENDING":
            return
        status, reason, new_category = review(rec)
        if new_category is not None and new_category != rec.category:
            before, rec.category = rec.category, new_category
            self.dispatcher.post(rec.waba_id, template_category_change(rec, before, new_category))
        self.set_template_status(rec, status, reason)

    def set_template_status(self, rec: TemplateRec, event: str, reason: str = "NONE") -> None:
        statuses = {"FLAGGED": rec.status, "REINSTATED": "APPROVED"}
        rec.status = statuses.get(event, event)
        rec.rejected_reason = reason if event == "REJECTED" else "NONE"
        self.dispatcher.post(rec.waba_id, template_status_change(rec, event, reason))

    def set_template_quality(self, rec: TemplateRec, score: str) -> None:
        before, rec.quality = rec.quality, score
        self.dispatcher.post(rec.waba_id, template_quality_change(rec, before, score))
        if score == "RED" and rec.status == "APPROVED":
            self.set_template_status(rec, "PAUSED", "LOW_QUALITY")

    def set_template_category(self, rec: TemplateRec, category: str) -> None:
        before, rec.category = rec.category, category
        self.dispatcher.post(rec.waba_id, template_category_change(rec, before, category))

    # --- background activity -------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Timeline, webhook delivery, spontaneous inbound and quality drift."""
        async with trio.open_nursery() as nursery:
            await nursery.start(self.timeline.run)
            await nursery.start(self.dispatcher.run)
            nursery.start_soon(self._spontaneous)
            nursery.start_soon(self._drift)
            task_status.started()

    async def _spontaneous(self) -> None:
        rng = self.rng["activity"]
        contacts, numbers = list(self.world.contacts), list(self.world.numbers)
        while True:
            rate = self.knobs.inbound_per_min
            await trio.sleep(rng.expovariate(rate / 60.0) if rate > 0 else 1.0)
            if rate <= 0 or not numbers:
                continue
            pid, wa_id = rng.choice(numbers), rng.choice(contacts)
            if rng.random() < self.knobs.referral_share:
                self.inbound(
                    pid, wa_id, _text_reply("Vi o anúncio das vagas"), referral=self.referral()
                )
            else:
                self.inbound(pid, wa_id, _text_reply(rng.choice(_REPLIES)))

    async def _drift(self) -> None:
        rng = self.rng["activity"]
        while True:
            await trio.sleep(self.knobs.quality_tick_s)
            rate = self.knobs.quality_change_rate
            for number in list(self.world.numbers.values()):
                if rate and rng.random() < rate:
                    self._drift_number(number, rng)
            for rec in list(self.world.templates.values()):
                if rate and rec.status == "APPROVED" and rng.random() < rate:
                    i = _QUALITY.index(rec.quality) if rec.quality in _QUALITY else 0
                    step = rng.choice((-1, 1))
                    self.set_template_quality(rec, _QUALITY[min(2, max(0, i + step))])

    def _drift_number(self, number: Number, rng: random.Random) -> None:
        q = number.quality_rating
        tier_i = _TIER_ORDER.index(number.messaging_limit_tier)
        pid = number.phone_number_id
        if q == "GREEN":
            if rng.random() < 0.5 and tier_i + 1 < len(_TIER_ORDER):
                self.set_tier(pid, _TIER_ORDER[tier_i + 1])
            else:
                self.set_quality(pid, "YELLOW")
        elif q == "YELLOW":
            self.set_quality(pid, rng.choice(("GREEN", "RED")))
        elif rng.random() < 0.5 and tier_i > 1:
            self.set_tier(pid, _TIER_ORDER[tier_i - 1])
        else:
            self.set_quality(pid, "YELLOW")


def _text_reply(body: str) -> dict[str, Any]:
    return {"type": "text", "text": {"body": body}}


def _button_payload(content: dict[str, Any], index: int) -> str | None:
    for comp in content.get("components", []):
        if comp.get("type") == "button" and str(comp.get("index")) == str(index):
            for p in comp.get("parameters", []):
                if p.get("type") == "payload":
                    return str(p.get("payload"))
    return None


def _interactive_reply(c: dict[str, Any], rng: random.Random) -> dict[str, Any] | None:
    kind, action = c.get("type"), c.get("action", {})
    if kind == "button":
        reply = rng.choice(action["buttons"])["reply"]
        picked = {"id": reply["id"], "title": reply["title"]}
        return {
            "type": "interactive",
            "interactive": {"type": "button_reply", "button_reply": picked},
        }
    if kind == "list":
        rows = [r for s in action["sections"] for r in s["rows"]]
        row = rng.choice(rows)
        item = {"id": row["id"], "title": row["title"], "description": row.get("description", "")}
        return {"type": "interactive", "interactive": {"type": "list_reply", "list_reply": item}}
    if kind == "flow":
        token = action.get("parameters", {}).get("flow_token", "")
        response = json.dumps({"flow_token": token, "confirmado": True})
        nfm = {"name": "flow", "body": "Sent", "response_json": response}
        return {"type": "interactive", "interactive": {"type": "nfm_reply", "nfm_reply": nfm}}
    return _text_reply(rng.choice(_REPLIES))

"""The simulated Meta side: numbers, WABAs, contacts, windows, templates, media, flows.

Why pure: every rule about who may be messaged, what a message costs and which error
comes back is decided here from state and an explicit ``now`` (epoch seconds on the
simulator's clock, which ``/_sim/clock`` can move forward). No I/O and no clock reads,
so the rules can be tested directly and a seeded run is repeatable.

Built from ``metad.toml``: the WABAs and chips of the config are the accounts and
numbers; each WABA accepts exactly ``config.secrets.sandbox_token(waba_id)``. Contacts are
generated from the seed (``sandbox.contacts`` of them, ``sandbox.reply_rate`` replying).
"""

from __future__ import annotations

import base64
import hashlib
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from config.model import MetadConfig
from config.secrets import sandbox_token
from sim.errors import SimError
from sim.knobs import SimKnobs
from sim.templates import TemplateRec, seed_templates

__all__ = [
    "DAY",
    "TIERS",
    "Contact",
    "FlowRec",
    "MediaRec",
    "Message",
    "Number",
    "Waba",
    "Window",
    "World",
    "digits",
]

DAY = 86_400.0
FEP_S = 72 * 3600.0
TIERS: dict[str, int | None] = {
    "TIER_50": 50,
    "TIER_250": 250,
    "TIER_1K": 1000,
    "TIER_2K": 2000,
    "TIER_10K": 10_000,
    "TIER_100K": 100_000,
    "TIER_UNLIMITED": None,
}
_FIRST_NAMES = ("Ana", "Bruno", "Carla", "Diego", "Elisa", "Fábio", "Gabriela", "Heitor")
_LAST_NAMES = ("Lima", "Souza", "Alves", "Costa", "Rocha", "Pereira", "Nunes", "Ramos")
_DDDS = (11, 21, 31, 41, 51, 61, 71, 81)
FIRST_CONTACT = "5511987654321"
"""Always present, always replying, inside a window with every number (METAD_SIM_CONTACT)."""
NO_NINTH_DIGIT_CONTACT = "551187654320"
"""A contact whose wa_id lacks Brazil's ninth digit; sends to 5511987654320 reach it."""


def digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


@dataclass(slots=True)
class Number:
    phone_number_id: str
    waba_id: str
    display_phone_number: str
    verified_name: str
    throughput_mps: int
    messaging_limit_tier: str
    quality_rating: str = "GREEN"
    status: str = "CONNECTED"
    name_status: str = "APPROVED"
    registered: bool = True
    public_key: str | None = None

    def graph(self, fields: list[str] | None) -> dict[str, Any]:
        level = "HIGH" if self.throughput_mps > 80 else "STANDARD"
        full: dict[str, Any] = {
            "verified_name": self.verified_name,
            "display_phone_number": self.display_phone_number,
            "quality_rating": self.quality_rating,
            "messaging_limit_tier": self.messaging_limit_tier,
            "status": self.status,
            "name_status": self.name_status,
            "throughput": {"level": level},
            "code_verification_status": "VERIFIED",
            "platform_type": "CLOUD_API",
            "id": self.phone_number_id,
        }
        default = ("verified_name", "display_phone_number", "quality_rating", "throughput", "id")
        wanted = fields or list(default)
        return {k: full[k] for k in [*wanted, "id"] if k in full}


@dataclass(slots=True)
class Waba:
    id: str
    name: str
    marketing_messages: bool
    catalog_id: str
    locked: bool = False
    payment_ok: bool = True


@dataclass(slots=True)
class Contact:
    wa_id: str
    name: str
    replies: bool
    reachable: bool = True
    marketing_opt_out: bool = False


@dataclass(slots=True)
class Window:
    """A contact's windows with one number: 24 h service, and a free entry point."""

    opened_at: float
    referral_at: float | None = None
    fep_until: float | None = None

    def service_open(self, now: float) -> bool:
        return now < self.opened_at + DAY

    def free_entry(self, now: float) -> bool:
        return self.fep_until is not None and now < self.fep_until

    def may_send_free_form(self, now: float) -> bool:
        return self.service_open(now) or self.free_entry(now)


@dataclass(slots=True)
class Message:
    """An accepted outbound message and what will become of it."""

    wamid: str
    phone_number_id: str
    waba_id: str
    to: str
    wa_id: str | None
    type: str
    payload: dict[str, Any]
    callback: str | None
    created_at: float
    endpoint: str = "messages"
    pricing: dict[str, Any] | None = None
    conversation: dict[str, Any] | None = None
    failure: SimError | None = None
    status: str = "accepted"
    reply: dict[str, Any] | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.wamid,
            "phone_number_id": self.phone_number_id,
            "to": self.to,
            "wa_id": self.wa_id,
            "type": self.type,
            "endpoint": self.endpoint,
            "status": self.status,
            "biz_opaque_callback_data": self.callback,
            "pricing": self.pricing,
            "error": self.failure.status_error() if self.failure else None,
            "payload": self.payload,
            "created_at": self.created_at,
        }


@dataclass(slots=True)
class MediaRec:
    id: str
    phone_number_id: str
    waba_id: str
    mime_type: str
    filename: str
    data: bytes
    created_at: float

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(slots=True)
class FlowRec:
    id: str
    waba_id: str
    name: str
    categories: list[str]
    endpoint_uri: str | None = None
    status: str = "DRAFT"
    flow_json: str | None = None
    validation_errors: list[dict[str, Any]] = field(default_factory=list)
    json_version: str | None = None

    def graph(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "categories": self.categories,
            "validation_errors": self.validation_errors,
        }
        if self.json_version:
            out["json_version"] = self.json_version
        if self.endpoint_uri:
            out["endpoint_uri"] = self.endpoint_uri
        return out


class World:
    """All simulated state. Methods take ``now``; nothing here sleeps or reads a clock."""

    def __init__(self, cfg: MetadConfig, *, seed: int, knobs: SimKnobs, now: float) -> None:
        self.seed = seed
        self._seq = 0
        # Meta's wamids never repeat; a simulator restarted with the same seed must not
        # repeat them either (a daemon keeps the old ones), so its start time is in them.
        self._born = int(now * 1000)
        self.counters: Counter[str] = Counter()
        self.wabas: dict[str, Waba] = {}
        self.tokens: dict[str, str] = {}
        for i, w in enumerate(cfg.wabas):
            self.wabas[w.id] = Waba(w.id, w.name, w.marketing_messages, str(300000000000001 + i))
            self.tokens[sandbox_token(w.id)] = w.id
        self.catalogs = {w.catalog_id: w.id for w in self.wabas.values()}
        self.numbers: dict[str, Number] = {}
        for c in cfg.chips:
            waba_name = self.wabas[c.waba].name if c.waba in self.wabas else ""
            self.numbers[c.phone_number_id] = Number(
                c.phone_number_id,
                c.waba,
                digits(c.display_number),
                waba_name or "metad sandbox",
                c.throughput_mps,
                knobs.initial_tier,
            )
        self.contacts: dict[str, Contact] = {}
        self.aliases: dict[str, str] = {}
        self.windows: dict[tuple[str, str], Window] = {}
        self._make_contacts(cfg.sandbox.contacts, cfg.sandbox.reply_rate, knobs, now)
        self.templates: dict[str, TemplateRec] = {}
        for waba_id in self.wabas:
            for rec in seed_templates(waba_id, self.new_id, now):
                self.templates[rec.id] = rec
        self.messages: dict[str, Message] = {}
        self.media: dict[str, MediaRec] = {}
        self.flows: dict[str, FlowRec] = {}
        self.batches: dict[str, tuple[str, int]] = {}
        self.batch_errors: dict[str, list[dict[str, Any]]] = {}
        self.products: dict[str, dict[str, dict[str, Any]]] = {}
        """Catalog id → retailer id → the product's fields (:mod:`sim.catalog`)."""
        self.uploads: dict[str, dict[str, Any]] = {}
        """Resumable-upload sessions by id (:mod:`sim.media`)."""

    # --- ids -----------------------------------------------------------------------

    def new_id(self, base: int = 700000000000000) -> str:
        """A fresh numeric Graph id; the same sequence for the same seed and requests."""
        self._seq += 1
        return str(base + (self.seed % 1000) * 1_000_000 + self._seq)

    def new_wamid(self, wa_id: str) -> str:
        self._seq += 1
        raw = f"{wa_id}\x15\x02\x00\x11\x18\x12{self.seed:04d}{self._born:x}{self._seq:012d}"
        return "wamid." + base64.b64encode(raw.encode()).decode()

    def trace_id(self) -> str:
        self._seq += 1
        digest = hashlib.blake2s(f"{self.seed}:{self._seq}".encode(), digest_size=9).digest()
        return "A" + base64.urlsafe_b64encode(digest).decode()

    # --- contacts and windows ------------------------------------------------------

    def _make_contacts(self, n: int, reply_rate: float, knobs: SimKnobs, now: float) -> None:
        rng = random.Random(f"{self.seed}:contacts")
        first = Contact(FIRST_CONTACT, "Dra. Carla Lima", replies=True)
        self._add_contact(first)
        for pid in self.numbers:
            self.windows[(pid, first.wa_id)] = Window(opened_at=now - 60.0)
        if n >= 2:
            self._add_contact(Contact(NO_NINTH_DIGIT_CONTACT, "Dr. Paulo Reis", replies=False))
            self.aliases["5511987654320"] = NO_NINTH_DIGIT_CONTACT
        while len(self.contacts) < n:
            ddd = rng.choice(_DDDS)
            local = rng.randrange(10**8)
            name = f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}"
            replies = rng.random() < reply_rate
            if rng.random() < 0.1:  # registered before the ninth digit
                wa_id = f"55{ddd}{local:08d}"
                alias: str | None = f"55{ddd}9{local:08d}"
            else:
                wa_id, alias = f"55{ddd}9{local:08d}", None
            if wa_id in self.contacts or (alias and alias in self.contacts):
                continue
            self._add_contact(Contact(wa_id, name, replies))
            if alias:
                self.aliases[alias] = wa_id
            if rng.random() < knobs.open_window_share:
                opened = now - rng.uniform(60.0, 20 * 3600.0)
                for pid in self.numbers:
                    self.windows[(pid, wa_id)] = Window(opened_at=opened)

    def _add_contact(self, c: Contact) -> None:
        self.contacts[c.wa_id] = c

    def resolve(self, to: str) -> str | None:
        """The wa_id a ``to`` reaches (Brazil's ninth digit folded), None if not on WhatsApp."""
        if to in self.contacts:
            return to
        return self.aliases.get(to)

    def window(self, pid: str, wa_id: str) -> Window | None:
        return self.windows.get((pid, wa_id))

    def open_window(self, pid: str, wa_id: str, now: float, *, referral: bool = False) -> Window:
        """An inbound message (re)opens the 24 h window; a CTWA referral arms the 72 h one."""
        w = self.windows.get((pid, wa_id))
        if w is None:
            w = self.windows[(pid, wa_id)] = Window(opened_at=now)
        w.opened_at = now
        if referral:
            w.referral_at = now
            w.fep_until = None
        return w

    def open_windows(self, now: float, pid: str | None = None) -> list[dict[str, Any]]:
        out = []
        for (p, wa_id), w in self.windows.items():
            if (pid is None or p == pid) and w.may_send_free_form(now):
                out.append(
                    {
                        "phone_number_id": p,
                        "wa_id": wa_id,
                        "opened_at": w.opened_at,
                        "expires_at": w.opened_at + DAY,
                        "free_entry_point_until": w.fep_until if w.free_entry(now) else None,
                    }
                )
        return out

    # --- auth ----------------------------------------------------------------------

    def waba_of_token(self, token: str | None) -> str:
        """The WABA a token belongs to; 190 for a missing or unknown token."""
        waba = self.tokens.get(token or "")
        if waba is None:
            if not token:
                raise SimError(190, message="An active access token must be used.", subcode=None)
            raise SimError(
                190,
                message="Invalid OAuth access token - Cannot parse access token",
                details="The access token is invalid.",
            )
        return waba

    def require_access(self, token: str | None, owner_waba: str) -> None:
        """190 for a bad token; 200 when the token is valid but for another WABA."""
        if self.waba_of_token(token) != owner_waba:
            raise SimError(
                200,
                message="(#200) Permissions error",
                details="The access token does not grant access to this WhatsApp Business Account.",
            )

    # --- pricing -------------------------------------------------------------------

    def pricing(
        self, number: Number, wa_id: str, category: str | None, now: float
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Per-message pricing (PMP) of a delivered message; ``category`` None = free-form.

        Utility templates inside an open service window are free; so is everything in a
        free entry point window, which is the one case that still carries ``conversation``.
        """
        w = self.windows.get((number.phone_number_id, wa_id))
        answered_in_time = w is not None and w.referral_at is not None and now - w.referral_at < DAY
        if w is not None and w.fep_until is None and answered_in_time:
            w.fep_until = now + FEP_S  # the business answered a CTWA entry within 24 h
        cat = (category or "service").lower()
        if cat == "authentication" and wa_id[:2] != number.display_phone_number[:2]:
            cat = "authentication_international"
        if w is not None and w.free_entry(now):
            conv = {
                "id": hashlib.blake2s(
                    f"{number.phone_number_id}{wa_id}{w.referral_at}".encode(), digest_size=16
                ).hexdigest(),
                "expiration_timestamp": str(int(w.fep_until or now)),
                "origin": {"type": "referral_conversion"},
            }
            return {
                "billable": False,
                "pricing_model": "PMP",
                "category": cat,
                "type": "free_entry_point",
            }, conv
        if category is None or (cat == "utility" and w is not None and w.service_open(now)):
            return {
                "billable": False,
                "pricing_model": "PMP",
                "category": cat,
                "type": "free_customer_service",
            }, None
        return {"billable": True, "pricing_model": "PMP", "category": cat, "type": "regular"}, None

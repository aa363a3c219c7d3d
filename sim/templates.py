"""Message templates on the simulated Meta side: seed set, review, send-time checks.

Why pure and separate: the template rules are the densest part of Meta's behaviour
(docs/cloud-api.md §3): review rejects variables at the start or end of the body,
adjacent variables and too many variables for the text, and recategorises marketing
content submitted as UTILITY; a send must match the definition's parameters exactly
(132000), in its format (132012), within length (132005) and policy (132007), and only
APPROVED templates may be sent (132001, or 132015/132016 when paused/disabled).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sim.errors import SimError

__all__ = ["TemplateRec", "check_send", "placeholders", "review", "seed_templates"]

_VAR = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
_ADJACENT = re.compile(r"\}\}\s*\{\{")
_MARKETING_WORDS = ("promo", "desconto", "oferta", "discount", "sale", "cupom", "compre")
_POLICY_MARKERS = ("bit.ly/", "tinyurl.com/", "wa.me/settings")
_MEDIA_FORMATS = {"IMAGE": "image", "VIDEO": "video", "DOCUMENT": "document"}


def placeholders(text: str | None) -> list[str]:
    return _VAR.findall(text or "")


@dataclass(slots=True)
class TemplateRec:
    id: str
    waba_id: str
    name: str
    language: str
    category: str
    components: list[dict[str, Any]]
    parameter_format: str = "positional"
    status: str = "APPROVED"
    quality: str = "GREEN"
    rejected_reason: str = "NONE"
    created_at: float = 0.0
    history: list[str] = field(default_factory=list)

    def graph(self, fields: list[str] | None = None) -> dict[str, Any]:
        full: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "language": self.language,
            "status": self.status,
            "category": self.category,
            "parameter_format": self.parameter_format.upper(),
            "components": self.components,
            "quality_score": {"score": self.quality, "date": int(self.created_at)},
            "rejected_reason": self.rejected_reason,
        }
        if not fields:
            return full
        return {k: full[k] for k in [*fields, "id"] if k in full}

    def component(self, kind: str) -> dict[str, Any] | None:
        return next((c for c in self.components if str(c.get("type")).upper() == kind), None)


def seed_templates(waba_id: str, new_id: Callable[[int], str], now: float) -> list[TemplateRec]:
    """The templates every simulated WABA starts with (approved, paused and disabled)."""
    base = 400000000000000

    def rec(name: str, lang: str, cat: str, comps: list[dict[str, Any]], **kw: Any) -> TemplateRec:
        return TemplateRec(new_id(base), waba_id, name, lang, cat, comps, created_at=now, **kw)

    quick = [{"type": "QUICK_REPLY", "text": "Aceitar"}, {"type": "QUICK_REPLY", "text": "Recusar"}]
    card = [
        {"type": "HEADER", "format": "IMAGE"},
        {"type": "BODY", "text": "Plantão em {{1}}."},
        {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Quero"}]},
    ]
    return [
        rec(
            "hello_world",
            "en_US",
            "UTILITY",
            [
                {"type": "HEADER", "format": "TEXT", "text": "Hello World"},
                {
                    "type": "BODY",
                    "text": "Welcome and congratulations!! This message demonstrates your "
                    "ability to send a WhatsApp message notification from the Cloud API.",
                },
                {"type": "FOOTER", "text": "WhatsApp Business Platform sample message"},
            ],
        ),
        rec(
            "vaga_plantao",
            "pt_BR",
            "MARKETING",
            [
                {"type": "HEADER", "format": "TEXT", "text": "Nova vaga"},
                {"type": "BODY", "text": "Olá {{1}}, temos um plantão em {{2}} para você."},
                {"type": "BUTTONS", "buttons": quick},
            ],
        ),
        rec(
            "lembrete_plantao",
            "pt_BR",
            "UTILITY",
            [
                {"type": "BODY", "text": "Oi {{nome}}, seu plantão é em {{data}}. Até lá!"},
                {
                    "type": "BUTTONS",
                    "buttons": [
                        {"type": "URL", "text": "Detalhes", "url": "https://example.com/p/{{1}}"}
                    ],
                },
            ],
            parameter_format="named",
        ),
        rec(
            "codigo_verificacao",
            "pt_BR",
            "AUTHENTICATION",
            [
                {"type": "BODY", "text": "*{{1}}* é seu código de verificação."},
                {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE"}]},
            ],
        ),
        rec(
            "carrossel_vagas",
            "pt_BR",
            "MARKETING",
            [
                {"type": "BODY", "text": "Vagas da semana para você, {{1}}."},
                {"type": "CAROUSEL", "cards": [{"components": card}, {"components": card}]},
            ],
        ),
        rec(
            "promo_pausada",
            "pt_BR",
            "MARKETING",
            [{"type": "BODY", "text": "Promoção."}],
            status="PAUSED",
            quality="RED",
        ),
        rec(
            "promo_desativada",
            "pt_BR",
            "MARKETING",
            [{"type": "BODY", "text": "Oferta."}],
            status="DISABLED",
            quality="RED",
        ),
    ]


# --- review --------------------------------------------------------------------------


def review(rec: TemplateRec) -> tuple[str, str, str | None]:
    """(status, reason, new category or None) for a submitted template."""
    body = rec.component("BODY")
    text = str(body.get("text", "")) if body else ""
    if not text or len(text) > 1024:
        return "REJECTED", "INVALID_FORMAT", None
    names = placeholders(text)
    stripped = text.strip()
    if names and (stripped.startswith("{{") or stripped.endswith("}}")):
        return "REJECTED", "INVALID_FORMAT", None
    if _ADJACENT.search(text):
        return "REJECTED", "INVALID_FORMAT", None
    words = len(_VAR.sub(" ", text).split())
    if names and words < 3 * len(names):
        return "REJECTED", "INVALID_FORMAT", None
    if rec.parameter_format == "positional" and names != [str(i + 1) for i in range(len(names))]:
        return "REJECTED", "INVALID_FORMAT", None
    if rec.parameter_format == "named" and any(not re.fullmatch(r"[a-z_]+", n) for n in names):
        return "REJECTED", "INVALID_FORMAT", None
    if rec.category == "AUTHENTICATION" and not _has_button(rec, "OTP"):
        return "REJECTED", "INVALID_FORMAT", None
    if rec.category == "UTILITY" and any(w in text.lower() for w in _MARKETING_WORDS):
        return "APPROVED", "NONE", "MARKETING"
    return "APPROVED", "NONE", None


def _has_button(rec: TemplateRec, kind: str) -> bool:
    buttons = rec.component("BUTTONS") or {}
    return any(b.get("type") == kind for b in buttons.get("buttons", []))


# --- send-time checks ----------------------------------------------------------------


def _params(comp: dict[str, Any]) -> list[dict[str, Any]]:
    ps = comp.get("parameters", [])
    if not isinstance(ps, list) or not all(isinstance(p, dict) for p in ps):
        raise SimError(131009, "parameters must be a list of objects")
    return ps


def _check_text_params(
    params: list[dict[str, Any]], names: list[str], fmt: str, where: str
) -> None:
    if len(params) != len(names):
        raise SimError(
            132000,
            f"{where}: number of localizable_params ({len(params)}) does not match the "
            f"expected number of params ({len(names)})",
        )
    for p in params:
        kind = p.get("type")
        if kind not in ("text", "currency", "date_time"):
            raise SimError(132012, f"{where}: parameter type {kind!r} where text is expected")
        if kind == "text" and not isinstance(p.get("text"), str):
            raise SimError(131008, f"{where}: parameter text is required")
        value = str(p.get("text", ""))
        if len(value) > 1024:
            raise SimError(132005, f"{where}: a parameter is longer than 1024 characters")
        if any(m in value for m in _POLICY_MARKERS):
            raise SimError(132007, f"{where}: parameter contains a disallowed link")
    given = [p.get("parameter_name") for p in params]
    if fmt == "named":
        if sorted(str(g) for g in given) != sorted(names) or None in given:
            raise SimError(132012, f"{where}: named parameters {sorted(names)} expected")
    elif any(g is not None for g in given):
        raise SimError(132012, f"{where}: parameter_name given for a positional template")


def _check_header(defn: dict[str, Any] | None, sent: dict[str, Any] | None, where: str) -> None:
    fmt = "" if defn is None else str(defn.get("format", "TEXT")).upper()
    if defn is None or (fmt == "TEXT" and not placeholders(defn.get("text"))):
        if sent is not None:
            raise SimError(132000, f"{where}: the template has no header parameters")
        return
    if sent is None:
        raise SimError(132000, f"{where}: header parameters are required")
    params = _params(sent)
    if fmt == "TEXT":
        _check_text_params(params, placeholders(defn.get("text")), "positional", where)
        return
    expected = _MEDIA_FORMATS.get(fmt, fmt.lower())
    if len(params) != 1:
        raise SimError(132000, f"{where}: one {expected} header parameter expected")
    if params[0].get("type") != expected:
        raise SimError(132012, f"{where}: header must be {expected}")
    media = params[0].get(expected)
    if not isinstance(media, dict) or not (media.get("id") or media.get("link")):
        raise SimError(131008, f"{where}: header {expected} needs an id or a link")


def _check_buttons(defn: dict[str, Any] | None, sent: list[dict[str, Any]], where: str) -> None:
    buttons = defn.get("buttons", []) if defn else []
    by_index: dict[int, dict[str, Any]] = {}
    for b in sent:
        try:
            idx = int(b.get("index", -1))
        except (TypeError, ValueError):
            raise SimError(131009, f"{where}: button index must be a number") from None
        if not 0 <= idx < len(buttons):
            raise SimError(132000, f"{where}: no button at index {idx}")
        by_index[idx] = b
    for i, spec in enumerate(buttons):
        kind = spec.get("type")
        needs = (kind == "URL" and placeholders(spec.get("url"))) or kind in ("OTP", "COPY_CODE")
        if needs and i not in by_index:
            raise SimError(132000, f"{where}: button {i} ({kind}) needs a parameter")
        if i in by_index and not _params(by_index[i]) and needs:
            raise SimError(132000, f"{where}: button {i} parameters are empty")


def check_send(rec: TemplateRec | None, payload: dict[str, Any]) -> None:
    """Raise the SimError Meta would answer for this template send, or return."""
    name = payload.get("name")
    if rec is None:
        raise SimError(132001, f"template name ({name}) does not exist in the translation")
    if rec.status == "PAUSED":
        raise SimError(132015, f"template {rec.name} is paused")
    if rec.status == "DISABLED":
        raise SimError(132016, f"template {rec.name} is disabled")
    if rec.status != "APPROVED":
        raise SimError(132001, f"template {rec.name} is {rec.status}, not approved")
    comps = payload.get("components", [])
    if not isinstance(comps, list) or not all(isinstance(c, dict) for c in comps):
        raise SimError(131009, "components must be a list of objects")
    sent: dict[str, dict[str, Any]] = {}
    buttons: list[dict[str, Any]] = []
    for c in comps:
        kind = str(c.get("type", "")).lower()
        if kind == "button":
            buttons.append(c)
        elif kind in ("header", "body", "carousel"):
            sent[kind] = c
        else:
            raise SimError(131009, f"unknown component type {kind!r}")
    body = rec.component("BODY")
    names = placeholders(body.get("text")) if body else []
    _check_text_params(
        _params(sent["body"]) if "body" in sent else [], names, rec.parameter_format, "body"
    )
    _check_header(rec.component("HEADER"), sent.get("header"), "header")
    _check_buttons(rec.component("BUTTONS"), buttons, "buttons")
    carousel = rec.component("CAROUSEL")
    if carousel is not None:
        _check_carousel(carousel, sent.get("carousel"))
    elif "carousel" in sent:
        raise SimError(132000, "the template has no carousel")
    rendered = (body.get("text", "") if body else "") + "".join(
        str(p.get("text", "")) for p in sent.get("body", {}).get("parameters", [])
    )
    if len(rendered) > 1024:
        raise SimError(132005, "the body with its parameters is longer than 1024 characters")


def _check_carousel(defn: dict[str, Any], sent: dict[str, Any] | None) -> None:
    cards_def = defn.get("cards", [])
    if sent is None:
        raise SimError(132000, "carousel cards are required")
    cards = sent.get("cards")
    if not isinstance(cards, list) or len(cards) != len(cards_def):
        got = len(cards) if isinstance(cards, list) else 0
        raise SimError(132000, f"carousel: {len(cards_def)} cards expected, got {got}")
    for i, (card_def, card) in enumerate(zip(cards_def, cards, strict=True)):
        where = f"carousel card {i}"
        if not isinstance(card, dict) or card.get("card_index") not in (i, str(i)):
            raise SimError(131009, f"{where}: card_index must be {i}")
        comps = {str(c.get("type", "")).lower(): c for c in card.get("components", [])}
        defs = {str(c.get("type", "")).upper(): c for c in card_def.get("components", [])}
        _check_header(defs.get("HEADER"), comps.get("header"), where)
        body_def = defs.get("BODY")
        names = placeholders(body_def.get("text")) if body_def else []
        body = comps.get("body")
        _check_text_params(_params(body) if body else [], names, "positional", where)

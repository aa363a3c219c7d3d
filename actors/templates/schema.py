"""The parameters a message template takes, read from its Graph API definition.

Why a schema at all: the old mapper (behaviour.md 7.11) never looked at the template. It
ordered whatever its config named, sent ``""`` for unresolved variables and guessed the
header type, so Meta answered 132000 (parameter count), 132012 (format) or 131008 (empty
text) only at send time. Reading the definition once (the ``components`` list exactly as
``GET /{waba_id}/message_templates`` returns it, cloud-api.md 3) tells the mapper every
slot a send must fill, of which type, and whether the send names its text parameters
(``parameter_format`` NAMED → ``parameter_name``) or numbers them (POSITIONAL).

Slot keys are what a mapping config refers to:

- body variable: its name (``nome``) in a NAMED template, its number (``"1"``) otherwise;
- header text variable: its name when NAMED, ``"header.1"`` when POSITIONAL (so it never
  collides with body ``{{1}}``);
- media or location header: ``"header"``;
- a button that takes a parameter: ``"button.<index>"`` (index in the BUTTONS list);
- inside a carousel card the same keys, relative to the card; the slot's ``card`` says
  which card (a carousel is filled from one row per card, see :mod:`actors.templates.mapper`).

A variable written twice in one text is one slot: Meta takes one parameter per variable.
The placeholder pattern tolerates ``{{ 1 }}`` like the simulator does; the linter is the
place that insists on the strict form.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

__all__ = [
    "HEADER_MEDIA_FORMATS",
    "VARIABLE",
    "ButtonSubType",
    "ComponentKind",
    "HeaderFormat",
    "ParameterFormat",
    "SchemaError",
    "SendShape",
    "Slot",
    "SlotType",
    "TemplateSchema",
    "placeholders",
]

ParameterFormat: TypeAlias = Literal["positional", "named"]
HeaderFormat: TypeAlias = Literal["TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION"]
ComponentKind: TypeAlias = Literal["header", "body", "button"]
SlotType: TypeAlias = Literal[
    "text", "image", "video", "document", "location", "payload", "coupon_code", "action"
]
ButtonSubType: TypeAlias = Literal["quick_reply", "url", "copy_code", "flow"]

VARIABLE: Final = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
"""A template variable, as the simulator's send-time check reads it (sim/templates.py)."""

HEADER_MEDIA_FORMATS: Final[Mapping[str, SlotType]] = {
    "IMAGE": "image",
    "VIDEO": "video",
    "DOCUMENT": "document",
    "LOCATION": "location",
}
_HEADER_FORMATS: Final[Mapping[str, HeaderFormat]] = {
    "TEXT": "TEXT",
    "IMAGE": "IMAGE",
    "VIDEO": "VIDEO",
    "DOCUMENT": "DOCUMENT",
    "LOCATION": "LOCATION",
}


class SchemaError(ValueError):
    """The definition is not a template Meta could have returned (structure, not content)."""


def placeholders(text: str | None) -> list[str]:
    """Variable names in order of appearance, repeats included."""
    return VARIABLE.findall(text or "")


def _unique(names: Sequence[str]) -> list[str]:
    seen: dict[str, None] = {}
    for n in names:
        seen.setdefault(n, None)
    return list(seen)


@dataclass(frozen=True, slots=True, kw_only=True)
class Slot:
    """One parameter a send must (or may) carry."""

    key: str
    """What the mapping config names; relative to the card for carousel slots."""
    component: ComponentKind
    type: SlotType
    required: bool
    """False only for quick-reply payloads and flow tokens, which Meta lets a send omit."""
    name: str | None = None
    """``parameter_name`` of a text variable in a NAMED template."""
    position: int | None = None
    """Number of a positional text variable (``{{2}}`` → 2)."""
    index: int | None = None
    """Index of the button in the BUTTONS list (the send's ``index``)."""
    sub_type: ButtonSubType | None = None
    card: int | None = None
    """Carousel card index, or None for the template's own components."""
    source: str | None = None
    """The text the variable sits in (body/header text, button URL): for rendered lengths."""
    example: str | None = None
    """Meta's example for this variable, when the definition has one (never sent)."""

    @property
    def qualified_key(self) -> str:
        """The key with its card prefix (``card.1.header``): unique across the template."""
        return self.key if self.card is None else f"card.{self.card}.{self.key}"


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateSchema:
    """Every slot of one template, in payload order (header, body, buttons, cards)."""

    name: str
    language: str
    category: str
    parameter_format: ParameterFormat
    slots: tuple[Slot, ...]
    header_format: HeaderFormat | None = None
    card_count: int = 0
    card_header_format: HeaderFormat | None = None

    @classmethod
    def from_definition(cls, defn: Mapping[str, object]) -> TemplateSchema:
        """Read a GET message_templates item (or a creation payload) into a schema."""
        comps = _components(defn.get("components"), "components")
        fmt = _parameter_format(defn.get("parameter_format"), comps)
        slots: list[Slot] = []
        header_format: HeaderFormat | None = None
        card_count = 0
        card_header: HeaderFormat | None = None
        for i, comp in enumerate(comps):
            kind = str(comp.get("type", "")).upper()
            where = f"components[{i}]"
            if kind == "HEADER":
                header_format = _header_format(comp, where)
                slots += _header_slots(comp, header_format, fmt, None)
            elif kind == "BODY":
                slots += _body_slots(comp, fmt, None)
            elif kind == "BUTTONS":
                slots += _button_slots(comp, where, None)
            elif kind == "CAROUSEL":
                cards = comp.get("cards")
                if not isinstance(cards, list):
                    raise SchemaError(f"{where}.cards must be a list")
                card_count = len(cards)
                for c, card in enumerate(cards):
                    cw = f"{where}.cards[{c}]"
                    if not isinstance(card, Mapping):
                        raise SchemaError(f"{cw} must be an object")
                    for j, cc in enumerate(_components(card.get("components"), f"{cw}.components")):
                        ckind = str(cc.get("type", "")).upper()
                        ccw = f"{cw}.components[{j}]"
                        if ckind == "HEADER":
                            card_header = _header_format(cc, ccw)
                            slots += _header_slots(cc, card_header, fmt, c)
                        elif ckind == "BODY":
                            slots += _body_slots(cc, fmt, c)
                        elif ckind == "BUTTONS":
                            slots += _button_slots(cc, ccw, c)
            elif kind not in ("FOOTER", ""):
                # Unknown component kinds (e.g. LIMITED_TIME_OFFER) take no parameters we
                # know how to fill; the linter reports them.
                continue
        category = str(defn.get("category", "")).upper()
        if category == "AUTHENTICATION" and not any(s.component == "body" for s in slots):
            # A creation payload has no body text: Meta's preset "{{1}} is your
            # verification code" still takes the code as body parameter 1.
            slots.insert(0, Slot(key="1", component="body", type="text", required=True, position=1))
        return cls(
            name=str(defn.get("name", "")),
            language=str(defn.get("language", "")),
            category=category,
            parameter_format=fmt,
            slots=tuple(slots),
            header_format=header_format,
            card_count=card_count,
            card_header_format=card_header,
        )

    def slots_for(self, card: int | None = None) -> tuple[Slot, ...]:
        """The template's own slots (card=None) or one carousel card's."""
        return tuple(s for s in self.slots if s.card == card)

    def names(self, card: int | None = None) -> tuple[str, ...]:
        """Every slot key, required or not, first occurrence order."""
        return tuple(_unique([s.key for s in self.slots_for(card)]))

    def required_names(self, card: int | None = None) -> tuple[str, ...]:
        """Keys a send cannot go without: every text variable, media, URL suffix, code."""
        return tuple(_unique([s.key for s in self.slots_for(card) if s.required]))


@dataclass(frozen=True, slots=True)
class _PartShape:
    """What a send must carry in the header, body and buttons of the template or of one
    carousel card: counts and the little else Meta checks before the text (132000)."""

    body: int
    body_names: frozenset[str] | None
    """Parameter names of a NAMED template's body; None when positional."""
    header: int
    media: SlotType | None
    """The media a header parameter must be (``image``…); None for text or no header."""
    buttons: tuple[tuple[int, str], ...]
    """(index, sub_type) of every button that cannot go without its parameter."""

    @classmethod
    def of(cls, slots: Sequence[Slot], named: bool) -> _PartShape:
        body = [s for s in slots if s.component == "body"]
        header = [s for s in slots if s.component == "header"]
        media = header[0].type if header and header[0].type != "text" else None
        return cls(
            body=len(body),
            body_names=frozenset(s.name or s.key for s in body) if named else None,
            header=len(header),
            media=media,
            buttons=tuple(
                (s.index, s.sub_type or "")
                for s in slots
                if s.component == "button" and s.required and s.index is not None
            ),
        )

    def problem(self, given: _Given) -> str | None:
        """What is wrong with ``given`` for this part, in words; None when it fits."""
        body = self._body_problem(given.body)
        if body is not None:
            return body
        header = self._header_problem(given.header)
        if header is not None:
            return header
        for index, sub_type in self.buttons:
            if not given.buttons.get(index):
                return f"needs a parameter for button {index} ({sub_type}), the send gives none"
        return None

    def _body_problem(self, params: list[object]) -> str | None:
        if len(params) != self.body:
            return f"takes {_count(self.body, 'body parameter')}, the send gives {len(params)}"
        if self.body_names is None:
            return None
        names = {str(_field(p, "parameter_name")) for p in params if _field(p, "parameter_name")}
        if names != self.body_names:
            want, got = ", ".join(sorted(self.body_names)), ", ".join(sorted(names)) or "none"
            return f"takes body parameters named {want}, the send names {got}"
        return None

    def _header_problem(self, params: list[object]) -> str | None:
        if len(params) != self.header:
            return f"takes {_count(self.header, 'header parameter')}, the send gives {len(params)}"
        if self.media is not None and _field(params[0], "type") != self.media:
            article = "an" if self.media[0] in "aeiou" else "a"
            given = _field(params[0], "type")
            return f"takes {article} {self.media} header, the send gives {given!r}"
        return None


@dataclass(frozen=True, slots=True)
class _Given:
    """A send's components, sorted by kind (of the template or of one card)."""

    header: list[object]
    body: list[object]
    buttons: dict[int, list[object]]
    cards: list[object] | None
    """The carousel's cards; None when the send has no carousel."""


@dataclass(frozen=True, slots=True)
class SendShape:
    """The parameters any send of one template must carry, compiled from its schema once.

    Why: Meta refuses a send whose parameters do not fit the template (132000: count,
    132012: header media) only after the outbox row, the budget reservation and a POST;
    behaviour.md 15.7 asks for the check before calling Meta. It runs for every template
    send on the chip's hot path, so what it needs is counted here once per template
    (the chip keeps one per name and language) and a send is one pass over its
    components. It checks what Meta counts, not the values: the mapper fills those.
    Components of a kind it does not model are let through (Meta judges them).
    """

    own: _PartShape
    cards: tuple[_PartShape, ...]

    @classmethod
    def of(cls, schema: TemplateSchema) -> SendShape:
        named = schema.parameter_format == "named"
        return cls(
            own=_PartShape.of(schema.slots_for(None), named),
            cards=tuple(
                _PartShape.of(schema.slots_for(c), named) for c in range(schema.card_count)
            ),
        )

    def problem(self, components: object) -> str | None:
        """Why Meta would refuse a send with these ``components`` (the ``template``'s),
        in words that follow "template <name>/<language> "; None when they fit."""
        given = _given(components)
        if isinstance(given, str):
            return given
        problem = self.own.problem(given)
        if problem is not None:
            return problem
        return self._cards_problem(given.cards)

    def _cards_problem(self, cards: list[object] | None) -> str | None:
        if cards is None:
            return (
                f"takes {len(self.cards)} carousel cards, the send gives none"
                if self.cards
                else None
            )
        if len(cards) != len(self.cards):
            return f"takes {len(self.cards)} carousel cards, the send gives {len(cards)}"
        for i, (shape, card) in enumerate(zip(self.cards, cards, strict=True)):
            comps = card.get("components") if isinstance(card, Mapping) else None
            given = _given(comps)
            problem = given if isinstance(given, str) else shape.problem(given)
            if problem is not None:
                return f"(card {i}) {problem}"
        return None


def _given(components: object) -> _Given | str:
    """A send's components by kind; what is malformed, in words."""
    if components is None:
        components = []
    if not isinstance(components, list):
        return "cannot take the send's components (not a list)"
    given = _Given([], [], {}, None)
    for comp in components:
        if not isinstance(comp, Mapping):
            return "cannot take a component of the send (not an object)"
        kind = str(comp.get("type", "")).lower()
        if kind == "carousel":
            cards = comp.get("cards")
            given = dataclasses.replace(given, cards=cards if isinstance(cards, list) else [])
            continue
        if kind not in ("header", "body", "button"):
            continue
        params = comp.get("parameters", [])
        if not isinstance(params, list):  # their items are looked at only where it matters
            return f"cannot take the send's {kind} parameters (not a list)"
        if kind == "button":
            try:
                index = int(str(comp.get("index")))
            except ValueError:
                return f"cannot take the send's button index {comp.get('index')!r} (not a number)"
            given.buttons[index] = params
        elif kind == "header":
            given.header.extend(params)
        else:
            given.body.extend(params)
    return given


def _field(parameter: object, name: str) -> object:
    """A field of a send's parameter; None when it is not an object."""
    return parameter.get(name) if isinstance(parameter, Mapping) else None


def _count(n: int, what: str) -> str:
    """``3 body parameters``, ``1 body parameter``, ``no body parameters``."""
    return f"{n} {what}" if n == 1 else f"{n or 'no'} {what}s"


def _components(value: object, where: str) -> list[Mapping[str, object]]:
    if not isinstance(value, list):
        raise SchemaError(f"{where} must be a list")
    out: list[Mapping[str, object]] = []
    for i, c in enumerate(value):
        if not isinstance(c, Mapping):
            raise SchemaError(f"{where}[{i}] must be an object")
        out.append(c)
    return out


def _parameter_format(value: object, comps: list[Mapping[str, object]]) -> ParameterFormat:
    if value is None:
        # Older GET answers omit it; a non-numeric body variable can only be NAMED.
        body = next((c for c in comps if str(c.get("type", "")).upper() == "BODY"), None)
        names = placeholders(_text(body.get("text")) if body else None)
        return "named" if any(not n.isdigit() for n in names) else "positional"
    fmt = str(value).lower()
    if fmt == "positional":
        return "positional"
    if fmt == "named":
        return "named"
    raise SchemaError(f"parameter_format must be POSITIONAL or NAMED, not {value!r}")


def _header_format(comp: Mapping[str, object], where: str) -> HeaderFormat:
    fmt = str(comp.get("format", "TEXT")).upper()
    if fmt not in _HEADER_FORMATS:
        raise SchemaError(f"{where}.format {fmt!r} is not one of {sorted(_HEADER_FORMATS)}")
    return _HEADER_FORMATS[fmt]


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _example(comp: Mapping[str, object]) -> Mapping[str, object]:
    ex = comp.get("example")
    return ex if isinstance(ex, Mapping) else {}


def _positional_examples(value: object) -> list[str]:
    """``[["a", "b"]]`` (body_text) or ``["a"]`` (header_text) → ``["a", "b"]``."""
    if not isinstance(value, list) or not value:
        return []
    first = value[0]
    row = first if isinstance(first, list) else value
    return [str(v) for v in row]


def _named_examples(value: object) -> dict[str, str]:
    if not isinstance(value, list):
        return {}
    out: dict[str, str] = {}
    for item in value:
        if isinstance(item, Mapping) and "param_name" in item:
            out[str(item["param_name"])] = str(item.get("example", ""))
    return out


def _text_slots(
    text: str,
    component: ComponentKind,
    fmt: ParameterFormat,
    card: int | None,
    examples: Mapping[str, object],
    positional_key: str,
    named_key: str,
) -> list[Slot]:
    names = _unique(placeholders(text))
    slots: list[Slot] = []
    if fmt == "named":
        ex_named = _named_examples(examples.get(named_key))
        for n in names:
            slots.append(
                Slot(
                    key=n,
                    component=component,
                    type="text",
                    required=True,
                    name=n,
                    card=card,
                    source=text,
                    example=ex_named.get(n),
                )
            )
        return slots
    ex_pos = _positional_examples(examples.get(positional_key))
    prefix = "header." if component == "header" else ""
    for n in names:
        if not n.isdigit():
            raise SchemaError(f"{{{{{n}}}}} is a named variable in a POSITIONAL template")
        pos = int(n)
        slots.append(
            Slot(
                key=f"{prefix}{pos}",
                component=component,
                type="text",
                required=True,
                position=pos,
                card=card,
                source=text,
                example=ex_pos[pos - 1] if 0 < pos <= len(ex_pos) else None,
            )
        )
    # Meta matches positional parameters by order, so the payload lists them 1..n.
    slots.sort(key=lambda s: s.position or 0)
    return slots


def _header_slots(
    comp: Mapping[str, object], fmt_h: HeaderFormat, fmt: ParameterFormat, card: int | None
) -> list[Slot]:
    if fmt_h == "TEXT":
        text = _text(comp.get("text"))
        return _text_slots(
            text, "header", fmt, card, _example(comp), "header_text", "header_text_named_params"
        )
    handles = _example(comp).get("header_handle")
    example = str(handles[0]) if isinstance(handles, list) and handles else None
    return [
        Slot(
            key="header",
            component="header",
            type=HEADER_MEDIA_FORMATS[fmt_h],
            required=True,
            card=card,
            example=example,
        )
    ]


def _body_slots(comp: Mapping[str, object], fmt: ParameterFormat, card: int | None) -> list[Slot]:
    text = _text(comp.get("text"))
    return _text_slots(
        text, "body", fmt, card, _example(comp), "body_text", "body_text_named_params"
    )


def _button_slots(comp: Mapping[str, object], where: str, card: int | None) -> list[Slot]:
    buttons = comp.get("buttons")
    if not isinstance(buttons, list):
        raise SchemaError(f"{where}.buttons must be a list")
    slots: list[Slot] = []
    for i, b in enumerate(buttons):
        if not isinstance(b, Mapping):
            raise SchemaError(f"{where}.buttons[{i}] must be an object")
        slot = _button_slot(b, i, card)
        if slot is not None:
            slots.append(slot)
    return slots


@dataclass(frozen=True, slots=True)
class _ButtonParam:
    """The slot a kind of button takes: its type, whether a send may omit it, the
    ``sub_type`` the send names, and whether the definition's example is this parameter's
    (the other kinds' examples, if any, are not what a send carries)."""

    type: SlotType
    required: bool
    sub_type: ButtonSubType
    example: bool = False


# The button kinds that take a parameter per send; the others (PHONE_NUMBER, VOICE_CALL,
# CATALOG…) have nothing to fill per recipient. A URL takes one only when it has a
# variable (a fixed URL takes none), and its URL is the text the variable sits in.
_BUTTON_PARAMS: Final[Mapping[str, _ButtonParam]] = {
    "QUICK_REPLY": _ButtonParam("payload", required=False, sub_type="quick_reply"),
    "URL": _ButtonParam("text", required=True, sub_type="url", example=True),
    "COPY_CODE": _ButtonParam("coupon_code", required=True, sub_type="copy_code", example=True),
    # Authentication: the code goes in the body and again in this button, sent as a url
    # sub_type whatever the otp_type (cloud-api.md 3).
    "OTP": _ButtonParam("text", required=True, sub_type="url"),
    "FLOW": _ButtonParam("action", required=False, sub_type="flow"),
}


def _button_slot(b: Mapping[str, object], i: int, card: int | None) -> Slot | None:
    kind = str(b.get("type", "")).upper()
    param = _BUTTON_PARAMS.get(kind)
    if param is None:
        return None
    source = None
    if kind == "URL":
        source = _text(b.get("url"))
        if not placeholders(source):
            return None
    ex = b.get("example")
    example = str(ex[0]) if isinstance(ex, list) and ex else (ex if isinstance(ex, str) else None)
    return Slot(
        key=f"button.{i}",
        component="button",
        type=param.type,
        required=param.required,
        index=i,
        sub_type=param.sub_type,
        card=card,
        source=source,
        example=example if param.example else None,
    )

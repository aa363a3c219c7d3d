"""Fill a template's parameters from one recipient's fields, or refuse to.

Why refuse: the old mapper (behaviour.md 7.11) sent ``""`` for every variable it could not
resolve, which Meta rejects (131008) or, worse, delivers as "Olá , sua vaga…". Here a
send is built only when every required slot of the :class:`TemplateSchema` has a
non-empty value within Meta's limits; otherwise the answer is :class:`Missing` with the
slot keys and why, so the campaign can skip that row and say so.

A mapping config tells where each slot's value comes from::

    {"1": "primeiro_nome",
     "2": {"column": "especialidade", "aliases": ["specialty"], "default": "sua área"},
     "header": "imagem_url"}

A slot the config does not name is looked up by its own key (so a NAMED template's
``{{nome}}`` reads the ``nome`` column) and then by :data:`DEFAULT_ALIASES`, the old
mapper's table. The first column with a non-blank value wins, then the default.

Meta's limits applied (cloud-api.md 2, sim/templates.py ``check_send``):

- text parameters: whitespace runs (newlines, tabs, more than one space) collapse to one
  space — Meta rejects body parameters with newlines, tabs or more than 4 consecutive
  spaces, and collapsing is what a human would have typed; at most
  :data:`TEXT_PARAM_MAX` characters each; the rendered body at most :data:`BODY_MAX`
  (:data:`CARD_BODY_MAX` in a carousel card) and the rendered header :data:`HEADER_TEXT_MAX`;
- URL buttons take the dynamic *suffix* only (the old carousel sent the whole URL,
  behaviour.md 15.5 #27): a full URL starting with the button's fixed part is cut to its
  suffix, any other absolute URL is refused;
- quick replies take ``{type: payload}`` (not text, 15.5 #27); copy codes and OTP codes at
  most :data:`CODE_MAX` characters;
- media headers take a ``link`` (http/https URL) or a media ``id`` (digits);
- link shorteners are refused (Meta's policy error 132007, which the simulator models).

Pure: no I/O. A :class:`TemplateMapper` parses the config once for a whole campaign.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final, TypeAlias

from actors.templates.schema import VARIABLE, Slot, TemplateSchema

__all__ = [
    "BODY_MAX",
    "CARD_BODY_MAX",
    "CODE_MAX",
    "DEFAULT_ALIASES",
    "HEADER_TEXT_MAX",
    "PAYLOAD_MAX",
    "TEXT_PARAM_MAX",
    "URL_MAX",
    "FieldSpec",
    "FillResult",
    "Filled",
    "MappingConfig",
    "MappingError",
    "Missing",
    "TemplateMapper",
    "fill",
    "normalise_text",
    "parse_mapping",
]

JsonDict: TypeAlias = dict[str, Any]

TEXT_PARAM_MAX: Final = 1024
"""One text parameter (sim/templates.py answers 132005 above it)."""
BODY_MAX: Final = 1024
"""The body with its parameters substituted (cloud-api.md 3: body ≤ 1024)."""
CARD_BODY_MAX: Final = 160
"""A carousel card's body; cloud-api.md is silent, Meta's public limit is 160."""
HEADER_TEXT_MAX: Final = 60
"""A text header with its parameter; cloud-api.md is silent, Meta's public limit is 60."""
URL_MAX: Final = 2000
"""A button URL with its suffix; Meta's public limit for URL buttons is 2000."""
CODE_MAX: Final = 15
"""Copy-code coupons and one-time passcodes; Meta's public limit is 15 characters."""
PAYLOAD_MAX: Final = 1024
"""Quick-reply payloads; Meta publishes no cap, so the text-parameter cap bounds them."""

SHORTENER_MARKERS: Final = ("bit.ly/", "tinyurl.com/", "goo.gl/", "wa.me/settings")
"""Link shorteners Meta's policy check refuses in parameters (132007 in the simulator)."""

DEFAULT_ALIASES: Final[Mapping[str, tuple[str, ...]]] = {
    "nome": ("nome", "primeiro_nome", "name"),
    "especialidade": ("especialidade_nome", "especialidade", "specialty"),
    "hospital": ("hospital_nome", "hospital", "hospital_name"),
    "data_plantao": ("data_plantao", "data", "date"),
    "valor": ("valor", "valor_plantao", "value"),
    "horario": ("horario", "periodo_horario", "time"),
    "periodo": ("periodo", "periodo_nome", "period"),
    "setor": ("setor", "setor_nome", "sector"),
}
"""The old mapper's fallbacks (behaviour.md 7.11) for slots the config does not name."""

_DIGITS: Final = re.compile(r"[0-9]+")
_LINK: Final = re.compile(r"https?://\S+", re.IGNORECASE)
_NUMBER: Final = re.compile(r"[+-]?\d+(?:\.\d+)?")


class MappingError(ValueError):
    """The mapping config is wrong for this template (a setup bug, not a recipient's)."""


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """Where one slot's value comes from."""

    column: str
    aliases: tuple[str, ...] = ()
    default: str | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column, *self.aliases)


MappingConfig: TypeAlias = Mapping[str, "str | FieldSpec | Mapping[str, object]"]
"""``{slot key: column | FieldSpec | {"column", "aliases", "default"}}``."""


@dataclass(frozen=True, slots=True)
class Filled:
    """The exact ``template.components`` list for the send."""

    components: list[JsonDict]


@dataclass(frozen=True, slots=True)
class Missing:
    """No send: these slot keys (``card.<i>.`` prefixed in cards) had no usable value."""

    names: tuple[str, ...]
    reason: str


FillResult: TypeAlias = Filled | Missing


def normalise_text(value: str) -> str:
    """Collapse every whitespace run (newline, tab, NBSP, spaces) to one space; strip."""
    return " ".join(value.split())


def _spec(key: str, raw: object) -> FieldSpec:
    if isinstance(raw, FieldSpec):
        spec = raw
    elif isinstance(raw, str):
        spec = FieldSpec(raw)
    elif isinstance(raw, Mapping):
        unknown = set(raw) - {"column", "aliases", "default"}
        if unknown:
            raise MappingError(f"{key}: unknown keys {sorted(map(str, unknown))}")
        column = raw.get("column", key)
        aliases = raw.get("aliases", ())
        default = raw.get("default")
        if not isinstance(column, str) or not column:
            raise MappingError(f"{key}: column must be a non-empty string")
        if isinstance(aliases, str) or not isinstance(aliases, Sequence):
            raise MappingError(f"{key}: aliases must be a list of column names")
        if not all(isinstance(a, str) and a for a in aliases):
            raise MappingError(f"{key}: aliases must be non-empty strings")
        if default is not None and not isinstance(default, str | int | float):
            raise MappingError(f"{key}: default must be a string")
        spec = FieldSpec(
            column, tuple(str(a) for a in aliases), None if default is None else str(default)
        )
    else:
        raise MappingError(f"{key}: expected a column name or an object, got {raw!r}")
    if spec.default is not None and not normalise_text(spec.default):
        # A blank default would be sent as an empty parameter: exactly what we refuse.
        raise MappingError(f"{key}: default must not be blank")
    return spec


def parse_mapping(raw: MappingConfig | None) -> dict[str, FieldSpec]:
    """Validate a mapping config (``{key: "column" | {column, aliases, default}}``)."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise MappingError("the mapping config must be an object")
    return {str(k): _spec(str(k), v) for k, v in raw.items()}


def _default_spec(key: str) -> FieldSpec:
    aliases = tuple(a for a in DEFAULT_ALIASES.get(key, ()) if a != key)
    return FieldSpec(key, aliases)


def _raw_value(fields: Mapping[str, object], plan: _Plan) -> object | None:
    for col in plan.columns:
        v = fields.get(col)
        if v is None:
            continue
        if type(v) is str:  # the usual case, without the ABC check and the join
            # str.isspace and str.split agree on what whitespace is.
            if v and not v.isspace():
                return v
            continue
        if isinstance(v, bool):
            continue
        if isinstance(v, Mapping) or normalise_text(str(v)):
            return v
    return plan.default


def _url_prefix(source: str) -> str:
    m = VARIABLE.search(source)
    return source[: m.start()] if m else source


def _has_shortener(value: str) -> bool:
    low = value.lower()
    for marker in SHORTENER_MARKERS:  # noqa: SIM110 (any() over a generator costs more)
        if marker in low:
            return True
    return False


class _Bad(Exception):
    """A value unusable for its slot; the message says why."""


def _text_value(raw: object) -> str:
    """A non-blank raw value as normalised text, or raise _Bad (objects are not text)."""
    if type(raw) is not str:
        if isinstance(raw, Mapping):
            raise _Bad("expected a text value, got an object")
        raw = str(raw)
    return " ".join(raw.split())  # normalise_text, inline


Build: TypeAlias = Callable[[object], JsonDict]
"""The send parameter for one slot from a non-blank raw value, or raise _Bad."""


def _builder(slot: Slot) -> Build:
    """The parameter builder for ``slot``, chosen once per template from its type and
    sub-type (they never change per recipient): the rules are checked in this order."""
    kind = slot.type
    if kind == "location":
        return lambda raw: {"type": "location", "location": _location(raw)}
    if kind in ("image", "video", "document"):
        return lambda raw: {"type": kind, kind: _media(_text_value(raw))}
    if kind == "payload":
        return _payload
    if kind == "action":
        return lambda raw: {"type": "action", "action": {"flow_token": _text_value(raw)}}
    if kind == "coupon_code":
        return lambda raw: {"type": "coupon_code", "coupon_code": _code(_text_value(raw))}
    if slot.sub_type == "url" and slot.source is None:
        # An authentication OTP button: a url sub_type with no URL of its own.
        return lambda raw: {"type": "text", "text": _code(_text_value(raw))}
    if slot.sub_type == "url":
        prefix = _url_prefix(slot.source or "")
        return lambda raw: {"type": "text", "text": _url_suffix(prefix, _linkless(raw))}
    name = slot.name

    def text(raw: object) -> JsonDict:
        value = _linkless(raw)
        if len(value) > TEXT_PARAM_MAX:
            raise _Bad(f"longer than {TEXT_PARAM_MAX} characters")
        param: JsonDict = {"type": "text", "text": value}
        if name is not None:
            param["parameter_name"] = name
        return param

    return text


def _media(value: str) -> JsonDict:
    if _LINK.fullmatch(value):
        return {"link": value}
    if _DIGITS.fullmatch(value):
        return {"id": value}
    raise _Bad(f"{value[:40]!r} is neither an http(s) link nor a media id")


def _payload(raw: object) -> JsonDict:
    value = _text_value(raw)
    if len(value) > PAYLOAD_MAX:
        raise _Bad(f"payload longer than {PAYLOAD_MAX} characters")
    return {"type": "payload", "payload": value}


def _code(value: str) -> str:
    """A copy code or a one-time passcode."""
    if " " in value or len(value) > CODE_MAX:
        raise _Bad(f"a code is at most {CODE_MAX} characters without spaces")
    return value


def _linkless(raw: object) -> str:
    """Text for a text or URL parameter: link shorteners are refused."""
    value = _text_value(raw)
    if _has_shortener(value):
        raise _Bad("link shorteners are refused by Meta's policy check")
    return value


def _url_suffix(prefix: str, value: str) -> str:
    if prefix and value.startswith(prefix):
        value = value[len(prefix) :]
    if "://" in value:
        raise _Bad(f"the button takes the part after {prefix!r}, not a whole URL")
    if " " in value or not value:
        raise _Bad("a URL suffix cannot contain spaces or be empty")
    return value


def _location(raw: object) -> JsonDict:
    if isinstance(raw, Mapping):
        lat, lng = raw.get("latitude"), raw.get("longitude")
        extra = {k: str(raw[k]) for k in ("name", "address") if raw.get(k)}
    else:
        parts = [p.strip() for p in str(raw).split(",")]
        if len(parts) != 2:
            raise _Bad("a location is 'latitude,longitude'")
        lat, lng = parts
        extra = {}
    if not (_NUMBER.fullmatch(str(lat)) and _NUMBER.fullmatch(str(lng))):
        raise _Bad("latitude and longitude must be numbers")
    if not (-90 <= float(str(lat)) <= 90 and -180 <= float(str(lng)) <= 180):
        raise _Bad("latitude or longitude out of range")
    return {"latitude": str(lat), "longitude": str(lng), **extra}


def _render(source: str, values: Mapping[str, str]) -> str:
    return VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), source)


@dataclass(frozen=True, slots=True)
class _Source:
    """A text with variables, measured once: its rendered length without rendering it."""

    length: int
    variables: tuple[tuple[str, int, int], ...]
    """(variable, occurrences, total length of its placeholders), in first-seen order."""

    def rendered_len(self, values: Mapping[str, str]) -> int:
        """``len(_render(source, values))``."""
        n = self.length
        for var, count, placeholders in self.variables:
            value = values.get(var)
            if value is not None:
                n += count * len(value) - placeholders
        return n


@lru_cache(maxsize=4096)
def _source(text: str) -> _Source:
    seen: dict[str, tuple[int, int]] = {}
    for m in VARIABLE.finditer(text):
        count, total = seen.get(m.group(1), (0, 0))
        seen[m.group(1)] = (count + 1, total + len(m.group(0)))
    return _Source(len(text), tuple((v, c, t) for v, (c, t) in seen.items()))


_TEXTS: Final = ("header", "body")
"""The components whose parameters land in a text with a length limit, in payload order."""


@dataclass(frozen=True, slots=True)
class _Plan:
    """One slot compiled for fill: everything about it that is the same for every
    recipient (its columns, its parameter builder, the texts its value lands in) is
    worked out here once, so fill per recipient only looks values up and builds."""

    slot: Slot
    columns: tuple[str, ...]
    """The spec's column then its aliases."""
    default: str | None
    build: Build
    text_index: int = 0
    """The slot's component's index in :data:`_TEXTS` (header or body; not a button)."""
    text_var: str | None = None
    """The variable a text parameter fills in the header or body text (for its length)."""
    text: _Source | None = None
    """The header or body text the slot sits in, measured (for the rendered length)."""
    url: _Source | None = None
    """The button URL a ``url`` parameter completes (for its length)."""
    button: JsonDict | None = None
    """A button's component without its parameter (``type``, ``sub_type``, ``index``)."""


def _plan(slot: Slot, spec: FieldSpec) -> _Plan:
    text_index, text_var, text, button = 0, None, None, None
    if slot.component in _TEXTS:
        text_index = _TEXTS.index(slot.component)
        text_var = slot.name if slot.name is not None else str(slot.position)
        text = _source(slot.source) if slot.source else None
    else:
        button = {"type": "button", "sub_type": slot.sub_type, "index": str(slot.index)}
    url = _source(slot.source) if slot.sub_type == "url" and slot.source else None
    return _Plan(
        slot, spec.columns, spec.default, _builder(slot), text_index, text_var, text, url, button
    )


class TemplateMapper:
    """One template + one mapping config, checked once, applied to many recipients."""

    __slots__ = ("_card_plans", "_plans", "schema")

    def __init__(
        self,
        schema: TemplateSchema,
        mapping: MappingConfig | None = None,
        card_mapping: MappingConfig | None = None,
    ) -> None:
        self.schema = schema
        specs = parse_mapping(mapping)
        card_specs = parse_mapping(card_mapping)
        own, card_keys = set(schema.names()), set(schema.names(0)) if schema.card_count else set()
        if unknown := sorted(set(specs) - own):
            raise MappingError(f"{schema.name}: the template has no slots {unknown}")
        if unknown := sorted(set(card_specs) - card_keys):
            raise MappingError(f"{schema.name}: the carousel cards have no slots {unknown}")
        # Everything that does not depend on the recipient is worked out here, once per
        # template + mapping: the slots' columns, the variables they fill, the texts'
        # lengths. Per recipient, fill only looks values up and substitutes them.
        self._plans = tuple(
            _plan(s, specs.get(s.key) or _default_spec(s.key)) for s in schema.slots_for(None)
        )
        self._card_plans = tuple(
            tuple(
                _plan(s, card_specs.get(s.key) or _default_spec(s.key)) for s in schema.slots_for(c)
            )
            for c in range(schema.card_count)
        )

    def fill(
        self, fields: Mapping[str, object], cards: Sequence[Mapping[str, object]] = ()
    ) -> FillResult:
        """Components for one recipient (and one row per carousel card), or why not."""
        problems: dict[str, str] = {}
        if self.schema.card_count == 0 and cards:
            raise ValueError(f"{self.schema.name} is not a carousel template")
        if len(cards) != self.schema.card_count:
            problems["cards"] = f"{self.schema.card_count} cards expected, got {len(cards)}"
        components = _part(self._plans, fields, BODY_MAX, problems)
        if self.schema.card_count and "cards" not in problems:
            built = [
                {"card_index": i, "components": _part(plans, row, CARD_BODY_MAX, problems)}
                for i, (plans, row) in enumerate(zip(self._card_plans, cards, strict=True))
            ]
            components.append({"type": "carousel", "cards": built})
        if problems:
            return Missing(tuple(problems), "; ".join(f"{k}: {why}" for k, why in problems.items()))
        return Filled(components)


def _part(
    plans: Sequence[_Plan],
    fields: Mapping[str, object],
    body_max: int,
    problems: dict[str, str],
) -> list[JsonDict]:
    """Header, body and button components of the template or of one card.

    One pass over the compiled plans, per recipient: each parameter goes straight to its
    component (header and body parameters in slot order, then one component per
    button), and the header and body keep their first filled slot and the first text
    one of their slots sits in, for the rendered-length checks after the pass."""
    params: tuple[list[JsonDict], list[JsonDict]] = ([], [])
    texts: tuple[dict[str, str], dict[str, str]] = ({}, {})
    first: list[_Plan | None] = [None, None]
    measured: list[_Source | None] = [None, None]
    buttons: list[JsonDict] = []
    for plan in plans:
        raw = _raw_value(fields, plan)
        if raw is None:
            if plan.slot.required:
                problems[plan.slot.qualified_key] = f"no value in {', '.join(plan.columns)}"
            continue
        try:
            p = plan.build(raw)
        except _Bad as exc:
            problems[plan.slot.qualified_key] = str(exc)
            continue
        if plan.button is not None:
            buttons.append({**plan.button, "parameters": [p]})
        else:
            g = plan.text_index
            if first[g] is None:
                first[g] = plan
            params[g].append(p)
            if measured[g] is None:
                measured[g] = plan.text
            if plan.text_var is not None and p["type"] == "text":
                texts[g][plan.text_var] = p["text"]
        if plan.url is not None and plan.url.rendered_len({"1": p["text"]}) > URL_MAX:
            problems[plan.slot.qualified_key] = f"the URL would be longer than {URL_MAX} characters"
    for g, kind, limit in ((0, "header", HEADER_TEXT_MAX), (1, "body", body_max)):
        text = measured[g]
        if text is not None and text.rendered_len(texts[g]) > limit:
            head = first[g]
            assert head is not None  # a text is measured only once a slot of it is filled
            problems[head.slot.qualified_key] = (
                f"the {kind} would be longer than {limit} characters"
            )
    out: list[JsonDict] = []
    if params[0]:
        out.append({"type": "header", "parameters": params[0]})
    if params[1]:
        out.append({"type": "body", "parameters": params[1]})
    out += buttons
    return out


def fill(
    schema: TemplateSchema,
    fields: Mapping[str, object],
    mapping: MappingConfig | None = None,
    *,
    cards: Sequence[Mapping[str, object]] = (),
    card_mapping: MappingConfig | None = None,
) -> FillResult:
    """One-off :meth:`TemplateMapper.fill`; build a TemplateMapper for a whole audience."""
    return TemplateMapper(schema, mapping, card_mapping).fill(fields, cards)

"""TemplateSchema from Graph API definitions: which slots a send must fill."""

from __future__ import annotations

from typing import Any

import pytest

from actors.templates.schema import SchemaError, SendShape, TemplateSchema

POSITIONAL: dict[str, Any] = {
    "name": "vaga_plantao",
    "language": "pt_BR",
    "category": "MARKETING",
    "parameter_format": "POSITIONAL",
    "components": [
        {
            "type": "HEADER",
            "format": "TEXT",
            "text": "Vaga em {{1}}",
            "example": {"header_text": ["SP"]},
        },
        {
            "type": "BODY",
            "text": "Olá {{1}}, temos um plantão de {{2}} para você, {{1}}.",
            "example": {"body_text": [["Bruno", "Pediatria"]]},
        },
        {"type": "FOOTER", "text": "Responda SAIR para não receber"},
        {
            "type": "BUTTONS",
            "buttons": [
                {"type": "QUICK_REPLY", "text": "Quero"},
                {"type": "QUICK_REPLY", "text": "Não"},
            ],
        },
    ],
}

NAMED: dict[str, Any] = {
    "name": "lembrete_plantao",
    "language": "pt_BR",
    "category": "UTILITY",
    "parameter_format": "NAMED",
    "components": [
        {
            "type": "HEADER",
            "format": "TEXT",
            "text": "Plantão de {{nome}}",
            "example": {"header_text_named_params": [{"param_name": "nome", "example": "Ana"}]},
        },
        {
            "type": "BODY",
            "text": "Oi {{nome}}, seu plantão é em {{data}}. Até lá!",
            "example": {
                "body_text_named_params": [
                    {"param_name": "nome", "example": "Ana"},
                    {"param_name": "data", "example": "01/12"},
                ]
            },
        },
        {
            "type": "BUTTONS",
            "buttons": [
                {
                    "type": "URL",
                    "text": "Detalhes",
                    "url": "https://example.com/p/{{1}}",
                    "example": ["https://example.com/p/V1000"],
                },
                {"type": "URL", "text": "Site", "url": "https://example.com"},
                {"type": "PHONE_NUMBER", "text": "Ligar", "phone_number": "+5511999999999"},
            ],
        },
    ],
}

IMAGE: dict[str, Any] = {
    "name": "vaga_imagem",
    "language": "pt_BR",
    "category": "MARKETING",
    "components": [
        {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["4::aGFuZGxl"]}},
        {"type": "BODY", "text": "Nova vaga para {{1}} nesta semana."},
        {
            "type": "BUTTONS",
            "buttons": [
                {"type": "COPY_CODE", "example": "PLANTAO10"},
                {"type": "FLOW", "text": "Inscrever", "flow_id": "123"},
            ],
        },
    ],
}

CAROUSEL: dict[str, Any] = {
    "name": "carrossel_vagas",
    "language": "pt_BR",
    "category": "MARKETING",
    "components": [
        {"type": "BODY", "text": "Vagas da semana para você, {{1}}."},
        {
            "type": "CAROUSEL",
            "cards": [
                {
                    "components": [
                        {"type": "HEADER", "format": "IMAGE"},
                        {"type": "BODY", "text": "Plantão em {{1}} no dia {{2}}."},
                        {
                            "type": "BUTTONS",
                            "buttons": [
                                {"type": "QUICK_REPLY", "text": "Quero"},
                                {"type": "URL", "text": "Ver", "url": "https://x.example/v/{{1}}"},
                            ],
                        },
                    ]
                }
            ]
            * 3,
        },
    ],
}

AUTH: dict[str, Any] = {
    "name": "codigo_verificacao",
    "language": "pt_BR",
    "category": "AUTHENTICATION",
    "components": [
        {"type": "BODY", "text": "*{{1}}* é seu código de verificação."},
        {"type": "FOOTER", "code_expiration_minutes": 10},
        {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE"}]},
    ],
}

LOCATION: dict[str, Any] = {
    "name": "local_plantao",
    "language": "pt_BR",
    "category": "UTILITY",
    "components": [
        {"type": "HEADER", "format": "LOCATION"},
        {"type": "BODY", "text": "Seu plantão é neste endereço, até amanhã."},
    ],
}

# (id, definition, format, [(qualified key, component, type, required, name, position, index,
#   sub_type)], required_names())
CASES: list[tuple[str, dict[str, Any], str, list[tuple[Any, ...]], tuple[str, ...]]] = [
    (
        "positional",
        POSITIONAL,
        "positional",
        [
            ("header.1", "header", "text", True, None, 1, None, None),
            ("1", "body", "text", True, None, 1, None, None),
            ("2", "body", "text", True, None, 2, None, None),
            ("button.0", "button", "payload", False, None, None, 0, "quick_reply"),
            ("button.1", "button", "payload", False, None, None, 1, "quick_reply"),
        ],
        ("header.1", "1", "2"),
    ),
    (
        "named",
        NAMED,
        "named",
        [
            ("nome", "header", "text", True, "nome", None, None, None),
            ("nome", "body", "text", True, "nome", None, None, None),
            ("data", "body", "text", True, "data", None, None, None),
            ("button.0", "button", "text", True, None, None, 0, "url"),
        ],
        ("nome", "data", "button.0"),
    ),
    (
        "image_header_copy_code_flow",
        IMAGE,
        "positional",
        [
            ("header", "header", "image", True, None, None, None, None),
            ("1", "body", "text", True, None, 1, None, None),
            ("button.0", "button", "coupon_code", True, None, None, 0, "copy_code"),
            ("button.1", "button", "action", False, None, None, 1, "flow"),
        ],
        ("header", "1", "button.0"),
    ),
    (
        "authentication_otp",
        AUTH,
        "positional",
        [
            ("1", "body", "text", True, None, 1, None, None),
            ("button.0", "button", "text", True, None, None, 0, "url"),
        ],
        ("1", "button.0"),
    ),
    (
        "authentication_creation_payload",
        {
            "name": "codigo_acesso",
            "category": "AUTHENTICATION",
            "components": [
                {"type": "BODY", "add_security_recommendation": True},
                {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "ONE_TAP"}]},
            ],
        },
        "positional",
        [
            ("1", "body", "text", True, None, 1, None, None),
            ("button.0", "button", "text", True, None, None, 0, "url"),
        ],
        ("1", "button.0"),
    ),
    (
        "location_header",
        LOCATION,
        "positional",
        [("header", "header", "location", True, None, None, None, None)],
        ("header",),
    ),
]


@pytest.mark.parametrize(
    ("defn", "fmt", "slots", "required"),
    [pytest.param(*c[1:], id=c[0]) for c in CASES],
)
def test_slots(
    defn: dict[str, Any], fmt: str, slots: list[tuple[Any, ...]], required: tuple[str, ...]
) -> None:
    schema = TemplateSchema.from_definition(defn)
    assert schema.name == defn["name"]
    assert schema.parameter_format == fmt
    got = [
        (s.qualified_key, s.component, s.type, s.required, s.name, s.position, s.index, s.sub_type)
        for s in schema.slots
    ]
    assert got == slots
    assert schema.required_names() == required


@pytest.mark.parametrize(
    ("defn", "key", "example"),
    [
        pytest.param(POSITIONAL, "header.1", "SP", id="header_text"),
        pytest.param(POSITIONAL, "2", "Pediatria", id="body_positional"),
        pytest.param(NAMED, "data", "01/12", id="body_named"),
        pytest.param(NAMED, "button.0", "https://example.com/p/V1000", id="url_button"),
        pytest.param(IMAGE, "header", "4::aGFuZGxl", id="header_handle"),
        pytest.param(IMAGE, "button.0", "PLANTAO10", id="copy_code"),
        pytest.param(IMAGE, "1", None, id="no_example"),
    ],
)
def test_examples(defn: dict[str, Any], key: str, example: str | None) -> None:
    schema = TemplateSchema.from_definition(defn)
    slot = next(s for s in schema.slots if s.key == key)
    assert slot.example == example


def test_carousel_slots_are_per_card() -> None:
    schema = TemplateSchema.from_definition(CAROUSEL)
    assert schema.card_count == 3
    assert schema.card_header_format == "IMAGE"
    assert schema.required_names() == ("1",)
    for card in range(3):
        assert schema.required_names(card) == ("header", "1", "2", "button.1")
        assert schema.names(card) == ("header", "1", "2", "button.0", "button.1")
    assert [s.qualified_key for s in schema.slots_for(2)] == [
        "card.2.header",
        "card.2.1",
        "card.2.2",
        "card.2.button.0",
        "card.2.button.1",
    ]


def test_url_source_and_fixed_url_has_no_slot() -> None:
    schema = TemplateSchema.from_definition(NAMED)
    urls = [s for s in schema.slots if s.sub_type == "url"]
    assert [s.source for s in urls] == ["https://example.com/p/{{1}}"]


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        pytest.param("Oi {{nome}}, tudo bem com você hoje?", "named", id="named_inferred"),
        pytest.param("Oi {{1}}, tudo bem com você hoje?", "positional", id="positional_inferred"),
        pytest.param("Sem variáveis aqui.", "positional", id="no_variables"),
    ],
)
def test_parameter_format_inferred_when_absent(text: str, fmt: str) -> None:
    schema = TemplateSchema.from_definition({"components": [{"type": "BODY", "text": text}]})
    assert schema.parameter_format == fmt


@pytest.mark.parametrize("value", ["named", "NAMED", "Named"])
def test_parameter_format_case_insensitive(value: str) -> None:
    defn = {**NAMED, "parameter_format": value}
    assert TemplateSchema.from_definition(defn).parameter_format == "named"


@pytest.mark.parametrize(
    ("defn", "message"),
    [
        pytest.param({"components": None}, "components must be a list", id="no_components"),
        pytest.param({"components": ["BODY"]}, "must be an object", id="component_not_object"),
        pytest.param(
            {"components": [{"type": "HEADER", "format": "GIF"}]}, "format", id="bad_header"
        ),
        pytest.param(
            {"parameter_format": "mixed", "components": []}, "parameter_format", id="bad_format"
        ),
        pytest.param(
            {
                "parameter_format": "POSITIONAL",
                "components": [{"type": "BODY", "text": "Oi {{nome}}, tudo certo por aí?"}],
            },
            "named variable",
            id="named_in_positional",
        ),
        pytest.param(
            {"components": [{"type": "BUTTONS", "buttons": "QUICK_REPLY"}]},
            "buttons must be a list",
            id="buttons_not_list",
        ),
        pytest.param(
            {"components": [{"type": "CAROUSEL", "cards": {}}]},
            "cards must be a list",
            id="cards_not_list",
        ),
    ],
)
def test_schema_errors(defn: dict[str, Any], message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        TemplateSchema.from_definition(defn)


def test_template_without_parameters() -> None:
    schema = TemplateSchema.from_definition(
        {"name": "hello_world", "components": [{"type": "BODY", "text": "Hello!"}]}
    )
    assert schema.slots == ()
    assert schema.required_names() == ()


def _text(*texts: str, kind: str = "body", **extra: Any) -> dict[str, Any]:
    return {"type": kind, "parameters": [{"type": "text", "text": t} for t in texts], **extra}


def _named(**values: str) -> dict[str, Any]:
    params = [{"type": "text", "text": v, "parameter_name": k} for k, v in values.items()]
    return {"type": "body", "parameters": params}


_IMG = {"type": "header", "parameters": [{"type": "image", "image": {"id": "1"}}]}
_DOC = {"type": "header", "parameters": [{"type": "document", "document": {"id": "1"}}]}
_CODE = {"type": "button", "sub_type": "copy_code", "index": 0, "parameters": [{"type": "x"}]}
_URL = _text("V1", kind="button", sub_type="url", index="0")
_CARD = {"components": [_IMG, _text("H", "1/12"), {**_URL, "index": 1}]}


@pytest.mark.parametrize(
    ("defn", "components", "problem"),
    [
        pytest.param(POSITIONAL, [_text("SP", kind="header"), _text("Ana", "UTI")], None, id="ok"),
        pytest.param(
            POSITIONAL,
            [_text("SP", kind="header"), _text("Ana")],
            "takes 2 body parameters, the send gives 1",
            id="body-count",
        ),
        pytest.param(
            POSITIONAL,
            [_text("Ana", "UTI")],
            "takes 1 header parameter, the send gives 0",
            id="header-count",
        ),
        pytest.param(NAMED, [_text("Ana", kind="header"), _named(nome="A", data="1"), _URL], None),
        pytest.param(
            NAMED,
            [_text("Ana", kind="header"), _named(nome="A", dia="1"), _URL],
            "takes body parameters named data, nome, the send names dia, nome",
            id="named",
        ),
        pytest.param(
            NAMED,
            [_text("Ana", kind="header"), _named(nome="A", data="1")],
            "needs a parameter for button 0 (url), the send gives none",
            id="url-button",
        ),
        pytest.param(IMAGE, [_IMG, _text("Ana"), _CODE], None, id="flow-button-optional"),
        pytest.param(
            IMAGE,
            [_DOC, _text("Ana"), _CODE],
            "takes an image header, the send gives 'document'",
            id="header-media",
        ),
        pytest.param(AUTH, [_text("123"), _text("123", kind="button", index="0")], None),
        pytest.param(
            LOCATION,
            [_text("x", kind="header")],
            "takes a location header, the send gives 'text'",
            id="location",
        ),
        pytest.param(
            {"name": "x", "components": [{"type": "BODY", "text": "Oi"}]},
            [_text("Ana")],
            "takes no body parameters, the send gives 1",
            id="no-variables",
        ),
        pytest.param(
            CAROUSEL,
            [_text("Ana"), {"type": "carousel", "cards": [_CARD] * 3}],
            None,
            id="carousel",
        ),
        pytest.param(
            CAROUSEL,
            [_text("Ana"), {"type": "carousel", "cards": [_CARD] * 2}],
            "takes 3 carousel cards, the send gives 2",
            id="carousel-cards",
        ),
        pytest.param(
            CAROUSEL,
            [_text("Ana"), {"type": "carousel", "cards": [_CARD, _CARD, {"components": [_IMG]}]}],
            "(card 2) takes 2 body parameters, the send gives 0",
            id="carousel-card",
        ),
        pytest.param(
            POSITIONAL,
            {"body": []},
            "cannot take the send's components (not a list)",
            id="malformed",
        ),
        pytest.param(
            {"name": "x", "components": [{"type": "BODY", "text": "Oi"}]},
            [{"type": "limited_time_offer", "parameters": [{"x": 1}]}],
            None,
            id="unknown-kinds-are-metas-to-judge",
        ),
    ],
)
def test_send_shape(defn: dict[str, Any], components: object, problem: str | None) -> None:
    shape = SendShape.of(TemplateSchema.from_definition(defn))
    assert shape.problem(components) == problem

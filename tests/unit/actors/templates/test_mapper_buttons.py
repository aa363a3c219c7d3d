"""Filling button parameters: URL suffixes, quick-reply payloads, copy codes, flow
tokens and authentication codes, each Filled or Missing, never "".
"""

from __future__ import annotations

from typing import Any

import pytest

from actors.templates.mapper import Filled, MappingConfig, Missing, fill
from actors.templates.schema import TemplateSchema
from tests.unit.actors.templates.mapper_builders import schema as _schema

# --- buttons -----------------------------------------------------------------------------

URL_BUTTON = {
    "type": "BUTTONS",
    "buttons": [
        {"type": "QUICK_REPLY", "text": "Quero"},
        {"type": "URL", "text": "Ver vaga", "url": "https://vagas.example.com/v/{{1}}"},
    ],
}


@pytest.mark.parametrize(
    ("mapping", "row", "expected"),
    [
        pytest.param(
            {"button.1": "vaga_id"},
            {"vaga_id": "V1000"},
            [
                {
                    "type": "button",
                    "sub_type": "url",
                    "index": "1",
                    "parameters": [{"type": "text", "text": "V1000"}],
                }
            ],
            id="url_suffix",
        ),
        pytest.param(
            {"button.1": "link"},
            {"link": "https://vagas.example.com/v/V1000"},
            [
                {
                    "type": "button",
                    "sub_type": "url",
                    "index": "1",
                    "parameters": [{"type": "text", "text": "V1000"}],
                }
            ],
            id="full_url_cut_to_suffix",
        ),
        pytest.param(
            {"button.0": "vaga_id", "button.1": "vaga_id"},
            {"vaga_id": "V1000"},
            [
                {
                    "type": "button",
                    "sub_type": "quick_reply",
                    "index": "0",
                    "parameters": [{"type": "payload", "payload": "V1000"}],
                },
                {
                    "type": "button",
                    "sub_type": "url",
                    "index": "1",
                    "parameters": [{"type": "text", "text": "V1000"}],
                },
            ],
            id="quick_reply_payload",
        ),
        pytest.param(
            {"button.0": "p", "button.1": "v"},
            {"p": "x" * 1025, "v": "V1"},
            ("button.0",),
            id="payload_too_long",
        ),
        pytest.param(
            {"button.1": "link"},
            {"link": "https://other.example.com/V1"},
            ("button.1",),
            id="foreign_full_url",
        ),
        pytest.param({"button.1": "v"}, {"v": "V 1000"}, ("button.1",), id="suffix_with_space"),
        pytest.param({"button.1": "v"}, {"v": "x" * 2000}, ("button.1",), id="url_too_long"),
        pytest.param({"button.1": "v"}, {}, ("button.1",), id="url_missing"),
        pytest.param(
            {"button.0": "p", "button.1": "v"},
            {"v": "V1"},
            [
                {
                    "type": "button",
                    "sub_type": "url",
                    "index": "1",
                    "parameters": [{"type": "text", "text": "V1"}],
                }
            ],
            id="optional_payload_omitted",
        ),
    ],
)
def test_url_and_quick_reply_buttons(
    mapping: MappingConfig, row: dict[str, str], expected: Any
) -> None:
    schema = _schema({"type": "BODY", "text": "Temos uma vaga nova para você."}, URL_BUTTON)
    result = fill(schema, row, mapping)
    if isinstance(expected, tuple):
        assert isinstance(result, Missing)
        assert result.names == expected
    else:
        assert result == Filled(expected)


@pytest.mark.parametrize(
    ("button", "value", "expected"),
    [
        pytest.param(
            {"type": "COPY_CODE", "example": "ABC"},
            "PLANTAO10",
            {
                "type": "button",
                "sub_type": "copy_code",
                "index": "0",
                "parameters": [{"type": "coupon_code", "coupon_code": "PLANTAO10"}],
            },
            id="copy_code",
        ),
        pytest.param({"type": "COPY_CODE"}, "X" * 16, None, id="copy_code_too_long"),
        pytest.param({"type": "COPY_CODE"}, "", None, id="copy_code_missing"),
        pytest.param(
            {"type": "FLOW", "text": "Inscrever", "flow_id": "1"},
            "tok-1",
            {
                "type": "button",
                "sub_type": "flow",
                "index": "0",
                "parameters": [{"type": "action", "action": {"flow_token": "tok-1"}}],
            },
            id="flow_token",
        ),
        pytest.param({"type": "FLOW", "text": "Inscrever", "flow_id": "1"}, "", (), id="flow_opt"),
        pytest.param(
            {"type": "PHONE_NUMBER", "text": "Ligar", "phone_number": "+551199"},
            "x",
            (),
            id="phone_takes_nothing",
        ),
    ],
)
def test_other_buttons(button: dict[str, Any], value: str, expected: Any) -> None:
    schema = _schema(
        {"type": "BODY", "text": "Temos uma vaga nova para você."},
        {"type": "BUTTONS", "buttons": [button]},
    )
    mapping: MappingConfig = {"button.0": "v"} if schema.names() else {}
    result = fill(schema, {"v": value}, mapping)
    if expected is None:
        assert isinstance(result, Missing)
        assert result.names == ("button.0",)
    elif expected == ():
        assert result == Filled([])
    else:
        assert result == Filled([expected])


def test_authentication_code_fills_body_and_button() -> None:
    schema = TemplateSchema.from_definition(
        {
            "name": "codigo",
            "category": "AUTHENTICATION",
            "components": [
                {"type": "BODY", "text": "*{{1}}* é seu código de verificação."},
                {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE"}]},
            ],
        }
    )
    result = fill(schema, {"codigo": "482913"}, {"1": "codigo", "button.0": "codigo"})
    assert result == Filled(
        [
            {"type": "body", "parameters": [{"type": "text", "text": "482913"}]},
            {
                "type": "button",
                "sub_type": "url",
                "index": "0",
                "parameters": [{"type": "text", "text": "482913"}],
            },
        ]
    )
    too_long = fill(schema, {"c": "1" * 16}, {"1": "c", "button.0": "c"})
    assert isinstance(too_long, Missing)
    assert too_long.names == ("button.0",)

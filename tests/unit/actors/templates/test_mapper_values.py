"""Filling template parameters: what a value becomes, and when it is refused instead.

Text is normalised (whitespace collapsed), bounded (per parameter and as the rendered
body or header) and never a link shortener; media and location headers take a link, an
id or coordinates. A value that cannot be sent is Missing, never "".
"""

from __future__ import annotations

from typing import Any

import pytest

from actors.templates.mapper import Filled, Missing, fill, normalise_text
from tests.unit.actors.templates.mapper_builders import schema as _schema

# --- normalisation and limits ---------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("  Ana  ", "Ana", id="strip"),
        pytest.param("Ana\nMaria", "Ana Maria", id="newline"),
        pytest.param("Ana\tMaria", "Ana Maria", id="tab"),
        pytest.param("Ana      Maria", "Ana Maria", id="five_spaces"),
        pytest.param("Ana\u00a0\r\n Maria", "Ana Maria", id="nbsp_crlf"),
        pytest.param(" \n\t ", "", id="blank"),
    ],
)
def test_normalise_text(raw: str, expected: str) -> None:
    assert normalise_text(raw) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("Ana\n\nMaria\t Souza", "Ana Maria Souza", id="collapsed"),
        pytest.param(2500, "2500", id="number_stringified"),
        pytest.param("x" * 1024, None, id="1024_fits_param_but_not_body"),
        pytest.param("x" * 1025, None, id="over_param_limit"),
        pytest.param("veja bit.ly/abc", None, id="shortener"),
        pytest.param("   ", None, id="blank_is_missing"),
        pytest.param(None, None, id="none_is_missing"),
        pytest.param({"a": 1}, None, id="object_refused"),
    ],
)
def test_text_values(value: object, expected: str | None) -> None:
    schema = _schema({"type": "BODY", "text": "Olá {{1}}, temos novidades para você hoje."})
    result = fill(schema, {"v": value}, {"1": "v"})
    if expected is None:
        assert isinstance(result, Missing)
        assert result.names == ("1",)
    else:
        assert result == Filled(
            [{"type": "body", "parameters": [{"type": "text", "text": expected}]}]
        )


def test_body_length_is_checked_rendered() -> None:
    text = "Olá {{1}}, temos novidades para você hoje."
    room = 1024 - len(text.replace("{{1}}", ""))
    schema = _schema({"type": "BODY", "text": text})
    assert isinstance(fill(schema, {"v": "x" * room}, {"1": "v"}), Filled)
    over = fill(schema, {"v": "x" * (room + 1)}, {"1": "v"})
    assert isinstance(over, Missing)
    assert "body would be longer than 1024" in over.reason


@pytest.mark.parametrize(
    ("value", "ok"),
    [("S" * 52, True), ("S" * 53, False)],
    ids=["header_60", "header_61"],
)
def test_header_text_length(value: str, ok: bool) -> None:
    schema = _schema(
        {"type": "HEADER", "format": "TEXT", "text": "Vaga em {{1}}"},
        {"type": "BODY", "text": "Temos uma vaga nova para você."},
    )
    result = fill(schema, {"uf": value}, {"header.1": "uf"})
    if ok:
        assert result == Filled(
            [{"type": "header", "parameters": [{"type": "text", "text": value}]}]
        )
    else:
        assert isinstance(result, Missing)
        assert result.names == ("header.1",)


# --- headers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "value", "expected"),
    [
        pytest.param(
            "IMAGE",
            "https://cdn.example.com/vagas/V1000.jpg",
            {"type": "image", "image": {"link": "https://cdn.example.com/vagas/V1000.jpg"}},
            id="image_link",
        ),
        pytest.param(
            "IMAGE", "1234567890", {"type": "image", "image": {"id": "1234567890"}}, id="image_id"
        ),
        pytest.param("VIDEO", "987", {"type": "video", "video": {"id": "987"}}, id="video_id"),
        pytest.param(
            "DOCUMENT",
            "http://docs.example.com/a.pdf",
            {"type": "document", "document": {"link": "http://docs.example.com/a.pdf"}},
            id="document_link",
        ),
        pytest.param(
            "LOCATION",
            "-23.5505, -46.6333",
            {"type": "location", "location": {"latitude": "-23.5505", "longitude": "-46.6333"}},
            id="location_string",
        ),
        pytest.param(
            "LOCATION",
            {"latitude": -8.05, "longitude": -34.9, "name": "UPA Centro"},
            {
                "type": "location",
                "location": {"latitude": "-8.05", "longitude": "-34.9", "name": "UPA Centro"},
            },
            id="location_object",
        ),
        pytest.param("IMAGE", "cdn.example.com/x.jpg", None, id="not_a_link"),
        pytest.param("IMAGE", "ftp://x/y.jpg", None, id="ftp"),
        pytest.param("IMAGE", "", None, id="blank"),
        pytest.param("LOCATION", "-23.5", None, id="one_coordinate"),
        pytest.param("LOCATION", "91,0", None, id="latitude_out_of_range"),
        pytest.param("LOCATION", "a,b", None, id="not_numbers"),
    ],
)
def test_header_media(fmt: str, value: object, expected: dict[str, Any] | None) -> None:
    schema = _schema(
        {"type": "HEADER", "format": fmt},
        {"type": "BODY", "text": "Temos uma vaga nova para você."},
    )
    result = fill(schema, {"midia": value}, {"header": "midia"})
    if expected is None:
        assert isinstance(result, Missing)
        assert result.names == ("header",)
    else:
        assert result == Filled([{"type": "header", "parameters": [expected]}])

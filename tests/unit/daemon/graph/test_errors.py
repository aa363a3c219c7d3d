"""The one error-code table against docs/cloud-api.md §5, and GraphError parsing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import daemon.graph as graph
from daemon.graph import ERROR_TABLE, GraphError, Reaction, reaction_for

DOC = Path(__file__).resolve().parents[5] / "shared" / "docs" / "cloud-api.md"


def _doc_codes() -> set[int]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## 5.")[1].split("## 6.")[0]
    codes: set[int] = set()
    for line in section.splitlines():
        if not line.startswith("| ") or line.startswith("| code"):
            continue
        cell = line.split("|")[1]
        for lo, hi in re.findall(r"(\d+)\s*[–-]\s*(\d+)", cell):
            codes.update(range(int(lo), int(hi) + 1))
        cell = re.sub(r"\d+\s*[–-]\s*\d+", "", cell)
        codes.update(int(c) for c in re.findall(r"\d+", cell) if c != "5")  # "5xx"
    return codes


def test_every_documented_code_has_exactly_one_reaction() -> None:
    table = [c for rule in ERROR_TABLE for c in rule.codes]
    assert len(table) == len(set(table))
    assert _doc_codes() == set(table)


@pytest.mark.parametrize(
    ("code", "status", "reaction"),
    [
        (190, 401, Reaction.STOP_TOKEN),
        (250, 403, Reaction.STOP_ACTION),
        (131047, 400, Reaction.FALLBACK_TEMPLATE),
        (None, 502, Reaction.RETRY_BACKOFF),
        (None, None, Reaction.RETRY_BACKOFF),
        (999999, 401, Reaction.STOP_TOKEN),
        (999999, 403, Reaction.STOP_ACTION),
        (999999, 429, Reaction.BACKOFF_API),
        (999999, 400, Reaction.FIX_REQUEST),
        (999999, 503, Reaction.RETRY_BACKOFF),
    ],
)
def test_reaction_for_falls_back_on_the_status(
    code: int | None, status: int | None, reaction: Reaction
) -> None:
    assert reaction_for(code, status) is reaction


def test_reaction_properties() -> None:
    assert Reaction.SLOW_CHIP.retryable
    assert not Reaction.SLOW_CHIP.alerts
    assert Reaction.STOP_TOKEN.alerts
    assert not Reaction.STOP_TOKEN.retryable
    assert not Reaction.FIX_REQUEST.retryable


def test_from_response_reads_metas_error_object() -> None:
    body = (
        b'{"error":{"message":"(#131009) Parameter value is not valid","type":"OAuthException",'
        b'"code":131009,"error_subcode":2494010,"error_data":{"messaging_product":"whatsapp",'
        b'"details":"too many buttons"},"fbtrace_id":"AbC"}}'
    )
    err = GraphError.from_response(400, body)
    assert (err.code, err.subcode, err.type, err.fbtrace_id) == (
        131009,
        2494010,
        "OAuthException",
        "AbC",
    )
    assert err.details == "too many buttons"
    assert err.explicit
    assert "(131009/2494010)" in str(err)
    assert "HTTP 400" in str(err)
    assert "131009" in repr(err)


@pytest.mark.parametrize("body", [b"<html>oops</html>", b'{"weird": true}', b"[1]", b""])
def test_anything_else_keeps_the_body(body: bytes) -> None:
    err = GraphError.from_response(502, body)
    assert err.code is None
    assert err.http_status == 502
    assert err.body == body.decode()
    assert err.reaction is Reaction.RETRY_BACKOFF
    assert not err.explicit


def test_status_webhook_errors_parse_the_same_way() -> None:
    err = GraphError.from_error_object(
        {"code": 131047, "title": "Re-engagement message", "error_data": {"details": "24h"}},
        http_status=None,
    )
    assert err.code == 131047
    assert err.message == "Re-engagement message"
    assert err.reaction is Reaction.FALLBACK_TEMPLATE


def test_transport_errors() -> None:
    err = GraphError.from_transport(TimeoutError("slow"), sent=True)
    assert err.transport == "TimeoutError"
    assert err.sent
    assert err.http_status is None
    assert "TimeoutError" in str(err)


def test_public_surface_is_sorted_and_complete() -> None:
    assert graph.__all__ == sorted(graph.__all__, key=lambda n: (not n.isupper(), n))
    for name in graph.__all__:
        assert hasattr(graph, name)

from __future__ import annotations

import pytest

from daemon.control import protocol as p


def test_request_round_trip() -> None:
    msg = p.decode(p.request(7, "chip.pause", {"phone_number_id": "1"}).rstrip(b"\n"))
    assert msg == p.Request(7, "chip.pause", {"phone_number_id": "1"})


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b"{", p.PARSE_ERROR),
        (b"[]", p.INVALID_REQUEST),
        (b'{"jsonrpc": "1.0", "id": 1, "method": "x"}', p.INVALID_REQUEST),
        (b'{"jsonrpc": "2.0", "id": 1, "method": ""}', p.INVALID_REQUEST),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "x", "params": [1]}', p.INVALID_PARAMS),
        (b'{"jsonrpc": "2.0", "id": true, "method": "x"}', p.INVALID_REQUEST),
        (b'{"jsonrpc": "2.0", "id": 1}', p.INVALID_REQUEST),
    ],
)
def test_malformed_messages_carry_their_json_rpc_code(line: bytes, code: int) -> None:
    with pytest.raises(p.ProtocolError) as caught:
        p.decode(line)
    assert caught.value.code == code


def test_notification_and_error_response() -> None:
    note = p.decode(p.notification("event", {"kind": "log"}).strip())
    assert note == p.Notification("event", {"kind": "log"})
    err = p.decode(p.error_response(3, p.REFUSED, "no").strip())
    assert isinstance(err, p.Response)
    assert not err.ok
    assert err.error == {"code": p.REFUSED, "message": "no"}


def test_line_decoder_splits_and_bounds_lines() -> None:
    decoder = p.LineDecoder(max_line=10)
    assert decoder.feed(b'{"a":1}\n{"b"') == [b'{"a":1}']
    assert decoder.feed(b":2}\n\n") == [b'{"b":2}']
    with pytest.raises(p.LineTooLong):
        decoder.feed(b"x" * 11)

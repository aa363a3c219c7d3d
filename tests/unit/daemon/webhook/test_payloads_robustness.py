"""Bodies of shapes nobody planned for: only non-objects raise, and only MalformedBody;
everything else is reported as unknown or as an error line, and the good parts still parse."""

from __future__ import annotations

import dataclasses
import json
import types
from typing import Any, Union, get_args, get_origin, get_type_hints

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from daemon.webhook import events as ev
from daemon.webhook.payloads import WABA_OBJECT, MalformedBody, ParseResult, parse, parse_document
from tests.unit.daemon.webhook.samples import (
    FIXTURES,
    USER,
    WABA,
    body,
    inbound,
    messages_value,
)

# --- bodies that are not quite right, by hand ----------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b'"text"',
        b"null",
        b"42",
        b"\xff\xfe{",
        b'{"a":',
        b"[" * 100_000,
    ],
)
def test_malformed_body_raises_the_one_exception(raw: bytes) -> None:
    with pytest.raises(MalformedBody):
        parse(raw)
    assert issubclass(MalformedBody, ValueError)


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        ({}, "object is missing"),
        ({"object": "page", "entry": []}, "object is 'page'"),
        ({"object": "whatsapp_business_account"}, "entry is missing"),
        ({"object": "whatsapp_business_account", "entry": {}}, "entry is missing"),
        ({"object": "whatsapp_business_account", "entry": [7]}, "entry is not an object"),
        ({"object": "whatsapp_business_account", "entry": [{"changes": []}]}, "without an id"),
        ({"object": "whatsapp_business_account", "entry": [{"id": "1"}]}, "list of changes"),
    ],
)
def test_unknown_envelopes_are_reported_not_raised(doc: dict[str, Any], reason: str) -> None:
    result = parse(json.dumps(doc).encode())
    assert result.events == ()
    assert not result.complete
    assert reason in result.unknown[0].reason


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"field": "calls", "value": {"calls": []}}, "field not handled"),
        ({"field": 5, "value": {}}, "without a field name"),
        ({"field": "messages", "value": []}, "not an object"),
        ({"field": "messages", "value": {"messages": []}}, "phone_number_id"),
        ({"field": "messages", "value": {"metadata": {"phone_number_id": "1"}}}, "no messages"),
        ({"field": "account_update", "value": {"phone_number": "1"}}, "required key"),
        ({"field": "user_preferences", "value": {"user_preferences": [{}]}}, "without a value"),
    ],
)
def test_unknown_changes_are_reported(change: dict[str, Any], reason: str) -> None:
    doc = {"object": "whatsapp_business_account", "entry": [{"id": WABA, "changes": [change]}]}
    result = parse(json.dumps(doc).encode())
    assert result.events == ()
    assert len(result.unknown) == 1
    assert reason in result.unknown[0].reason
    assert result.unknown[0].waba_id == WABA


def test_bad_items_are_skipped_and_good_ones_kept() -> None:
    value = messages_value(
        inbound("text", text={"body": "ok"}),
        {"from": USER, "type": "text", "text": {"body": "no id"}},
        {"id": "wamid.nobody", "type": "text", "text": {"body": "no sender"}},
        "garbage",
    )
    result = parse(body(("messages", value)))
    assert [e.wamid for e in result.events] == ["wamid.text"]
    assert [u.reason for u in result.unknown] == [
        "message without an id",
        "message without a sender",
        "message is not an object",
    ]


def test_recoverable_problems_keep_the_event_and_note_an_error() -> None:
    value = messages_value(
        {"from": USER, "id": "wamid.T", "timestamp": "soon", "type": "text", "text": {"body": "a"}},
        inbound("image", image={"caption": "no id"}),
        inbound(
            "interactive",
            interactive={"type": "nfm_reply", "nfm_reply": {"response_json": "[1]", "body": "x"}},
        ),
    )
    result = parse(body(("messages", value)))
    text, image, flow = result.events
    assert text.timestamp == 0
    assert image.content == ev.Unknown("image")
    assert flow.content == ev.FlowReply(None, "x", {}, "[1]")
    assert len(result.errors) == 3
    assert not result.complete


# --- bodies that are not quite right, generated ---------------------------------------------

FIELDS = [
    "messages", "smb_message_echoes", "user_preferences", "message_template_status_update",
    "message_template_quality_update", "template_category_update", "phone_number_quality_update",
    "phone_number_name_update", "account_update", "business_capability_update", "flows",
    "security", "calls",
]  # fmt: skip
TYPES = [
    "text", "image", "audio", "video", "document", "sticker", "location", "contacts",
    "reaction", "button", "interactive", "order", "system", "unsupported", "request_welcome",
    "button_reply", "list_reply", "nfm_reply",
]  # fmt: skip
KEYS = [
    "object", "entry", "id", "changes", "field", "value", "metadata", "phone_number_id",
    "display_phone_number", "contacts", "wa_id", "user_id", "profile", "name", "messages",
    "statuses", "errors", "from", "from_user_id", "timestamp", "type", "status", "pricing",
    "conversation", "origin", "context", "referral", "event", "response_json", "message_echoes",
    "user_preferences", "restriction_info", "ban_info", "code", "error_data", *TYPES,
]  # fmt: skip
STRINGS = [WABA_OBJECT, "", "0", "-1", "1764000000", "١٢٣", "1e5", "NaN", "{}", "[1]", "wamid.X"]

keys = st.sampled_from(KEYS) | st.text(max_size=8)
leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)  # not JSON: see the test below
    | st.text(max_size=12)
    | st.sampled_from(FIELDS + TYPES + STRINGS)
)
json_values = st.recursive(
    leaves,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(keys, kids, max_size=5),
    max_leaves=25,
)
envelopes = st.fixed_dictionaries(
    {
        "object": st.just(WABA_OBJECT),
        "entry": st.lists(
            st.fixed_dictionaries(
                {
                    "id": st.just(WABA) | json_values,
                    "changes": st.lists(
                        st.fixed_dictionaries(
                            {"field": st.sampled_from(FIELDS) | json_values, "value": json_values}
                        ),
                        max_size=3,
                    ),
                }
            ),
            max_size=3,
        ),
    }
)


def _conforms(value: Any, hint: Any) -> bool:
    """Whether ``value`` is what the annotation ``hint`` promises, all the way down."""
    origin = get_origin(hint)
    if hint is Any:
        return True
    if origin is Union or origin is types.UnionType:
        return any(_conforms(value, arg) for arg in get_args(hint))
    if hint is type(None):
        return value is None
    if origin is tuple:
        return isinstance(value, tuple) and all(_conforms(v, get_args(hint)[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict)
    if dataclasses.is_dataclass(hint):
        hints = get_type_hints(hint)
        return type(value) is hint and all(
            _conforms(getattr(value, f.name), hints[f.name]) for f in dataclasses.fields(hint)
        )
    return type(value) is hint  # str, int, float, bool: exactly, no bool posing as int


def _check(result: ParseResult) -> None:
    assert isinstance(result, ParseResult)
    for unknown in result.unknown:
        assert _conforms(unknown, ev.UnknownChange)
        assert "internal parser error" not in unknown.reason, unknown.reason
    for event in result.events:
        assert _conforms(event, type(event)), event
        if isinstance(event, ev.InboundMessage | ev.MessageEcho):
            assert event.dedupe_key
        if isinstance(event, ev.StatusUpdate):
            assert all(event.dedupe_key)
    assert all(isinstance(e, str) for e in result.errors)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_random_json_raises_malformed_unless_object(value: Any) -> None:
    raw = json.dumps(value).encode()
    if isinstance(value, dict):
        _check(parse(raw))
    else:
        with pytest.raises(MalformedBody):
            parse(raw)


@pytest.mark.parametrize("token", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_non_standard_numbers_are_malformed(token: bytes) -> None:
    """Python's json module reads these, RFC 8259 does not (nor Meta, nor orjson)."""
    with pytest.raises(MalformedBody):
        parse(b'{"object": "whatsapp_business_account", "entry": [' + token + b"]}")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(envelopes)
def test_random_envelopes_never_raise(doc: dict[str, Any]) -> None:
    _check(parse(json.dumps(doc).encode()))
    _check(parse_document(doc))


def _slots(doc: Any) -> list[tuple[Any, Any]]:
    """Every (container, key or index) in ``doc``: the places a mutation can hit."""
    found: list[tuple[Any, Any]] = []
    stack = [doc]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in list(items):
            found.append((node, key))
            if isinstance(child, dict | list):
                stack.append(child)
    return found


FIXTURE_NAMES = sorted(p.name for p in FIXTURES.glob("*.json"))


@pytest.mark.skipif(not FIXTURE_NAMES, reason=f"no fixtures in {FIXTURES}")
@settings(max_examples=600, deadline=None)
@given(name=st.sampled_from(FIXTURE_NAMES or ["-"]), data=st.data())
def test_mutated_fixtures_never_raise(name: str, data: st.DataObject) -> None:
    doc = json.loads((FIXTURES / name).read_bytes())
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        container, key = data.draw(st.sampled_from(_slots(doc)), label="where")
        op = data.draw(st.sampled_from(["drop", "replace", "insert", "wrap"]), label="op")
        if op == "drop":
            del container[key]
        elif op == "replace":
            container[key] = data.draw(json_values, label="new value")
        elif op == "wrap":
            container[key] = [container[key]]
        elif isinstance(container, dict):
            container[data.draw(keys, label="new key")] = data.draw(json_values, label="garbage")
        else:
            container.insert(key, data.draw(json_values, label="garbage"))
        if not _slots(doc):
            break
    _check(parse(json.dumps(doc).encode()))

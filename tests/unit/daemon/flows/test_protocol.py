"""Ping, error notifications and routing to the handler, as Meta's protocol says."""

from __future__ import annotations

import pytest

from daemon.flows.protocol import (
    BadFlowRequest,
    FlowRequest,
    FlowResponse,
    answer,
    finish,
    parse_request,
)


class Recorder:
    def __init__(self) -> None:
        self.seen: list[FlowRequest] = []

    async def __call__(self, request: FlowRequest) -> FlowResponse:
        self.seen.append(request)
        return FlowResponse("NEXT", {"echo": request.action})


async def test_ping_answers_active_without_the_handler() -> None:
    handler = Recorder()
    reply = await answer(parse_request({"version": "3.0", "action": "ping"}, "f"), handler)
    assert reply == {"data": {"status": "active"}}
    assert handler.seen == []


async def test_an_error_notification_is_acknowledged_without_the_handler() -> None:
    handler = Recorder()
    doc = {
        "action": "data_exchange",
        "screen": "A",
        "flow_token": "t",
        "data": {"error": "invalid-screen-transition", "error_message": "x"},
    }
    assert await answer(parse_request(doc, "f"), handler) == {"data": {"acknowledged": True}}
    assert handler.seen == []


@pytest.mark.parametrize("action", ["INIT", "data_exchange", "BACK"])
async def test_the_other_actions_go_to_the_handler(action: str) -> None:
    handler = Recorder()
    doc = {"action": action, "screen": "A", "flow_token": "t", "data": {"x": 1}}
    reply = await answer(parse_request(doc, "shifts"), handler)
    assert reply == {"screen": "NEXT", "data": {"echo": action}}
    (seen,) = handler.seen
    assert (seen.flow_name, seen.screen, seen.flow_token, dict(seen.data)) == (
        "shifts",
        "A",
        "t",
        {"x": 1},
    )


@pytest.mark.parametrize(
    "doc",
    [
        {},
        {"action": "init"},
        {"action": []},
        {"action": "INIT", "data": []},
        {"action": "INIT", "screen": 3},
        {"action": "INIT", "flow_token": {"t": 1}},
        {"action": "INIT", "version": 3},
    ],
)
def test_requests_of_the_wrong_shape_are_refused(doc: dict[str, object]) -> None:
    with pytest.raises(BadFlowRequest):
        parse_request(doc, "f")


def test_finish_closes_with_success_and_names_the_flow() -> None:
    request = FlowRequest("shifts", "data_exchange", flow_token="tok")
    assert finish(request, shift_id="s1").payload() == {
        "screen": "SUCCESS",
        "data": {
            "extension_message_response": {
                "params": {"flow_token": "tok", "flow_name": "shifts", "shift_id": "s1"}
            }
        },
    }

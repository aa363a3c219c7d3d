"""The client's behaviour on faults: in-doubt sends, retried reads, odd answers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio

from daemon.graph import (
    Accepted,
    Failed,
    GraphClient,
    GraphError,
    GraphTimeouts,
    InDoubt,
    Reaction,
    RetryPolicy,
)
from daemon.graph.resources import TemplateComponentSpec, TemplateSpec
from tests.integration.sim.conftest import CONTACT, PID_A1, WABA_A, SimEnv, tokens


@pytest.fixture
async def impatient(env: SimEnv) -> AsyncIterator[GraphClient]:
    """A client that gives up after 0.3 s (the simulator is told to hang 1 s)."""
    async with GraphClient(
        env.base_url,
        "v21.0",
        token_for=tokens(),
        timeouts=GraphTimeouts(connect_s=1.0, read_s=0.3, send_s=0.3),
        retry=RetryPolicy(max_attempts=3, base_s=0.01, cap_s=0.02),
    ) as client:
        yield client


async def test_send_timing_out_is_in_doubt_and_really_went(
    env: SimEnv, impatient: GraphClient
) -> None:
    await env.inject("messages", mode="accept_then_timeout", hang_s=1.0)
    out = await impatient.send_text(PID_A1, CONTACT, "Oi", callback_data="outbox:77")
    assert isinstance(out, InDoubt)
    assert out.error is not None
    assert out.error.sent
    assert out.error.transport == "ReadTimeout"
    # Meta did take it: the status webhook settles the doubt through the callback data.
    settled = await env.receiver.wait_for(
        lambda: [
            s for s in env.receiver.statuses() if s.get("biz_opaque_callback_data") == "outbox:77"
        ]
    )
    assert settled[0]["status"] in ("sent", "delivered", "read")
    counters = await env.ctl("GET", "counters")
    assert counters["requests:messages"] == 1  # never retried blindly


async def test_send_with_non_json_5xx_is_in_doubt_and_keeps_the_body(env: SimEnv) -> None:
    await env.inject("messages", mode="garbage", http_status=502)
    out = await env.client.send_text(PID_A1, CONTACT, "Oi")
    assert isinstance(out, InDoubt)
    assert out.error is not None
    assert out.error.http_status == 502
    assert out.error.code is None
    assert "Bad Gateway" in (out.error.body or "")


async def test_send_with_unexpected_2xx_body_is_in_doubt(env: SimEnv) -> None:
    await env.inject("messages", mode="empty")
    out = await env.client.send_text(PID_A1, CONTACT, "Oi")
    assert isinstance(out, InDoubt)
    assert out.error is not None
    assert out.error.body == "{}"


async def test_send_with_explicit_5xx_error_is_failed_and_retryable(env: SimEnv) -> None:
    await env.inject("messages", code=131000)
    out = await env.client.send_text(PID_A1, CONTACT, "Oi")
    assert isinstance(out, Failed)
    assert out.error.http_status == 500
    assert out.reaction is Reaction.RETRY_BACKOFF
    assert out.reaction.retryable


async def test_send_to_a_closed_port_surely_did_not_go() -> None:
    with trio.socket.socket() as s:
        await s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with GraphClient(f"http://127.0.0.1:{port}", "v21.0", token_for=tokens()) as client:
        out = await client.send_text(PID_A1, CONTACT, "Oi")
    assert isinstance(out, Failed)
    assert not out.error.sent
    assert out.reaction is Reaction.RETRY_BACKOFF


async def test_reads_are_retried_on_5xx_and_timeouts(env: SimEnv, impatient: GraphClient) -> None:
    await env.inject("phone_number", code=131016, count=1)
    await env.inject("phone_number", mode="timeout", hang_s=1.0, count=1)
    number = await impatient.get_phone_number(PID_A1)
    assert number.id == PID_A1
    assert (await env.ctl("GET", "counters"))["requests:phone_number"] == 3


async def test_reads_give_up_with_the_body_kept(env: SimEnv) -> None:
    await env.inject("phone_number", mode="garbage", http_status=503, count=10)
    with pytest.raises(GraphError) as exc:
        await env.client.get_phone_number(PID_A1)
    assert exc.value.http_status == 503
    assert exc.value.code is None
    assert "Bad Gateway" in (exc.value.body or "")
    assert exc.value.reaction is Reaction.RETRY_BACKOFF


async def test_unexpected_read_answer_is_a_graph_error(env: SimEnv) -> None:
    await env.inject("phone_number", mode="empty")
    with pytest.raises(GraphError) as exc:
        await env.client.get_phone_number(PID_A1)
    assert "PhoneNumber" in exc.value.message
    assert exc.value.body == "{}"


async def test_management_post_is_not_retried_after_a_timeout(
    env: SimEnv, impatient: GraphClient
) -> None:
    await env.inject("message_templates", mode="accept_then_timeout", hang_s=1.0)
    spec = TemplateSpec(
        name="nao_repetir",
        language="pt_BR",
        category="UTILITY",
        components=[
            TemplateComponentSpec(type="BODY", text="Oi {{1}}, seu plantão foi confirmado hoje.")
        ],
    )
    with pytest.raises(GraphError) as exc:
        await impatient.create_template(WABA_A, spec)
    assert exc.value.transport == "ReadTimeout"
    assert exc.value.sent
    assert (await env.ctl("GET", "counters"))["requests:message_templates"] == 1
    # It did happen: the template exists once.
    assert len((await env.client.list_templates(WABA_A, name="nao_repetir")).data) == 1


async def test_management_post_is_retried_on_explicit_transient_error(env: SimEnv) -> None:
    await env.inject("flows", code=131000)
    flow_id = await env.client.create_flow(WABA_A, "retry", ["OTHER"])
    assert flow_id
    assert (await env.ctl("GET", "counters"))["requests:flows"] == 2


async def test_added_latency_and_random_5xx_knobs(env: SimEnv) -> None:
    await env.ctl("PATCH", "knobs", {"latency_s": 0.05})
    start = trio.current_time()
    assert isinstance(await env.client.send_text(PID_A1, CONTACT, "Oi"), Accepted)
    assert trio.current_time() - start >= 0.05
    await env.ctl("PATCH", "knobs", {"latency_s": 0.0, "error_5xx_rate": 1.0})
    out = await env.client.send_text(PID_A1, CONTACT, "Oi")
    assert isinstance(out, Failed)
    assert out.error.code in (131000, 131016, 133004)

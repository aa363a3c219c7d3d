"""The control socket of a running daemon: protocol, methods, subscriptions, ``metad ctl``."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import time
from pathlib import Path

import pytest
import trio

from daemon.control import protocol as p
from daemon.control.client import ControlError, connect
from tests.integration.daemon.conftest import CHIP, CONTACT, Env, wait_until
from tests.support import metad_command


def _socket(env: Env) -> Path:
    return Path(env.daemon.control_socket)


async def test_socket_is_private_to_the_daemon_user(env: Env) -> None:
    mode = os.stat(_socket(env)).st_mode
    assert stat.S_ISSOCK(mode)
    assert stat.S_IMODE(mode) == 0o600


async def test_snapshot_lists_the_fleet(env: Env) -> None:
    async with connect(_socket(env)) as client:
        snap = await client.call("status.snapshot")
    assert [c["phone_number_id"] for c in snap["chips"]] == [CHIP, "200000000000002"]
    assert snap["daemon"]["webhook_url"].endswith("/webhook")
    assert set(snap["webhooks"]) >= {"received", "duplicates", "rejected_signature"}


async def test_a_warning_logged_before_anyone_connected_is_kept_for_the_console(
    env: Env,
) -> None:
    """The daemon's logger reaches the bus with nobody subscribed; ``events.recent`` gives
    it to the console that connects later, and nothing after ``after``."""
    logging.getLogger("metad.test").warning("the night was long")
    async with connect(_socket(env)) as client:
        answer = await client.call("events.recent")
        (kept,) = [e for e in answer["events"] if e["data"].get("logger") == "metad.test"]
        assert (kept["kind"], kept["data"]["message"]) == ("log", "the night was long")
        later = await client.call("events.recent", {"after": kept["at"]})
        assert kept not in later["events"]
        with pytest.raises(ControlError):
            await client.call("events.recent", {"after": "yesterday"})


async def test_quality_history_gives_the_rating_changes_of_the_last_minutes(env: Env) -> None:
    """From the chips' journal: rating changes only (not a mode-only step), oldest first,
    within the span asked."""
    journal = env.daemon.store.chip_journal
    now = time.time()
    base = {"from_status": "CONNECTED", "to_status": "CONNECTED", "cause": "poll"}
    await journal.save_transitions(
        CHIP,
        [
            {**base, "at": now - 7200, "from_rating": "GREEN", "to_rating": "RED", "reason": "old"},
            {**base, "at": now - 600, "from_rating": "GREEN", "to_rating": "YELLOW", "reason": "a"},
            {
                **base,
                "at": now - 300,
                "from_rating": "YELLOW",
                "to_rating": "YELLOW",
                "reason": "b",
            },
            {**base, "at": now - 60, "from_rating": "YELLOW", "to_rating": "RED", "reason": "c"},
        ],
    )
    async with connect(_socket(env)) as client:
        answer = await client.call("quality.history", {"minutes": 60})
        with pytest.raises(ControlError):
            await client.call("quality.history", {"minutes": 0})
    ours = [c for c in answer["changes"] if c["from_rating"] != "UNKNOWN"]  # not the start's
    assert [(c["chip"], c["from_rating"], c["to_rating"]) for c in ours] == [
        (CHIP, "GREEN", "YELLOW"),
        (CHIP, "YELLOW", "RED"),
    ]
    assert ours[0]["at"] == pytest.approx(now - 600, abs=0.01)


async def test_pause_through_the_socket_pauses_the_chip(env: Env) -> None:
    async with connect(_socket(env)) as client:
        chip = await client.call("chip.pause", {"phone_number_id": CHIP, "reason": "night"})
        assert chip["paused"]
        sent = await client.call(
            "send.test", {"chip": CHIP, "to": CONTACT, "template": "hello_world:en_US"}
        )
        assert sent == {
            "result": "refused",
            "outbox_id": None,
            "wamid": None,
            "reason": "chip paused: night",
        }
        chip = await client.call("chip.resume", {"phone_number_id": CHIP})
        assert not chip["paused"]
        sent = await client.call(
            "send.test", {"chip": CHIP, "to": CONTACT, "template": "hello_world:en_US"}
        )
        assert sent["result"] == "sent"
        assert sent["wamid"] in env.sim.world.messages


async def test_bad_requests_get_errors_and_the_connection_survives(env: Env) -> None:
    stream = await trio.open_unix_socket(str(_socket(env)))
    async with stream:
        decoder = p.LineDecoder()

        async def answer(raw: bytes) -> p.Response:
            await stream.send_all(raw)
            while True:
                lines = decoder.feed(await stream.receive_some(65536))
                if lines:
                    msg = p.decode(lines[0])
                    assert isinstance(msg, p.Response)
                    return msg

        assert (await answer(b"{not json\n")).error["code"] == p.PARSE_ERROR  # type: ignore[index]
        assert (await answer(b'{"id": 1}\n')).error["code"] == p.INVALID_REQUEST  # type: ignore[index]
        missing = await answer(p.request(2, "no.such.method"))
        assert missing.error["code"] == p.METHOD_NOT_FOUND  # type: ignore[index]
        bad = await answer(p.request(3, "chip.pause", {}))
        assert bad.error["code"] == p.INVALID_PARAMS  # type: ignore[index]
        unknown = await answer(p.request(4, "chip.pause", {"phone_number_id": "999"}))
        assert unknown.error["code"] == p.REFUSED  # type: ignore[index]
        ok = await answer(p.request(5, "webhooks.stats"))
        assert ok.ok


async def test_subscribers_get_chip_changes(env: Env) -> None:
    async with connect(_socket(env)) as listener, connect(_socket(env)) as actor:
        seen: list[dict[str, object]] = []

        async def listen() -> None:
            async for event in listener.events():
                seen.append(event)

        async with trio.open_nursery() as n:
            n.start_soon(listen)
            await trio.sleep(0.1)
            await actor.call("chip.drain", {"phone_number_id": CHIP})
            await wait_until(
                lambda: any(e["kind"] == "chip" and e["data"]["draining"] for e in seen),  # type: ignore[index]
                timeout=5,
            )
            n.cancel_scope.cancel()


async def test_ctl_command_line(env: Env) -> None:
    base = metad_command("ctl", "--socket", str(_socket(env)))
    status = await trio.run_process([*base, "status", "--json"], capture_stdout=True, check=False)
    assert status.returncode == 0
    assert json.loads(status.stdout)["chips"][0]["phone_number_id"] == CHIP
    table = await trio.run_process([*base, "status"], capture_stdout=True, check=False)
    assert b"QUALITY" in table.stdout
    assert CHIP.encode() in table.stdout
    refused = await trio.run_process(
        [*base, "send-test", "--chip", CHIP, "--to", CONTACT, "--text", "oi"],
        capture_stdout=True,
        check=False,
    )
    assert refused.returncode == 1
    assert b"service window closed" in refused.stdout
    logging.getLogger("metad.test").warning("kept for ctl")
    recent = await trio.run_process([*base, "events", "--recent"], capture_stdout=True)
    lines = [json.loads(line) for line in recent.stdout.splitlines()]
    assert any(e["data"].get("message") == "kept for ctl" for e in lines)


def test_ctl_without_a_daemon_says_so(tmp_path: Path) -> None:
    out = subprocess.run(
        metad_command("ctl", "--socket", str(tmp_path / "none.sock"), "status"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 1
    assert "no metad is listening" in out.stderr
    assert "Traceback" not in out.stderr


async def test_call_errors_raise_control_error(env: Env) -> None:
    async with connect(_socket(env)) as client:
        with pytest.raises(ControlError, match="unknown chip 1") as caught:
            await client.call("chip.pause", {"phone_number_id": "1"})
    assert caught.value.code == p.REFUSED


async def test_a_subscriber_too_slow_is_cut_off_and_the_daemon_lives_on(env: Env) -> None:
    stream = await trio.open_unix_socket(str(_socket(env)))
    async with stream:
        await stream.send_all(p.request(1, "subscribe"))
        await trio.sleep(0.2)
        bus = env.daemon.bus
        before = bus.dropped_subscribers
        for n in range(5_000):  # far more than its buffer; it never reads
            bus.publish(
                "log", {"level": "WARNING", "logger": "bench", "message": "x" * 200, "n": n}
            )
        await wait_until(lambda: bus.dropped_subscribers > before)
    # A client that leaves while events flow must not take the server down either.
    for _ in range(3):
        leaving = await trio.open_unix_socket(str(_socket(env)))
        await leaving.send_all(p.request(1, "subscribe"))
        await leaving.aclose()
        for n in range(200):
            env.daemon.bus.publish("log", {"n": n})
        await trio.sleep(0.05)
    async with connect(_socket(env)) as client:
        snap = await client.call("status.snapshot")
    assert snap["chips"]


async def test_send_test_fills_a_templates_body_parameters(env: Env) -> None:
    """A template with variables could not be tried from ``ctl send-test``: no way to
    give them, and Meta refused the send (132000)."""
    async with connect(_socket(env)) as client:
        empty = await client.call(
            "send.test", {"chip": CHIP, "to": CONTACT, "template": "vaga_plantao:pt_BR"}
        )
        assert empty["result"] == "refused"  # by the chip once synced, else by Meta (132000)
        sent = await client.call(
            "send.test",
            {
                "chip": CHIP,
                "to": CONTACT,
                "template": "vaga_plantao:pt_BR",
                "params": ["Ana", "Santos"],
            },
        )
        assert sent["result"] == "sent"
        with pytest.raises(ControlError, match="params must be a list of strings"):
            await client.call(
                "send.test",
                {"chip": CHIP, "to": CONTACT, "template": "vaga_plantao:pt_BR", "params": "Ana"},
            )
    body = env.sim.world.messages[sent["wamid"]].payload["template"]["components"][0]
    assert [p["text"] for p in body["parameters"]] == ["Ana", "Santos"]

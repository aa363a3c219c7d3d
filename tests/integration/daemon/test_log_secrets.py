"""A whole sandbox run logged at debug level shows neither secrets nor message text.

The secrets are random for the run and given through the environment as a production
config would (``env:`` references); the simulator is told to accept them. Everything the
process logs (daemon, simulator, libraries) is captured the way ``metad run
--log-level debug`` writes it, in JSON and in text.
"""

from __future__ import annotations

import io
import json
import logging
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trio

from config import load_config
from daemon.control.client import connect
from daemon.logs import JsonFormatter, TextFormatter, configure_logging
from daemon.main import Daemon, run_daemon
from sim.knobs import SimKnobs
from sim.server import Sim, serve_sim
from tests.integration.daemon.conftest import CHIP, CONTACT, wait_until
from tests.support import free_port

WABA = "100000000000001"


class Captured:
    def __init__(self) -> None:
        self.json = io.StringIO()
        self.text = io.StringIO()

    def everything(self) -> str:
        return self.json.getvalue() + self.text.getvalue()


@pytest.fixture
def captured() -> Iterator[Captured]:
    """Root logging as ``metad run --log-level debug --log-format json`` sets it, plus the
    text format beside it; the test session's own logging is put back afterwards."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    noisy = ["hypercorn.access", "hypercorn.error", "httpx", "httpcore", "asyncio"]
    levels = {name: logging.getLogger(name).level for name in noisy}
    out = Captured()
    configure_logging("debug", "json", stream=out.json)
    text = logging.StreamHandler(out.text)
    text.setFormatter(TextFormatter())
    root.addHandler(text)
    assert isinstance(root.handlers[0].formatter, JsonFormatter)
    try:
        yield out
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


async def test_a_debug_run_logs_no_secret_and_no_message_text(
    captured: Captured, db_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "tok-" + secrets.token_hex(16)
    app_secret = "app-" + secrets.token_hex(16)
    verify_token = "vfy-" + secrets.token_hex(16)
    outbound = "Plantao secreto " + secrets.token_hex(8)
    inbound = "Resposta privada " + secrets.token_hex(8)
    monkeypatch.setenv("METAD_T_TOKEN", token)
    monkeypatch.setenv("METAD_T_APP_SECRET", app_secret)
    monkeypatch.setenv("METAD_T_VERIFY_TOKEN", verify_token)
    sim_port, webhook_port, metrics_port = free_port(), free_port(), free_port()
    path = tmp_path / "metad.toml"
    path.write_text(
        f"""
[daemon]
state_dir = "{tmp_path / "state"}"
runtime_dir = "{tempfile.mkdtemp(prefix="metad-run-")}"
shutdown_timeout_s = 3
log_level = "debug"
[storage]
dsn = "{db_dsn}"
writer_flush_ms = 1
[graph]
base_url = "http://127.0.0.1:{sim_port}"
app_secret = "env:METAD_T_APP_SECRET"
[webhook]
listen = "127.0.0.1:{webhook_port}"
verify_token = "env:METAD_T_VERIFY_TOKEN"
[sandbox]
enabled = true
serve = false
listen = "127.0.0.1:{sim_port}"
[metrics]
listen = "127.0.0.1:{metrics_port}"
[limits]
pair_interval_s = 0
[[wabas]]
id = "{WABA}"
token = "env:METAD_T_TOKEN"
[[chips]]
phone_number_id = "{CHIP}"
display_number = "+55 11 94000-0001"
waba = "{WABA}"
"""
    )
    cfg = load_config(path)
    webhook = f"http://127.0.0.1:{webhook_port}/webhook"
    sim = Sim(
        cfg,
        seed=3,
        knobs=SimKnobs.quiet(open_window_share=0.0),
        webhook_url=webhook,
        app_secret=app_secret,
    )
    sim.world.tokens.clear()
    sim.world.tokens[token] = WABA  # the simulator accepts this run's token only

    async with trio.open_nursery() as nursery:
        await nursery.start(
            lambda task_status: serve_sim(
                cfg, sim=sim, listen=f"127.0.0.1:{sim_port}", task_status=task_status
            )
        )
        stopped = trio.Event()

        async def run(task_status: trio.TaskStatus[Daemon]) -> None:
            try:
                await run_daemon(cfg, handle_signals=False, task_status=task_status)
            finally:
                stopped.set()

        daemon = await nursery.start(run)
        async with httpx.AsyncClient(timeout=10) as http:
            # Meta's verification handshake, with the right and a wrong token.
            params = {"hub.mode": "subscribe", "hub.challenge": "42"}
            ok = await http.get(webhook, params={**params, "hub.verify_token": verify_token})
            assert ok.text == "42"
            bad = await http.get(webhook, params={**params, "hub.verify_token": "nope"})
            assert bad.status_code == 403
            # A forged webhook (bad signature) carrying a message text.
            forged = await http.post(
                webhook,
                content=json.dumps({"entry": [{"text": {"body": inbound}}]}),
                headers={"x-hub-signature-256": "sha256=" + "0" * 64},
            )
            assert forged.status_code == 401
            # The contact writes (signed webhook), then gets a free-form reply and a template.
            sim.inbound(CHIP, CONTACT, {"type": "text", "text": {"body": inbound}})

            async def window_open() -> bool:
                async with connect(Path(daemon.control_socket)) as client:
                    status = await client.call("status.snapshot")
                return bool(status["chips"][0]["open_windows"])

            await wait_until(window_open, timeout=10)
            async with connect(Path(daemon.control_socket)) as client:
                text = await client.call(
                    "send.test", {"chip": CHIP, "to": CONTACT, "text": outbound}
                )
                template = await client.call(
                    "send.test", {"chip": CHIP, "to": CONTACT, "template": "hello_world:en_US"}
                )
                assert text["result"] == template["result"] == "sent", (text, template)
                reload = await client.call("config.reload")
                assert reload["applied"]

            async def read() -> bool:
                state = await daemon.store.fetchval(
                    "SELECT state FROM outbox WHERE id = $1", text["outbox_id"]
                )
                return state == "read"

            await wait_until(read, timeout=15)
            metrics = await http.get(f"http://127.0.0.1:{metrics_port}/metrics")
            assert metrics.status_code == 200
        daemon.stop.set()
        with trio.fail_after(10):
            await stopped.wait()
        nursery.cancel_scope.cancel()

    logged = captured.everything()
    lines = captured.json.getvalue().splitlines()
    docs = [json.loads(line) for line in lines]  # every JSON line is one JSON object
    messages = [d["msg"] for d in docs]
    assert "READY" in messages
    assert messages[-1] == "stopped"
    assert any(d["level"] == "debug" for d in docs)  # debug level really was on
    # ids are there for the operator ...
    sends = [d for d in docs if d["msg"] == "send accepted"]
    assert {d["wamid"] for d in sends} == {text["wamid"], template["wamid"]}
    assert all(d["chip"] == CHIP for d in sends)
    statuses = [d for d in docs if d["msg"].startswith("webhook status")]
    assert {d["wamid"] for d in statuses} >= {text["wamid"]}
    # ... and neither secrets nor what people wrote
    for secret in (token, app_secret, verify_token, outbound, inbound):
        assert secret not in logged

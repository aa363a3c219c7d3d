"""Reloading the config of a running daemon: chips come and go, limits change, no restart.

The daemon reads a real file; the simulator knows every number the file will ever name,
so a chip added by a reload can send through it at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio

from actors.chip import Send, Sent
from config import MetadConfig, load_config
from daemon.cli import main as cli_main
from daemon.control.client import connect
from daemon.main import Daemon, run_daemon
from daemon.reloader import reload_on_sighup
from sim.knobs import SimKnobs
from sim.server import Sim, build_sim, serve_sim
from tests.integration.daemon.conftest import CHIP, CONTACT, OTHER_CHIP, wait_until
from tests.support import free_port

NEW_CHIP = "200000000000009"
WABA = "100000000000001"
TEMPLATE = {"name": "hello_world", "language": {"code": "en_US"}}


def chip_toml(pnid: str, throughput: int = 80) -> str:
    return (
        f'[[chips]]\nphone_number_id = "{pnid}"\ndisplay_number = "+55 11 9{pnid[-8:]}"\n'
        f'waba = "{WABA}"\nthroughput_mps = {throughput}\n'
    )


@dataclass
class Setup:
    dsn: str
    state: Path
    runtime: str
    sim_port: int
    webhook_port: int

    def text(self, chips: str, *, limits: str = "pair_interval_s = 1", extra: str = "") -> str:
        return f"""
[daemon]
state_dir = "{self.state}"
runtime_dir = "{self.runtime}"
shutdown_timeout_s = 3
[supervisor]
backoff_min_s = 0.01
[storage]
dsn = "{self.dsn}"
writer_flush_ms = 1
[graph]
base_url = "http://127.0.0.1:{self.sim_port}"
[webhook]
listen = "127.0.0.1:{self.webhook_port}"
[sandbox]
enabled = true
serve = false
listen = "127.0.0.1:{self.sim_port}"
[limits]
{limits}
[[wabas]]
id = "{WABA}"
{chips}
{extra}
"""


@dataclass
class ReloadEnv:
    path: Path
    setup: Setup
    sim: Sim
    daemon: Daemon
    nursery: trio.Nursery

    def write(self, text: str) -> None:
        self.path.write_text(text)

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        async with connect(Path(self.daemon.control_socket)) as client:
            return await client.call(method, params)


@pytest.fixture
async def renv(db_dsn: str, tmp_path: Path) -> AsyncIterator[ReloadEnv]:
    setup = Setup(
        db_dsn, tmp_path / "state", tempfile.mkdtemp(prefix="metad-run-"), free_port(), free_port()
    )
    path = tmp_path / "metad.toml"
    path.write_text(setup.text(chip_toml(CHIP) + chip_toml(OTHER_CHIP)))
    cfg = load_config(path)
    everyone: MetadConfig = load_config(
        _written(
            tmp_path / "sim.toml",
            setup.text(chip_toml(CHIP) + chip_toml(OTHER_CHIP) + chip_toml(NEW_CHIP)),
        )
    )
    sim = build_sim(
        everyone,
        webhook_url=f"http://127.0.0.1:{setup.webhook_port}/webhook",
        seed=3,
        knobs=SimKnobs.quiet(open_window_share=0.0),
    )
    async with trio.open_nursery() as nursery:
        listen = f"127.0.0.1:{setup.sim_port}"
        await nursery.start(partial(serve_sim, everyone, sim=sim, listen=listen))
        daemon = await nursery.start(partial(run_daemon, cfg, handle_signals=False))
        yield ReloadEnv(path, setup, sim, daemon, nursery)
        daemon.stop.set()
        nursery.cancel_scope.cancel()


def _written(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _chips(snapshot: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["phone_number_id"]: c for c in snapshot["chips"]}


async def test_add_a_chip_remove_another_and_change_limits_without_a_restart(
    renv: ReloadEnv,
) -> None:
    before = await renv.call("status.snapshot")
    assert set(_chips(before)) == {CHIP, OTHER_CHIP}
    assert _chips(before)[CHIP]["mps_limit"] == 80
    store = renv.daemon.store

    renv.write(
        renv.setup.text(
            chip_toml(CHIP, throughput=20) + chip_toml(NEW_CHIP), limits="pair_interval_s = 3"
        )
    )
    result = await renv.call("config.reload")

    assert result["applied"] is True
    assert result["errors"] == []
    changes = result["changes"]
    assert changes["chips_added"] == [NEW_CHIP]
    assert changes["chips_removed"] == [OTHER_CHIP]
    assert changes["chips_changed"] == [CHIP]
    assert changes["settings"] == ["limits"]
    assert "needs_restart" not in changes
    after = await renv.call("status.snapshot")
    chips = _chips(after)
    assert set(chips) == {CHIP, NEW_CHIP}
    assert chips[CHIP]["mps_limit"] == 20
    assert chips[CHIP]["restarts"] == 0  # restarted for the config, not after a crash
    assert after["wabas"][0]["chips"] == [CHIP, NEW_CHIP]
    assert renv.daemon.store is store  # same process, same store
    assert renv.daemon.cfg.limits.pair_interval_s == 3
    assert renv.daemon.fleet.actors[CHIP].gate.pairs.interval_s == 3  # the new actor has it

    # The new chip sends at once (its token, its actor, its webhooks).
    new = renv.daemon.fleet.chip(NEW_CHIP)
    sent = await new.call(
        lambda r: Send(to=CONTACT, template=TEMPLATE, category="utility", reply=r), timeout=30
    )
    assert isinstance(sent, Sent)

    async def delivered() -> bool:
        state = await store.fetchval("SELECT state FROM outbox WHERE id = $1", sent.outbox_id)
        return state in ("delivered", "read")

    await wait_until(delivered, timeout=10)
    # The removed one is gone from every lookup.
    assert renv.daemon.fleet.find_chip(OTHER_CHIP) is None
    refused = await _refused(renv, OTHER_CHIP)
    assert f"unknown chip {OTHER_CHIP}" in refused
    assert OTHER_CHIP not in renv.daemon.supervisor.child_ids


async def test_a_removed_chip_leaves_nothing_queued(renv: ReloadEnv) -> None:
    """What a removed chip still held when it stopped is settled at once: queued rows
    cancelled (a campaign would hand their recipients to another chip), rows caught
    mid-POST in doubt. Only a starting actor settled its rows, and a removed chip never
    starts again, so they used to stay queued for ever."""
    store = renv.daemon.store
    ids = [
        await store.fetchval(
            "INSERT INTO outbox (chip, wa_id, kind, payload, state)"
            " VALUES ($1, $2, 'text', '{}', $3) RETURNING id",
            OTHER_CHIP,
            CONTACT,
            state,
        )
        for state in ("queued", "sending", "sent")
    ]
    renv.write(renv.setup.text(chip_toml(CHIP)))
    result = await renv.call("config.reload")
    assert result["changes"]["chips_removed"] == [OTHER_CHIP]
    states = [await store.fetchval("SELECT state FROM outbox WHERE id = $1", i) for i in ids]
    assert states == ["cancelled", "in_doubt", "sent"]


async def _refused(renv: ReloadEnv, pnid: str) -> str:
    from daemon.control.client import ControlError

    try:
        await renv.call("send.test", {"chip": pnid, "to": CONTACT, "text": "oi"})
    except ControlError as exc:
        return str(exc)
    raise AssertionError("send.test to a removed chip was not refused")


@pytest.mark.parametrize(
    ("chips", "field"),
    [
        (chip_toml(CHIP, throughput=0), "chips[0].throughput_mps"),
        (chip_toml(CHIP) + chip_toml(NEW_CHIP).replace(WABA, "999"), "chips[1].waba"),
    ],
)
async def test_an_invalid_file_changes_nothing_and_names_file_line_and_field(
    renv: ReloadEnv, chips: str, field: str
) -> None:
    renv.write(renv.setup.text(chips))
    result = await renv.call("config.reload")
    assert result["applied"] is False
    [error] = result["errors"]
    assert error.startswith(f"{renv.path}:")
    line = int(error.split(":")[1])
    assert renv.path.read_text().splitlines()[line - 1].startswith(field.split(".")[1])
    assert f": {field}: " in error
    chips_now = _chips(await renv.call("status.snapshot"))
    assert set(chips_now) == {CHIP, OTHER_CHIP}
    assert chips_now[CHIP]["mps_limit"] == 80
    assert renv.daemon.reloader is not None
    assert renv.daemon.reloader.failures == 1


async def test_what_needs_a_restart_is_reported_and_kept(renv: ReloadEnv) -> None:
    text = renv.setup.text(chip_toml(CHIP) + chip_toml(OTHER_CHIP))
    text = text.replace(f"127.0.0.1:{renv.setup.webhook_port}", "127.0.0.1:1")
    renv.write(text)
    result = await renv.call("config.reload")
    assert result["applied"] is True
    assert result["changes"] == {"needs_restart": ["webhook.listen"]}
    assert renv.daemon.cfg.webhook.listen == f"127.0.0.1:{renv.setup.webhook_port}"


async def test_metad_ctl_reload_exits_0_applied_and_2_on_an_invalid_file(
    renv: ReloadEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(renv.path)
    renv.write(renv.setup.text(chip_toml(CHIP) + chip_toml(OTHER_CHIP) + chip_toml(NEW_CHIP)))
    code = await trio.to_thread.run_sync(cli_main, ["ctl", "-c", config, "reload"])
    out = capsys.readouterr().out
    assert code == 0
    assert f"chips added: {NEW_CHIP}" in out

    # The daemon refuses what only it can check (a secret it cannot read) ...
    missing = chip_toml(CHIP) + 'token = "env:METAD_TEST_NOT_SET"\n'
    renv.write(renv.setup.text(missing))
    code = await trio.to_thread.run_sync(cli_main, ["ctl", "-c", config, "reload"])
    assert code == 2
    err = capsys.readouterr().err
    assert "chips[0].token: cannot read secret env:METAD_TEST_NOT_SET" in err
    assert "metad runs on the previous one" in err
    # ... and a file that is not even TOML names no runtime dir: ctl looks in the default
    # one, and says why when no daemon is there; with --socket the daemon is reached and
    # says what is wrong with the file.
    renv.write("[[chips]]\nnot toml at all = = =\n")
    code = await trio.to_thread.run_sync(cli_main, ["ctl", "-c", config, "reload"])
    assert code == 1
    err = capsys.readouterr().err
    assert "no metad is listening" in err
    assert "invalid TOML" in err
    sock = renv.daemon.control_socket
    code = await trio.to_thread.run_sync(cli_main, ["ctl", "--socket", sock, "reload"])
    assert code == 2
    err = capsys.readouterr().err
    assert "invalid TOML" in err
    assert "metad runs on the previous one" in err
    assert set(renv.daemon.fleet.chip_ids) == {CHIP, OTHER_CHIP, NEW_CHIP}


async def test_sighup_reloads(renv: ReloadEnv) -> None:
    await renv.nursery.start(reload_on_sighup, renv.daemon.reloader)
    renv.write(renv.setup.text(chip_toml(CHIP) + chip_toml(OTHER_CHIP) + chip_toml(NEW_CHIP)))
    reloader = renv.daemon.reloader
    assert reloader is not None
    os.kill(os.getpid(), signal.SIGHUP)
    await wait_until(lambda: reloader.reloads == 1, timeout=10)
    assert NEW_CHIP in renv.daemon.fleet.chip_ids
    # The lease task starts the added chip once it holds its lease, right after.
    await wait_until(lambda: f"chip:{NEW_CHIP}" not in renv.daemon.supervisor.down, timeout=5)


@pytest.fixture
def notify(monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    with tempfile.TemporaryDirectory(prefix="sdn-") as tmp:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(f"{tmp}/notify")
        sock.setblocking(False)
        monkeypatch.setenv("NOTIFY_SOCKET", f"{tmp}/notify")
        yield sock
        sock.close()


def _drain(sock: socket.socket) -> list[str]:
    out = []
    with contextlib.suppress(BlockingIOError):
        while True:
            out.append(sock.recv(4096).decode())
    return out


async def test_systemd_hears_reloading_then_ready(notify: socket.socket, renv: ReloadEnv) -> None:
    _drain(notify)  # READY and STATUS of the start
    renv.write(renv.setup.text(chip_toml(CHIP)))
    result = await renv.call("config.reload")
    assert result["changes"]["chips_removed"] == [OTHER_CHIP]
    messages = [m for m in _drain(notify) if not m.startswith("STATUS=")]
    assert messages[0].startswith("RELOADING=1\nMONOTONIC_USEC=")
    assert messages[1] == "READY=1"

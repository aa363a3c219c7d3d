"""A real daemon on a real PostgreSQL, talking over real HTTP to the real simulator."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest
import trio

from config import MetadConfig, parse_config
from daemon.main import Daemon, run_daemon
from sim.knobs import SimKnobs
from sim.server import Sim, build_sim, serve_sim
from tests.support import free_port

CHIP = "200000000000001"
OTHER_CHIP = "200000000000002"
CONTACT = "5511987654321"


def daemon_config(
    dsn: str,
    state: Path,
    *,
    sim_port: int,
    webhook_port: int,
    extra: str = "",
    graph: str = "",
) -> MetadConfig:
    return parse_config(
        f"""
[daemon]
state_dir = "{state}"
runtime_dir = "{tempfile.mkdtemp(prefix="metad-run-")}"
shutdown_timeout_s = 3
[supervisor]
backoff_min_s = 0.01
[storage]
dsn = "{dsn}"
writer_flush_ms = 1
[graph]
base_url = "http://127.0.0.1:{sim_port}"
{graph}
[webhook]
listen = "127.0.0.1:{webhook_port}"
[sandbox]
enabled = true
serve = false
listen = "127.0.0.1:{sim_port}"
[limits]
pair_interval_s = 1
[quality]
ramp_hours = [0.0003, 0.0003, 0.0003]
[[wabas]]
id = "100000000000001"
[[chips]]
phone_number_id = "{CHIP}"
display_number = "+55 11 94000-0001"
waba = "100000000000001"
[[chips]]
phone_number_id = "{OTHER_CHIP}"
display_number = "+55 11 94000-0002"
waba = "100000000000001"
{extra}
""",
        file="test.toml",
    )


@dataclass
class Env:
    cfg: MetadConfig
    sim: Sim
    daemon: Daemon
    nursery: trio.Nursery


async def wait_until(check: Callable[[], Awaitable[bool] | bool], timeout: float = 5.0) -> None:
    with trio.fail_after(timeout):
        while True:
            result = check()
            if not isinstance(result, bool):
                result = await result
            if result:
                return
            await trio.sleep(0.02)


@pytest.fixture
async def env(db_dsn: str, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Env]:
    """``@pytest.mark.config("[budget]\\ndaily_usd = 1")`` appends TOML to the config;
    ``graph="send_timeout_s = 1"`` adds keys to its ``[graph]`` table."""
    sim_port, webhook_port = free_port(), free_port()
    marker = request.node.get_closest_marker("config")
    extra = marker.args[0] if marker is not None and marker.args else ""
    graph = marker.kwargs.get("graph", "") if marker is not None else ""
    cfg = daemon_config(
        db_dsn, tmp_path, sim_port=sim_port, webhook_port=webhook_port, extra=extra, graph=graph
    )
    sim = build_sim(
        cfg,
        webhook_url=f"http://127.0.0.1:{webhook_port}/webhook",
        seed=3,
        knobs=SimKnobs.quiet(open_window_share=0.0),
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(partial(serve_sim, cfg, sim=sim, listen=f"127.0.0.1:{sim_port}"))
        daemon = await nursery.start(partial(run_daemon, cfg, handle_signals=False))
        yield Env(cfg, sim, daemon, nursery)
        daemon.stop.set()
        nursery.cancel_scope.cancel()

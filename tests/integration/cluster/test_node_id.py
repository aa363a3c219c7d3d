"""A second live daemon with a node id already in use refuses to start; a restart of the
same node after its old session is gone starts as usual."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
import trio

from config import ConfigError, MetadConfig
from daemon.cluster import Leases, NodeIdInUse
from daemon.main import Daemon, run_daemon
from daemon.store import Store
from sim.knobs import SimKnobs
from sim.server import build_sim, serve_sim
from tests.integration.cluster.test_three_nodes import _config
from tests.support import free_port

LEASE_S = 0.6


def _leases(store: Store, node_id: str) -> Leases:
    return Leases(store, node_id=node_id, chips=["1", "2"], mode="all", lease_s=LEASE_S)


async def test_a_node_id_is_held_by_one_live_daemon(store: Store) -> None:
    async with trio.open_nursery() as nursery:
        first = trio.CancelScope()

        async def run(
            leases: Leases, scope: trio.CancelScope, *, task_status: trio.TaskStatus[None]
        ) -> None:
            with scope:
                await leases.run(task_status=task_status)

        await nursery.start(run, _leases(store, "twin"), first)
        # Another name is fine beside it.
        await nursery.start(run, _leases(store, "other"), trio.CancelScope())
        # The same name while the first lives: refused, after waiting out a dead session.
        started = trio.current_time()
        with pytest.raises(NodeIdInUse, match=r'node_id "twin" .*\[cluster\] node_id'):
            await _leases(store, "twin").run()
        assert trio.current_time() - started >= LEASE_S

        # A restart whose old session goes while it waits (a crash the server has not
        # noticed yet) starts as soon as it is gone.
        async def end_first() -> None:
            await trio.sleep(LEASE_S / 2)
            first.cancel()

        nursery.start_soon(end_first)
        again = _leases(store, "twin")
        await nursery.start(run, again, trio.CancelScope())
        assert again.last_renewed is not None
        nursery.cancel_scope.cancel()


async def test_a_second_daemon_with_a_live_node_id_refuses_to_start(
    db_dsn: str, tmp_path: Path
) -> None:
    sim_port = free_port()

    def config(name: str) -> MetadConfig:
        port = free_port()
        return _config(db_dsn, tmp_path / name, "twin", sim_port=sim_port, webhook_port=port)

    cfg_a, cfg_b = config("a"), config("b")
    sim = build_sim(cfg_a, webhook_url=None, seed=1, knobs=SimKnobs.quiet())
    stopped = trio.Event()

    async def run(cfg: MetadConfig, *, task_status: trio.TaskStatus[Daemon]) -> None:
        try:
            await run_daemon(cfg, handle_signals=False, task_status=task_status)
        finally:
            stopped.set()

    async with trio.open_nursery() as nursery:
        await nursery.start(partial(serve_sim, cfg_a, sim=sim, listen=f"127.0.0.1:{sim_port}"))
        first: Daemon = await nursery.start(run, cfg_a)
        with pytest.raises(ExceptionGroup) as caught:
            await run_daemon(cfg_b, handle_signals=False)
        errors = [e for e in _leaves(caught.value) if isinstance(e, ConfigError)]
        assert len(errors) == 1, caught.value
        text = str(errors[0])
        assert text.startswith("twin.toml:")
        assert 'cluster.node_id: node_id "twin" is in use by another live metad daemon' in text
        assert first.leases is not None
        assert first.leases.running

        # Once the first is gone, the same node id starts again.
        first.stop.set()
        await stopped.wait()
        second: Daemon = await nursery.start(run, cfg_b)
        assert second.leases is not None
        assert second.leases.node_id == "twin"
        second.stop.set()
        nursery.cancel_scope.cancel()


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]

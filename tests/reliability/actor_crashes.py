"""Part 5: injected actor crashes in a running daemon (in-process, so crashes can be
injected and restarts timed exactly).

Half the crashes are real exceptions raised inside the actor by a message it does not
understand (its handler's ``assert_never``), half are the supervisor's ``kill`` (an
operator's or a test's). Each must be followed by a restart within 1 s, the actor's
state must be what it was (rebuilt from storage), ``actor`` events must be published on
the bus (the console's event screen shows them), the daemon must stay up, and a
campaign running meanwhile must reach everyone exactly once.
"""

from __future__ import annotations

import csv
import itertools
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import trio

from actors.chip.messages import ChipSnapshot, GetSnapshot, Pause
from daemon.main import Daemon, run_daemon
from sim.knobs import SimKnobs
from sim.server import build_sim, serve_sim
from tests.integration.daemon.conftest import CHIP, OTHER_CHIP, daemon_config
from tests.reliability.scenarios import Result
from tests.support import free_port


@dataclass(frozen=True, slots=True)
class Poison:
    """A message no actor handles: its ``match`` falls to ``assert_never`` and raises."""

    reply: None = None


async def _chip_state(daemon: Daemon, pnid: str) -> tuple[Any, ...]:
    snap: ChipSnapshot = await daemon.fleet.chip(pnid).call(lambda r: GetSnapshot(reply=r))
    rec = snap.record
    return (rec.paused, rec.pause_reason, rec.quality_rating, rec.messaging_limit_tier)


async def _inject(daemon: Daemon, actor_id: str, how: str) -> None:
    if how == "raise" and actor_id.startswith("chip:"):
        await daemon.fleet.chip(actor_id.split(":", 1)[1]).cast(Poison())  # type: ignore[arg-type]
    elif how == "raise" and actor_id.startswith("waba:"):
        await daemon.fleet.waba(actor_id.split(":", 1)[1]).cast(Poison())  # type: ignore[arg-type]
    else:
        daemon.supervisor.kill(actor_id, "injected by the reliability suite")


async def actor_crash_storm(db_dsn: str, state: Path, *, crashes: int, recipients: int) -> Result:
    began = time.monotonic()
    res = Result(f"actors: {crashes} injected crashes")
    sim_port, webhook_port = free_port(), free_port()
    cfg = daemon_config(db_dsn, state, sim_port=sim_port, webhook_port=webhook_port)
    # Many crashes of the same actor within the period: allow them, and cap the backoff
    # at 0.5 s so every restart is due within the 1 s the issue asks for.
    sup = cfg.supervisor.model_copy(
        update={"max_restarts": 10 * crashes, "backoff_min_s": 0.01, "backoff_max_s": 0.5}
    )
    cfg = cfg.model_copy(update={"supervisor": sup})
    sim = build_sim(
        cfg,
        webhook_url=f"http://127.0.0.1:{webhook_port}/webhook",
        seed=3,
        knobs=SimKnobs.quiet(open_window_share=0.0, initial_tier="TIER_UNLIMITED"),
    )
    restart_s: list[float] = []
    events: list[dict[str, Any]] = []
    slow: list[tuple[str, float]] = []
    state_changed: list[str] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(partial(serve_sim, cfg, sim=sim, listen=f"127.0.0.1:{sim_port}"))
        daemon: Daemon = await nursery.start(partial(run_daemon, cfg, handle_signals=False))
        sub = daemon.bus.subscribe()

        async def listen() -> None:
            async for ev in sub.receive:
                if ev.kind == "actor":
                    events.append(ev.data)

        nursery.start_soon(listen)
        await daemon.fleet.chip(OTHER_CHIP).call(
            lambda r: Pause(reason="kept across restarts", reply=r)
        )
        await _start_campaign(daemon, state, recipients)
        ids = [c for c in daemon.supervisor.child_ids if c.split(":")[0] in _KINDS]
        before = {pnid: await _chip_state(daemon, pnid) for pnid in (CHIP, OTHER_CHIP)}
        for n, (actor_id, how) in zip(
            range(crashes), itertools.cycle(itertools.product(ids, ("raise", "kill"))), strict=False
        ):
            was = daemon.supervisor.restarts(actor_id)
            t0 = trio.current_time()
            await _inject(daemon, actor_id, how)
            with trio.move_on_after(5):
                while daemon.supervisor.restarts(actor_id) == was or (
                    actor_id in daemon.supervisor.down
                ):
                    await trio.sleep(0.002)
            took = trio.current_time() - t0
            restart_s.append(took)
            if took >= 1.0:
                slow.append((actor_id, round(took, 3)))
            if actor_id.startswith("chip:"):
                pnid = actor_id.split(":", 1)[1]
                if await _chip_state(daemon, pnid) != before[pnid]:
                    state_changed.append(f"#{n} {actor_id}")
            await trio.sleep(0.02)
        final = await _wait_campaign(daemon, recipients)
        fates = await daemon.store.fetch(
            "SELECT r.wa_id, r.state, r.reason, o.state AS ostate, o.error->>'reason' AS oreason"
            " FROM campaign_recipients r LEFT JOIN outbox o ON o.campaign_id = r.campaign_id"
            "  AND o.recipient_id = r.recipient_key WHERE r.campaign_id = 'steady'"
        )
        await trio.sleep(0.3)  # the last events reach the subscriber
        sent = Counter(
            m.wa_id or m.to
            for m in sim.world.messages.values()
            if (m.callback or "").startswith("metad:o:")
        )
        daemon.stop.set()
        nursery.cancel_scope.cancel()
    crashed = sum(1 for e in events if e["kind"] == "crashed")
    restarted = sum(1 for e in events if e["kind"] == "restarted")
    gave_up = sum(1 for e in events if e["kind"] == "gave_up")
    res.duplicates = sum(n - 1 for n in sent.values())
    unsent = [dict(f) for f in fates if f["wa_id"] not in sent]
    res.lost = sum(1 for f in unsent if f["ostate"] not in ("failed", "in_doubt"))
    res.crashes = gave_up
    res.checks["every restart < 1 s"] = not slow
    res.checks["chip state kept across restarts"] = not state_changed
    res.checks["each crash and restart published"] = crashed >= crashes and restarted >= crashes
    res.detail = {
        "actors": ids,
        "crashes": crashes,
        "max_restart_ms": round(1000 * max(restart_s, default=0.0), 1),
        "mean_restart_ms": round(1000 * sum(restart_s) / max(1, len(restart_s)), 1),
        "slow": slow[:5],
        "state_changed": state_changed[:5],
        "events": {"crashed": crashed, "restarted": restarted, "gave_up": gave_up},
        "cascaded_crashes": crashed - crashes,
        "campaign_sent": len(sent),
        "campaign": {k: final.get(k) for k in ("state", "reason", "sent", "in_doubt", "failed")},
        "unsent": unsent[:5],
    }
    res.seconds = time.monotonic() - began
    return res


_KINDS = ("chip", "waba", "budget", "campaigns")


async def _start_campaign(daemon: Daemon, state: Path, n: int) -> None:
    sim_url = daemon.cfg.graph.base_url

    def write() -> tuple[list[str], Path]:
        contacts = httpx.get(f"{sim_url}/_sim/contacts", params={"limit": n}, timeout=10).json()
        audience = [c["wa_id"] for c in contacts["data"]][:n]
        folder = Path(tempfile.mkdtemp(prefix="campaign-", dir=state))
        with (folder / "people.csv").open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["phone", "nome"])
            w.writerows([wa, f"Dr {i}"] for i, wa in enumerate(audience))
        path = folder / "steady.toml"
        path.write_text(
            'name = "steady"\n[audience]\nfile = "people.csv"\n[[templates]]\n'
            'name = "vaga_plantao"\nlanguage = "pt_BR"\n[variables]\n"1" = "nome"\n'
            '"2" = { column = "especialidade", default = "clínica médica" }\n'
            f"[limits]\nrate_per_s = {max(1.0, n / 8)}\nin_doubt_hold_s = 0\n",
            encoding="utf-8",
        )
        return audience, path

    _, path = await trio.to_thread.run_sync(write)
    await _ctl(daemon, "campaign.start", {"file": str(path)})


async def _ctl(daemon: Daemon, method: str, params: dict[str, Any]) -> Any:
    from daemon.control.client import CtlClient

    stream = await trio.open_unix_socket(daemon.control_socket)
    async with stream:
        return await CtlClient(stream).call(method, params)


async def _wait_campaign(daemon: Daemon, recipients: int) -> dict[str, Any]:
    status: dict[str, Any] = {}
    with trio.move_on_after(60):
        while True:
            status = await _ctl(daemon, "campaign.status", {"name": "steady"})
            if status["state"] != "running" and status["in_flight"] == 0:
                break
            await trio.sleep(0.2)
    return status

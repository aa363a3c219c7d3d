"""`metad templates report`: per-template results from the outbox, statuses and ledger."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import trio

from actors.chip import Send, Sent
from daemon.store.analytics import template_report
from tests.integration.daemon.conftest import CHIP, Env, wait_until
from tests.support import metad_command, write_demo_config

HELLO = {"name": "hello_world", "language": {"code": "en_US"}}


async def _sent_and_read(env: Env, count: int) -> list[Sent]:
    chip = env.daemon.fleet.chip(CHIP)
    out: list[Sent] = []
    for wa_id in list(env.sim.world.contacts)[:count]:
        result = await chip.call(lambda r, w=wa_id: Send(to=w, template=HELLO, reply=r), timeout=30)
        assert isinstance(result, Sent)
        out.append(result)

    async def all_read() -> bool:
        states = await env.daemon.store.fetch(
            "SELECT state FROM outbox WHERE id = ANY($1::bigint[])", [s.outbox_id for s in out]
        )
        return all(r["state"] == "read" for r in states)

    await wait_until(all_read)
    return out


async def test_report_counts_what_each_template_achieved(env: Env) -> None:
    await _sent_and_read(env, 3)

    async def settled() -> bool:
        n = await env.daemon.store.fetchval(
            "SELECT count(*) FROM budget_ledger WHERE kind = 'settlement'"
        )
        return int(n) == 3

    await wait_until(settled)
    report = await template_report(env.daemon.store, days=1, now=dt.datetime.now(dt.UTC))
    (hello,) = [r for r in report if r["name"] == "hello_world"]
    assert (hello["sent"], hello["delivered"], hello["read"], hello["failed"]) == (3, 3, 3, 0)
    assert hello["read_rate"] == 1.0
    assert hello["cost_usd"] > 0


async def test_report_from_the_command_line(env: Env, db_dsn: str, tmp_path: Path) -> None:
    await _sent_and_read(env, 1)
    config = write_demo_config(tmp_path / "cli", dsn=db_dsn)
    out = await trio.run_process(
        metad_command("templates", "report", "-c", str(config), "--json"),
        capture_stdout=True,
        check=False,
    )
    assert out.returncode == 0
    rows = json.loads(out.stdout)
    assert any(r["name"] == "hello_world" and r["sent"] == 1 for r in rows)
    table = await trio.run_process(
        metad_command("templates", "report", "-c", str(config)), capture_stdout=True
    )
    assert b"hello_world" in table.stdout

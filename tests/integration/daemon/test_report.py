"""`metad templates report`: per-template results from the outbox, statuses and ledger."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import trio

from actors.chip import Send, Sent
from daemon.control.client import ControlError, connect
from daemon.control.methods import INVALID_PARAMS
from daemon.store.analytics import marketing_messages_report, report, template_report
from tests.integration.daemon.conftest import CHIP, OTHER_CHIP, Env, wait_until
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
    result = json.loads(out.stdout)
    assert any(r["name"] == "hello_world" and r["sent"] == 1 for r in result["rows"])
    assert result["by"] == "template"
    assert result["marketing_messages"]["total"]["sent"] == 0
    table = await trio.run_process(
        metad_command("templates", "report", "-c", str(config)), capture_stdout=True
    )
    assert b"hello_world" in table.stdout


async def _until_final(env: Env, ids: list[int]) -> None:
    async def final() -> bool:
        states = await env.daemon.store.fetch(
            "SELECT state FROM outbox WHERE id = ANY($1::bigint[])", ids
        )
        return all(r["state"] in ("read", "failed") for r in states)

    await wait_until(final)


async def test_report_by_chip_and_by_campaign(env: Env, db_dsn: str, tmp_path: Path) -> None:
    await env.daemon.store.execute(
        "INSERT INTO campaigns (id, name, spec) VALUES ('c1', 'c1', '{}'::jsonb)"
    )
    contacts = list(env.sim.world.contacts)[:3]
    ids = []
    for i, (chip, wa_id) in enumerate(zip([CHIP, CHIP, OTHER_CHIP], contacts, strict=True)):
        campaign = {"campaign_id": "c1", "recipient_id": f"r{i}"} if i < 2 else {}
        sent = await env.daemon.fleet.chip(chip).call(
            lambda r, w=wa_id, kw=campaign: Send(to=w, template=HELLO, reply=r, **kw), timeout=30
        )
        assert isinstance(sent, Sent)
        ids.append(sent.outbox_id)
    await _until_final(env, ids)
    now = dt.datetime.now(dt.UTC)
    chips = {r["chip"]: r for r in await report(env.daemon.store, by="chip", days=1, now=now)}
    assert (chips[CHIP]["sent"], chips[OTHER_CHIP]["sent"]) == (2, 1)
    assert chips[CHIP]["waba_id"] == "100000000000001"
    (c1,) = await report(env.daemon.store, by="campaign", days=1, now=now)
    assert (c1["campaign"], c1["sent"], c1["read"]) == ("c1", 2, 2)

    config = write_demo_config(tmp_path / "cli", dsn=db_dsn)
    out = await trio.run_process(
        metad_command("templates", "report", "-c", str(config), "--by", "chip"),
        capture_stdout=True,
    )
    assert out.stdout.startswith(b"CHIP")
    assert CHIP.encode() in out.stdout
    async with connect(Path(env.daemon.control_socket)) as client:
        result = await client.call("templates.report", {"by": "campaign", "days": 1})
        per_waba = await client.call("templates.report", {"days": 1, "per_waba": True})
        with pytest.raises(ControlError) as refused:
            await client.call("templates.report", {"by": "chip", "per_waba": True})
    assert [(r["campaign"], r["sent"]) for r in result["rows"]] == [("c1", 2)]
    assert "recommendations" in result
    # The console's form: per WABA (both chips are in the first one).
    assert [(r["waba_id"], r["name"], r["sent"]) for r in per_waba["rows"]] == [
        ("100000000000001", "hello_world", 3)
    ]
    assert refused.value.code == INVALID_PARAMS


async def test_marketing_messages_api_sends_are_measured_apart(env: Env) -> None:
    env.sim.world.wabas["100000000000001"].marketing_messages = True
    template = {
        "name": "vaga_plantao",
        "language": {"code": "pt_BR"},
        "components": [
            {
                "type": "body",
                "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "SP"}],
            }
        ],
    }
    contacts = list(env.sim.world.contacts)[:2]
    ids = []
    for wa_id in contacts:
        sent = await env.daemon.fleet.chip(CHIP).call(
            lambda r, w=wa_id: Send(
                to=w, template=template, category="marketing", via="marketing_messages", reply=r
            ),
            timeout=30,
        )
        assert isinstance(sent, Sent), sent
        ids.append(sent.outbox_id)
    await _sent_and_read(env, 1)  # an ordinary send, not counted as Marketing Messages
    await _until_final(env, ids)
    mm = await marketing_messages_report(env.daemon.store, days=1, now=dt.datetime.now(dt.UTC))
    total = mm["total"]
    assert (total["sent"], total["delivered"], total["read"]) == (2, 2, 2)
    assert total["clicked"] is None  # not reported by the Cloud API: unknown, not zero
    assert [t["name"] for t in mm["templates"]] == ["vaga_plantao"]

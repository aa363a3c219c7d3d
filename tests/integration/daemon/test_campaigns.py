"""Campaigns end to end: a real daemon, PostgreSQL and the simulator over HTTP."""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from actors.waba import SyncTemplates
from daemon.control.client import connect
from tests.integration.daemon.conftest import Env, wait_until
from tests.support import metad_command

WABA = "100000000000001"


def _campaign(tmp: Path, env: Env, n: int, extra: str = "", name: str = "offer") -> Path:
    contacts = list(env.sim.world.contacts.values())[:n]
    with (tmp / "people.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["crm", "primeiro_nome", "telefone", "especialidade", "opt_out"])
        for i, c in enumerate(contacts):
            w.writerow([f"{i}/SP", c.name.split()[0], "+" + c.wa_id, "Pediatria", "não"])
        w.writerow(["x/SP", "Sem", "", "Pediatria", "não"])  # skipped: no number
        w.writerow(["y/SP", "Vera", "+5511987654321", "Pediatria", "sim"])  # opted out
    path = tmp / f"{name}.toml"
    path.write_text(
        f'''name = "{name}"
[audience]
file = "people.csv"
opt_out_column = "opt_out"
key_column = "crm"
[[templates]]
name = "vaga_plantao"
language = "pt_BR"
[variables]
"1" = "primeiro_nome"
"2" = "especialidade"
[limits]
rate_per_s = 50
{extra}
''',
        encoding="utf-8",
    )
    return path


async def _sync(env: Env) -> None:
    await env.daemon.fleet.waba(WABA).call(lambda r: SyncTemplates(reply=r), timeout=30)


async def _sim_messages(env: Env) -> list[dict[str, Any]]:
    async with httpx.AsyncClient() as http:
        r = await http.get(f"{env.cfg.graph.base_url}/_sim/messages", params={"limit": 100000})
        body: Any = r.json()
        return list(body["data"] if isinstance(body, dict) else body)


async def test_a_campaign_runs_to_the_end_once_per_recipient(env: Env, tmp_path: Path) -> None:
    await _sync(env)
    path = _campaign(tmp_path, env, 12)
    async with connect(Path(env.daemon.control_socket)) as client:
        plan = await client.call("campaign.plan", {"file": str(path)})
        assert plan["valid"] == 12
        assert plan["skipped_by_reason"] == {"no number": 1, "opted out": 1}
        assert sum(plan["by_chip"].values()) == 12
        started = await client.call("campaign.start", {"file": str(path)})
        assert started["state"] == "running"

        async def finished() -> bool:
            s = await client.call("campaign.status", {"id": "offer"})
            return bool(s["state"] == "finished")

        await wait_until(finished, timeout=30)
        status = await client.call("campaign.status", {"id": "offer"})
    assert status["sent"] == 12
    assert status["skipped"] == 2
    assert status["pending"] == 0
    to = [
        m["to"]
        for m in await _sim_messages(env)
        if (m["biz_opaque_callback_data"] or "").startswith("metad:o:") and m["type"] == "template"
    ]
    assert len(to) == 12 == len(set(to))


async def test_pause_resume_and_cancel_from_the_socket(env: Env, tmp_path: Path) -> None:
    await _sync(env)
    path = _campaign(tmp_path, env, 30, extra="", name="slow")
    path.write_text(path.read_text().replace("rate_per_s = 50", "rate_per_s = 2"))
    async with connect(Path(env.daemon.control_socket)) as client:
        await client.call("campaign.start", {"file": str(path)})
        paused = await client.call("campaign.pause", {"id": "slow", "reason": "lunch"})
        assert paused["state"] == "paused"
        assert paused["reason"] == "lunch"
        before = (await client.call("campaign.status", {"id": "slow"}))["sent"]
        await wait_until(lambda: True)
        resumed = await client.call("campaign.resume", {"id": "slow"})
        assert resumed["state"] == "running"

        async def some_sent() -> bool:
            s = await client.call("campaign.status", {"id": "slow"})
            return bool(s["sent"] > before)

        await wait_until(some_sent, timeout=10)
        cancelled = await client.call("campaign.cancel", {"id": "slow"})
        assert cancelled["state"] == "cancelled"
        listed = await client.call("campaign.list")
    assert [c["id"] for c in listed] == ["slow"]
    assert listed[0]["pending"] > 0  # cancelled before the end: the rest was never sent


async def test_a_carousel_goes_out_with_valid_cards_and_taps_come_back(
    env: Env, tmp_path: Path
) -> None:
    await _sync(env)
    repliers = [c for c in env.sim.world.contacts.values() if c.replies][:2]
    (tmp_path / "shifts.csv").write_text(
        "vaga_id,hospital,imagem_url,status\n"
        "V1,Hospital A,https://cdn.example.com/v1.jpg,aberta\n"
        "V2,Hospital B,https://cdn.example.com/v2.jpg,fechada\n"
        "V3,Hospital C,https://cdn.example.com/v3.jpg,aberta\n"
        "V4,Hospital D,https://cdn.example.com/v4.jpg,aberta\n"
        "V5,Hospital E,https://cdn.example.com/v5.jpg,aberta\n",
        encoding="utf-8",
    )
    inline = ", ".join(f'{{ phone = "{c.wa_id}", nome = "{c.name}" }}' for c in repliers)
    path = tmp_path / "cards.toml"
    path.write_text(
        f"""name = "cards"
[audience]
inline = [{inline}]
[[templates]]
name = "carrossel_vagas"
language = "pt_BR"
[variables]
"1" = "nome"
[carousel]
listings = "shifts.csv"
id_column = "vaga_id"
status_column = "status"
overflow = "split"
[carousel.cards]
header = "imagem_url"
"1" = "hospital"
""",
        encoding="utf-8",
    )
    async with connect(Path(env.daemon.control_socket)) as client:
        plan = await client.call("campaign.plan", {"file": str(path)})
        assert plan["cards"] == [2, 2]  # four open shifts, two cards per carousel
        assert plan["valid"] == 4
        await client.call("campaign.start", {"file": str(path)})

        async def tapped() -> bool:
            s = await client.call("campaign.status", {"id": "cards"})
            return bool(s["state"] == "finished" and s["taps"] >= 1)

        await wait_until(tapped, timeout=30)
    sent = [
        m for m in await _sim_messages(env) if m["type"] == "template" and m["status"] != "failed"
    ]
    assert len(sent) == 4
    for m in sent:
        carousel = next(
            c for c in m["payload"]["template"]["components"] if c["type"] == "carousel"
        )
        assert len(carousel["cards"]) == 2
        for card in carousel["cards"]:
            header = next(c for c in card["components"] if c["type"] == "header")
            assert header["parameters"][0]["image"]["link"].startswith("https://cdn.example.com/")
            button = next(c for c in card["components"] if c["type"] == "button")
            assert button["parameters"][0]["payload"].startswith("mc:cards:V")
    taps = await env.daemon.store.fetch(
        "SELECT data FROM events WHERE kind = 'campaign.tap' AND subject = 'cards'"
    )
    assert {t["data"]["ref"] for t in taps} <= {"V1", "V3", "V4", "V5"}
    # Who wants which shift, for a spreadsheet: each tap with the recipient it answered.
    assert env.cfg.source is not None
    config = tmp_path / "metad.toml"
    config.write_text(env.cfg.source.text, encoding="utf-8")
    out = await trio.run_process(
        metad_command("campaign", "taps", "cards", "--csv", "-c", str(config)),
        capture_stdout=True,
    )
    rows = list(csv.DictReader(io.StringIO(out.stdout.decode())))
    assert len(rows) >= len(taps)  # contacts may still be tapping
    assert {r["ref"] for r in rows} <= {"V1", "V3", "V4", "V5"}
    keys = {f"{c.wa_id}#{part}" for c in repliers for part in (1, 2)}
    assert all(r["recipient"] in keys for r in rows)


async def _finished(client: Any, cid: str) -> dict[str, Any]:
    async def done() -> bool:
        s = await client.call("campaign.status", {"id": cid})
        return bool(s["state"] == "finished" and s["in_flight"] == 0)

    await wait_until(done, timeout=30)
    result: dict[str, Any] = await client.call("campaign.status", {"id": cid})
    return result


async def _inject(env: Env, **fault: Any) -> None:
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{env.cfg.graph.base_url}/_sim/faults", json=fault)
        assert r.status_code == 200, r.text


def _received(messages: list[dict[str, Any]]) -> Counter[str]:
    return Counter(
        m["wa_id"] or m["to"]
        for m in messages
        if (m["biz_opaque_callback_data"] or "").startswith("metad:o:") and m["type"] == "template"
    )


@pytest.mark.config(graph="send_timeout_s = 1")
async def test_a_send_cut_off_after_meta_took_it_is_settled_by_its_webhook(
    env: Env, tmp_path: Path
) -> None:
    await _sync(env)
    path = _campaign(tmp_path, env, 3)
    await _inject(env, endpoint="messages", mode="accept_then_timeout", hang_s=3)
    async with connect(Path(env.daemon.control_socket)) as client:
        await client.call("campaign.start", {"file": str(path)})
        await _finished(client, "offer")

        async def settled() -> bool:
            s = await client.call("campaign.status", {"id": "offer"})
            return bool(s["in_doubt"] == 0 and s["sent"] == 3)

        await wait_until(settled, timeout=15)  # the status webhook carried the outbox id
    received = _received(await _sim_messages(env))
    assert len(received) == 3
    assert set(received.values()) == {1}


@pytest.mark.config(graph="send_timeout_s = 1")
async def test_a_message_in_doubt_waits_for_the_operator_and_is_resent_once(
    env: Env, tmp_path: Path
) -> None:
    await _sync(env)
    path = _campaign(tmp_path, env, 3, extra="in_doubt_hold_s = 0")
    await _inject(env, endpoint="messages", mode="timeout", hang_s=2)  # never reaches Meta
    async with connect(Path(env.daemon.control_socket)) as client:
        await client.call("campaign.start", {"file": str(path)})
        status = await _finished(client, "offer")
        assert status["in_doubt"] == 1
        assert status["sent"] == 2
        (doubt,) = status["in_doubt_overdue"]
        resolved = await client.call(
            "campaign.resolve", {"id": "offer", "recipient": doubt["recipient"], "action": "resend"}
        )
        assert resolved == {"resolved": True}

        async def all_sent() -> bool:
            s = await client.call("campaign.status", {"id": "offer"})
            return bool(s["sent"] == 3 and s["state"] == "finished")

        await wait_until(all_sent, timeout=15)
    received = _received(await _sim_messages(env))
    assert len(received) == 3
    assert set(received.values()) == {1}

"""``metad campaign`` from the shell, on the demo campaign shipped beside metad.toml."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import trio

from actors.waba import SyncTemplates
from tests.integration.daemon.conftest import Env, wait_until
from tests.support import REPO

DEMO = REPO / "campaigns" / "demo.toml"
CAROUSEL = REPO / "campaigns" / "demo_carousel.toml"


async def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return await trio.to_thread.run_sync(
        lambda: subprocess.run(
            [sys.executable, "-m", "daemon", "campaign", "-c", str(config), *args],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=REPO,
        )
    )


async def _config(env: Env, tmp: Path) -> Path:
    assert env.cfg.source is not None
    path = tmp / "metad.toml"
    path.write_text(env.cfg.source.text, encoding="utf-8")
    await env.daemon.fleet.waba("100000000000001").call(
        lambda r: SyncTemplates(reply=r), timeout=30
    )
    return path


async def test_plan_then_start_the_demo_campaign(env: Env, tmp_path: Path) -> None:
    config = await _config(env, tmp_path)
    plan = await _cli(config, "--json", "plan", str(DEMO))
    assert plan.returncode == 0, plan.stderr
    p: dict[str, Any] = json.loads(plan.stdout)
    assert p["campaign"] == "demo"
    assert p["skipped_by_reason"] == {"bad number": 1, "no number": 1, "opted out": 1}
    assert p["valid"] == 23
    assert sum(p["by_chip"].values()) == 23
    assert p["estimated_cost_usd"] > 0
    assert p["budget_notes"] == []  # within its cap and the fleet's
    text = await _cli(config, "plan", str(DEMO))
    assert "estimated cost" in text.stdout
    assert "by chip:" in text.stdout

    started = await _cli(config, "--json", "start", str(DEMO))
    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout)["state"] == "running"

    async def finished() -> bool:
        out = await _cli(config, "--json", "status", "demo")
        return bool(json.loads(out.stdout)["state"] == "finished")

    await wait_until(finished, timeout=45)
    listed = await _cli(config, "list")
    assert "demo" in listed.stdout
    assert "finished" in listed.stdout


async def test_errors_are_one_line_and_exit_non_zero(env: Env, tmp_path: Path) -> None:
    config = await _config(env, tmp_path)
    missing = await _cli(config, "status", "nope")
    assert missing.returncode == 1
    assert "no campaign 'nope'" in missing.stderr
    await _cli(config, "start", "demo")
    nothing = await _cli(config, "resolve", "demo", "nobody", "drop")
    assert (nothing.returncode, nothing.stderr) == (
        1,
        "metad campaign: nothing in doubt for nobody\n",
    )
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "Bad Name"\n[audience]\ninline = []\n', encoding="utf-8")
    out = await _cli(config, "plan", str(bad))
    assert out.returncode == 2
    assert "bad.toml:1: name:" in out.stderr
    assert "Traceback" not in out.stderr


async def test_plan_takes_several_campaigns_and_checks_every_name_first(
    env: Env, tmp_path: Path
) -> None:
    config = await _config(env, tmp_path)
    both = await _cli(config, "--json", "plan", str(DEMO), str(CAROUSEL))
    assert both.returncode == 0, both.stderr
    assert [json.loads(line)["campaign"] for line in both.stdout.splitlines()] == [
        "demo",
        "demo-carousel",
    ]
    text = await _cli(config, "plan", str(DEMO), str(CAROUSEL))
    assert text.stdout.count("estimated cost") == 2
    typo = await _cli(config, "plan", str(DEMO), "nope")
    assert typo.returncode != 0
    assert "nope" in typo.stderr
    assert typo.stdout == ""  # said before any plan was read

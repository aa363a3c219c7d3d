"""``metad templates create|edit|delete|list`` against the simulator over real HTTP, with
a running daemon that learns the outcome from Meta's template webhooks, and syncs its
templates when the CLI asks after a change."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from actors.ports import TemplateRecord
from actors.waba import GetTemplates
from tests.integration.daemon.conftest import Env, wait_until
from tests.support import metad_command

WABA = "100000000000001"
DEFINITION = {
    "name": "plantao_lembrete",
    "language": "pt_BR",
    "category": "UTILITY",
    "components": [
        {
            "type": "BODY",
            "text": "Olá {{1}}, lembramos que seu plantão começa amanhã às sete horas.",
            "example": {"body_text": [["Ana"]]},
        }
    ],
}


def _config(env: Env, directory: Path) -> Path:
    """The CLI's view of the same fleet: the env's simulator as the Graph API, the env
    daemon's control socket."""
    path = directory / "cli.toml"
    path.write_text(
        f"""
[daemon]
runtime_dir = "{env.cfg.daemon.runtime_dir}"
[sandbox]
enabled = true
serve = false
listen = "{env.cfg.sandbox.listen}"
[graph]
base_url = "{env.cfg.graph.base_url}"
[[wabas]]
id = "{WABA}"
[[chips]]
phone_number_id = "200000000000001"
display_number = "+55 11 94000-0001"
waba = "{WABA}"
"""
    )
    return path


async def _metad(config: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    import trio

    return await trio.run_process(
        metad_command("templates", *args, "-c", str(config)),
        capture_stdout=True,
        capture_stderr=True,
        check=False,
    )


def _write(directory: Path, name: str, defn: dict[str, Any]) -> Path:
    path = directory / name
    path.write_text(json.dumps(defn))
    return path


def _sim_templates(env: Env, name: str) -> list[Any]:
    return [t for t in env.sim.world.templates.values() if t.name == name]


async def _daemon_status(env: Env, name: str, language: str) -> str | None:
    records: list[TemplateRecord] = await env.daemon.fleet.waba(WABA).call(
        lambda r: GetTemplates(reply=r)
    )
    found = [t.status for t in records if t.name == name and t.language == language]
    return found[0] if found else None


async def test_create_edit_list_and_delete(env: Env, tmp_path: Path) -> None:
    config = _config(env, tmp_path)
    created = await _metad(config, "create", str(_write(tmp_path, "t.json", DEFINITION)))
    assert created.returncode == 0, created.stderr
    assert b"created plantao_lembrete (pt_BR) in WABA " + WABA.encode() in created.stdout
    assert b"status PENDING, category UTILITY" in created.stdout
    (rec,) = _sim_templates(env, "plantao_lembrete")
    # The simulator approves it (after 0.05 s here) by webhook; the daemon learns it.
    await wait_until(lambda: rec.status == "APPROVED")

    async def daemon_knows() -> bool:
        return await _daemon_status(env, "plantao_lembrete", "pt_BR") == "APPROVED"

    await wait_until(daemon_knows)

    listed = await _metad(config, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {(r["name"], r["language"]): r for r in json.loads(listed.stdout)}
    assert rows["plantao_lembrete", "pt_BR"]["status"] == "APPROVED"
    assert rows["plantao_lembrete", "pt_BR"]["id"] == rec.id
    assert ("hello_world", "en_US") in rows  # the seeded ones too, across pages
    table = await _metad(config, "list")
    assert b"plantao_lembrete" in table.stdout

    new_body = "Olá {{1}}, seu plantão de amanhã foi remarcado para as oito horas."
    edited = {"components": [{**DEFINITION["components"][0], "text": new_body}]}  # type: ignore[dict-item]
    out = await _metad(config, "edit", "plantao_lembrete", str(_write(tmp_path, "e.json", edited)))
    assert out.returncode == 0, out.stderr
    assert b"edited plantao_lembrete (pt_BR)" in out.stdout
    assert b"status PENDING" in out.stdout  # back in review
    assert rec.components[0]["text"] == new_body

    gone = await _metad(config, "delete", "plantao_lembrete", "--language", "pt_BR")
    assert gone.returncode == 0, gone.stderr
    assert b"deleted plantao_lembrete (pt_BR)" in gone.stdout
    assert _sim_templates(env, "plantao_lembrete") == []
    # No webhook tells of a deletion: the CLI had the running daemon sync, so it no longer
    # offers the template to its chips (a send would get 132001).
    assert b"the running daemon synced its templates from Meta" in gone.stdout
    assert await _daemon_status(env, "plantao_lembrete", "pt_BR") is None
    again = await _metad(config, "delete", "plantao_lembrete")
    assert again.returncode == 1
    assert b"no template plantao_lembrete" in again.stderr


async def test_lint_errors_stop_a_submission(env: Env, tmp_path: Path) -> None:
    config = _config(env, tmp_path)
    bad = {**DEFINITION, "name": "bad_one", "components": [{"type": "BODY", "text": "{{1}}"}]}
    out = await _metad(config, "create", str(_write(tmp_path, "bad.json", bad)))
    assert out.returncode == 1
    assert b"error: components[0].text" in out.stdout
    assert b"has lint errors; not submitted" in out.stderr
    assert _sim_templates(env, "bad_one") == []


async def test_metas_refusal_is_printed_not_a_traceback(env: Env, tmp_path: Path) -> None:
    config = _config(env, tmp_path)
    path = _write(tmp_path, "t.json", DEFINITION)
    assert (await _metad(config, "create", str(path))).returncode == 0
    twice = await _metad(config, "create", str(path))  # same name and language
    assert twice.returncode == 1
    assert b"Meta refused" in twice.stderr
    assert b"already exists" in twice.stderr
    assert b"Traceback" not in twice.stderr
    unknown = await _metad(config, "list", "--waba", "999")
    assert unknown.returncode == 2
    assert b"unknown WABA 999" in unknown.stderr

"""``metad flows`` against the simulator over real HTTP, as an operator runs it."""

from __future__ import annotations

import json
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from daemon.cli import main
from tests.integration.sim.conftest import PID_A1, PID_A2, PID_B1, WABA_A, SimEnv, start_env

FLOWS = Path(__file__).parents[3] / "flows"


@pytest.fixture
async def sim(nursery: trio.Nursery) -> AsyncIterator[SimEnv]:
    async for e in start_env(nursery):
        yield e


def write_config(directory: Path, sim: SimEnv, extra: str = "") -> Path:
    path = directory / "metad.toml"
    path.write_text(
        f"""
[daemon]
state_dir = "state"
[graph]
base_url = "{sim.base_url}"
[webhook]
listen = "127.0.0.1:18088"
[sandbox]
enabled = true
serve = false
[[wabas]]
id = "{WABA_A}"
[[wabas]]
id = "100000000000002"
[[chips]]
phone_number_id = "{PID_A1}"
display_number = "+55 11 94000-0001"
waba = "{WABA_A}"
[[chips]]
phone_number_id = "{PID_A2}"
display_number = "+55 11 94000-0002"
waba = "{WABA_A}"
[[chips]]
phone_number_id = "{PID_B1}"
display_number = "+55 21 94000-0003"
waba = "100000000000002"
{extra}
""",
        encoding="utf-8",
    )
    return path


async def metad(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the command line in a thread (it runs trio itself); (code, stdout, stderr)."""
    capsys.readouterr()
    code = await trio.to_thread.run_sync(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _flows(sim: SimEnv) -> dict[str, Any]:
    return {f.name: f for f in sim.sim.world.flows.values()}


async def test_validate_reports_each_finding_and_fails_on_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    files = [str(p) for p in sorted(FLOWS.glob("*.json"))]
    code, out, _ = await metad(capsys, "flows", "validate", *files)
    assert code == 0
    assert out.count(": ok") == 2
    broken = json.loads((FLOWS / "shift_booking.json").read_text(encoding="utf-8"))
    del broken["routing_model"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(broken), encoding="utf-8")
    code, out, _ = await metad(capsys, "flows", "validate", str(bad), "--json")
    assert code == 1
    (finding,) = json.loads(out)[str(bad)]
    assert finding["field"] == "routing_model"


async def test_create_list_publish_deprecate(
    sim: SimEnv, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = str(write_config(tmp_path, sim))
    code, out, err = await metad(
        capsys,
        "flows",
        "create",
        str(FLOWS / "shift_booking.json"),
        "-c",
        config,
        "--category",
        "APPOINTMENT_BOOKING",
    )
    assert code == 0, err
    flow = _flows(sim)["shift_booking"]
    assert f"created shift_booking as draft {flow.id}" in out
    assert flow.waba_id == WABA_A
    assert flow.categories == ["APPOINTMENT_BOOKING"]
    assert flow.endpoint_uri == "http://127.0.0.1:18088/flows/shift_booking"
    assert json.loads(flow.flow_json) == json.loads((FLOWS / "shift_booking.json").read_text())

    code, out, _ = await metad(capsys, "flows", "list", "-c", config, "--json")
    assert code == 0
    (row,) = json.loads(out)
    assert (row["id"], row["name"], row["status"], row["waba"]) == (
        flow.id,
        "shift_booking",
        "DRAFT",
        WABA_A,
    )

    assert (await metad(capsys, "flows", "publish", "shift_booking", "-c", config))[0] == 0
    assert flow.status == "PUBLISHED"
    code, _, err = await metad(capsys, "flows", "delete", "shift_booking", "-c", config)
    assert code == 1
    assert "only drafts can be deleted" in err
    assert len(err.strip().splitlines()) == 1
    code, out, _ = await metad(capsys, "flows", "deprecate", "shift_booking", "-c", config)
    assert (code, flow.status) == (0, "DEPRECATED")
    assert f"shift_booking ({flow.id}): deprecated" in out
    code, out, _ = await metad(capsys, "flows", "list", "-c", config)
    assert "DEPRECATED" in out.splitlines()[1]


async def test_update_then_delete_a_draft(
    sim: SimEnv, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = str(write_config(tmp_path, sim))
    onboarding = FLOWS / "doctor_onboarding.json"
    assert (await metad(capsys, "flows", "create", str(onboarding), "-c", config))[0] == 0
    changed = json.loads(onboarding.read_text(encoding="utf-8"))
    changed["screens"][0]["title"] = "Cadastro médico"
    new = tmp_path / "doctor_onboarding.json"
    new.write_text(json.dumps(changed), encoding="utf-8")
    code, out, _ = await metad(
        capsys, "flows", "update", "doctor_onboarding", str(new), "-c", config
    )
    assert code == 0
    assert "Meta found no error" in out
    uploaded = json.loads(_flows(sim)["doctor_onboarding"].flow_json)
    assert uploaded["screens"][0]["title"] == "Cadastro médico"
    assert (await metad(capsys, "flows", "delete", "doctor_onboarding", "-c", config))[0] == 0
    assert _flows(sim) == {}
    code, _, err = await metad(capsys, "flows", "publish", "doctor_onboarding", "-c", config)
    assert code == 1
    assert 'no flow named "doctor_onboarding"' in err


async def test_an_invalid_definition_never_reaches_meta(
    sim: SimEnv, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = str(write_config(tmp_path, sim))
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": "7.0", "screens": []}', encoding="utf-8")
    code, _, err = await metad(capsys, "flows", "create", str(bad), "-c", config)
    assert code == 1
    assert "screens: a non-empty list of screens is required" in err
    assert _flows(sim) == {}


async def test_public_key_makes_the_sandbox_key_once_and_registers_it(
    sim: SimEnv, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = str(write_config(tmp_path, sim))
    code, first, _ = await metad(capsys, "flows", "public-key", "-c", config)
    assert code == 0
    assert first.startswith("-----BEGIN PUBLIC KEY-----")
    load_pem_public_key(first.encode())
    private = tmp_path / "state" / "flows" / "private_key.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert (tmp_path / "state" / "flows" / "private_key.pem.pub").read_text() == first
    assert sim.sim.world.numbers[PID_A1].public_key is None
    code, again, err = await metad(
        capsys, "flows", "public-key", "-c", config, "--upload", "--chip", PID_A1
    )
    assert (code, again) == (0, first)
    assert f"{PID_A1}: registered" in err
    assert sim.sim.world.numbers[PID_A1].public_key == first
    assert sim.sim.world.numbers[PID_A2].public_key is None


async def test_keygen_writes_an_encrypted_key_and_registers_it_everywhere(
    sim: SimEnv, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METAD_FLOWS_KEY_PASS", "s3cret pass")
    extra = '[flows]\nprivate_key = "keys/flows.pem"\npassphrase = "env:METAD_FLOWS_KEY_PASS"\n'
    config = str(write_config(tmp_path, sim, extra))
    code, _, err = await metad(capsys, "flows", "keygen", "-c", config)
    assert code == 0, err
    private = tmp_path / "keys" / "flows.pem"
    assert b"ENCRYPTED" in private.read_bytes()
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    pem = (tmp_path / "keys" / "flows.pem.pub").read_text()
    assert {n.public_key for n in sim.sim.world.numbers.values()} == {pem}
    assert (await metad(capsys, "flows", "public-key", "-c", config))[1] == pem

    code, _, err = await metad(capsys, "flows", "keygen", "-c", config)
    assert code == 1
    assert "--force" in err
    assert (tmp_path / "keys" / "flows.pem.pub").read_text() == pem
    code, _, _ = await metad(capsys, "flows", "keygen", "-c", config, "--force", "--no-upload")
    assert code == 0
    assert (tmp_path / "keys" / "flows.pem.pub").read_text() != pem
    monkeypatch.setenv("METAD_FLOWS_KEY_PASS", "wrong")
    code, _, err = await metad(capsys, "flows", "public-key", "-c", config)
    assert code == 2
    assert "passphrase is wrong" in err


async def test_an_unknown_chip_or_waba_is_refused_before_anything_changes(
    sim: SimEnv, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """It used to replace the key first, then fail at Meta with "no access token"."""
    config = str(write_config(tmp_path, sim))
    assert (await metad(capsys, "flows", "keygen", "-c", config))[0] == 0
    private = tmp_path / "state" / "flows" / "private_key.pem"
    before = (
        private.read_bytes(),
        (tmp_path / "state" / "flows" / "private_key.pem.pub").read_text(),
    )
    registered = {pid: n.public_key for pid, n in sim.sim.world.numbers.items()}
    chips = f"(configured: {PID_A1}, {PID_A2}, {PID_B1})"

    code, out, err = await metad(
        capsys, "flows", "keygen", "-c", config, "--force", "--chip", "999"
    )
    assert (code, out, err) == (2, "", f"metad: unknown chip 999 {chips}\n")
    after = (
        private.read_bytes(),
        (tmp_path / "state" / "flows" / "private_key.pem.pub").read_text(),
    )
    assert after == before
    assert {pid: n.public_key for pid, n in sim.sim.world.numbers.items()} == registered

    code, out, err = await metad(
        capsys, "flows", "public-key", "-c", config, "--upload", "--chip", PID_A1, "--chip", "999"
    )
    assert (code, out, err) == (2, "", f"metad: unknown chip 999 {chips}\n")
    assert {pid: n.public_key for pid, n in sim.sim.world.numbers.items()} == registered

    shift = str(FLOWS / "shift_booking.json")
    code, _, err = await metad(capsys, "flows", "create", shift, "-c", config, "--waba", "999")
    assert (code, err) == (2, f"metad: unknown WABA 999 (configured: {WABA_A}, 100000000000002)\n")
    assert _flows(sim) == {}
    code, _, err = await metad(capsys, "flows", "list", "-c", config, "--waba", "999")
    assert code == 2
    assert "unknown WABA 999" in err


async def test_public_key_in_sandbox_makes_no_key_for_an_unknown_chip(
    sim: SimEnv, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = str(write_config(tmp_path, sim))
    code, _, err = await metad(
        capsys, "flows", "public-key", "-c", config, "--upload", "--chip", "9"
    )
    assert code == 2
    assert "unknown chip 9" in err
    assert not (tmp_path / "state" / "flows").exists()


STATIC = {
    "version": "7.0",
    "screens": [
        {
            "id": "HELLO",
            "title": "Hello",
            "terminal": True,
            "layout": {
                "type": "SingleColumnLayout",
                "children": [
                    {"type": "TextBody", "text": "Hi"},
                    {
                        "type": "Footer",
                        "label": "Done",
                        "on-click-action": {"name": "complete", "payload": {}},
                    },
                ],
            },
        }
    ],
}
"""A flow that needs no endpoint."""


async def test_create_refuses_a_name_already_there_unless_asked(
    sim: SimEnv, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Two live flows of one name made ``delete``/``publish`` pick the wrong one."""
    config = str(write_config(tmp_path, sim))
    shift = str(FLOWS / "shift_booking.json")
    assert (await metad(capsys, "flows", "create", shift, "-c", config))[0] == 0
    (first,) = sim.sim.world.flows.values()
    code, out, err = await metad(capsys, "flows", "create", shift, "-c", config)
    assert (code, out) == (1, "")
    assert err == (
        f'metad: a flow named "shift_booking" already exists in WABA {WABA_A} ({first.id}, '
        "DRAFT): change it with: metad flows update shift_booking FILE "
        "(--allow-duplicate creates another)\n"
    )
    assert len(sim.sim.world.flows) == 1

    assert (await metad(capsys, "flows", "publish", "shift_booking", "-c", config))[0] == 0
    code, _, err = await metad(capsys, "flows", "create", shift, "-c", config)
    assert code == 1
    assert "PUBLISHED flow takes no new JSON; deprecate it first to replace it" in err
    code, _, err = await metad(
        capsys, "flows", "create", shift, "-c", config, "--waba", "100000000000002"
    )
    assert code == 0, err  # another WABA's names are its own
    code, _, err = await metad(capsys, "flows", "create", shift, "-c", config, "--allow-duplicate")
    assert code == 0, err
    assert len(sim.sim.world.flows) == 3


async def test_create_after_deprecating_replaces_the_flow(
    sim: SimEnv, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = str(write_config(tmp_path, sim))
    shift = str(FLOWS / "shift_booking.json")
    assert (await metad(capsys, "flows", "create", shift, "-c", config))[0] == 0
    assert (await metad(capsys, "flows", "publish", "shift_booking", "-c", config))[0] == 0
    assert (await metad(capsys, "flows", "deprecate", "shift_booking", "-c", config))[0] == 0
    code, out, err = await metad(capsys, "flows", "create", shift, "-c", config)
    assert code == 0, err
    new = max(sim.sim.world.flows.values(), key=lambda f: int(f.id))
    assert f"created shift_booking as draft {new.id}" in out
    assert (await metad(capsys, "flows", "delete", "shift_booking", "-c", config))[0] == 0


async def test_create_warns_when_no_handler_serves_an_endpoint_flow(
    sim: SimEnv, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    served = '[[flows.flow]]\nname = "shift_booking"\nhandler = "shift_booking"\n'
    config = str(write_config(tmp_path, sim, served))
    warning = 'its requests will get 404 "no such flow" until one is configured'
    code, _, err = await metad(
        capsys, "flows", "create", str(FLOWS / "shift_booking.json"), "-c", config
    )
    assert (code, err) == (0, "")
    onboarding = str(FLOWS / "doctor_onboarding.json")
    code, out, err = await metad(capsys, "flows", "create", onboarding, "-c", config)
    assert code == 0
    assert "created doctor_onboarding" in out
    assert err == (
        "metad: warning: doctor_onboarding exchanges data with an endpoint, but no "
        f'[[flows.flow]] named "doctor_onboarding" has a handler: {warning}\n'
    )
    static = tmp_path / "welcome.json"
    static.write_text(json.dumps(STATIC), encoding="utf-8")
    code, _, err = await metad(capsys, "flows", "create", str(static), "-c", config)
    assert (code, err) == (0, "")
    code, _, err = await metad(
        capsys,
        "flows",
        "create",
        onboarding,
        "-c",
        config,
        "--name",
        "other",
        "--endpoint-uri",
        "https://elsewhere.example/flows/other",
    )
    assert (code, err) == (0, "")  # served by someone else

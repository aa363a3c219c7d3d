"""deploy/: the systemd unit and the production config agree with each other and with metad."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from config import ConfigError, MetadConfig, load_config, resolve_secrets
from daemon.cli import main as cli_main

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNIT = DEPLOY / "metad.service"
PRODUCTION = DEPLOY / "metad.production.toml"


def parse_unit(text: str) -> dict[str, list[tuple[str, str]]]:
    """Sections → (key, value) in order; systemd allows a key more than once."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        assert current is not None, f"key outside a section: {line}"
        key, sep, value = line.partition("=")
        assert sep, f"not key=value: {line}"
        current.append((key.strip(), value.strip()))
    return sections


@pytest.fixture(scope="module")
def service() -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for key, value in parse_unit(UNIT.read_text())["Service"]:
        values.setdefault(key, []).append(value)
    return values


@pytest.fixture(scope="module")
def production() -> MetadConfig:
    return load_config(PRODUCTION)


def one(service: dict[str, list[str]], key: str) -> str:
    assert key in service, f"[Service] has no {key}="
    [value] = service[key]
    return value


def test_the_unit_has_its_sections() -> None:
    sections = parse_unit(UNIT.read_text())
    assert set(sections) == {"Unit", "Service", "Install"}
    assert ("WantedBy", "multi-user.target") in sections["Install"]
    assert ("After", "network-online.target postgresql.service") in sections["Unit"]


def test_the_service_speaks_notify_and_restarts_on_failure_only(
    service: dict[str, list[str]],
) -> None:
    assert one(service, "Type") == "notify"
    assert one(service, "NotifyAccess") == "main"
    assert re.fullmatch(r"\d+s", one(service, "WatchdogSec"))
    assert one(service, "Restart") == "on-failure"
    assert "2" in one(service, "RestartPreventExitStatus").split()  # a config error
    assert one(service, "ExecReload") == "/bin/kill -HUP $MAINPID"
    assert one(service, "ExecStartPre").endswith("metad check -c /etc/metad/metad.toml")
    assert one(service, "ExecStart").endswith(
        "metad run -c /etc/metad/metad.toml --log-format json"
    )


def test_the_service_runs_confined(service: dict[str, list[str]]) -> None:
    for key, value in {
        "User": "metad",
        "DynamicUser": "yes",
        "NoNewPrivileges": "true",
        "ProtectSystem": "strict",
        "ProtectHome": "true",
        "PrivateTmp": "true",
        "StateDirectory": "metad",
        "RuntimeDirectory": "metad",
        "LogsDirectory": "metad",
        "CapabilityBoundingSet": "",
    }.items():
        assert one(service, key) == value, key


def test_the_production_config_uses_the_units_directories_and_stops_in_time(
    service: dict[str, list[str]], production: MetadConfig
) -> None:
    assert production.daemon.state_dir == Path("/var/lib") / one(service, "StateDirectory")
    assert production.daemon.runtime_dir == Path("/run") / one(service, "RuntimeDirectory")
    stop_s = float(one(service, "TimeoutStopSec").removesuffix("s"))
    assert production.daemon.shutdown_timeout_s < stop_s


def _credential_refs(cfg: MetadConfig) -> set[str]:
    refs = [cfg.graph.app_secret, cfg.webhook.verify_token]
    refs += [w.token for w in cfg.wabas] + [c.token for c in cfg.chips]
    return {r.removeprefix("credential:") for r in refs if r is not None}


def test_every_credential_the_config_names_is_loaded_by_the_unit(
    service: dict[str, list[str]], production: MetadConfig
) -> None:
    loaded = {value.split(":", 1)[0] for value in service["LoadCredential"]}
    assert _credential_refs(production) <= loaded
    # The database password comes as a pgpass credential, not in the DSN.
    assert "pgpass" in loaded
    assert "PGPASSFILE=%d/pgpass" in service["Environment"]
    assert urlsplit(production.storage.dsn).password is None


def test_the_production_config_is_for_production(production: MetadConfig) -> None:
    assert not production.sandbox.enabled
    assert production.graph.base_url == "https://graph.facebook.com"
    assert production.storage.dsn.startswith("postgresql://")
    assert production.metrics.listen
    assert production.daemon.log_format == "json"
    refs = [production.graph.app_secret, production.webhook.verify_token]
    refs += [w.token for w in production.wabas]
    assert all(r is not None and r.startswith("credential:") for r in refs)


def test_metad_check_accepts_it_and_its_secrets_resolve_with_the_credentials(
    production: MetadConfig,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in (*_credential_refs(production), "pgpass"):
        (tmp_path / name).write_text(f"dummy-{name}\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert cli_main(["check", "-c", str(PRODUCTION)]) == 0
    assert "ok (1 WABAs, 2 chips, secrets read)" in capsys.readouterr().out
    secrets = resolve_secrets(production)
    assert secrets.app_secret == "dummy-app_secret"
    assert set(secrets.tokens.values()) == {"dummy-waba_token"}
    # By hand, outside the unit: the directory its LoadCredential= lines name.
    monkeypatch.delenv("CREDENTIALS_DIRECTORY")
    assert cli_main(["check", "-c", str(PRODUCTION), "--credentials", str(tmp_path)]) == 0
    assert cli_main(["check", "-c", str(PRODUCTION)]) == 2
    assert "By hand: metad check --credentials DIR" in capsys.readouterr().err


def test_without_the_credentials_the_daemon_would_refuse_to_start(
    production: MetadConfig, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_secrets(production, environ={"CREDENTIALS_DIRECTORY": str(tmp_path)})
    text = str(caught.value)
    for name in _credential_refs(production):
        assert f"credential:{name}" in text


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    metad = Path(sys.executable).parent / "metad"
    if not metad.exists():
        pytest.skip("metad is not installed beside this Python")
    # verify insists the executables exist: point the unit at this environment's metad.
    unit = tmp_path / "metad.service"
    unit.write_text(UNIT.read_text().replace("/opt/metad/venv/bin/metad", str(metad)))
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    problems = [line for line in done.stderr.splitlines() if "metad.service" in line]
    assert done.returncode == 0, done.stderr
    assert problems == []

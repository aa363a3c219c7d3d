"""Secret references: the forms, their reading, sandbox values, and no leaks."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

from config import (
    SANDBOX_APP_SECRET,
    SANDBOX_VERIFY_TOKEN,
    ConfigError,
    MetadConfig,
    SecretError,
    SecretRef,
    load_config,
    resolve_secret,
    resolve_secrets,
    sandbox_token,
)

REF = TypeAdapter(SecretRef)
SECRET = "EAAG-very-secret-token-value"
FORMS = '"env:NAME", "file:/path" or "credential:NAME"'

PRODUCTION = """\
[graph]
app_secret = "env:APP_SECRET"

[webhook]
verify_token = "file:verify.txt"

[[wabas]]
id = "1"
token = "env:WABA1"

[[wabas]]
id = "2"

[[chips]]
phone_number_id = "10"
display_number = "a"
waba = "1"

[[chips]]
phone_number_id = "20"
display_number = "b"
waba = "2"
token = "credential:chip20"
"""


@pytest.fixture
def production(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MetadConfig:
    monkeypatch.chdir(tmp_path)
    Path("metad.toml").write_text(PRODUCTION, encoding="utf-8")
    Path("verify.txt").write_text("vt\n", encoding="utf-8")
    Path("creds").mkdir()
    Path("creds/chip20").write_text(SECRET, encoding="utf-8")
    return load_config("metad.toml")


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "APP_SECRET": "app",
        "WABA1": "tok1",
        "CREDENTIALS_DIRECTORY": str(tmp_path / "creds"),
    } | (extra)


@pytest.mark.parametrize("ref", ["env:METAD_TOKEN", "file:/etc/x", "file:rel/x", "credential:tok"])
def test_reference_forms_validate(ref: str) -> None:
    assert REF.validate_python(ref) == ref


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (SECRET, f"secrets are not written in the config: give a reference, {FORMS}"),
        ("vault:x", f"secrets are not written in the config: give a reference, {FORMS}"),
        (12345, f"secrets are not written in the config: give a reference, {FORMS}"),
        ("env:", "env: needs an environment variable name (letters, digits, _)"),
        ("env:MY-VAR", "env: needs an environment variable name (letters, digits, _)"),
        ("file:", "file: needs a path"),
        ("credential:a/b", "credential: needs a credential name (no /)"),
    ],
)
def test_non_references_are_rejected_without_echo(value: object, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        REF.validate_python(value)
    assert info.value.errors()[0]["msg"] == message
    assert info.value.errors()[0]["type"] == "secret_ref"


def test_model_validation_error_hides_a_literal_secret() -> None:
    with pytest.raises(ValidationError) as info:
        MetadConfig.model_validate({"graph": {"app_secret": SECRET}})
    assert SECRET not in str(info.value)


def test_env(tmp_path: Path) -> None:
    assert resolve_secret("env:T", base_dir=tmp_path, environ={"T": "v"}) == "v"


def test_env_defaults_to_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METAD_TEST_SECRET", "v")
    assert resolve_secret("env:METAD_TEST_SECRET", base_dir=tmp_path) == "v"


def test_missing_env(tmp_path: Path) -> None:
    with pytest.raises(SecretError) as info:
        resolve_secret("env:T", base_dir=tmp_path, environ={})
    assert str(info.value) == "cannot read secret env:T: environment variable T is not set"
    assert (info.value.ref, info.value.reason) == ("env:T", "environment variable T is not set")


def test_file_relative_and_absolute(tmp_path: Path) -> None:
    (tmp_path / "s.txt").write_text("value\n", encoding="utf-8")
    assert resolve_secret("file:s.txt", base_dir=tmp_path) == "value"
    assert resolve_secret(f"file:{tmp_path / 's.txt'}", base_dir=Path("/nonexistent")) == "value"


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(SecretError) as info:
        resolve_secret("file:nope", base_dir=tmp_path)
    assert str(info.value) == (
        f"cannot read secret file:nope: file {tmp_path / 'nope'} cannot be read: "
        "No such file or directory"
    )


def test_credential(tmp_path: Path) -> None:
    (tmp_path / "tok").write_text("c\r\n", encoding="utf-8")
    env = {"CREDENTIALS_DIRECTORY": str(tmp_path)}
    assert resolve_secret("credential:tok", base_dir=Path("/"), environ=env) == "c"


def test_credential_without_systemd(tmp_path: Path) -> None:
    with pytest.raises(SecretError, match=r"CREDENTIALS_DIRECTORY is not set"):
        resolve_secret("credential:tok", base_dir=tmp_path, environ={})


def test_empty_value(tmp_path: Path) -> None:
    (tmp_path / "empty").write_text("\n", encoding="utf-8")
    with pytest.raises(SecretError, match=r"^cannot read secret file:empty: the secret is empty$"):
        resolve_secret("file:empty", base_dir=tmp_path)
    with pytest.raises(SecretError, match=r"the secret is empty"):
        resolve_secret("env:E", base_dir=tmp_path, environ={"E": ""})


def test_secret_error_never_keeps_a_literal() -> None:
    err = SecretError(SECRET, "not a reference")
    assert SECRET not in str(err)
    assert SECRET not in repr(err)
    assert SECRET not in repr(err.args)
    with pytest.raises(SecretError) as info:
        resolve_secret(SECRET, base_dir=Path("/"))
    assert SECRET not in str(info.value)


def test_sandbox_values() -> None:
    assert sandbox_token("42") == "metad-sandbox-token-42"
    cfg = MetadConfig.model_validate(
        {
            "sandbox": {"enabled": True},
            "wabas": [{"id": "1"}, {"id": "2", "token": "env:W2"}],
            "chips": [
                {"phone_number_id": "10", "display_number": "a", "waba": "1"},
                {"phone_number_id": "20", "display_number": "b", "waba": "2"},
                {"phone_number_id": "21", "display_number": "c", "waba": "2", "token": "env:C"},
            ],
        }
    )
    got = resolve_secrets(cfg, environ={"W2": "w2", "C": "c21"})
    assert got.app_secret == SANDBOX_APP_SECRET
    assert got.verify_token == SANDBOX_VERIFY_TOKEN
    assert got.tokens == {"10": sandbox_token("1"), "20": "w2", "21": "c21"}
    assert got.waba_tokens == {"1": sandbox_token("1"), "2": "w2"}


def test_sandbox_still_reports_a_configured_reference_that_fails() -> None:
    cfg = MetadConfig.model_validate(
        {"sandbox": {"enabled": True}, "graph": {"app_secret": "env:NOPE"}}
    )
    with pytest.raises(ConfigError) as info:
        resolve_secrets(cfg, environ={})
    assert str(info.value) == (
        "<config>: graph.app_secret: cannot read secret env:NOPE: "
        "environment variable NOPE is not set"
    )


def test_production_resolves(production: MetadConfig, tmp_path: Path) -> None:
    got = resolve_secrets(production, environ=env_for(tmp_path))
    assert (got.app_secret, got.verify_token) == ("app", "vt")
    assert got.tokens == {"10": "tok1", "20": SECRET}
    assert got.waba_tokens == {"1": "tok1", "2": SECRET}  # WABA 2 borrows its chip's token
    assert SECRET not in repr(got)
    assert "tok1" not in repr(got)


def test_production_requires_every_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("metad.toml").write_text(
        '[[wabas]]\nid = "1"\n[[chips]]\nphone_number_id = "10"\ndisplay_number = "a"\n'
        'waba = "1"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        resolve_secrets(load_config("metad.toml"), environ={})
    assert str(info.value) == (
        f"metad.toml:1: graph.app_secret: required outside sandbox mode: give {FORMS}\n"
        f"metad.toml:1: webhook.verify_token: required outside sandbox mode: give {FORMS}\n"
        "metad.toml:1: wabas[0].token: required outside sandbox mode (used by chips[0]): "
        f"give {FORMS}"
    )


def test_production_reports_each_failure_at_its_line(
    production: MetadConfig, tmp_path: Path
) -> None:
    Path("verify.txt").write_text(SECRET, encoding="utf-8")
    Path("creds/chip20").unlink()
    with pytest.raises(ConfigError) as info:
        resolve_secrets(production, environ={"CREDENTIALS_DIRECTORY": str(tmp_path / "creds")})
    text = str(info.value)
    assert text == (
        "metad.toml:2: graph.app_secret: cannot read secret env:APP_SECRET: "
        "environment variable APP_SECRET is not set\n"
        "metad.toml:9: wabas[0].token: cannot read secret env:WABA1: "
        "environment variable WABA1 is not set\n"
        f"metad.toml:23: chips[1].token: cannot read secret credential:chip20: credential file "
        f"{tmp_path / 'creds' / 'chip20'} cannot be read: No such file or directory"
    )
    assert SECRET not in text
    assert SECRET not in repr(info.value)

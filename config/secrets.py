"""Secret references in ``metad.toml`` and their resolution at start-up.

Why this module exists: a config file is copied, committed, pasted into tickets and shown
in the console, so it must never hold a secret. A secret field holds a *reference* instead
("env:NAME", "file:PATH" or "credential:NAME" for systemd's ``LoadCredential=``), checked
when the config is validated and read only when the daemon starts. Nothing here ever puts
a secret value in an error message or a repr: only references and reasons are shown.

Sandbox mode must run with nothing exported, so a secret that is not configured there
takes a well-known value the simulator accepts.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from config.errors import ConfigError, ConfigIssue, ConfigSource, format_loc

if TYPE_CHECKING:
    from config.model import MetadConfig

__all__ = [
    "SANDBOX_APP_SECRET",
    "SANDBOX_VERIFY_TOKEN",
    "ResolvedSecrets",
    "SecretError",
    "SecretRef",
    "absolute_secret_ref",
    "resolve_secret",
    "resolve_secrets",
    "sandbox_token",
]

SANDBOX_APP_SECRET = "metad-sandbox-app-secret"
SANDBOX_VERIFY_TOKEN = "metad-sandbox-verify-token"

SECRET_REF_FORMS = '"env:NAME", "file:/path" or "credential:NAME"'
_LITERAL = "secrets are not written in the config: give a reference, " + SECRET_REF_FORMS
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CREDENTIAL_NAME = re.compile(r"^[^/\x00]+$")

Kind = Literal["env", "file", "credential"]


def sandbox_token(waba_id: str) -> str:
    """The access token the simulator accepts for ``waba_id``'s numbers."""
    return f"metad-sandbox-token-{waba_id}"


def _split(ref: str) -> tuple[Kind, str] | str:
    """Split a reference into its kind and target, or say (without the value) what is wrong."""
    kind, sep, target = ref.partition(":")
    if not sep or kind not in ("env", "file", "credential"):
        return _LITERAL
    if kind == "env":
        if not _ENV_NAME.match(target):
            return "env: needs an environment variable name (letters, digits, _)"
        return "env", target
    if kind == "file":
        if not target or "\x00" in target:
            return "file: needs a path"
        return "file", target
    if target in (".", "..") or not _CREDENTIAL_NAME.match(target):
        return "credential: needs a credential name (no /)"
    return "credential", target


def _validate_ref(value: object) -> object:
    # A before-validator, so that a non-string (a secret written as a number) fails here
    # with an error that carries no value, instead of a type error that would echo it.
    if not isinstance(value, str):
        raise PydanticCustomError("secret_ref", _LITERAL)
    split = _split(value)
    if isinstance(split, str):
        raise PydanticCustomError("secret_ref", split)
    return value


SecretRef = Annotated[str, BeforeValidator(_validate_ref)]
"""A reference to a secret: "env:NAME", "file:PATH" or "credential:NAME"; never a value."""


class SecretError(Exception):
    """A secret reference that could not be read. Shows the reference, never a value."""

    def __init__(self, ref: str, reason: str) -> None:
        # A string that is not a reference may be the secret itself: do not keep it.
        self.ref = ref if not isinstance(_split(ref), str) else "<not a secret reference>"
        self.reason = reason
        super().__init__(self.ref, reason)

    def __str__(self) -> str:
        return f"cannot read secret {self.ref}: {self.reason}"


def absolute_secret_ref(ref: str, base_dir: Path) -> str:
    """Anchor a relative ``file:`` reference at ``base_dir`` (the config's directory).

    The loader does this so a config stays meaningful away from the file it came from.
    """
    split = _split(ref)
    if isinstance(split, str) or split[0] != "file" or Path(split[1]).is_absolute():
        return ref
    return f"file:{base_dir / split[1]}"


def _read_file(ref: str, path: Path, what: str) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SecretError(ref, f"{what} {path} cannot be read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretError(ref, f"{what} {path} is not UTF-8 text") from None
    return text.rstrip("\r\n")


def resolve_secret(ref: str, *, base_dir: Path, environ: Mapping[str, str] | None = None) -> str:
    """Read the secret ``ref`` points at.

    ``file:`` content loses its trailing newline (editors and ``echo`` add one); a relative
    path is taken from ``base_dir``. ``environ`` defaults to the process environment.
    """
    env = os.environ if environ is None else environ
    split = _split(ref)
    if isinstance(split, str):
        raise SecretError(ref, split)
    kind, target = split
    if kind == "env":
        if target not in env:
            raise SecretError(ref, f"environment variable {target} is not set")
        value = env[target]
    elif kind == "file":
        value = _read_file(ref, base_dir / target, "file")
    else:
        creds = env.get("CREDENTIALS_DIRECTORY")
        if not creds:
            raise SecretError(
                ref,
                "CREDENTIALS_DIRECTORY is not set (is the unit missing LoadCredential=?"
                " By hand: metad check --credentials DIR)",
            )
        value = _read_file(ref, Path(creds) / target, "credential file")
    if not value.strip():
        raise SecretError(ref, "the secret is empty")
    return value


@dataclass(frozen=True)
class ResolvedSecrets:
    """The secrets the daemon runs with, read once at start-up. Its repr hides them.

    ``tokens`` maps each chip's phone_number_id to its access token; ``waba_tokens`` maps
    each WABA id to a token for account-level calls (templates, flows, settings).
    """

    app_secret: str | None = field(repr=False)
    verify_token: str | None = field(repr=False)
    tokens: dict[str, str] = field(repr=False, default_factory=dict)
    waba_tokens: dict[str, str] = field(repr=False, default_factory=dict)
    flows_passphrase: str | None = field(repr=False, default=None)
    """Passphrase of the Flows endpoint's private key (``[flows] passphrase``), if set."""

    def __repr__(self) -> str:
        shown = "<hidden>"
        return (
            f"ResolvedSecrets(app_secret={shown if self.app_secret else None}, "
            f"verify_token={shown if self.verify_token else None}, "
            f"tokens=<{len(self.tokens)} hidden>, waba_tokens=<{len(self.waba_tokens)} hidden>)"
        )


@dataclass
class _Resolver:
    source: ConfigSource | None
    base_dir: Path
    environ: Mapping[str, str] | None
    sandbox: bool
    issues: list[ConfigIssue] = field(default_factory=list)

    def problem(self, loc: tuple[str | int, ...], message: str) -> None:
        if self.source is not None:
            self.issues.append(self.source.issue(loc, message))
        else:
            self.issues.append(ConfigIssue("<config>", None, format_loc(loc), message))

    def read(self, ref: str | None, loc: tuple[str | int, ...]) -> str | None:
        if ref is None:
            return None
        try:
            return resolve_secret(ref, base_dir=self.base_dir, environ=self.environ)
        except SecretError as exc:
            self.problem(loc, str(exc))
            return None

    def required(self, ref: str | None, loc: tuple[str | int, ...], sandbox_value: str) -> str:
        """Read a secret every mode needs: sandbox fills in a gap, production may not."""
        if ref is None:
            if not self.sandbox:
                self.problem(loc, f"required outside sandbox mode: give {SECRET_REF_FORMS}")
            return sandbox_value
        return self.read(ref, loc) or ""


def resolve_secrets(
    cfg: MetadConfig,
    *,
    environ: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
) -> ResolvedSecrets:
    """Read every secret ``cfg`` refers to, or raise one ConfigError naming each failure.

    A chip uses its own token, else its WABA's. A WABA without a token borrows the first
    of its chips' own tokens for account-level calls (a system-user token covers its WABA).
    A WABA whose reference fails is reported once, not again for each of its chips.
    In sandbox mode anything not configured takes the simulator's value; outside it, a
    missing app secret, verify token or token is an error. A reference that is configured
    but cannot be read is an error in every mode. ``base_dir`` (for relative ``file:``
    references) defaults to the config file's directory, else the working directory.
    """
    source = cfg.source
    if base_dir is None:
        base_dir = source.path.parent if source is not None else Path.cwd()
    r = _Resolver(source, base_dir, environ, cfg.sandbox.enabled)

    app_secret = r.required(cfg.graph.app_secret, ("graph", "app_secret"), SANDBOX_APP_SECRET)
    verify_token = r.required(
        cfg.webhook.verify_token, ("webhook", "verify_token"), SANDBOX_VERIFY_TOKEN
    )

    own_waba: dict[str, str | None] = {}
    failed: set[str] = set()
    for i, waba in enumerate(cfg.wabas):
        own_waba[waba.id] = r.read(waba.token, ("wabas", i, "token"))
        if waba.token is not None and own_waba[waba.id] is None:
            failed.add(waba.id)

    tokens: dict[str, str] = {}
    needy: dict[str, list[str]] = {}
    for i, chip in enumerate(cfg.chips):
        loc: tuple[str | int, ...] = ("chips", i, "token")
        token = r.read(chip.token, loc) if chip.token is not None else own_waba.get(chip.waba)
        if token is None and chip.token is None and chip.waba not in failed:
            if r.sandbox:
                token = sandbox_token(chip.waba)
            elif chip.waba not in own_waba:
                r.problem(loc, f'no token, and its WABA "{chip.waba}" is not in wabas')
            else:
                needy.setdefault(chip.waba, []).append(format_loc(("chips", i)))
        tokens[chip.phone_number_id] = token or ""

    waba_tokens: dict[str, str] = {}
    for i, waba in enumerate(cfg.wabas):
        token = own_waba[waba.id]
        if token is None and waba.id not in failed:
            token = next(
                (tokens[c.phone_number_id] for c in cfg.chips if c.waba == waba.id and c.token),
                None,
            )
            if token is None and r.sandbox:
                token = sandbox_token(waba.id)
            elif token is None:
                users = needy.get(waba.id)
                used_by = f" (used by {', '.join(users)})" if users else ""
                r.problem(
                    ("wabas", i, "token"),
                    f"required outside sandbox mode{used_by}: give {SECRET_REF_FORMS}",
                )
        waba_tokens[waba.id] = token or ""

    flows_passphrase = r.read(cfg.flows.passphrase, ("flows", "passphrase"))

    if r.issues:
        raise ConfigError(sorted(r.issues, key=lambda issue: issue.line or 0))
    return ResolvedSecrets(app_secret, verify_token, tokens, waba_tokens, flows_passphrase)

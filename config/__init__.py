"""Configuration of metad: the models of ``metad.toml`` and their loading.

Why a package of its own: the daemon, the simulator and the console all read the same
file, so loading it must not pull in any of them (nor trio or asyncio).
"""

from __future__ import annotations

from config.errors import ConfigError, ConfigIssue, ConfigSource
from config.loader import load_config, parse_config
from config.locate import locate_line
from config.model import MetadConfig
from config.secrets import (
    SANDBOX_APP_SECRET,
    SANDBOX_VERIFY_TOKEN,
    ResolvedSecrets,
    SecretError,
    SecretRef,
    resolve_secret,
    resolve_secrets,
    sandbox_token,
)

__all__ = [
    "SANDBOX_APP_SECRET",
    "SANDBOX_VERIFY_TOKEN",
    "ConfigError",
    "ConfigIssue",
    "ConfigSource",
    "MetadConfig",
    "ResolvedSecrets",
    "SecretError",
    "SecretRef",
    "load_config",
    "locate_line",
    "parse_config",
    "resolve_secret",
    "resolve_secrets",
    "sandbox_token",
]

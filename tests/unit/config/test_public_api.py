"""The package's public surface and its layering: both fail loudly when they drift."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import config

ROOT = Path(__file__).parents[3]

PUBLIC = {
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
}


def test_all_is_the_public_surface() -> None:
    assert set(config.__all__) == PUBLIC
    assert len(config.__all__) == len(PUBLIC)
    for name in config.__all__:
        assert getattr(config, name) is not None


def test_config_imports_nothing_of_ours_and_no_event_loop() -> None:
    code = (
        "import sys, config, config.loader, config.secrets, config.locate, config.messages\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'daemon', 'actors', 'tui', 'sim', 'trio', 'asyncio'})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""

"""The console loads no trio and nothing of the daemon but the protocol codec."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

CODE = """
import json, sys
import tui, tui.client, tui.model, tui.state
headless = "textual" in sys.modules
import tui.app
ours = sorted(m for m in sys.modules if m.split(".")[0] in ("daemon", "actors", "config", "sim"))
print(json.dumps({"headless_loads_textual": headless, "trio": "trio" in sys.modules, "ours": ours}))
"""


def test_the_console_imports_only_the_protocol_from_the_daemon() -> None:
    out = subprocess.run(
        [sys.executable, "-c", CODE], capture_output=True, text=True, check=True, cwd=REPO
    )
    seen = json.loads(out.stdout)
    assert seen == {
        "headless_loads_textual": False,
        "trio": False,
        "ours": ["daemon", "daemon.control", "daemon.control.protocol"],
    }

"""Part 7 (and part 6's daemon side): one daemon, checked from outside.

- the control socket is mode 0600 and another user cannot connect to it;
- no secret in the daemon's log (debug level) or in ``metad ctl`` / ``metad campaign``
  output;
- the webhook refuses unsigned and wrongly signed bodies, and none is processed;
- a broken config on reload, and a campaign whose audience cannot be read, change
  nothing (nothing half-applied) and are reported with file:line;
- the Flows private key: a daemon refuses to start when other users can read it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from config.secrets import SANDBOX_APP_SECRET, SANDBOX_VERIFY_TOKEN, sandbox_token
from daemon.flows.keys import KeyFileError, generate_private_key, load_private_key, write_key_pair
from tests.reliability.harness import Stack, admin_sql, running_stack
from tests.reliability.scenarios import sign
from tests.support import NotReady

pytestmark = pytest.mark.slow

SECRETS = [
    SANDBOX_APP_SECRET,
    SANDBOX_VERIFY_TOKEN,
    *(sandbox_token(f"10000000000000{w}") for w in (1, 2)),
]


@pytest.fixture
def runtime_dir() -> Iterator[Path]:
    """Outside pytest's 0700 tree, and traversable by others, so the socket's own mode is
    what keeps another user out."""
    path = Path(tempfile.mkdtemp(prefix="metad-rel-run-"))
    path.chmod(0o711)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _flows(key: Path) -> str:
    return (
        f'[flows]\nprivate_key = "{key}"\n'
        '[[flows.flow]]\nname = "shift_booking"\nhandler = "shift_booking"\n'
    )


def _connect_as_nobody(path: Path) -> str:
    code = (
        "import os, socket\n"
        "os.setgid(65534); os.setuid(65534)\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        f"try:\n    s.connect({str(path)!r}); print('connected')\n"
        "except OSError as e:\n    print(type(e).__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    return (out.stdout + out.stderr).strip()


def test_security_from_outside(tmp_path: Path, pg_admin_dsn: str, runtime_dir: Path) -> None:
    key = tmp_path / "keys" / "flows_key.pem"
    with running_stack(
        tmp_path,
        pg_admin_dsn,
        contacts=20,
        runtime_dir=str(runtime_dir),
        log_level="debug",
        extra=_flows(key),
    ) as stack:
        _socket_is_private(stack)
        _webhook_refuses_unsigned(stack)
        outputs = _ctl_outputs(stack)
        _nothing_half_applied(stack)
        stack.stop()
        leaks = [s for s in SECRETS if s in stack.log_text() or s in outputs]
        assert leaks == [], "secret values found in the log or the ctl output"
        assert key.exists()
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        pem = key.read_text()
        body = pem.splitlines()[1]
        assert body not in stack.log_text()
        key.chmod(0o644)
        with pytest.raises(NotReady, match="metad exited 2"):
            stack.start_daemon(timeout=60)
        assert "open to other users" in stack.log_text()
        assert str(key) in stack.log_text()


def _socket_is_private(stack: Stack) -> None:
    path = stack.socket_path
    assert stat.S_ISSOCK(path.stat().st_mode)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    if os.geteuid() == 0:
        assert _connect_as_nobody(path) == "PermissionError"
    with socket.socket(socket.AF_UNIX) as s:  # the daemon's own user still may
        s.connect(str(path))


def _webhook_refuses_unsigned(stack: Stack) -> None:
    body = json.dumps({"object": "whatsapp_business_account", "entry": []}).encode()
    before = stack.call("webhooks.stats")
    answers = [
        httpx.post(stack.endpoint, content=body, headers=h, timeout=10).status_code
        for h in (
            {},
            {"X-Hub-Signature-256": ""},
            {"X-Hub-Signature-256": sign(body, b"wrong")},
            {"X-Hub-Signature-256": sign(body + b" ")},
            {"X-Hub-Signature-256": sign(body).upper()},  # "SHA256=…": not the header's form
        )
    ]
    assert answers[:4] == [401, 401, 401, 401]
    assert answers[4] in (200, 401)
    after = stack.call("webhooks.stats")
    assert after["rejected_signature"] - before["rejected_signature"] >= 4
    rows = admin_sql(
        stack.cfg.storage.dsn,
        "SELECT count(*) AS n FROM webhook_inbox WHERE NOT signature_ok AND state <> 'rejected'",
    )
    assert rows[0]["n"] == 0


def _ctl_outputs(stack: Stack) -> str:
    said = []
    for args in (
        ("ctl", "status", "--json"),
        ("ctl", "status"),
        ("ctl", "webhooks", "--json"),
        ("ctl", "budget", "--json"),
        ("ctl", "templates", "list", "--json"),
        ("campaign", "list"),
    ):
        out = stack.cli(*args)
        assert out.returncode == 0, (args, out.stderr)
        said.append(out.stdout + out.stderr)
    return "\n".join(said)


def _nothing_half_applied(stack: Stack) -> None:
    # A reload of a broken config: refused with file:line, nothing changes.
    before = stack.call("status.snapshot")["chips"]
    good = stack.config.read_text(encoding="utf-8")
    broken = good.replace("throughput_mps = 80", "throughput_mps = -5", 1)
    broken = broken.replace("[budget]", "[budget]\nbogus = 1", 1)
    stack.config.write_text(broken, encoding="utf-8")
    try:
        out = stack.cli("ctl", "reload")
    finally:
        stack.config.write_text(good, encoding="utf-8")
    assert out.returncode == 2, out
    lines = (out.stdout + out.stderr).strip().splitlines()
    assert lines
    assert all(re.search(r":\d+: ", line) for line in lines if "metad.toml" in line), lines
    assert any("budget.bogus" in line for line in lines), lines
    after = stack.call("status.snapshot")["chips"]
    keys = ("phone_number_id", "mps_limit", "paused")
    assert [{k: c[k] for k in keys} for c in after] == [{k: c[k] for k in keys} for c in before]
    # A campaign whose audience is not UTF-8: refused with file:line, nothing stored.
    folder = stack.config.parent / "campaigns"
    folder.mkdir(exist_ok=True)
    (folder / "people.csv").write_bytes("phone,nome\n5511987654321,Jos\xe9\n".encode("latin-1"))
    (folder / "latin.toml").write_text(
        'name = "latin"\n[audience]\nfile = "people.csv"\n[[templates]]\n'
        'name = "vaga_plantao"\nlanguage = "pt_BR"\n[variables]\n"1" = "nome"\n',
        encoding="utf-8",
    )
    out = stack.cli("campaign", "start", str(folder / "latin.toml"))
    assert out.returncode != 0
    assert f"{folder / 'people.csv'}:2: " in out.stdout + out.stderr, out
    assert all(c["name"] != "latin" for c in stack.call("campaign.list"))


def test_a_world_readable_flows_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    write_key_pair(path, generate_private_key(), passphrase=None)
    assert load_private_key(path, None) is not None  # 0600: fine
    for mode in (0o644, 0o604, 0o602, 0o666):
        path.chmod(mode)
        with pytest.raises(KeyFileError, match="open to other users") as info:
            load_private_key(path, None)
        assert "PRIVATE KEY" not in str(info.value)
    path.chmod(0o640)  # the daemon's group may read it (a deploy choice)
    assert load_private_key(path, None) is not None

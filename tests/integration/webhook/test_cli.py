"""``metad webhooks stats`` as an operator runs it: a separate process reading the store."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

import trio

from daemon.store import Store
from daemon.webhook.processor import InboxProcessor
from tests.integration.webhook.support import (
    UNKNOWN_PNID,
    RecordingSink,
    message_body,
    status,
    statuses_body,
)
from tests.support import REPO, metad_command

KEYS = {"received", "duplicates", "parsed", "unparsed", "unknown_number", "rejected_signature"}


def _config(directory: Path, dsn: str) -> Path:
    path = directory / "metad.toml"
    path.write_text(
        f"""
[daemon]
state_dir = "state"
[storage]
dsn = "{dsn}"
[sandbox]
enabled = true
""",
        encoding="utf-8",
    )
    return path


async def test_webhooks_stats_json_prints_the_inbox_counts(
    store: Store, db_dsn: str, tmp_path: Path
) -> None:
    stored = [
        message_body("wamid.CLI.1", at=1764000000),
        statuses_body(status("wamid.CLI.2", "read")),
        message_body("wamid.CLI.3", pnid=UNKNOWN_PNID, at=1764000000),
        b'{"object": "page", "entry": []}',
    ]
    for raw in [*stored, stored[0]]:
        await store.inbox.append(raw)
    await InboxProcessor(store, RecordingSink()).drain()
    await store.inbox.append(message_body("wamid.CLI.4", at=1764000000))  # still pending
    for _ in range(2):
        await store.inbox.reject()

    done = await trio.run_process(
        metad_command("webhooks", "stats", "-c", str(_config(tmp_path, db_dsn)), "--json"),
        capture_stdout=True,
        capture_stderr=True,
        check=False,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr.decode()
    lines = done.stdout.decode().splitlines()
    assert len(lines) == 1  # one JSON object, nothing else on stdout
    counts = json.loads(lines[0])
    assert counts.keys() >= KEYS
    assert {k: counts[k] for k in KEYS} == {
        "received": 6,
        "duplicates": 1,
        "parsed": 3,
        "unparsed": 1,
        "unknown_number": 1,
        "rejected_signature": 2,
    }
    assert counts["pending"] == 1
    assert counts == dataclasses.asdict(await store.inbox.stats())


def test_webhooks_stats_text_is_one_line_per_count(db_dsn: str, tmp_path: Path) -> None:
    done = subprocess.run(
        metad_command("webhooks", "stats", "-c", str(_config(tmp_path, db_dsn))),
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    names = {line.split()[0] for line in done.stdout.splitlines()}
    assert names >= KEYS
    assert all(line.split()[1] == "0" for line in done.stdout.splitlines())

"""The reliability suite's stage: a simulator and a daemon as separate processes, a
PostgreSQL database of their own, and the probes the scenarios read.

Why separate processes (as in ``bench/crash_campaign.py``): the simulator is Meta and
must outlive the daemon's deaths; the daemon is killed with SIGKILL, its RSS is read
from /proc, and its exit (or not) is what a scenario checks. Everything here is sync:
scenarios run from plain pytest tests and from ``bench/reliability.py``.

The daemon uses an external PostgreSQL (a DSN), so the scenarios can read the store
(recipient fates, inbox counts) while it runs and stop the server under it.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from tests.support import REPO, free_port, start_until_ready, stop_process

CALM_KNOBS = (
    "initial_tier=TIER_UNLIMITED",
    "inbound_per_min=0",
    "quality_change_rate=0",
    "marketing_cap_rate=0",
    "open_window_share=0",
    "webhook_max_attempts=40",
    "webhook_retry_base_s=0.3",
    "sent_delay_s=0",
    "delivered_delay_s=0.05",
    "read_delay_s=0.1",
    "read_rate=1.0",
)
"""A quiet Meta: no spontaneous events, no random 131049; webhooks retried for long."""


# --- databases -------------------------------------------------------------------------


def serve_webhooks(
    handle: Callable[[bytes, dict[str, str]], int],
) -> tuple[ThreadingHTTPServer, str]:
    """A webhook endpoint for the simulator that stands in front of the daemons (the
    relays of the storm and shared scenarios): every POST's body and signature headers
    go to ``handle``, whose status is the answer. Returns the server (``shutdown()`` it)
    and its URL; it serves from a thread of its own."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {
                k: v
                for k, v in self.headers.items()
                if k.lower() in ("content-type", "x-hub-signature-256")
            }
            status = handle(body, headers)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/webhook"


def with_database(dsn: str, database: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path=f"/{database}"))


def admin_sql(dsn: str, *statements: str) -> list[Any]:
    """Run statements on ``dsn`` (no migrations); the last one's rows."""
    import trio

    from config.model import StorageConfig
    from daemon.store import open_store

    async def run() -> list[Any]:
        cfg = StorageConfig(dsn=dsn, pool_min_size=1, pool_max_size=1)
        rows: list[Any] = []
        async with open_store(cfg, state_dir=Path("/nonexistent"), run_migrations=False) as db:
            for sql in statements:
                rows = list(await db.fetch(sql))
        return rows

    return trio.run(run)


@contextmanager
def scratch_database(admin_dsn: str, tag: str = "rel") -> Iterator[str]:
    """A fresh, empty database (the daemon migrates it), dropped afterwards."""
    name = f"metad_{tag}_{os.getpid()}_{secrets.token_hex(3)}"
    admin_sql(admin_dsn, f'CREATE DATABASE "{name}" TEMPLATE template0')
    try:
        yield with_database(admin_dsn, name)
    finally:
        admin_sql(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- config ----------------------------------------------------------------------------


def write_config(
    tmp: Path,
    *,
    dsn: str,
    wabas: int = 2,
    chips_per_waba: int = 2,
    contacts: int = 100,
    mps: int = 80,
    graph: str = "",
    extra: str = "",
    runtime_dir: str = "run",
    log_level: str = "info",
) -> Path:
    """A sandbox fleet with an external simulator on its own port; the config's path."""
    ids = [f"10000000000000{w}" for w in range(1, wabas + 1)]
    chips = "".join(
        f'\n[[chips]]\nphone_number_id = "20000000000{w:02d}{c:02d}"\n'
        f'display_number = "+55 11 9{w:02d}{c:02d}-0000"\nwaba = "{waba}"\n'
        f"throughput_mps = {mps}\n"
        for w, waba in enumerate(ids, start=1)
        for c in range(1, chips_per_waba + 1)
    )
    tables = "".join(f'\n[[wabas]]\nid = "{w}"\nname = "rel {w[-1]}"\n' for w in ids)
    sim_port = free_port()
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / "metad.toml"
    path.write_text(
        f"""
[daemon]
state_dir = "state"
runtime_dir = "{runtime_dir}"
log_level = "{log_level}"
shutdown_timeout_s = 5.0
[supervisor]
backoff_min_s = 0.01
[storage]
dsn = "{dsn}"
writer_flush_ms = 2
[graph]
base_url = "http://127.0.0.1:{sim_port}"
{graph}
[webhook]
listen = "127.0.0.1:{free_port()}"
[sandbox]
enabled = true
serve = false
listen = "127.0.0.1:{sim_port}"
seed = 11
contacts = {contacts + 10}
reply_rate = 0.0
[limits]
pair_interval_s = 1
[campaigns]
dir = "campaigns"
[budget]
daily_usd = 1000000
weekly_usd = 1000000
monthly_usd = 1000000
{extra}{tables}{chips}""",
        encoding="utf-8",
    )
    return path


def chip_ids(wabas: int = 2, chips_per_waba: int = 2) -> list[str]:
    return [
        f"20000000000{w:02d}{c:02d}"
        for w in range(1, wabas + 1)
        for c in range(1, chips_per_waba + 1)
    ]


def campaign_file(
    path: Path, name: str, *, rate: float, cap: float | None = None, extra: str = ""
) -> Path:
    cap_line = f"budget_usd = {cap}" if cap is not None else ""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"""name = "{name}"
[audience]
file = "people.csv"
[[templates]]
name = "vaga_plantao"
language = "pt_BR"
[variables]
"1" = "nome"
"2" = {{ column = "especialidade", default = "clínica médica" }}
[limits]
rate_per_s = {rate}
in_doubt_hold_s = 0
{cap_line}
{extra}
""",
        encoding="utf-8",
    )
    return path


# --- processes -------------------------------------------------------------------------


_stop = stop_process


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@dataclass
class Stack:
    """A simulator and a daemon (``metad run``) on one config, logs in ``tmp``."""

    tmp: Path
    config: Path
    knobs: Sequence[str] = CALM_KNOBS
    webhook_url: str | None = None
    """Where the simulator posts its webhooks (default: the daemon's endpoint)."""
    sim: subprocess.Popen[bytes] | None = None
    daemon: subprocess.Popen[bytes] | None = None
    starts: int = 0
    _cfg: Any = None
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def cfg(self) -> Any:
        if self._cfg is None:
            from config import load_config

            self._cfg = load_config(self.config)
        return self._cfg

    @property
    def sim_url(self) -> str:
        return f"http://{self.cfg.sandbox.listen}"

    @property
    def endpoint(self) -> str:
        return f"http://{self.cfg.webhook.listen}{self.cfg.webhook.path}"

    @property
    def socket_path(self) -> Path:
        return Path(self.cfg.daemon.runtime_dir) / "metad.sock"

    @property
    def log(self) -> Path:
        return self.tmp / "metad.log"

    # simulator ---------------------------------------------------------------------

    def start_sim(self) -> None:
        args = [sys.executable, "-m", "daemon", "sim", "-c", str(self.config)]
        if self.webhook_url:
            args += ["--webhook-url", self.webhook_url]
        for k in self.knobs:
            args += ["--knob", k]
        with (self.tmp / "sim.log").open("ab") as log:
            self.sim = subprocess.Popen(args, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.sim_url}/_sim/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.sim.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"simulator did not start; see {self.tmp / 'sim.log'}")

    def sim_get(self, path: str, **params: Any) -> Any:
        r = httpx.get(f"{self.sim_url}{path}", params=params, timeout=60)
        r.raise_for_status()
        return r.json()

    def sim_post(self, path: str, body: dict[str, Any], method: str = "POST") -> Any:
        r = httpx.request(method, f"{self.sim_url}{path}", json=body, timeout=30)
        r.raise_for_status()
        return r.json()

    def knob(self, **changes: Any) -> None:
        self.sim_post("/_sim/knobs", changes, method="PATCH")

    def fault(self, **injection: Any) -> None:
        self.sim_post("/_sim/faults", injection)

    def sim_messages(self) -> list[dict[str, Any]]:
        return list(self.sim_get("/_sim/messages", limit=10_000_000)["data"])

    def write_audience(self, n: int, name: str = "people.csv") -> list[str]:
        contacts = self.sim_get("/_sim/contacts", limit=n + 10)["data"]
        audience = [c["wa_id"] for c in contacts][:n]
        path = self.config.parent / "campaigns" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["phone", "nome"])
            w.writerows([wa, f"Dr {i}"] for i, wa in enumerate(audience))
        return audience

    # daemon ------------------------------------------------------------------------

    def start_daemon(self, timeout: float = 90.0) -> None:
        self.starts += 1
        self.daemon = start_until_ready(self.config, self.log, timeout=timeout)

    def kill9(self) -> None:
        assert self.daemon is not None
        self.daemon.send_signal(signal.SIGKILL)
        self.daemon.wait()

    def alive(self) -> bool:
        return self.daemon is not None and self.daemon.poll() is None

    def stop(self) -> None:
        _stop(self.daemon)
        _stop(self.sim)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    # control socket ----------------------------------------------------------------

    def call(self, method: str, params: dict[str, Any] | None = None, timeout: float = 60) -> Any:
        """One JSON-RPC call over the control socket (a fresh connection)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(self.socket_path))
            rid = next(self._ids)
            doc = {"jsonrpc": "2.0", "id": rid, "method": method, "params": params or {}}
            s.sendall(json.dumps(doc).encode() + b"\n")
            buf = b""
            while b"\n" not in buf:
                chunk = s.recv(1 << 20)
                if not chunk:
                    raise ConnectionError("the daemon closed the control connection")
                buf += chunk
            answer = json.loads(buf.split(b"\n", 1)[0])
        if answer.get("error"):
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    def campaign_status(self, name: str) -> dict[str, Any]:
        return dict(self.call("campaign.status", {"name": name}))

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """``metad ARGS…`` with this config (``-c`` after the subcommand)."""
        head, *rest = args
        return subprocess.run(
            [sys.executable, "-m", "daemon", head, "-c", str(self.config), *rest],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def wait_campaign(
        self,
        name: str,
        *,
        timeout: float,
        settle_s: float = 20.0,
        done: Callable[[dict[str, Any]], bool] | None = None,
    ) -> dict[str, Any]:
        """Poll until the campaign left ``running`` with nothing in flight and nothing in
        doubt (or ``settle_s`` after it stopped), or ``done(status)``; the last status."""
        deadline = time.monotonic() + timeout
        stopped_at: float | None = None
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            status = self.campaign_status(name)
            if done is not None and done(status):
                return status
            stopped = status["state"] != "running" and status["in_flight"] == 0
            if stopped and stopped_at is None:
                stopped_at = time.monotonic()
            if stopped and (
                status["in_doubt"] == 0 or time.monotonic() - (stopped_at or 0) > settle_s
            ):
                return self._after_webhooks(name, deadline)
            time.sleep(0.3)
        raise AssertionError(f"campaign {name} did not end within {timeout}s: {status}")

    def _after_webhooks(self, name: str, deadline: float) -> dict[str, Any]:
        """The campaign's status once the simulator has delivered every webhook it owes
        (statuses settle costs and messages in doubt), or at ``deadline``."""
        while time.monotonic() < deadline:
            if not self.sim_get("/_sim/state")["pending"]["webhooks"]:
                break
            time.sleep(0.5)
        time.sleep(0.5)  # the last deliveries go through the inbox processor
        return self.campaign_status(name)

    # store -------------------------------------------------------------------------

    def fates(self, campaign: str) -> dict[str, tuple[str, str | None, str | None]]:
        """Per audience wa_id: (recipient state, outbox state or None, reason)."""
        rows = admin_sql(
            self.cfg.storage.dsn,
            "SELECT r.wa_id, r.state, o.state AS ostate,"
            "       coalesce(r.reason, o.error->>'reason') AS reason"
            " FROM campaign_recipients r LEFT JOIN outbox o"
            "   ON o.campaign_id = r.campaign_id AND o.recipient_id = r.recipient_key"
            f" WHERE r.campaign_id = '{campaign}'",
        )
        return {r["wa_id"]: (r["state"], r["ostate"], r["reason"]) for r in rows}


@contextmanager
def running_stack(
    tmp: Path,
    admin_dsn: str,
    *,
    contacts: int,
    knobs: Sequence[str] = CALM_KNOBS,
    webhook_url: str | None = None,
    dsn: str | None = None,
    **config: Any,
) -> Iterator[Stack]:
    """A scratch database (unless ``dsn``), the simulator and a READY daemon."""

    @contextmanager
    def database() -> Iterator[str]:
        if dsn is not None:
            yield dsn
        else:
            with scratch_database(admin_dsn) as made:
                yield made

    with database() as db:
        path = write_config(tmp, dsn=db, contacts=contacts, **config)
        stack = Stack(tmp, path, knobs=knobs, webhook_url=webhook_url)
        try:
            stack.start_sim()
            stack.start_daemon()
            yield stack
        finally:
            stack.stop()


# --- accounting ------------------------------------------------------------------------


@dataclass
class Tally:
    """One campaign's outcome, from the simulator's record and the daemon's store."""

    recipients: int
    received: int
    duplicates: int
    lost: int
    in_doubt: int
    failed: int
    not_sent: int
    lost_examples: list[tuple[str, Any]]


HELD = frozenset({"skipped", "refused", "dropped"})
UNSENT_OUTBOX = frozenset({"failed", "in_doubt", "cancelled"})


def tally(stack: Stack, campaign: str, audience: Sequence[str], final_state: str) -> Tally:
    """Duplicates from Meta's side (more than one template per recipient); lost: a
    recipient Meta never received that the daemon does not hold as not sent (pending in
    a stopped campaign, skipped, refused, failed with a reason, in doubt)."""
    ours = [
        m
        for m in stack.sim_messages()
        if (m.get("biz_opaque_callback_data") or "").startswith("metad:o:")
        and m["type"] == "template"
    ]
    per = Counter(m["wa_id"] or m["to"] for m in ours)
    fates = stack.fates(campaign)
    lost: list[tuple[str, Any]] = []
    not_sent = failed = in_doubt = 0
    for wa in audience:
        fate = fates.get(wa)
        if wa in per:
            continue
        if fate is None:
            lost.append((wa, "no recipient row"))
            continue
        rstate, ostate, _ = fate
        if ostate == "in_doubt":
            in_doubt += 1
        elif ostate == "failed":
            failed += 1
        elif (
            rstate in HELD
            or ostate in UNSENT_OUTBOX
            or (rstate == "pending" and final_state != "finished" and ostate is None)
        ):
            not_sent += 1
        else:
            lost.append((wa, fate))
    return Tally(
        recipients=len(audience),
        received=len(set(per) & set(audience)),
        duplicates=sum(n - 1 for n in per.values()),
        lost=len(lost),
        in_doubt=in_doubt,
        failed=failed,
        not_sent=not_sent,
        lost_examples=lost[:5],
    )

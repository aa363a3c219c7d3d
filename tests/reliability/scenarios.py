"""The reliability scenarios, sized by their caller: the tests run them small (CI), and
``bench/reliability.py`` runs them at full size and prints the table.

Each scenario drives real processes (see :mod:`tests.reliability.harness`) and returns
a :class:`Result`: the four totals the issue asks for (``lost``, ``duplicates``,
``crashes`` — the daemon dying or answering 5xx on its own —, ``accepted_unsigned``) and
what else it checked, as ``checks`` (name → bool) and ``detail`` (name → value).
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import json
import random
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.reliability.harness import (
    CALM_KNOBS,
    Stack,
    campaign_file,
    chip_ids,
    running_stack,
    serve_webhooks,
    tally,
)

MARKETING_USD = 0.0625
APP_SECRET = b"metad-sandbox-app-secret"


@dataclass
class Result:
    name: str
    lost: int = 0
    duplicates: int = 0
    crashes: int = 0
    accepted_unsigned: int = 0
    checks: dict[str, bool] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def failed_checks(self) -> list[str]:
        return [k for k, ok in self.checks.items() if not ok]

    @property
    def ok(self) -> bool:
        zero = self.lost == self.duplicates == self.crashes == self.accepted_unsigned == 0
        return zero and not self.failed_checks


def sign(body: bytes, secret: bytes = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def _start_campaign(stack: Stack, name: str, rate: float, cap: float | None) -> None:
    path = campaign_file(
        stack.config.parent / "campaigns" / f"{name}.toml", name, rate=rate, cap=cap
    )
    stack.call("campaign.start", {"file": str(path)})


# --- 1. kill -9 during a campaign --------------------------------------------------------


def crash_campaign(
    tmp: Path, admin_dsn: str, *, recipients: int, kills: int, rate: float, seed: int = 1
) -> Result:
    """SIGKILL the daemon ``kills`` times during a campaign capped at 90 % of its price:
    no duplicate, nobody lost, every recipient final or in doubt, the cap held."""
    began = time.monotonic()
    rng = random.Random(seed)
    res = Result("crash: kill -9 during a campaign")
    cap = round(recipients * MARKETING_USD * 0.9, 2)
    with running_stack(tmp, admin_dsn, contacts=recipients) as stack:
        audience = stack.write_audience(recipients)
        _start_campaign(stack, "crash", rate, cap)
        made = 0
        window = recipients / rate
        for _ in range(kills):
            time.sleep(rng.uniform(0.15, 0.9) * window / (kills + 1))
            if stack.campaign_status("crash")["state"] != "running":
                break
            stack.kill9()
            made += 1
            stack.start_daemon()
        status = stack.wait_campaign("crash", timeout=120 + 2 * window)
        t = tally(stack, "crash", audience, status["state"])
        res.lost, res.duplicates = t.lost, t.duplicates
        res.crashes = 0 if stack.alive() else 1
        res.checks["budget held (spent <= cap)"] = status["cost_usd"] <= cap + 1e-9
        res.checks["kills made"] = made >= min(kills, 1)
        res.detail = {
            "kills": made,
            "recipients": recipients,
            "received": t.received,
            "in_doubt": t.in_doubt,
            "state": status["state"],
            "spent": status["cost_usd"],
            "unsettled_usd": round(t.received * MARKETING_USD - status["cost_usd"], 4),
            "cap": cap,
            "lost_examples": t.lost_examples,
        }
    res.seconds = time.monotonic() - began
    return res


# --- 2. Graph API faults -------------------------------------------------------------------


def graph_faults(tmp: Path, admin_dsn: str, *, recipients: int, rate: float) -> Result:
    """10 % 5xx and a few timeouts throughout; bursts of 130429 and 131056, a latency
    spike, a wave of 131049, then the token of one WABA revoked (190). The campaign must
    finish on the other WABA, each code meeting its reaction, nothing sent twice."""
    began = time.monotonic()
    res = Result("graph faults: 5xx, timeouts, 130429/131056/131049, 190")
    knobs = (
        *CALM_KNOBS,
        "error_5xx_rate=0.1",
        "timeout_rate=0.02",
        "timeout_hang_s=3",
        "pair_interval_s=0",
    )
    with running_stack(
        tmp, admin_dsn, contacts=recipients, knobs=knobs, graph="send_timeout_s = 1"
    ) as stack:
        audience = stack.write_audience(recipients)
        window = recipients / rate
        _start_campaign(stack, "faults", rate, None)
        step = window / 6
        time.sleep(step)
        stack.fault(endpoint="messages", mode="error", code=130429, count=15)
        stack.fault(endpoint="messages", mode="error", code=131056, count=10)
        time.sleep(step)
        stack.knob(latency_s=0.6)
        time.sleep(min(2.0, step))
        stack.knob(latency_s=0.0)
        stack.fault(endpoint="messages", mode="error", code=131049, count=12)
        time.sleep(step)
        revoked = chip_ids()[:2]  # WABA 1's numbers: its token no longer works
        for pnid in revoked:
            stack.fault(endpoint="messages", mode="error", code=190, count=100_000, object_id=pnid)
        status = stack.wait_campaign("faults", timeout=120 + 4 * window)
        stack.sim_post("/_sim/faults", {}, method="DELETE")
        t = tally(stack, "faults", audience, status["state"])
        res.lost, res.duplicates = t.lost, t.duplicates
        res.crashes = 0 if stack.alive() else 1
        fates = stack.fates("faults")
        reasons = [f[2] or "" for f in fates.values() if f[1] == "failed" or f[0] == "refused"]
        chips = {c["phone_number_id"]: c for c in stack.call("status.snapshot")["chips"]}
        counters = stack.sim_get("/_sim/counters")
        res.checks["campaign finished"] = status["state"] == "finished"
        res.checks["revoked WABA's chips paused for the token"] = all(
            chips[p]["paused"] and "stop_token" in (chips[p]["pause_reason"] or "") for p in revoked
        )
        res.checks["other chips still sending"] = not any(
            chips[p]["paused"] for p in chip_ids()[2:]
        )
        res.checks["130429/131056 retried, never failed"] = not any(
            "130429" in r or "131056" in r for r in reasons
        )
        res.checks["131049 deferred (failed with its reason)"] = any("131049" in r for r in reasons)
        res.checks["every failure has a reason"] = all(reasons)
        res.checks["nobody refused for a paused chip (rerouted)"] = not any(
            r.startswith("chip paused") for r in reasons
        )
        res.detail = {
            "recipients": recipients,
            "received": t.received,
            "failed": t.failed,
            "in_doubt": t.in_doubt,
            "not_sent": t.not_sent,
            "state": status["state"],
            "reasons": sorted({r.split(":")[0] for r in reasons}),
            "sim_errors": {k: v for k, v in counters.items() if k.startswith("error")},
            "lost_examples": t.lost_examples,
        }
    res.seconds = time.monotonic() - began
    return res


# --- 3a. every webhook 2-3 times, out of order ----------------------------------------------


class _Relay:
    """Stands between the simulator and the daemon: every webhook the simulator sends
    reaches the daemon 2 or 3 times — once at once (its answer goes back to the
    simulator, which retries a non-200 like Meta), then 1-2 copies later, at random
    moments, so deliveries overtake each other."""

    def __init__(self, target: str, seed: int) -> None:
        self.target = target
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._due = threading.Condition()
        self._heap: list[tuple[float, int, bytes, dict[str, str]]] = []
        self._seq = itertools.count()
        self._closed = False
        self._stopped = False
        self._pool = ThreadPoolExecutor(max_workers=8)
        self._client = httpx.Client(timeout=10)
        self.copies = 0
        self.submitted = 0
        self.originals = 0
        self.copy_statuses: dict[int, int] = {}
        self.server, self.url = serve_webhooks(self.deliver)
        self._ticker = threading.Thread(target=self._scheduler, daemon=True)
        self._ticker.start()

    def deliver(self, body: bytes, headers: dict[str, str]) -> int:
        try:
            status = self._client.post(self.target, content=body, headers=headers).status_code
        except httpx.HTTPError:
            return 502
        with self._lock:
            self.originals += 1
            extra = self._rng.randint(1, 2)
            delays = [self._rng.uniform(0.0, 1.5) for _ in range(extra)]
        with self._due:
            for d in delays:
                self.submitted += 1
                heapq.heappush(self._heap, (time.monotonic() + d, next(self._seq), body, headers))
            self._due.notify()
        return status

    def _scheduler(self) -> None:
        """Hands each copy to the pool when it is due (the pool never sleeps)."""
        while True:
            with self._due:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    if self._closed:
                        return
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else 0.2
                    self._due.wait(max(0.0, min(timeout, 0.2)))
                _, _, body, headers = heapq.heappop(self._heap)
            self._pool.submit(self._copy, body, headers)

    def _copy(self, body: bytes, headers: dict[str, str]) -> None:
        for _ in range(50):  # a copy is a Meta retry: it must get in eventually
            try:
                status = self._client.post(self.target, content=body, headers=headers).status_code
            except httpx.HTTPError:
                status = 0
            if status == 200:
                break
            time.sleep(0.2)
        with self._lock:
            self.copies += 1
            self.copy_statuses[status] = self.copy_statuses.get(status, 0) + 1

    @property
    def pending(self) -> int:
        with self._lock:
            return self.submitted - self.copies

    def close(self) -> None:
        with self._due:
            self._closed = True
            self._due.notify()
        self._ticker.join()
        self._pool.shutdown(wait=True)
        self.stop_serving()
        self._client.close()

    def stop_serving(self) -> None:
        if not self._stopped:
            self._stopped = True
            self.server.shutdown()
            self.server.server_close()


def webhook_storm(tmp: Path, admin_dsn: str, *, recipients: int, rate: float) -> Result:
    """A whole campaign whose every webhook arrives 2-3 times and out of order: the
    campaign's delivered/read counts equal the simulator's, message for message."""
    began = time.monotonic()
    res = Result("webhooks: each 2-3 times, out of order")
    knobs = (*CALM_KNOBS, "webhook_reorder_rate=0.5", "webhook_reorder_delay_s=0.4")
    with _relayed_stack(tmp, admin_dsn, recipients, knobs) as (stack, relay):
        audience = stack.write_audience(recipients)
        window = recipients / rate
        _start_campaign(stack, "storm", rate, None)
        status = stack.wait_campaign("storm", timeout=120 + 2 * window)
        res.detail["campaign_s"] = round(time.monotonic() - began, 1)
        # Every status the simulator will send has been sent, and every copy delivered.
        deadline = time.monotonic() + 60
        expected = 0
        while time.monotonic() < deadline:
            ours = [
                m
                for m in stack.sim_messages()
                if (m.get("biz_opaque_callback_data") or "").startswith("metad:o:")
            ]
            expected = sum(1 for m in ours if m["status"] == "read")
            status = stack.campaign_status("storm")
            if relay.pending == 0 and status["read"] == expected == len(ours):
                break
            time.sleep(0.5)
        relay.close()
        time.sleep(0.5)
        status = stack.campaign_status("storm")
        t = tally(stack, "storm", audience, status["state"])
        stats = stack.call("webhooks.stats")
        res.lost, res.duplicates = t.lost, t.duplicates
        res.crashes = 0 if stack.alive() else 1
        res.checks["campaign finished"] = status["state"] == "finished"
        res.checks["read count exact (daemon == simulator)"] = status["read"] == expected
        res.checks["delivered count exact"] = status["delivered"] == expected
        res.checks["sent count exact"] = status["sent"] == t.received
        res.checks["duplicates recognised"] = stats["duplicates"] >= relay.copies * 0.9
        res.checks["every copy answered 200"] = set(relay.copy_statuses) <= {200}
        res.detail |= {
            "settled_s": round(time.monotonic() - began, 1),
            "recipients": recipients,
            "received": t.received,
            "read(sim)": expected,
            "read(daemon)": status["read"],
            "delivered(daemon)": status["delivered"],
            "originals": relay.originals,
            "copies": relay.copies,
            "inbox_duplicates": stats["duplicates"],
            "copy_statuses": relay.copy_statuses,
        }
    res.seconds = time.monotonic() - began
    return res


@contextmanager
def _relayed_stack(
    tmp: Path, admin_dsn: str, recipients: int, knobs: tuple[str, ...]
) -> Iterator[tuple[Stack, _Relay]]:
    from tests.reliability.harness import scratch_database, write_config

    with scratch_database(admin_dsn) as db:
        path = write_config(tmp, dsn=db, contacts=recipients)
        stack = Stack(tmp, path, knobs=knobs)
        relay = _Relay(stack.endpoint, seed=5)
        stack.webhook_url = relay.url
        try:
            stack.start_sim()
            stack.start_daemon()
            yield stack, relay
        finally:
            stack.stop()
            relay.stop_serving()


# --- 3b. fuzzed webhook bodies ---------------------------------------------------------------


def webhook_fuzz(
    tmp: Path, admin_dsn: str, *, examples: int, seed: int = 0, workers: int = 1
) -> Result:
    """``examples`` fuzzed bodies at the running daemon's /webhook (hypothesis):
    mutated, truncated, oversized, garbage; unsigned, wrongly signed or signed. No 5xx,
    no crash, nothing unsigned accepted (answers and inbox), RSS flat."""
    from tests.reliability.fuzz import run_fuzz

    began = time.monotonic()
    res = Result(f"webhook fuzz: {examples} bodies")
    with running_stack(tmp, admin_dsn, contacts=10) as stack:
        before = stack.call("webhooks.stats")
        out = run_fuzz(stack, examples=examples, seed=seed, workers=workers)
        after = stack.call("webhooks.stats")
        deadline = time.monotonic() + 30
        while after["pending"] and time.monotonic() < deadline:  # a poison row would stay
            time.sleep(0.2)
            after = stack.call("webhooks.stats")
        parsed_unsigned = _parsed_unsigned(stack)
        res.checks["every stored body processed (no poison row)"] = after["pending"] == 0
        res.accepted_unsigned = out.unsigned_accepted + parsed_unsigned
        res.crashes = out.server_errors + (0 if stack.alive() else 1)
        res.checks["RSS flat (< 25 MiB growth after warm-up)"] = out.rss_growth_kib < 25 * 1024
        res.checks["unsigned counted as rejected"] = (
            after["rejected_signature"] - before["rejected_signature"] >= 0
        )
        res.checks["stored == signed bodies answered 200"] = (
            after["received"] - before["received"] == out.signed_ok
        )
        res.detail = {
            "sent": out.sent,
            "by_status": out.by_status,
            "unsigned": out.unsigned,
            "signed_ok": out.signed_ok,
            "rss_kib_before": out.rss_before_kib,
            "rss_kib_after": out.rss_after_kib,
            "examples_of_5xx": out.error_examples[:3],
        }
    res.seconds = time.monotonic() - began
    return res


def _parsed_unsigned(stack: Stack) -> int:
    from tests.reliability.harness import admin_sql

    rows = admin_sql(
        stack.cfg.storage.dsn,
        "SELECT count(*) AS n FROM webhook_inbox WHERE NOT signature_ok AND state <> 'rejected'",
    )
    return int(rows[0]["n"])


# --- 4. PostgreSQL down mid-run ----------------------------------------------------------------


@contextmanager
def own_postgres() -> Iterator[tuple[Path, str]]:
    """A throwaway PostgreSQL cluster (pgserver's binaries) this scenario may stop."""
    from daemon.store.embedded import start_embedded_blocking
    from tests.support import _stop_leftover_servers

    state = Path(tempfile.mkdtemp(prefix="metad-rel-pg-"))
    try:
        server = start_embedded_blocking(state)
        server.stop_blocking()  # the scenario starts and stops it
        yield state, server.dsn
    finally:
        _stop_leftover_servers(state)
        shutil.rmtree(state, ignore_errors=True)


def storage_outage(tmp: Path, *, recipients: int, rate: float, down_s: float) -> Result:
    """PostgreSQL (external, the daemon's DSN) stopped for ``down_s`` mid-campaign and
    started again: the daemon stays up, answers webhooks 503 meanwhile, resumes, and
    nothing is lost or sent twice."""
    from daemon.store.embedded import start_embedded_blocking
    from tests.reliability.harness import admin_sql, with_database

    began = time.monotonic()
    res = Result(f"storage: PostgreSQL down {down_s:g}s mid-run")
    with own_postgres() as (state, admin_dsn):
        server = start_embedded_blocking(state)
        admin_sql(admin_dsn, 'CREATE DATABASE "metad" TEMPLATE template0')
        dsn = with_database(admin_dsn, "metad")
        try:
            with running_stack(tmp, admin_dsn, contacts=recipients, dsn=dsn) as stack:
                audience = stack.write_audience(recipients)
                window = recipients / rate
                _start_campaign(stack, "outage", rate, None)
                time.sleep(window / 4)
                server.stop_blocking()
                answers: dict[int, int] = {}
                alive_throughout = True
                stop_at = time.monotonic() + down_s
                probe = 0
                while time.monotonic() < stop_at:
                    body = _status_body(f"wamid.OUTAGE.{probe}")
                    probe += 1
                    try:
                        code = httpx.post(
                            stack.endpoint,
                            content=body,
                            headers={"X-Hub-Signature-256": sign(body)},
                            timeout=10,
                        ).status_code
                    except httpx.HTTPError:
                        code = 0
                    answers[code] = answers.get(code, 0) + 1
                    alive_throughout &= stack.alive()
                    time.sleep(0.5)
                server = start_embedded_blocking(state)
                status = stack.wait_campaign("outage", timeout=180 + 2 * window)
                t = tally(stack, "outage", audience, status["state"])
                res.lost, res.duplicates = t.lost, t.duplicates
                res.crashes = 0 if alive_throughout and stack.alive() else 1
                res.checks["webhooks answered 503 while down"] = set(answers) == {503}
                res.checks["campaign finished after the outage"] = status["state"] == "finished"
                res.detail = {
                    "recipients": recipients,
                    "received": t.received,
                    "answers_while_down": answers,
                    "state": status["state"],
                    "daemon_starts": stack.starts,
                    "lost_examples": t.lost_examples,
                }
        finally:
            server.stop_blocking()
    res.seconds = time.monotonic() - began
    return res


def _status_body(wamid: str) -> bytes:
    doc = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "100000000000001",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "5511901010000",
                                "phone_number_id": "200000000000101",
                            },
                            "statuses": [
                                {
                                    "id": wamid,
                                    "status": "delivered",
                                    "timestamp": str(int(time.time())),
                                    "recipient_id": "5511987654321",
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    return json.dumps(doc).encode()

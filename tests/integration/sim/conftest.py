"""A running simulator, a webhook receiver and a Graph client, per test.

The simulator is served on 127.0.0.1:0 inside the test's nursery and talked to over
real HTTP; its webhooks go to a small receiver (a bare ASGI app on hypercorn, port 0)
that checks each ``X-Hub-Signature-256`` with the sandbox app secret and keeps the body.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import hypercorn.trio
import pytest
import trio
from hypercorn.config import Config as HyperConfig

from config.model import MetadConfig
from config.secrets import SANDBOX_APP_SECRET, sandbox_token
from daemon.graph import GraphClient, RetryPolicy
from sim import Sim, SimKnobs, build_sim, serve_sim

WABA_A, WABA_B = "100000000000001", "100000000000002"
PID_A1, PID_A2, PID_B1 = "200000000000001", "200000000000002", "200000000000003"
CONTACT = "5511987654321"
SHARED = Path(__file__).resolve().parents[4] / "shared"
FIXTURES = SHARED / "fixtures" / "webhooks"


def sim_config() -> MetadConfig:
    return MetadConfig.model_validate(
        {
            # A state dir of its own: the default (./var/state) may hold a local run's keys.
            "daemon": {"state_dir": tempfile.mkdtemp(prefix="metad-sim-state-")},
            "sandbox": {"enabled": True, "seed": 7, "contacts": 60, "reply_rate": 0.5},
            "wabas": [
                {"id": WABA_A, "name": "Plantões SP", "marketing_messages": True},
                {"id": WABA_B, "name": "Plantões RJ"},
            ],
            "chips": [
                {"phone_number_id": PID_A1, "display_number": "+55 11 94000-0001", "waba": WABA_A},
                {"phone_number_id": PID_A2, "display_number": "+55 11 94000-0002", "waba": WABA_A},
                {"phone_number_id": PID_B1, "display_number": "+55 21 94000-0003", "waba": WABA_B},
            ],
        }
    )


def tokens() -> dict[str, str]:
    return {
        WABA_A: sandbox_token(WABA_A),
        WABA_B: sandbox_token(WABA_B),
        PID_A1: sandbox_token(WABA_A),
        PID_A2: sandbox_token(WABA_A),
        PID_B1: sandbox_token(WABA_B),
    }


@dataclass
class Receiver:
    """Records webhook POSTs; ``status`` is what it answers (500 to force retries)."""

    bodies: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0
    status: int = 200
    posts: int = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                event = await receive()
                kind = event["type"].replace("lifespan.", "")
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        raw = b""
        while True:
            event = await receive()
            raw += event.get("body", b"")
            if not event.get("more_body"):
                break
        self.posts += 1
        sig = dict(scope["headers"]).get(b"x-hub-signature-256", b"").decode()
        expected = (
            "sha256=" + hmac.new(SANDBOX_APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
        )
        status = self.status
        if not hmac.compare_digest(sig, expected):
            self.bad_signatures += 1
            status = 401
        elif status == 200:
            self.bodies.append(json.loads(raw))
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def changes(self, field_name: str | None = None) -> list[dict[str, Any]]:
        return [
            change
            for body in self.bodies
            for entry in body["entry"]
            for change in entry["changes"]
            if field_name is None or change["field"] == field_name
        ]

    def statuses(self, wamid: str | None = None) -> list[dict[str, Any]]:
        return [
            st
            for c in self.changes("messages")
            for st in c["value"].get("statuses", [])
            if wamid is None or st["id"] == wamid
        ]

    def inbound(self) -> list[dict[str, Any]]:
        return [m for c in self.changes("messages") for m in c["value"].get("messages", [])]

    async def wait_for(
        self, what: Callable[[], Any], timeout: float = 5.0, message: str = "webhook"
    ) -> Any:
        with trio.move_on_after(timeout):
            while True:
                found = what()
                if found:
                    return found
                await trio.sleep(0.01)
        raise AssertionError(f"timed out waiting for {message}; got {self.bodies}")


@dataclass
class SimEnv:
    sim: Sim
    base_url: str
    client: GraphClient
    receiver: Receiver
    http: httpx.AsyncClient

    async def ctl(self, method: str, path: str, body: Any = None) -> Any:
        resp = await self.http.request(method, f"{self.base_url}/_sim/{path}", json=body)
        assert resp.status_code == 200, resp.text
        return resp.json()

    async def inject(self, endpoint: str, **fault: Any) -> None:
        await self.ctl("POST", "faults", {"endpoint": endpoint, **fault})


async def start_receiver(nursery: trio.Nursery, receiver: Receiver) -> str:
    hc = HyperConfig()
    hc.bind = ["127.0.0.1:0"]
    hc.graceful_timeout = 0.1
    hc.errorlog = None
    binds = await nursery.start(partial(hypercorn.trio.serve, receiver, hc))
    return f"{binds[0]}/webhook"


async def start_env(
    nursery: trio.Nursery, knobs: SimKnobs | None = None, **serve: Any
) -> AsyncIterator[SimEnv]:
    receiver = Receiver()
    hook = await start_receiver(nursery, receiver)
    sim = build_sim(sim_config(), webhook_url=hook, seed=7, knobs=knobs or SimKnobs.quiet())
    base = await nursery.start(
        partial(serve_sim, sim_config(), listen="127.0.0.1:0", sim=sim, **serve)
    )
    fast = RetryPolicy(max_attempts=4, base_s=0.01, cap_s=0.05)
    async with (
        GraphClient(base, "v21.0", token_for=tokens(), retry=fast) as client,
        httpx.AsyncClient() as http,
    ):
        yield SimEnv(sim, base, client, receiver, http)


@pytest.fixture
async def env(nursery: trio.Nursery) -> AsyncIterator[SimEnv]:
    async for e in start_env(nursery):
        yield e


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def shape(value: Any) -> Any:
    """The structure of a JSON value: keys (recursively) and leaf types, no data."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__

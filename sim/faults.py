"""Injected and random faults of the simulated Graph API.

Why: a client's error paths must be tested, but some of Meta's failures cannot happen
naturally in a simulator (an internal error, maintenance mode, a locked account for a
moment). Tests queue "the next request to X fails with code N" here through
``POST /_sim/faults``; the random knobs (5xx rate, timeouts) make a soak run unreliable
the way the real network is. Decisions use a seeded rng so a run can be repeated.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from sim.knobs import SimKnobs

__all__ = ["ENDPOINTS", "Faults", "Injection", "Mode"]

Mode = Literal["error", "garbage", "empty", "timeout", "accept_then_timeout"]
"""error: a Meta error with ``code``; garbage: a non-JSON page; empty: 200 with ``{}``;
timeout: hang, never act; accept_then_timeout: act (a send is accepted), then hang."""

ENDPOINTS = frozenset(
    {
        "*",
        "messages",
        "marketing_messages",
        "phone_number",
        "phone_numbers",
        "message_templates",
        "template",
        "media",
        "media_upload",
        "flows",
        "flow",
        "encryption",
        "items_batch",
        "batch_status",
    }
)


@dataclass(slots=True)
class Injection:
    endpoint: str
    mode: Mode = "error"
    code: int | None = None
    http_status: int | None = None
    count: int = 1
    object_id: str | None = None
    hang_s: float = 30.0

    def matches(self, endpoint: str, object_id: str | None) -> bool:
        if self.endpoint not in ("*", endpoint):
            return False
        return self.object_id is None or self.object_id == object_id


class Faults:
    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self.queue: list[Injection] = []

    def inject(self, inj: Injection) -> None:
        if inj.endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {inj.endpoint!r}; one of {sorted(ENDPOINTS)}")
        if inj.mode == "error" and inj.code is None:
            raise ValueError("mode error needs a code")
        self.queue.append(inj)

    def clear(self) -> None:
        self.queue.clear()

    def take(self, endpoint: str, object_id: str | None, knobs: SimKnobs) -> Injection | None:
        """The fault for this request: a queued one first, else maybe a random one."""
        for i, inj in enumerate(self.queue):
            if inj.matches(endpoint, object_id):
                inj.count -= 1
                if inj.count <= 0:
                    del self.queue[i]
                return inj
        if knobs.error_5xx_rate and self._rng.random() < knobs.error_5xx_rate:
            code = self._rng.choice((131000, 131016, 133004))
            return Injection(endpoint, "error", code)
        if knobs.timeout_rate and self._rng.random() < knobs.timeout_rate:
            return Injection(endpoint, "accept_then_timeout", hang_s=knobs.timeout_hang_s)
        return None

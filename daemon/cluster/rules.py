"""The pure rules of chip leases: which chips to take or give back, and when to stop.

No I/O and no clock reads: the lease keeper (:mod:`daemon.cluster.leases`) passes in
what it read from PostgreSQL and the time, so every rule is tested on its own.
"""

from __future__ import annotations

import hashlib
import json
import math
import zlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "CHIP_CLASS",
    "LEADER_CLASS",
    "NODE_CLASS",
    "LeaseTiming",
    "Plan",
    "View",
    "chip_key",
    "inbox_chips",
    "plan",
    "row_owner_chip",
]

CHIP_CLASS = 0x6D657464  # "metd": the first key of every chip's advisory lock
LEADER_CLASS = 0x6D65746C  # "metl": the single-node roles (jobs, unassigned webhooks)
NODE_CLASS = 0x6D65746E  # "metn": a node id, held by the live daemon of that name


def chip_key(phone_number_id: str) -> int:
    """The second (int4) key of a chip's advisory lock: a CRC32 of its id, signed."""
    value = zlib.crc32(phone_number_id.encode())
    return value - (1 << 32) if value >= 1 << 31 else value


@dataclass(frozen=True, slots=True)
class LeaseTiming:
    """When to renew and when to stop, from ``lease_s``.

    The lease is renewed (a round trip on the lease connection) every ``lease_s / 3``.
    A renewal counts from the moment it was *sent*, so a slow answer never stretches
    it. Without one for ``lease_s * 2 / 3`` the node stops sending on every chip it
    held: PostgreSQL gives a silent node's locks away no sooner than ``lease_s`` after
    its last traffic (the connection's keepalive and user timeouts), so the node has
    stopped at least ``lease_s / 3`` before any other node can take its chips.
    """

    lease_s: float

    @property
    def renew_every_s(self) -> float:
        return self.lease_s / 3

    @property
    def fence_after_s(self) -> float:
        return self.lease_s * 2 / 3

    def must_stop(self, now: float, last_renewed: float | None) -> bool:
        """True when the node has gone too long without a renewal (or never had one)."""
        return last_renewed is None or now - last_renewed >= self.fence_after_s

    def stop_at(self, last_renewed: float) -> float:
        return last_renewed + self.fence_after_s

    def keepalive(self) -> dict[str, str]:
        """Session settings that make the server drop a silent node's session (and so
        its locks) about ``lease_s`` after its last traffic, never sooner than the
        fence: keepalive probes while idle, a user timeout while data is unacked."""
        idle = max(1, math.ceil(self.lease_s / 2))
        count = max(1, math.ceil(self.lease_s) - idle)
        return {
            "tcp_keepalives_idle": str(idle),
            "tcp_keepalives_interval": "1",
            "tcp_keepalives_count": str(count),
            "tcp_user_timeout": str(math.ceil(self.lease_s * 1000)),
        }


@dataclass(frozen=True, slots=True)
class View:
    """What the lease connection read: who holds which chip, which nodes are alive."""

    chips: tuple[str, ...]
    """Every configured chip, in config order."""
    owners: Mapping[str, str]
    """chip → node holding its lock (this node included)."""
    nodes: frozenset[str]
    """Live nodes (each holds a lease connection), this node included."""


@dataclass(frozen=True, slots=True)
class Plan:
    acquire: tuple[str, ...] = ()
    release: tuple[str, ...] = ()


def _spread(me: str, chips: Sequence[str]) -> list[str]:
    """Free chips in an order of this node's own, so that nodes racing for free chips
    mostly try different ones (a lost race costs a tick of takeover time)."""
    return sorted(chips, key=lambda c: hashlib.blake2s(f"{me}/{c}".encode()).digest())


def plan(me: str, mode: str | Collection[str], view: View) -> Plan:
    """Which chips to try to lock and which to give back now.

    ``"all"``: every free chip. A list: the free chips of the list; held chips not in
    it are given back (a reload changed it). ``"auto"``: a fair share,
    ``ceil(chips / live nodes)``: free chips up to it, and the chips over it given back
    (the newest in config order) so that a node that joins gets its share.
    Chips no longer configured are always given back.
    """
    configured = set(view.chips)
    mine = [c for c in view.chips if view.owners.get(c) == me]
    gone = tuple(c for c, node in view.owners.items() if node == me and c not in configured)
    free = [c for c in view.chips if c not in view.owners]
    if mode == "all":
        return Plan(acquire=tuple(_spread(me, free)), release=gone)
    if mode == "auto":
        nodes = len(view.nodes | {me})
        share = math.ceil(len(view.chips) / nodes) if view.chips else 0
        if len(mine) > share:
            return Plan(release=(*gone, *mine[share:]))
        return Plan(acquire=tuple(_spread(me, free)[: share - len(mine)]), release=gone)
    wanted = set(mode)
    extra = tuple(c for c in mine if c not in wanted)
    return Plan(
        acquire=tuple(_spread(me, [c for c in free if c in wanted])), release=(*gone, *extra)
    )


def inbox_chips(body: bytes) -> list[str]:
    """The phone_number_ids a webhook body is about (``metadata.phone_number_id`` of
    each change); empty for account-level events or a body that is not JSON."""
    try:
        data = json.loads(body)
    except ValueError:
        return []
    found: list[str] = []
    if not isinstance(data, dict):
        return found
    for entry in data.get("entry") or ():
        if not isinstance(entry, dict):
            continue
        for change in entry.get("changes") or ():
            value = change.get("value") if isinstance(change, dict) else None
            meta = value.get("metadata") if isinstance(value, dict) else None
            pnid = meta.get("phone_number_id") if isinstance(meta, dict) else None
            if isinstance(pnid, str) and pnid not in found:
                found.append(pnid)
    return found


def row_owner_chip(chips_in_body: Sequence[str], configured: Collection[str]) -> str | None:
    """The chip whose owner processes a body: the smallest configured one it names, so
    one body is processed by one node; None (the leader takes it) when it names none."""
    known = sorted(c for c in chips_in_body if c in configured)
    return known[0] if known else None

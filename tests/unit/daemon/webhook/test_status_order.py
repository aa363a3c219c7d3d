"""Duplicates and out-of-order statuses: the body key and the one total order of statuses."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given, strategies as st

from daemon.webhook.payloads import advances, body_dedupe_key, status_rank
from tests.unit.daemon.webhook.samples import fixture

# --- duplicates and order ---------------------------------------------------------------------


def test_body_dedupe_key_is_sha256_of_the_raw_bytes() -> None:
    raw = fixture("status_read.json")
    assert body_dedupe_key(raw) == hashlib.sha256(raw).hexdigest()
    assert body_dedupe_key(raw) == body_dedupe_key(bytes(raw))
    assert body_dedupe_key(raw) != body_dedupe_key(json.dumps(json.loads(raw)).encode())


ORDER = ["accepted", "held_for_quality_assessment", "sent", "delivered", "failed", "read",
         "played", "deleted"]  # fmt: skip


def test_status_rank_order() -> None:
    assert [status_rank(s) for s in ORDER] == list(range(len(ORDER)))
    assert status_rank("warning") == -1
    assert status_rank("READ") == status_rank("read")


@pytest.mark.parametrize(
    ("current", "new", "moves"),
    [
        (None, "sent", True),
        (None, "read", True),
        (None, "bogus", False),
        ("accepted", "sent", True),
        ("sent", "delivered", True),
        ("delivered", "read", True),
        ("read", "delivered", False),  # a late delivered after read
        ("read", "sent", False),
        ("delivered", "sent", False),
        ("sent", "sent", False),  # duplicate
        ("sent", "failed", True),
        ("delivered", "failed", True),
        ("failed", "sent", False),  # a late sent after the failure
        ("failed", "delivered", False),
        ("read", "failed", False),  # a read message was shown; no failure undoes that
        ("failed", "read", True),
        ("read", "played", True),
        ("played", "read", False),
        ("read", "deleted", True),
        ("failed", "deleted", True),
        ("deleted", "read", False),
        ("deleted", "deleted", False),
        ("bogus", "sent", True),
        ("sent", "bogus", False),
    ],
)
def test_status_advances(current: str | None, new: str, moves: bool) -> None:
    assert advances(current, new) is moves


@given(st.lists(st.sampled_from([*ORDER, "warning", "READ"]), min_size=1, max_size=12), st.data())
def test_any_arrival_order_converges_to_the_highest(
    statuses: list[str], data: st.DataObject
) -> None:
    def final_rank(seq: list[str]) -> int:
        current: str | None = None
        for status in seq:
            if advances(current, status):
                current = status
        return -1 if current is None else status_rank(current)

    shuffled = data.draw(st.permutations(statuses))
    assert final_rank(shuffled) == final_rank(statuses) == max(map(status_rank, statuses))

"""The collector settings the daemon, its ingest workers and the simulator apply."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from daemon import gctune


@pytest.fixture
def restore_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restore_gc")
def test_settle_freezes_startup_objects_and_makes_young_passes_rarer() -> None:
    gc.unfreeze()
    kept = [object() for _ in range(10)]
    gctune.settle()
    assert gc.get_freeze_count() >= len(kept)
    assert gc.get_threshold()[0] == gctune.YOUNG_THRESHOLD


@pytest.mark.usefixtures("restore_gc")
def test_cyclic_garbage_made_after_settle_is_still_collected() -> None:
    gctune.settle()

    class Node:
        other: object = None

    a, b = Node(), Node()
    a.other, b.other = b, a
    del a, b
    assert gc.collect() >= 2

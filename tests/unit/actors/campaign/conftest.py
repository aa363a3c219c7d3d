"""The ``world`` fixture of the campaign runner's and coordinator's tests (see fakes.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio
from trio.testing import MockClock

from tests.unit.actors.campaign.fakes import World

# pytest-trio runs a test on the virtual clock only when the test itself takes
# ``autojump_clock`` (a fixture's request is not enough): every async test of the runner
# and of the coordinator does.


@pytest.fixture
async def world(autojump_clock: MockClock) -> AsyncIterator[World]:
    async with trio.open_nursery() as nursery:
        yield World(nursery, start=trio.current_time())
        nursery.cancel_scope.cancel()

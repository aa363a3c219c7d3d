"""Which event loop runs which test.

The daemon is trio; the console (Textual) is asyncio. pytest-trio's ``trio_mode`` would
claim every coroutine test, the console's included, so it stays off and this hook marks
coroutine tests outside ``tests/tui/`` for trio instead. Coroutine tests under
``tests/tui/`` must carry an asyncio mark, or they fail here rather than being skipped.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

TUI_DIR = Path(__file__).parent / "tui"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        func = getattr(item, "function", None)
        if func is None or not inspect.iscoroutinefunction(func):
            continue
        if TUI_DIR in Path(str(item.fspath)).parents:
            if item.get_closest_marker("asyncio") is None:
                raise pytest.UsageError(f"{item.nodeid}: a console test needs an asyncio mark")
        elif item.get_closest_marker("trio") is None:
            item.add_marker(pytest.mark.trio)

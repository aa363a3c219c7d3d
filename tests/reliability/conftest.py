"""The reliability suite's fixtures: the integration tests' PostgreSQL (embedded, or
``METAD_TEST_DSN``), on which each scenario makes and drops its own database."""

from __future__ import annotations

import pytest

from tests.integration.conftest import db_dsn, pg_admin_dsn, pg_template

__all__ = ["db_dsn", "pg_admin_dsn", "pg_template"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "pg_admin_dsn" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)

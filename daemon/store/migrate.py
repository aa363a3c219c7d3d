"""Schema migrations: numbered ``NNNN_name.sql`` files applied in order, once.

Why a session advisory lock on a dedicated connection: several daemons may start
against one PostgreSQL at the same time; the lock makes one of them apply the whole
pending set while the others wait and then find nothing to do. It is held on a
connection outside the pool because pooled connections have a no-op reset and must
never carry session state (an advisory lock left on one would leak to the next user).
If the process dies, the connection closes and PostgreSQL releases the lock.

Each file runs in its own transaction together with its ``schema_migrations`` row, so
a failing migration leaves the schema at the previous version.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from daemon.store.errors import StoreError

if TYPE_CHECKING:
    from daemon.store.pool import Store

__all__ = ["MIGRATIONS_DIR", "Migration", "load_migrations", "migrate"]

_log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# int.from_bytes(b"metadmig") & 0x7FFF_FFFF_FFFF_FFFF: fixed, and unlikely to collide.
_LOCK_KEY = int.from_bytes(b"metadmig", "big") & 0x7FFF_FFFF_FFFF_FFFF
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Read and order the migration files; a misnamed or duplicate file is an error.

    Why strict: a file that silently does not match the pattern would never run.
    """
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise StoreError(f"migration file {path} is not named NNNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise StoreError(f"two migrations with version {version} in {directory}")
        found[version] = Migration(version, match.group(2), path.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


async def _apply(con: Any, migration: Migration) -> None:
    async with con.transaction():
        await con.execute(migration.sql)
        await con.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            migration.version,
            migration.name,
        )


async def migrate(store: Store, *, directory: Path = MIGRATIONS_DIR) -> list[int]:
    """Apply pending migrations; returns the versions applied by this call (maybe [])."""
    migrations = load_migrations(directory)
    async with store.dedicated() as conn:
        # Released when the dedicated connection closes (also if this process dies).
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        await conn.execute(_CREATE_TABLE)
        rows = await conn.fetch("SELECT version FROM schema_migrations")
        done = {int(r["version"]) for r in rows}
        known = {m.version for m in migrations}
        if unknown := sorted(done - known):
            _log.warning(
                "database has migrations %s this metad does not know (newer schema?)",
                unknown,
            )
        applied: list[int] = []
        for migration in migrations:
            if migration.version in done:
                continue
            try:
                await conn._call(_apply, migration)
            except Exception as exc:
                raise StoreError(
                    f"migration {migration.version:04d}_{migration.name} failed: {exc}"
                ) from exc
            _log.info("applied migration %04d_%s", migration.version, migration.name)
            applied.append(migration.version)
        return applied

from __future__ import annotations
from pathlib import Path
from urllib.parse import urlsplit
import trio
from config.model import StorageConfig
from daemon.store import open_store
from tests.integration.webhook.conftest import running, webhook_config
from tests.unit.daemon.webhook.samples import fixture


async def test_probe(db_dsn: str, pg_admin_dsn: str, tmp_path: Path) -> None:
    name = urlsplit(db_dsn).path.lstrip("/")
    raw = fixture("message_text.json")
    async with open_store(
        StorageConfig(dsn=pg_admin_dsn, pool_min_size=1, pool_max_size=1),
        state_dir=tmp_path,
        run_migrations=False,
    ) as admin:
        async with running(webhook_config(db_dsn, tmp_path)) as hook:
            assert await hook.post(raw) == 200
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            await admin.execute(
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
            )
            for i in range(5):
                print(i, await hook.post(raw + b" " * (i + 1)))
                await trio.sleep(0.5)
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            for i in range(3):
                print("after", await hook.post(raw + b"  " * (i + 1)))
            print(await hook.processed())

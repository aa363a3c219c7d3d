"""The media cache against the simulator: upload once, reuse, re-upload near expiry."""

from __future__ import annotations

from pathlib import Path

from config.model import MediaConfig
from daemon.control.client import connect
from daemon.media.cache import MediaCache
from daemon.store.media import MediaRepository
from tests.integration.daemon.conftest import CHIP, OTHER_CHIP, Env

WABA = "100000000000001"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
DAY = 86_400.0


class Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


def _cache(env: Env, clock: Clock) -> MediaCache:
    return MediaCache(
        env.daemon.graph,
        MediaRepository(env.daemon.store),
        MediaConfig(ttl_days=30, refresh_margin_h=24),
        now=clock,
    )


async def test_media_is_uploaded_once_and_again_before_it_expires(env: Env) -> None:
    clock = Clock()
    cache = _cache(env, clock)
    first = await cache.media_id(CHIP, PNG, "image/png", "vaga.png")
    assert first in env.sim.world.media
    assert await cache.media_id(CHIP, PNG, "image/png", "vaga.png") == first
    clock.t += 28 * DAY
    # A new cache (a restarted daemon) still finds it in the store.
    assert await _cache(env, clock).media_id(CHIP, PNG, "image/png") == first
    assert cache.uploads == 1
    # Another number needs its own upload; other bytes are another file.
    other = await cache.media_id(OTHER_CHIP, PNG, "image/png")
    assert other != first
    assert await cache.media_id(CHIP, PNG + b"x", "image/png") not in (first, other)
    assert cache.uploads == 3
    # Less than the margin (a day) before Meta's 30 days: uploaded again.
    clock.t += 1.5 * DAY
    renewed = await cache.media_id(CHIP, PNG, "image/png")
    assert renewed not in (first, other)
    assert renewed in env.sim.world.media
    assert cache.uploads == 4
    assert await cache.media_id(CHIP, PNG, "image/png") == renewed


async def test_header_handles_come_from_resumable_uploads(env: Env, tmp_path: Path) -> None:
    clock = Clock()
    cache = _cache(env, clock)
    handle = await cache.header_handle(WABA, PNG, "image/png", "header.png")
    assert handle.startswith("4::")
    assert await cache.header_handle(WABA, PNG, "image/png", "header.png") == handle
    assert env.sim.counters["resumable_uploads"] == 1
    assert not env.sim.world.media  # a handle is not a media id
    clock.t += 30 * DAY
    assert await cache.header_handle(WABA, PNG, "image/png") == handle  # same bytes, same h
    assert env.sim.counters["resumable_uploads"] == 2
    image = tmp_path / "vaga.png"
    image.write_bytes(PNG)
    async with connect(Path(env.daemon.control_socket)) as client:
        uploaded = await client.call("media.upload", {"chip": CHIP, "path": str(image)})
        again = await client.call("media.upload", {"chip": CHIP, "path": str(image)})
        header = await client.call("media.handle", {"waba": WABA, "path": str(image)})
    assert uploaded["media_id"] == again["media_id"]
    assert uploaded["mime_type"] == "image/png"
    assert env.sim.world.media[uploaded["media_id"]].data == PNG
    assert header["handle"].startswith("4::")

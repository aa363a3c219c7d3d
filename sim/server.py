"""Serving the simulator inside a trio nursery (tests, ``metad sim``, the benchmark).

Why a function and not ``app.run``: the simulator is one more task in whoever's nursery
runs it, like the daemon's webhook app (docs/model-codebases.md §4). ``await
nursery.start(serve_sim, cfg, listen="127.0.0.1:0")`` returns the bound base URL, so
tests can use port 0. Hypercorn's graceful timeout is short: keep-alive clients would
otherwise hold shutdown for seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final, Literal

import hypercorn.trio
import trio
from hypercorn.config import Config as HyperConfig

from config.model import MetadConfig
from config.secrets import SANDBOX_APP_SECRET
from daemon.webhook.server import prebind, split_listen
from sim.app import create_app
from sim.engine import Sim
from sim.http import serve_http
from sim.knobs import SimKnobs

__all__ = ["DEFAULT_WEBHOOK", "WHAT", "build_sim", "default_webhook_url", "serve_sim"]

WHAT = "sandbox simulator"
"""What the simulator's address is for, in a :class:`~daemon.webhook.server.PortInUse`."""


class _Default:
    def __repr__(self) -> str:
        return "DEFAULT_WEBHOOK"


DEFAULT_WEBHOOK: Final = _Default()
"""``webhook_url`` default: the daemon's endpoint from ``[webhook]`` in the config."""


def default_webhook_url(cfg: MetadConfig) -> str:
    return f"http://{cfg.webhook.listen}{cfg.webhook.path}"


def build_sim(
    cfg: MetadConfig,
    *,
    webhook_url: str | _Default | None = DEFAULT_WEBHOOK,
    seed: int | None = None,
    knobs: SimKnobs | None = None,
) -> Sim:
    """A simulator for ``cfg``; ``webhook_url=None`` sends no webhooks at all."""
    url = default_webhook_url(cfg) if isinstance(webhook_url, _Default) else webhook_url
    return Sim(
        cfg,
        seed=cfg.sandbox.seed if seed is None else seed,
        knobs=knobs or SimKnobs(),
        webhook_url=url or None,
        app_secret=SANDBOX_APP_SECRET,
    )


async def serve_sim(
    cfg: MetadConfig,
    *,
    listen: str | None = None,
    webhook_url: str | _Default | None = DEFAULT_WEBHOOK,
    seed: int | None = None,
    knobs: SimKnobs | None = None,
    sim: Sim | None = None,
    server: Literal["lean", "hypercorn"] = "lean",
    shutdown_trigger: Callable[[], Awaitable[None]] | None = None,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve until cancelled (or ``shutdown_trigger`` returns); started() gives the URL.

    ``listen`` defaults to ``sandbox.listen``. Pass ``sim`` (from :func:`build_sim`) to
    keep a handle on the simulator's state; otherwise one is built from the arguments.
    An address that cannot be listened on fails it before ``started`` with
    :class:`~daemon.webhook.server.PortInUse` (in the exception group of its nursery).
    ``server`` picks the HTTP front end: the lean trio server (default, see
    :mod:`sim.http` for why) or hypercorn.
    """
    if sim is None:
        sim = build_sim(cfg, webhook_url=webhook_url, seed=seed, knobs=knobs)
    app = create_app(sim)
    address = listen or cfg.sandbox.listen
    async with trio.open_nursery() as nursery:
        await nursery.start(sim.run)

        async def serve(*, task_status: trio.TaskStatus[list[str]]) -> None:
            if server == "hypercorn":
                await hypercorn.trio.serve(
                    app,
                    _hypercorn_config(address),
                    shutdown_trigger=shutdown_trigger,
                    task_status=task_status,
                )
            else:
                host, port = split_listen(address, WHAT)
                await serve_http(
                    app,
                    host,
                    port,
                    what=WHAT,
                    shutdown_trigger=shutdown_trigger,
                    task_status=task_status,
                )
            nursery.cancel_scope.cancel()  # served and drained: stop the background tasks

        binds = await nursery.start(serve)
        task_status.started(str(binds[0]).rstrip("/"))


def _hypercorn_config(address: str) -> HyperConfig:
    hc = HyperConfig()
    hc.graceful_timeout = 0.5  # keep-alive clients would hold shutdown this long
    hc.keep_alive_timeout = 30.0
    hc.accesslog = None
    hc.errorlog = logging.getLogger("metad.sim.http")
    hc.backlog = 1024
    prebind(hc, address, WHAT)
    return hc

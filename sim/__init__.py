"""``metad sim``: a local look-alike of Meta's Graph API for metad and its tests.

Serves the Cloud API endpoints metad uses with Meta's answers and errors, enforces its
limits, sends signed webhooks back (statuses, replies, quality and template events) and
takes fault injections. Layout: :mod:`sim.world` (pure state), :mod:`sim.templates`,
:mod:`sim.validate`, :mod:`sim.limits` (pure rules), :mod:`sim.engine` (sends and their
fates), :mod:`sim.graph_api` / :mod:`sim.flows` (management endpoints), :mod:`sim.app`
(HTTP), :mod:`sim.inspect` (``/_sim/``), :mod:`sim.webhooks`, :mod:`sim.server`,
:mod:`sim.cli`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.engine import Sim
    from sim.knobs import SimKnobs
    from sim.server import DEFAULT_WEBHOOK, build_sim, default_webhook_url, serve_sim

__all__ = ["DEFAULT_WEBHOOK", "Sim", "SimKnobs", "build_sim", "default_webhook_url", "serve_sim"]

_HOME = {
    "Sim": "sim.engine",
    "SimKnobs": "sim.knobs",
    "DEFAULT_WEBHOOK": "sim.server",
    "build_sim": "sim.server",
    "default_webhook_url": "sim.server",
    "serve_sim": "sim.server",
}


def __getattr__(name: str) -> Any:
    """The names above, imported when first used: ``metad sim --help`` (through
    :mod:`sim.cli`) then loads neither the simulator nor quart and hypercorn."""
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'sim' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)

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

from sim.engine import Sim
from sim.knobs import SimKnobs
from sim.server import DEFAULT_WEBHOOK, build_sim, default_webhook_url, serve_sim

__all__ = ["DEFAULT_WEBHOOK", "Sim", "SimKnobs", "build_sim", "default_webhook_url", "serve_sim"]

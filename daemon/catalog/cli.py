"""``metad catalog push FILE [--catalog ID]``: bring a catalog in line with a listings file.

Why a command and not a daemon call: a push is an operator's batch job (a CSV export of
open shifts), it needs the Graph API and the store but no chip, and it must work while
the daemon is down. Exit codes: 0 every item done, 1 some item failed (listed) or the
file is unreadable, 2 configuration error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from config import MetadConfig
    from daemon.catalog.listings import Listing
    from daemon.catalog.push import PushReport

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="catalog_command", required=True, metavar="ACTION")
    push = sub.add_parser(
        "push", help="create, update and mark out of stock the products of a listings CSV"
    )
    push.add_argument("file", metavar="FILE", help="listings CSV (vaga_id, hospital, …, status)")
    push.add_argument("--catalog", metavar="ID", help="catalog id (default: [catalog] id)")
    push.add_argument("--waba", metavar="ID", help="WABA whose token manages the catalog")
    push.add_argument("--json", action="store_true", help="print the report as JSON")
    push.add_argument(
        "-c",
        "--config",
        default=os.environ.get("METAD_CONFIG", "metad.toml"),
        metavar="FILE",
        help="configuration file (default: $METAD_CONFIG or ./metad.toml)",
    )


def _graph_cfg(cfg: MetadConfig) -> MetadConfig:
    """In sandbox mode with ``serve`` the Graph API is the simulator the daemon serves."""
    if not (cfg.sandbox.enabled and cfg.sandbox.serve):
        return cfg
    graph = cfg.graph.model_copy(update={"base_url": f"http://{cfg.sandbox.listen}"})
    return cfg.model_copy(update={"graph": graph})


async def _push(cfg: MetadConfig, listings: list[Listing], catalog: str, waba: str) -> PushReport:
    from config import resolve_secrets
    from daemon.catalog.push import push_listings
    from daemon.graph import GraphClient
    from daemon.store import open_store
    from daemon.store.catalog import CatalogRepository

    graph_cfg = _graph_cfg(cfg)
    async with (
        open_store(cfg.storage, state_dir=cfg.daemon.state_dir, keep_adopted_server=True) as store,
        GraphClient.from_config(graph_cfg, resolve_secrets(graph_cfg)) as graph,
    ):
        return await push_listings(
            graph,
            CatalogRepository(store),
            listings,
            catalog_id=catalog,
            waba_id=waba,
            currency=cfg.catalog.currency,
            link_base=cfg.catalog.link_base,
            batch_size=cfg.catalog.batch_size,
        )


def run(args: argparse.Namespace) -> int:
    import trio

    from config import load_config
    from daemon.catalog.listings import parse_listings

    cfg = load_config(Path(args.config))
    try:
        text = Path(args.file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"metad catalog: cannot read {args.file}: {exc}", file=sys.stderr)
        return 1
    listings, problems = parse_listings(text)
    if problems:
        for line in problems:
            print(f"{args.file}:{line}", file=sys.stderr)
        return 1
    catalog = args.catalog or cfg.catalog.id
    if not catalog:
        print("metad catalog: no catalog: give --catalog or set [catalog] id", file=sys.stderr)
        return 2
    waba = args.waba or cfg.catalog.waba or (cfg.wabas[0].id if cfg.wabas else "")
    report = trio.run(_push, cfg, listings, catalog, waba)
    if args.json:
        print(json.dumps(report.as_dict()))
    else:
        print(
            f"catalog {catalog}: {len(report.created)} created, {len(report.updated)} updated,"
            f" {len(report.out_of_stock)} out of stock, {report.unchanged} unchanged,"
            f" {len(report.errors)} failed"
        )
        for rid in report.forgotten:
            print(f"  {rid}: Meta no longer has it, and its listing is closed or gone: forgotten")
        for e in report.errors:
            print(f"  {e.method} {e.retailer_id} (listing {e.listing_id}): {e.message}")
    return 1 if report.errors else 0

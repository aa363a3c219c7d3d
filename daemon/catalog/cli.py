"""``metad catalog push FILE [--catalog ID] [--resync]``: bring a catalog in line with a
listings file.

Why ``--resync`` is a flag of ``push`` and not a command of its own: it needs the same
file, the same catalog and WABA and reports the same way; only what the file is compared
with differs (Meta's products as they are now, read page by page, instead of what metad
remembers pushing), so it is slower and is asked for when Meta's side may have changed.

Why a command and not a daemon call: a push is an operator's batch job (a CSV export of
open shifts), it needs the Graph API and the store but no chip, and it must work while
the daemon is down. Exit codes: 0 every item done, 1 some item failed (listed), the file
is unreadable or has bad rows, or the Graph API failed (one line, no traceback), 2
configuration error (an unknown ``--waba`` or ``--catalog`` is refused before any call).
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
    from daemon.graph.errors import GraphError

__all__ = ["add_arguments", "run"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Refused(Exception):
    """An expected failure: one line for the operator, exit 1 (or ``code``)."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def _columns_help() -> str:
    """The file's columns for ``push --help`` (from the parser's own lists, so they agree)."""
    from daemon.catalog.listings import CLOSED, OPEN, OPTIONAL_COLUMNS, REQUIRED_COLUMNS

    return (
        f"FILE is a CSV (UTF-8, with or without a byte-order mark) with the columns"
        f" {', '.join(REQUIRED_COLUMNS)}; optional: {', '.join(OPTIONAL_COLUMNS)}"
        f" (Meta creates no product without an image). valor_brl: 1800.00 or 1800,00."
        f" status: {', '.join(OPEN)} (open) or {', '.join(CLOSED)} (closed)."
        f" A file with a bad row is not pushed at all."
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="catalog_command", required=True, metavar="ACTION")
    push = sub.add_parser(
        "push",
        help="create, update and mark out of stock the products of a listings CSV",
        description=_columns_help(),
    )
    push.add_argument("file", metavar="FILE", help="listings CSV (the shifts export)")
    push.add_argument(
        "--catalog",
        metavar="ID",
        help="catalog id: [catalog] id (another is refused); needed when that is not set",
    )
    push.add_argument(
        "--waba",
        metavar="ID",
        help="configured WABA whose token manages the catalog (default: [catalog] waba,"
        " else the first WABA)",
    )
    push.add_argument(
        "--resync",
        action="store_true",
        help="read the catalog's products from Meta first and compare the file with them,"
        " not with what metad remembers pushing: products that vanished or were changed on"
        " Meta's side are created or updated again, even when their listing did not"
        " change (progress on stderr)",
    )
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


def _waba(cfg: MetadConfig, chosen: str | None) -> str:
    """The WABA whose token the push uses, checked against the configured ones: an
    unknown one would only fail at Meta (no token), after the file was read and planned."""
    known = [w.id for w in cfg.wabas]
    if not known:
        raise _Refused("no WABA configured: add a [[wabas]] table", EXIT_USAGE)
    waba = chosen or cfg.catalog.waba or known[0]
    if waba not in known:
        raise _Refused(f"unknown WABA {waba} (configured: {', '.join(known)})", EXIT_USAGE)
    return waba


def _catalog(cfg: MetadConfig, chosen: str | None) -> str:
    """The catalog to push to: ``[catalog] id``, or ``--catalog`` when none is set.

    Why another id is refused: ``catalog_items`` remembers pushes per catalog, and a
    mistyped id would only fail at Meta ("unknown object"); to push to another catalog,
    configure it.
    """
    configured = cfg.catalog.id
    if chosen and configured and chosen != configured:
        raise _Refused(f"unknown catalog {chosen} (configured: {configured})", EXIT_USAGE)
    catalog = chosen or configured
    if not catalog:
        raise _Refused("no catalog: give --catalog or set [catalog] id", EXIT_USAGE)
    if not (catalog.isascii() and catalog.isdigit()):
        raise _Refused(f"catalog id {catalog!r} is not a number", EXIT_USAGE)
    return catalog


def _graph_failure(exc: GraphError, cfg: MetadConfig) -> str:
    """One line for a failed Graph call, in the words that lead to the fix: "Meta
    refused" only when Meta answered with an error code; a missing token is the
    configuration's; another answer is a proxy or a wrong ``[graph] base_url``; no answer
    is the API (in sandbox mode the simulator) not reachable at that address."""
    if exc.type == "NoToken":
        return exc.message
    if exc.explicit:
        return f"Meta refused: {exc}"
    where = f"the Graph API at {cfg.graph.base_url}"
    if exc.http_status is not None:
        return f"unexpected answer from {where}: {exc}"
    line = f"{where} did not answer ({exc})" if exc.sent else f"{where} cannot be reached ({exc})"
    if cfg.sandbox.enabled and cfg.sandbox.serve:
        line += "; in sandbox mode `metad run` serves the simulator there: is it running?"
    elif cfg.sandbox.enabled:
        line += "; in sandbox mode (serve = false) start the simulator: `metad sim`"
    return line


def _progress(line: str) -> None:
    print(f"metad catalog: {line}", file=sys.stderr, flush=True)


async def _push(
    cfg: MetadConfig, listings: list[Listing], catalog: str, waba: str, resync: bool
) -> PushReport:
    from config import resolve_secrets
    from daemon.catalog.push import push_listings
    from daemon.catalog.remote import resync_listings
    from daemon.graph import GraphClient
    from daemon.store import open_store
    from daemon.store.catalog import CatalogRepository

    async with (
        open_store(cfg.storage, state_dir=cfg.daemon.state_dir, keep_adopted_server=True) as store,
        GraphClient.from_config(cfg, resolve_secrets(cfg)) as graph,
    ):
        how = resync_listings if resync else push_listings
        return await how(
            graph,
            CatalogRepository(store),
            listings,
            catalog_id=catalog,
            waba_id=waba,
            currency=cfg.catalog.currency,
            link_base=cfg.catalog.link_base,
            batch_size=cfg.catalog.batch_size,
            progress=_progress,
        )


def _pushed(
    cfg: MetadConfig, listings: list[Listing], catalog: str, waba: str, *, resync: bool
) -> PushReport:
    """Run the push; a Graph failure or a batch Meta never finished is one line."""
    import trio

    graph_cfg = _graph_cfg(cfg)
    try:
        return trio.run(_push, graph_cfg, listings, catalog, waba, resync)
    except Exception as exc:
        line = _expected_failure(exc, graph_cfg)
        if line is None:
            raise
        raise _Refused(line) from None


def _expected_failure(exc: BaseException, cfg: MetadConfig) -> str | None:
    """One line for a failure of Meta's side, looked for inside exception groups too
    (the store's nursery may wrap it); None for anything else (a bug: the traceback)."""
    import trio

    from daemon.graph.errors import GraphError

    if isinstance(exc, BaseExceptionGroup):
        lines = [_expected_failure(e, cfg) for e in exc.exceptions]
        return None if None in lines else lines[0]
    if isinstance(exc, GraphError):
        return _graph_failure(exc, cfg)
    if isinstance(exc, trio.TooSlowError):
        return "Meta did not finish the batch in time: push again later"
    return None


def _read(path: str) -> list[Listing]:
    """The file's listings; ``utf-8-sig`` because Excel's "CSV UTF-8" starts with a BOM.
    Bad rows are printed as ``FILE:line N: …`` (all of them) and nothing is pushed."""
    from daemon.catalog.listings import parse_listings

    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise _Refused(f"cannot read {path}: {exc}") from None
    listings, problems = parse_listings(text)
    for line in problems:
        print(f"{path}:{line}", file=sys.stderr)
    if problems:
        n = len(problems)
        raise _Refused(f"{path}: nothing pushed ({n} problem{'' if n == 1 else 's'})")
    return listings


def _print(report: PushReport, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.as_dict()))
        return
    print(
        f"catalog {report.catalog_id}: {len(report.created)} created,"
        f" {len(report.updated)} updated, {len(report.out_of_stock)} out of stock,"
        f" {report.unchanged} unchanged, {len(report.errors)} failed"
    )
    for e in report.errors:
        print(f"  {e.method} {e.retailer_id} (listing {e.listing_id}): {e.message}")
    if report.existing:
        print(
            f"  {len(report.existing)} product(s) Meta already had (made elsewhere, or"
            f" forgotten by metad) were updated instead of created: {_ids(report.existing)}"
        )
    if report.remembered:
        print(
            f"  {len(report.remembered)} product(s) Meta has as the file says, not sent,"
            f" now remembered: {_ids(report.remembered)}"
        )
    for rid in report.forgotten:
        print(f"  {rid}: Meta no longer has it, and its listing is closed or gone: forgotten")


def _ids(ids: list[str], most: int = 10) -> str:
    """Up to ``most`` ids, then how many more (a resync may touch thousands)."""
    shown = ", ".join(ids[:most])
    return shown if len(ids) <= most else f"{shown} and {len(ids) - most} more"


def run(args: argparse.Namespace) -> int:
    from config import load_config

    cfg = load_config(Path(args.config))
    try:
        catalog, waba = _catalog(cfg, args.catalog), _waba(cfg, args.waba)
        report = _pushed(cfg, _read(args.file), catalog, waba, resync=args.resync)
    except _Refused as exc:
        print(f"metad catalog: {exc}", file=sys.stderr)
        return exc.code
    _print(report, as_json=args.json)
    return EXIT_FAILED if report.errors else EXIT_OK

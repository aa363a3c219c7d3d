"""``metad``: the command line.

Why exit codes matter here: systemd and scripts act on them. 0 is a clean run or a valid
config; 2 is bad configuration (fix the file, restarting will not help); 1 is a runtime
failure (storage down, port taken, crash loop) that a restart may cure. Expected failures
print one line naming the cause, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import trio

from config import ConfigError, MetadConfig, load_config
from daemon.campaigns.cli import add_arguments as add_campaign_arguments
from daemon.catalog.cli import add_arguments as add_catalog_arguments, run as run_catalog
from daemon.ctl import add_arguments as add_ctl_arguments
from sim.cli import add_arguments as add_sim_arguments

if TYPE_CHECKING:
    from daemon.store import Store

__all__ = ["main"]

T = TypeVar("T")

EXIT_OK, EXIT_RUNTIME, EXIT_CONFIG = 0, 1, 2
DEFAULT_CONFIG = os.environ.get("METAD_CONFIG", "metad.toml")


def _add_config(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-c",
        "--config",
        default=DEFAULT_CONFIG,
        metavar="FILE",
        help="configuration file (default: $METAD_CONFIG or ./metad.toml)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="metad",
        description="Run a fleet of WhatsApp Business numbers on Meta's Cloud API.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the daemon in the foreground (systemd runs this)")
    _add_config(run)
    run.add_argument("--log-format", choices=["text", "json"], help="override daemon.log_format")
    run.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help="override daemon.log_level",
    )

    check = sub.add_parser("check", help="validate the configuration; exit 0 if valid, 2 if not")
    _add_config(check)

    migrate = sub.add_parser("migrate", help="apply pending database migrations and exit")
    _add_config(migrate)

    sim = sub.add_parser("sim", help="serve the local Graph API simulator (sandbox mode)")
    _add_config(sim)
    add_sim_arguments(sim)

    ctl = sub.add_parser("ctl", help="talk to the running daemon (status, chips, test sends)")
    _add_config(ctl)
    add_ctl_arguments(ctl)

    templates = sub.add_parser("templates", help="check message templates before submission")
    tsub = templates.add_subparsers(dest="templates_command", required=True, metavar="ACTION")
    lint = tsub.add_parser(
        "lint", help="check a template definition (JSON or TOML) against Meta's review rules"
    )
    lint.add_argument("files", nargs="+", metavar="FILE")
    lint.add_argument("--json", action="store_true", help="print the findings as JSON")
    report = tsub.add_parser(
        "report", help="per template: sent, delivered, read, replied, failed, cost (from the store)"
    )
    _add_config(report)
    report.add_argument("--days", type=int, default=7, help="look back this many days (7)")
    report.add_argument("--json", action="store_true", help="print one JSON list")

    campaign = sub.add_parser(
        "campaign", help="plan a campaign file; start, pause, resume, cancel, status, list"
    )
    _add_config(campaign)
    add_campaign_arguments(campaign)

    add_catalog_arguments(sub.add_parser("catalog", help="push listings to a Meta catalog"))
    tui = sub.add_parser("tui", help="the operator console (attaches to the running daemon)")
    _add_config(tui)
    tui.add_argument("--socket", metavar="PATH", help="control socket (default: runtime dir)")

    webhooks = sub.add_parser("webhooks", help="inspect the webhook inbox")
    wsub = webhooks.add_subparsers(dest="webhooks_command", required=True, metavar="ACTION")
    stats = wsub.add_parser(
        "stats", help="counts of received, duplicate, parsed, unparsed and rejected webhooks"
    )
    _add_config(stats)
    stats.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def _load(path: str) -> MetadConfig:
    return load_config(Path(path))


def _cmd_check(args: argparse.Namespace) -> int:
    cfg = _load(args.config)
    print(f"{args.config}: ok ({len(cfg.wabas)} WABAs, {len(cfg.chips)} chips)")
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    from daemon.logs import configure_logging
    from daemon.main import run_daemon

    cfg = _load(args.config)
    configure_logging(
        args.log_level or cfg.daemon.log_level, args.log_format or cfg.daemon.log_format
    )
    trio.run(run_daemon, cfg)
    return EXIT_OK


def _with_store(
    cfg: MetadConfig, query: Callable[[Store], Awaitable[T]], *, run_migrations: bool = True
) -> T:
    """Run one query on the configured store, beside a daemon that may be running: an
    embedded server it already runs is used and left running."""
    from daemon.store import open_store

    async def run() -> T:
        async with open_store(
            cfg.storage,
            state_dir=cfg.daemon.state_dir,
            run_migrations=run_migrations,
            keep_adopted_server=True,
        ) as store:
            return await query(store)

    return trio.run(run)


def _cmd_migrate(args: argparse.Namespace) -> int:
    from daemon.logs import configure_logging
    from daemon.store import migrate as apply_migrations

    cfg = _load(args.config)
    configure_logging(cfg.daemon.log_level, cfg.daemon.log_format)
    applied = _with_store(cfg, apply_migrations, run_migrations=False)
    print(f"applied migrations: {', '.join(map(str, applied))}" if applied else "schema up to date")
    return EXIT_OK


def _cmd_webhooks(args: argparse.Namespace) -> int:
    import dataclasses
    import json

    async def read(store: Store) -> dict[str, int]:
        return dataclasses.asdict(await store.inbox.stats())

    counts = _with_store(_load(args.config), read)
    if args.json:
        print(json.dumps(counts))
    else:
        width = max(map(len, counts))
        for name, value in counts.items():
            print(f"{name:<{width}}  {value:>10,}")
    return EXIT_OK


def _cmd_sim(args: argparse.Namespace) -> int:
    from sim.cli import run as run_sim

    code: int = run_sim(args)
    return code


def _cmd_ctl(args: argparse.Namespace) -> int:
    from daemon.ctl import run as run_ctl

    return run_ctl(args, _load(args.config).daemon.runtime_dir)


def _cmd_templates(args: argparse.Namespace) -> int:
    if args.templates_command == "report":
        return _templates_report(args)
    return _templates_lint(args)


def _templates_report(args: argparse.Namespace) -> int:
    import datetime as dt
    import json

    from daemon.store.analytics import template_report

    async def read(store: Store) -> list[dict[str, object]]:
        return await template_report(store, days=args.days, now=dt.datetime.now(dt.UTC))

    rows = _with_store(_load(args.config), read)
    if args.json:
        print(json.dumps(rows))
        return EXIT_OK
    head = f"{'TEMPLATE':<28}{'LANG':<7}{'SENT':>7}{'DELIV':>7}{'READ':>7}{'REPLY':>7}"
    print(head + f"{'FAIL':>6}{'READ%':>7}{'COST $':>10}  FAIL CODES")
    for r in rows:
        print(
            f"{r['name']!s:<28}{r['language']!s:<7}{r['sent']:>7}{r['delivered']:>7}"
            f"{r['read']:>7}{r['replied']:>7}{r['failed']:>6}{r['read_rate']:>7.0%}"
            f"{r['cost_usd']:>10.4f}  {','.join(map(str, r['fail_codes']))}"  # type: ignore[call-overload]
        )
    return EXIT_OK


def _templates_lint(args: argparse.Namespace) -> int:
    """Exit 0 when no file has errors (warnings are printed), 1 when one has."""
    import dataclasses
    import json

    from actors.templates.lint import format_findings, has_errors, lint_file

    failed = False
    report: dict[str, list[dict[str, str]]] = {}
    for name in args.files:
        findings = lint_file(name)
        failed |= has_errors(findings)
        report[name] = [dataclasses.asdict(f) for f in findings]
        if not args.json:
            text = format_findings(findings)
            print(f"{name}: " + ("ok" if not findings else f"{len(findings)} finding(s)"))
            if text:
                print("\n".join(f"  {line}" for line in text.splitlines()))
    if args.json:
        print(json.dumps(report))
    return EXIT_RUNTIME if failed else EXIT_OK


def _cmd_campaign(args: argparse.Namespace) -> int:
    from daemon.campaigns.cli import run as run_campaign

    return run_campaign(args, _load(args.config))


def _cmd_tui(args: argparse.Namespace) -> int:
    from tui import main as run_tui

    path = args.socket or str(_load(args.config).daemon.runtime_dir / "metad.sock")
    code: int = run_tui(path)
    return code


_COMMANDS = {
    "run": _cmd_run,
    "check": _cmd_check,
    "migrate": _cmd_migrate,
    "webhooks": _cmd_webhooks,
    "sim": _cmd_sim,
    "templates": _cmd_templates,
    "ctl": _cmd_ctl,
    "tui": _cmd_tui,
    "catalog": run_catalog,
    "campaign": _cmd_campaign,
}


def _explain_runtime(exc: BaseException) -> str | None:
    """One line for failures we expect in operation; None for bugs (show the traceback)."""
    from daemon.statelock import StateDirBusy
    from daemon.store import StoreError
    from daemon.supervisor import TooManyRestarts

    if isinstance(exc, StoreError | TooManyRestarts | StateDirBusy):
        return str(exc)
    if isinstance(exc, OSError) and exc.errno is not None:
        return f"{exc.strerror}: {exc.filename or exc}" if exc.filename else str(exc)
    return None


def _leaf_errors(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaf_errors(inner)]
    return [exc]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except KeyboardInterrupt:
        return EXIT_OK
    except Exception as exc:
        leaves = _leaf_errors(exc)
        config_errors = [e for e in leaves if isinstance(e, ConfigError)]
        if config_errors:
            for e in config_errors:
                print(str(e), file=sys.stderr)
            return EXIT_CONFIG
        lines = [_explain_runtime(e) for e in leaves]
        if all(line is not None for line in lines):
            for line in lines:
                print(f"metad: {line}", file=sys.stderr)
            return EXIT_RUNTIME
        raise


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

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
from daemon.flows.cli import add_arguments as add_flows_arguments, run as run_flows
from daemon.templates_cli import add_arguments as add_templates_arguments
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

    templates = sub.add_parser(
        "templates", help="lint, create, edit, delete and list templates; report their results"
    )
    add_templates_arguments(templates, _add_config)

    campaign = sub.add_parser(
        "campaign", help="plan a campaign file; start, pause, resume, cancel, status, list"
    )
    _add_config(campaign)
    add_campaign_arguments(campaign)

    add_catalog_arguments(sub.add_parser("catalog", help="push listings to a Meta catalog"))
    add_flows_arguments(sub.add_parser("flows", help="manage WhatsApp Flows and their key pair"))
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
    from daemon.templates_cli import run as run_templates

    return run_templates(args, load=_load, with_store=_with_store)


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
    "flows": run_flows,
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

"""``metad``: the command line.

Why exit codes matter here: systemd and scripts act on them. 0 is a clean run or a valid
config; 2 is bad configuration (fix the file, restarting will not help); 1 is a runtime
failure (storage down, port taken, crash loop) that a restart may cure. Expected failures
print one line naming the cause, never a traceback.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

if TYPE_CHECKING:
    from config import MetadConfig
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


AddArguments = Callable[[argparse.ArgumentParser], None]


if TYPE_CHECKING:
    _SubParsersAction = argparse._SubParsersAction[argparse.ArgumentParser]
else:  # not subscriptable at run time
    _SubParsersAction = argparse._SubParsersAction


class _Subcommands(_SubParsersAction):
    """``metad``'s subcommands, whose own arguments are added once one is chosen.

    Why: a subcommand's arguments are defined in its module (``sim.cli``,
    ``daemon.ctl``, ``daemon.campaigns.cli``…), and importing one loads its package
    (``sim`` loads the whole simulator with quart and hypercorn). Adding them up front
    would make every ``metad`` command, ``metad campaign start`` included, wait for the
    imports of all the others. ``metad --help`` lists the commands from their one-line
    help alone; ``metad COMMAND --help`` shows the same text as before, since the chosen
    command's parser is completed before it parses anything.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deferred: dict[str, AddArguments] = {}

    def defer(self, name: str, add_arguments: AddArguments) -> None:
        """Add ``name``'s remaining arguments with ``add_arguments`` when it is chosen."""
        self._deferred[name] = add_arguments

    def complete(self, name: str) -> argparse.ArgumentParser:
        """``name``'s parser with all of its arguments."""
        add_arguments = self._deferred.pop(name, None)
        if add_arguments is not None:
            add_arguments(self._name_parser_map[name])
            _options_after_action(self._name_parser_map[name])
        return self._name_parser_map[name]

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        if isinstance(values, list) and values and values[0] in self._name_parser_map:
            self.complete(values[0])
        super().__call__(parser, namespace, values, option_string)


def _options_after_action(command: argparse.ArgumentParser) -> None:
    """Let a command's own options (``-c``, ``--socket``, ``--json``) follow its action too.

    Why: ``metad campaign status NAME --json`` and ``metad ctl status -c FILE`` are what
    people type, and what ``metad templates list`` and ``metad webhooks stats`` take; but
    argparse takes an option only before the action when the command defines it. Each
    action gets a copy of every option it lacks, defaulting to SUPPRESS, so a value given
    before the action is not overwritten by the copy's default.
    """
    actions = [a for a in command._actions if isinstance(a, argparse._SubParsersAction)]
    options = [
        a for a in command._actions if a.option_strings and not isinstance(a, argparse._HelpAction)
    ]
    for action in actions:
        for child in action.choices.values():
            have = {s for a in child._actions for s in a.option_strings}
            for option in options:
                if have.isdisjoint(option.option_strings):
                    copied = copy.copy(option)
                    copied.default = argparse.SUPPRESS
                    child._add_action(copied)
                    have.update(option.option_strings)


# Each command's own arguments, imported only when that command runs (see _Subcommands).


def _sim_arguments(p: argparse.ArgumentParser) -> None:
    from sim.cli import add_arguments

    add_arguments(p)


def _ctl_arguments(p: argparse.ArgumentParser) -> None:
    from daemon.ctl import add_arguments

    add_arguments(p)


def _templates_arguments(p: argparse.ArgumentParser) -> None:
    from daemon.templates_cli import add_arguments

    add_arguments(p, _add_config)


def _campaign_arguments(p: argparse.ArgumentParser) -> None:
    from daemon.campaigns.cli import add_arguments

    add_arguments(p)


def _catalog_arguments(p: argparse.ArgumentParser) -> None:
    from daemon.catalog.cli import add_arguments

    add_arguments(p)


def _flows_arguments(p: argparse.ArgumentParser) -> None:
    from daemon.flows.cli import add_arguments

    add_arguments(p)


def build_parser() -> argparse.ArgumentParser:
    """``metad``'s parser; a subcommand's own arguments are added when it is chosen."""
    parser = argparse.ArgumentParser(
        prog="metad",
        description="Run a fleet of WhatsApp Business numbers on Meta's Cloud API.",
    )
    sub = cast(
        _Subcommands,
        parser.add_subparsers(
            dest="command", required=True, metavar="COMMAND", action=_Subcommands
        ),
    )

    run = sub.add_parser("run", help="run the daemon in the foreground (systemd runs this)")
    _add_config(run)
    run.add_argument("--log-format", choices=["text", "json"], help="override daemon.log_format")
    run.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help="override daemon.log_level",
    )

    check = sub.add_parser(
        "check",
        help="validate the configuration and read its secrets; exit 0 if valid, 2 if not",
    )
    _add_config(check)
    check.add_argument(
        "--credentials",
        metavar="DIR",
        help="read credential:NAME secrets from DIR/NAME (by hand: the directory the unit's"
        " LoadCredential= lines name); default: $CREDENTIALS_DIRECTORY, as in the unit",
    )
    check.add_argument(
        "--no-secrets",
        action="store_true",
        help="check the file alone, without reading the secrets it refers to",
    )

    migrate = sub.add_parser("migrate", help="apply pending database migrations and exit")
    _add_config(migrate)

    sim = sub.add_parser("sim", help="serve the local Graph API simulator (sandbox mode)")
    _add_config(sim)
    sub.defer("sim", _sim_arguments)

    ctl = sub.add_parser("ctl", help="talk to the running daemon (status, chips, test sends)")
    _add_config(ctl)
    sub.defer("ctl", _ctl_arguments)

    sub.add_parser(
        "templates", help="lint, create, edit, delete and list templates; report their results"
    )
    sub.defer("templates", _templates_arguments)

    campaign = sub.add_parser(
        "campaign", help="plan a campaign file; start, pause, resume, cancel, status, list"
    )
    _add_config(campaign)
    sub.defer("campaign", _campaign_arguments)

    sub.add_parser("catalog", help="push listings to a Meta catalog")
    sub.defer("catalog", _catalog_arguments)
    sub.add_parser("flows", help="manage WhatsApp Flows and their key pair")
    sub.defer("flows", _flows_arguments)
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
    from config import load_config

    return load_config(Path(path))


def _cmd_check(args: argparse.Namespace) -> int:
    """What ``metad run`` would refuse at its start, without starting: the file, and every
    secret it refers to read as the daemon reads it (a missing token outside sandbox mode,
    an unset variable, an unreadable credential). The unit runs it as ExecStartPre=, where
    the credentials are loaded, so a bad secret stops the start with exit 2, not a loop."""
    cfg = _load(args.config)
    checked = "secrets not read"
    if not args.no_secrets:
        from config import resolve_secrets

        environ = dict(os.environ)
        if args.credentials:
            environ["CREDENTIALS_DIRECTORY"] = str(Path(args.credentials).absolute())
        resolve_secrets(cfg, environ=environ)
        checked = "secrets read"
    print(f"{args.config}: ok ({len(cfg.wabas)} WABAs, {len(cfg.chips)} chips, {checked})")
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    import trio

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
    import trio

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
    """Reaches the daemon whatever state the config file is in (see :mod:`daemon.ctl`)."""
    from daemon.ctl import run as run_ctl

    return run_ctl(args)


def _cmd_templates(args: argparse.Namespace) -> int:
    from daemon.templates_cli import run as run_templates

    return run_templates(args, load=_load, with_store=_with_store)


def _cmd_campaign(args: argparse.Namespace) -> int:
    from daemon.campaigns.cli import run as run_campaign

    return run_campaign(args, _load, with_store=_with_store)


def _cmd_catalog(args: argparse.Namespace) -> int:
    from daemon.catalog.cli import run as run_catalog

    return run_catalog(args)


def _cmd_flows(args: argparse.Namespace) -> int:
    from daemon.flows.cli import run as run_flows

    return run_flows(args)


def _cmd_tui(args: argparse.Namespace) -> int:
    from daemon.ctl import control_socket
    from tui import main as run_tui

    # As ``ctl``: the console shows a running daemon even while its config file is broken.
    code: int = run_tui(str(control_socket(args.config, args.socket).path))
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
    "catalog": _cmd_catalog,
    "flows": _cmd_flows,
    "campaign": _cmd_campaign,
}


def _explain_runtime(exc: BaseException) -> str | None:
    """One line for failures we expect in operation; None for bugs (show the traceback).

    A port another program holds (``PortInUse``, from any listener: it reaches here
    inside the nurseries' exception groups) is an operating condition, not a bug."""
    from daemon.statelock import StateDirBusy
    from daemon.store import StoreError
    from daemon.supervisor import TooManyRestarts
    from daemon.webhook.server import PortInUse

    if isinstance(exc, StoreError | TooManyRestarts | StateDirBusy | PortInUse):
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
        from config import ConfigError

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

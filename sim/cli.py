"""``metad sim``: serve the simulator, or print how to point a client at it.

Why these exit codes: like the rest of ``metad``, 2 means the configuration is wrong
(restarting will not help), 1 a runtime failure such as the port being taken, 0 a clean
stop on SIGINT/SIGTERM. Expected failures print one line, never a traceback.

The lead's parser adds ``-c/--config``; :func:`add_arguments` adds the rest. It needs
only argparse: the simulator, the config and pydantic are imported by :func:`run`, so
that building ``metad``'s parser does not load them.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from config import MetadConfig
    from sim.knobs import SimKnobs

__all__ = ["add_arguments", "load", "print_env", "run"]

EXIT_OK, EXIT_RUNTIME, EXIT_CONFIG = 0, 1, 2
SAMPLE_TEMPLATE = "hello_world:en_US"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--listen", metavar="HOST:PORT", help="address to serve on (default: sandbox.listen)"
    )
    parser.add_argument(
        "--webhook-url",
        metavar="URL",
        help="where to POST webhooks (default: the [webhook] listen address and path; "
        "'none' sends none)",
    )
    parser.add_argument("--seed", type=int, help="random seed (default: sandbox.seed)")
    parser.add_argument(
        "--knob",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a simulator knob (repeatable), e.g. --knob error_5xx_rate=0.01",
    )
    parser.add_argument(
        "--print-env",
        action="store_true",
        help="print METAD_SIM_* variables for the first sandbox number and exit",
    )


def load(path: str | Path) -> MetadConfig:
    """The config, checked by ``config.load_config`` (errors name the file and line)."""
    from config import load_config

    return load_config(Path(path))


def print_env(cfg: MetadConfig, listen: str) -> None:
    from config.secrets import SANDBOX_APP_SECRET, sandbox_token
    from sim.world import FIRST_CONTACT

    chip = cfg.chips[0]
    print(f"METAD_SIM_URL=http://{listen}")
    print(f"METAD_SIM_TOKEN={sandbox_token(chip.waba)}")
    print(f"METAD_SIM_PHONE_NUMBER_ID={chip.phone_number_id}")
    print(f"METAD_SIM_WABA_ID={chip.waba}")
    print(f"METAD_SIM_APP_SECRET={SANDBOX_APP_SECRET}")
    print(f"METAD_SIM_CONTACT={FIRST_CONTACT}")
    print(f"METAD_SIM_TEMPLATE={SAMPLE_TEMPLATE}")


def _config_error(exc: BaseException) -> str | None:
    from pydantic import ValidationError

    from config import ConfigError

    if isinstance(exc, ConfigError | ValidationError | ValueError):
        return str(exc)
    return None


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM; see the module docstring for the exit codes."""
    from sim.knobs import SimKnobs, parse_knob_args
    from sim.server import DEFAULT_WEBHOOK

    try:
        cfg = load(args.config)
        knobs = SimKnobs().patched(parse_knob_args(getattr(args, "knob", []) or []))
    except Exception as exc:
        message = _config_error(exc)
        if message is None:
            raise
        print(message, file=sys.stderr)
        return EXIT_CONFIG
    listen = args.listen or cfg.sandbox.listen
    if args.print_env:
        if not cfg.chips:
            print(f"{args.config}: no phone numbers ([[chips]]) to print", file=sys.stderr)
            return EXIT_CONFIG
        print_env(cfg, listen)
        return EXIT_OK
    webhook: Any = DEFAULT_WEBHOOK
    if args.webhook_url is not None:
        webhook = None if args.webhook_url.lower() in ("", "none") else args.webhook_url
    import trio

    try:
        trio.run(_serve, cfg, listen, webhook, args.seed, knobs)
    except KeyboardInterrupt:
        return EXIT_OK
    except BaseException as exc:
        bind_error = _find_bind_error(exc)
        if bind_error is None:
            raise
        print(f"metad sim: {bind_error}", file=sys.stderr)
        return EXIT_RUNTIME
    return EXIT_OK


def _find_bind_error(exc: BaseException) -> Exception | None:
    """The listener's failure (address in use, not this host's, ...), already one line."""
    from daemon.webhook.server import PortInUse

    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _find_bind_error(inner)
            if found is not None:
                return found
        return None
    return exc if isinstance(exc, PortInUse) else None


async def _serve(
    cfg: MetadConfig, listen: str, webhook: Any, seed: int | None, knobs: SimKnobs
) -> None:
    # The world is built once and then only grows (messages): keep the start-up objects
    # out of every collection, and collect the young generation less often, so that a
    # burst of sends does not stall on the garbage collector (p99 latency).
    import functools

    import trio

    from daemon import gctune
    from sim.server import serve_sim

    gctune.settle()
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:

            async def watch() -> None:
                async for _ in signals:
                    stop.set()
                    return

            nursery.start_soon(watch)
            serve = functools.partial(
                serve_sim,
                cfg,
                listen=listen,
                webhook_url=webhook,
                seed=seed,
                knobs=knobs,
                shutdown_trigger=stop.wait,
            )
            url = await nursery.start(serve)
            print(f"SIM READY url={url}", flush=True)
            await stop.wait()
        nursery.cancel_scope.cancel()

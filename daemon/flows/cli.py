"""``metad flows``: manage WhatsApp Flows at Meta and the endpoint's key pair.

Actions::

    list [--waba ID] [--json]             the flows of every configured WABA
    create FILE [--name N] [--waba ID] [--category C]… [--endpoint-uri URL] [--allow-duplicate]
    update NAME FILE                      new JSON for a draft
    publish NAME | deprecate NAME | delete NAME
    validate FILE…  [--json]              check definitions locally (no Meta call)
    keygen [--force] [--no-upload] [--chip ID]…
    public-key [--upload] [--chip ID]…    print (and register) the endpoint's public key

Why the key commands live here: the public key must be registered on every number that
sends flows (``whatsapp_business_encryption``), and the private key must never be
printed — ``public-key`` derives the public half from it, so what it prints is always
what the endpoint decrypts with. Definitions are validated before any upload; a flow
with errors never reaches Meta.

Exit codes as ``metad``'s: 0 done, 1 refused or failed (invalid JSON, Meta said no),
2 bad configuration or a ``--chip``/``--waba`` that is not configured (checked before
anything is written or sent). Expected failures print one line (or one per finding).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, get_args

from config.model import FlowCategory

if TYPE_CHECKING:
    from config import MetadConfig, ResolvedSecrets
    from daemon.flows.settings import FlowSettings
    from daemon.graph import GraphClient

__all__ = ["add_arguments", "run"]

T = TypeVar("T")

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
_CATEGORIES = get_args(FlowCategory)


def _config(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-c",
        "--config",
        default=os.environ.get("METAD_CONFIG", "metad.toml"),
        metavar="FILE",
        help="configuration file (default: $METAD_CONFIG or ./metad.toml)",
    )


def _waba(p: argparse.ArgumentParser) -> None:
    p.add_argument("--waba", metavar="ID", help="the WABA (default: the flow's, else the first)")


def _chips(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--chip",
        action="append",
        metavar="ID",
        help="register on this phone_number_id only (repeatable; default: every chip)",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``flows`` actions and their options, on ``metad flows``'s parser."""
    sub = parser.add_subparsers(dest="flows_command", required=True, metavar="ACTION")
    ls = sub.add_parser("list", help="list the flows at Meta")
    _config(ls)
    _waba(ls)
    ls.add_argument("--json", action="store_true", help="print one JSON list")

    create = sub.add_parser("create", help="validate FILE, create a draft flow and upload it")
    _config(create)
    create.add_argument("file", metavar="FILE", type=Path)
    create.add_argument("--name", help="the flow's name (default: the file name)")
    _waba(create)
    create.add_argument("--category", action="append", choices=_CATEGORIES)
    create.add_argument("--endpoint-uri", metavar="URL", help="override the endpoint URL")
    create.add_argument(
        "--allow-duplicate",
        action="store_true",
        help="create it even if a flow of that name (not deprecated) exists",
    )

    update = sub.add_parser("update", help="validate FILE and upload it to the draft NAME")
    _config(update)
    update.add_argument("name", metavar="NAME")
    update.add_argument("file", metavar="FILE", type=Path)
    _waba(update)

    for action, text in (
        ("publish", "publish the draft NAME (it can no longer change)"),
        ("deprecate", "deprecate the published NAME (no new sends)"),
        ("delete", "delete the draft NAME"),
    ):
        p = sub.add_parser(action, help=text)
        _config(p)
        p.add_argument("name", metavar="NAME")
        _waba(p)

    check = sub.add_parser("validate", help="check flow definitions locally")
    check.add_argument("files", nargs="+", metavar="FILE", type=Path)
    check.add_argument("--json", action="store_true", help="print the findings as JSON")

    keygen = sub.add_parser("keygen", help="make the endpoint's key pair and register it")
    _config(keygen)
    keygen.add_argument("--force", action="store_true", help="replace an existing key")
    keygen.add_argument("--no-upload", action="store_true", help="do not register it at Meta")
    _chips(keygen)

    public = sub.add_parser("public-key", help="print the endpoint's public key (PEM)")
    _config(public)
    public.add_argument("--upload", action="store_true", help="(re-)register it at Meta")
    _chips(public)


def run(args: argparse.Namespace) -> int:
    """Do ``args.flows_command``; returns the exit code."""
    from daemon.flows.keys import KeyFileError
    from daemon.flows.ops import FlowsError
    from daemon.graph import GraphError

    if args.flows_command == "validate":
        return _validate(args.files, as_json=args.json)
    try:
        return _COMMANDS[args.flows_command](args)
    except (FlowsError, GraphError) as exc:
        print(f"metad: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except (KeyFileError, _Unknown) as exc:
        print(f"metad: {exc}", file=sys.stderr)
        return EXIT_CONFIG


class _Unknown(Exception):
    """A ``--chip`` or ``--waba`` the config does not have (exit 2, nothing done)."""


# --- plumbing ----------------------------------------------------------------------------


def _setup(args: argparse.Namespace) -> tuple[MetadConfig, ResolvedSecrets, FlowSettings]:
    """The config, its secrets and ``[flows]``, once ``--chip``/``--waba`` are known to
    be configured: an unknown one used to surface only at Meta ("no access token"),
    after ``keygen`` had already replaced the key."""
    from config import load_config, resolve_secrets
    from daemon.flows.settings import flow_settings

    cfg = load_config(Path(args.config))
    _check_known("chip", getattr(args, "chip", None) or [], [c.phone_number_id for c in cfg.chips])
    waba = getattr(args, "waba", None)
    _check_known("WABA", [waba] if waba else [], [w.id for w in cfg.wabas])
    return cfg, resolve_secrets(cfg), flow_settings(cfg)


def _check_known(what: str, chosen: list[str], known: list[str]) -> None:
    """_Unknown for the first of ``chosen`` not in ``known`` (worded as ``metad
    templates`` words an unknown WABA)."""
    for value in chosen:
        if value not in known:
            raise _Unknown(f"unknown {what} {value} (configured: {', '.join(known)})")


def _with_client(
    cfg: MetadConfig, secrets: ResolvedSecrets, work: Callable[[GraphClient], Awaitable[T]]
) -> T:
    """Run ``work`` with a Graph client (the simulator's, when this config serves it)."""
    import trio

    from daemon.graph import GraphClient

    if cfg.sandbox.enabled and cfg.sandbox.serve:
        graph = cfg.graph.model_copy(update={"base_url": f"http://{cfg.sandbox.listen}"})
        cfg = cfg.model_copy(update={"graph": graph})

    async def go() -> T:
        async with GraphClient.from_config(cfg, secrets) as client:
            return await work(client)

    return trio.run(go)


def _print_meta_errors(flow_id: str, errors: list[Any]) -> int:
    if not errors:
        print(f"{flow_id}: uploaded, Meta found no error")
        return EXIT_OK
    print(f"{flow_id}: uploaded, Meta found {len(errors)} error(s):")
    for e in errors:
        print(f"  error: {e.error}: {e.message}")
    return EXIT_FAILED


# --- actions -----------------------------------------------------------------------------


def _validate(files: list[Path], *, as_json: bool) -> int:
    from daemon.flows.validate import has_errors, validate_file

    failed = False
    report: dict[str, list[dict[str, str]]] = {}
    for path in files:
        _, findings = validate_file(path)
        failed |= has_errors(findings)
        report[str(path)] = [
            {"severity": f.severity, "field": f.field, "message": f.message} for f in findings
        ]
        if not as_json:
            print(f"{path}: " + ("ok" if not findings else f"{len(findings)} finding(s)"))
            for f in sorted(findings, key=lambda f: f.severity != "error"):
                print(f"  {f}")
    if as_json:
        print(json.dumps(report))
    return EXIT_FAILED if failed else EXIT_OK


def _list(args: argparse.Namespace) -> int:
    cfg, secrets, _ = _setup(args)
    wabas = [args.waba] if args.waba else [w.id for w in cfg.wabas]

    async def work(client: GraphClient) -> list[dict[str, Any]]:
        rows = []
        for waba in wabas:
            for f in await client.list_flows(waba):
                rows.append({"waba": waba, **f.model_dump(mode="json")})
        return rows

    rows = _with_client(cfg, secrets, work)
    if args.json:
        print(json.dumps(rows))
        return EXIT_OK
    print(f"{'ID':<17}{'NAME':<24}{'STATUS':<12}{'WABA':<17}{'ERRORS':>6}  CATEGORIES")
    for r in rows:
        print(
            f"{r['id']:<17}{(r['name'] or ''):<24}{(r['status'] or ''):<12}{r['waba']:<17}"
            f"{len(r['validation_errors']):>6}  {','.join(r['categories'])}"
        )
    return EXIT_OK


def _warn_unserved(name: str) -> None:
    print(
        f"metad: warning: {name} exchanges data with an endpoint, but no [[flows.flow]] "
        f'named "{name}" has a handler: its requests will get 404 "no such flow" until '
        "one is configured",
        file=sys.stderr,
    )


def _create(args: argparse.Namespace) -> int:
    from daemon.flows.ops import create_flow, load_definition, unserved

    cfg, secrets, settings = _setup(args)
    definition = load_definition(args.file)
    name = args.name or args.file.stem
    uploaded = _with_client(
        cfg,
        secrets,
        lambda client: create_flow(
            client,
            cfg,
            settings,
            definition,
            name=name,
            waba=args.waba,
            categories=args.category,
            endpoint=args.endpoint_uri,
            allow_duplicate=args.allow_duplicate,
        ),
    )
    print(f"created {name} as draft {uploaded.flow_id}")
    if args.endpoint_uri is None and unserved(settings, definition, name):
        _warn_unserved(name)
    return _print_meta_errors(uploaded.flow_id, uploaded.meta_errors)


def _update(args: argparse.Namespace) -> int:
    from daemon.flows.ops import load_definition, update_flow

    cfg, secrets, settings = _setup(args)
    definition = load_definition(args.file)
    uploaded = _with_client(
        cfg, secrets, lambda client: update_flow(client, settings, args.name, definition, args.waba)
    )
    return _print_meta_errors(uploaded.flow_id, uploaded.meta_errors)


def _lifecycle(args: argparse.Namespace) -> int:
    """publish, deprecate or delete the flow NAME."""
    from daemon.flows.ops import find_flow

    cfg, secrets, settings = _setup(args)
    action = args.flows_command

    async def work(client: GraphClient) -> str:
        flow, waba = await find_flow(client, settings, args.name, args.waba)
        call = {
            "publish": client.publish_flow,
            "deprecate": client.deprecate_flow,
            "delete": client.delete_flow,
        }[action]
        await call(flow.id, waba_id=waba)
        return flow.id

    flow_id = _with_client(cfg, secrets, work)
    done = {"publish": "published", "deprecate": "deprecated", "delete": "deleted"}[action]
    print(f"{args.name} ({flow_id}): {done}")
    return EXIT_OK


def _register(
    args: argparse.Namespace, cfg: MetadConfig, secrets: ResolvedSecrets, pem: str
) -> int:
    from daemon.flows.ops import register_public_key

    chips = list(dict.fromkeys(args.chip)) if args.chip else [c.phone_number_id for c in cfg.chips]
    results = _with_client(cfg, secrets, lambda client: register_public_key(client, pem, chips))
    for pid, error in results.items():
        print(f"{pid}: " + ("registered" if error is None else f"failed: {error}"), file=sys.stderr)
    return EXIT_OK if all(e is None for e in results.values()) else EXIT_FAILED


def _key_exists(path: Path) -> int:
    print(
        f"metad: {path} exists; --force replaces it "
        "(the new public key must then be registered on every number)",
        file=sys.stderr,
    )
    return EXIT_FAILED


def _keygen(args: argparse.Namespace) -> int:
    """Make and store the key pair, then register it. Every check comes first (``_setup``
    refuses an unknown ``--chip``): once the key file is replaced, the running endpoint
    decrypts with the new key, and a chip left with the old public key breaks its flows."""
    from daemon.flows.keys import generate_private_key, public_pem, write_key_pair

    cfg, secrets, settings = _setup(args)
    if settings.private_key.exists() and not args.force:
        return _key_exists(settings.private_key)
    key = generate_private_key()
    try:
        write_key_pair(
            settings.private_key, key, passphrase=secrets.flows_passphrase, replace=args.force
        )
    except FileExistsError:  # made meanwhile (sandbox mode's first use)
        return _key_exists(settings.private_key)
    encrypted = " (encrypted with [flows] passphrase)" if secrets.flows_passphrase else ""
    print(f"private key: {settings.private_key}{encrypted}", file=sys.stderr)
    print(f"public key:  {settings.public_key}", file=sys.stderr)
    if args.no_upload:
        return EXIT_OK
    return _register(args, cfg, secrets, public_pem(key))


def _public_key(args: argparse.Namespace) -> int:
    from daemon.flows.keys import ensure_key_pair, load_private_key, public_pem

    cfg, secrets, settings = _setup(args)
    if cfg.sandbox.enabled:
        key = ensure_key_pair(settings.private_key, secrets.flows_passphrase)
    elif not settings.private_key.exists():
        print(f"metad: no key at {settings.private_key}: run metad flows keygen", file=sys.stderr)
        return EXIT_FAILED
    else:
        key = load_private_key(settings.private_key, secrets.flows_passphrase)
    pem = public_pem(key)
    print(pem, end="")
    return _register(args, cfg, secrets, pem) if args.upload else EXIT_OK


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "list": _list,
    "create": _create,
    "update": _update,
    "publish": _lifecycle,
    "deprecate": _lifecycle,
    "delete": _lifecycle,
    "keygen": _keygen,
    "public-key": _public_key,
}

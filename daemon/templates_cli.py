"""``metad templates``: lint, create, edit, delete and list templates; report results.

Why straight to the Graph API (not through the daemon): managing templates is an
account operation that must work whether or not the daemon runs, against the configured
Graph endpoint (the simulator in sandbox mode). A definition is linted before it is
submitted and refused on lint errors, so review slots are not spent on a template Meta
would reject; Meta's answer (id, status, category, or its error) is printed as is. A
running daemon learns review verdicts from Meta's template webhooks, but not a deletion
or a new category: after a change the command asks it (over the control socket, if it
runs) to sync its templates, and says so in one line.

With ``--json`` stdout is only JSON (lint findings inside the answer), so a script can
parse it; the one-line refusals go to stderr.

Exit codes: 0 done; 1 lint errors, Meta refused or unreachable, or no such template;
2 bad usage or configuration (e.g. ``--waba`` needed with several WABAs), or a
definition whose JSON types the Graph API cannot take (lint flags those first, so this
is a safety net).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from config import MetadConfig
    from daemon.graph import GraphClient
    from daemon.graph.errors import GraphError
    from daemon.graph.resources import TemplateInfo, TemplateSpec
    from daemon.store import Store

__all__ = ["add_arguments", "run"]

T = TypeVar("T")
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
MAX_REPORT_DAYS = 3650
"""``daemon.store.analytics.MAX_REPORT_DAYS`` (a test holds them equal): not imported,
because parsing the command line must not load the store package (a third of a second)."""

Load = Callable[[str], "MetadConfig"]
WithStore = Callable[["MetadConfig", Callable[["Store"], Awaitable[Any]]], Any]

LIST_COLUMNS = (
    ("waba_id", "WABA"),
    ("name", "NAME"),
    ("language", "LANG"),
    ("category", "CATEGORY"),
    ("status", "STATUS"),
    ("quality", "QUALITY"),
    ("id", "ID"),
)


class _Refused(Exception):
    """An expected failure: one line for the operator, exit 1 (or ``code``)."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def add_arguments(
    parser: argparse.ArgumentParser, add_config: Callable[[argparse.ArgumentParser], None]
) -> None:
    sub = parser.add_subparsers(dest="templates_command", required=True, metavar="ACTION")
    lint = sub.add_parser(
        "lint", help="check a template definition (JSON or TOML) against Meta's review rules"
    )
    lint.add_argument("files", nargs="+", metavar="FILE")
    lint.add_argument("--json", action="store_true", help="print the findings as JSON")

    report = sub.add_parser(
        "report",
        help="sent, delivered, read, replied, failed, cost per template, chip or campaign; "
        "the latest recommendations and Marketing Messages API metrics (from the store)",
    )
    add_config(report)
    report.add_argument(
        "--days",
        type=_days,
        default=7,
        help=f"look back this many days, 1..{MAX_REPORT_DAYS} (7)",
    )
    report.add_argument(
        "--by", choices=["template", "chip", "campaign"], default="template", help="grouping"
    )
    report.add_argument("--json", action="store_true", help="print one JSON object")

    def managed(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text)
        add_config(p)
        p.add_argument("--waba", metavar="ID", help="the WABA (default: the only one configured)")
        p.add_argument("--json", action="store_true", help="print Meta's answer as JSON")
        return p

    managed("list", "the templates Meta has for each WABA (or --waba)")
    create = managed("create", "lint a definition file, then submit it to Meta for review")
    create.add_argument("file", metavar="FILE")
    edit = managed("edit", "lint a definition file, then submit it as NAME's new content")
    edit.add_argument("name", metavar="NAME")
    edit.add_argument("file", metavar="FILE")
    edit.add_argument("--language", metavar="L", help="which language of NAME (pt_BR…)")
    delete = managed("delete", "delete NAME (every language, or only --language)")
    delete.add_argument("name", metavar="NAME")
    delete.add_argument("--language", metavar="L", help="delete only this language")


def _days(text: str) -> int:
    """A report period argparse accepts: a negative one would report nothing as if all
    were well, and a huge one overflows the date arithmetic (a traceback)."""
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of days: {text!r}") from None
    if not 1 <= days <= MAX_REPORT_DAYS:
        raise argparse.ArgumentTypeError(f"{days} days; give 1..{MAX_REPORT_DAYS}")
    return days


def run(args: argparse.Namespace, *, load: Load, with_store: WithStore) -> int:
    try:
        match args.templates_command:
            case "lint":
                return _lint(args)
            case "report":
                return _report(args, load(args.config), with_store)
            case _:
                return _manage(args, load(args.config))
    except _Refused as exc:
        for line in str(exc).splitlines():
            print(f"metad templates: {line}", file=sys.stderr)
        return exc.code


# --- lint ------------------------------------------------------------------------------


def _lint(args: argparse.Namespace) -> int:
    """Exit 0 when no file has errors (warnings are printed), 1 when one has."""
    import dataclasses

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
    return EXIT_FAILED if failed else EXIT_OK


# --- create / edit / delete / list -----------------------------------------------------


def _graph_url(cfg: MetadConfig) -> str:
    """The Graph API this command talks to; in sandbox mode with ``serve`` the simulator
    that ``metad run`` serves (as the daemon itself does)."""
    if cfg.sandbox.enabled and cfg.sandbox.serve:
        return f"http://{cfg.sandbox.listen}"
    return cfg.graph.base_url


def _graph(cfg: MetadConfig) -> GraphClient:
    from config import resolve_secrets
    from daemon.graph import GraphClient

    graph = cfg.graph.model_copy(update={"base_url": _graph_url(cfg)})
    cfg = cfg.model_copy(update={"graph": graph})
    return GraphClient.from_config(cfg, resolve_secrets(cfg))


def _graph_failure(exc: GraphError, cfg: MetadConfig) -> str:
    """What went wrong, in the words that lead to the fix.

    Why three cases: "Meta refused" sends the operator to the definition or the
    account, which is right only when Meta answered with an error code. No answer at all
    is the endpoint being unreachable (in sandbox mode, most often the simulator not
    served because ``metad run`` is not running); an answer not shaped like Meta's is a
    proxy or a wrong ``[graph] base_url``."""
    if exc.explicit:
        return f"Meta refused: {exc}"
    url = _graph_url(cfg)
    if exc.http_status is not None:
        return f"unexpected answer from the Graph API at {url}: {exc}"
    line = f"cannot reach the Graph API at {url}: {exc.message}"
    if cfg.sandbox.enabled and cfg.sandbox.serve:
        return line + "\nsandbox mode: `metad run` serves the simulator there; start it first"
    if cfg.sandbox.enabled:
        return line + "\nsandbox mode with serve = false: start the simulator (`metad sim`)"
    return line


def _wabas(cfg: MetadConfig, chosen: str | None, *, one: bool) -> list[str]:
    known = [w.id for w in cfg.wabas]
    if chosen is not None:
        if chosen not in known:
            raise _Refused(f"unknown WABA {chosen} (configured: {', '.join(known)})", EXIT_USAGE)
        return [chosen]
    if one and len(known) != 1:
        raise _Refused(f"{len(known)} WABAs configured: give --waba ID", EXIT_USAGE)
    return known


def _definition(path: str) -> dict[str, Any]:
    from actors.templates.lint import load_definition

    try:
        return load_definition(path)
    except OSError as exc:
        raise _Refused(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise _Refused(f"{path} is not a valid definition: {exc}") from None


def _checked(defn: dict[str, Any], path: str, *, as_json: bool) -> list[dict[str, str]]:
    """Lint; refuse on errors (nothing is sent to Meta). Return the findings.

    Why the two outputs: as text the findings are printed; with ``--json`` stdout must
    stay one JSON document for a script, so they go into the answer the caller prints
    (or, on errors, into ``{"file", "submitted": false, "findings"}``)."""
    import dataclasses

    from actors.templates.lint import format_findings, has_errors, lint

    findings = lint(defn)
    found = [dataclasses.asdict(f) for f in findings]
    if findings and not as_json:
        lines = format_findings(findings).split("\n")
        print(f"{path}:\n" + "\n".join(f"  {line}" for line in lines))
    if has_errors(findings):
        if as_json:
            print(json.dumps({"file": path, "submitted": False, "findings": found}))
        raise _Refused(f"{path} has lint errors; not submitted")
    return found


_SPEC_KEYS = ("name", "language", "category", "parameter_format", "components")


def _spec_input(defn: dict[str, Any]) -> dict[str, Any]:
    """The creation body as the Graph API spells it: category and component types in
    capitals, parameter_format in lower case (a definition may write either)."""
    body = {key: defn[key] for key in _SPEC_KEYS if key in defn}
    body["allow_category_change"] = defn.get("allow_category_change")
    if isinstance(body.get("category"), str):
        body["category"] = body["category"].upper()
    fmt = defn.get("parameter_format", "positional")
    body["parameter_format"] = fmt.lower() if isinstance(fmt, str) else fmt
    if isinstance(body.get("components"), list):
        body["components"] = [_upper_type(c) for c in body["components"]]
    return body


def _upper_type(component: object) -> object:
    if isinstance(component, dict) and isinstance(component.get("type"), str):
        return {**component, "type": component["type"].upper()}
    return component


def _spec(defn: dict[str, Any], path: str) -> TemplateSpec:
    """The creation body, or one line per problem naming the file and field (exit 2).

    Why both this and lint: lint checks the same JSON types (they agree, a test keeps
    them so), so this refuses only a definition lint would have let through; then the
    operator still gets ``e.json: components[0].format: must be a string``, never
    pydantic's text or a traceback."""
    from pydantic import ValidationError

    from daemon.graph.resources import TemplateSpec

    try:
        return TemplateSpec.model_validate(_spec_input(defn))
    except ValidationError as exc:
        problems = [f"{path}: {_field(e['loc'])}: {_problem(e)}" for e in exc.errors()]
        raise _Refused("\n".join(problems), EXIT_USAGE) from None


def _field(loc: tuple[int | str, ...]) -> str:
    """``("components", 0, "format")`` → ``components[0].format`` (lint's field paths)."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "definition"


_PROBLEMS: dict[str, str] = {
    "missing": "is required",
    "string_type": "must be a string",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "list_type": "must be a list",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "too_short": "must not be empty",
}


def _problem(error: Mapping[str, Any]) -> str:
    """One problem in lint's words; pydantic's own message when there is no match."""
    kind = str(error.get("type", ""))
    if kind == "literal_error":
        return f"must be {error.get('ctx', {}).get('expected', 'one of the allowed values')}"
    if kind in _PROBLEMS:
        return _PROBLEMS[kind]
    message = str(error.get("msg", "invalid"))  # "String should have at least 2 characters"
    return message[:1].lower() + message[1:]


def _manage(args: argparse.Namespace, cfg: MetadConfig) -> int:
    import trio

    from daemon.graph.errors import GraphError

    try:
        return trio.run(_managed, args, cfg)
    except GraphError as exc:
        raise _Refused(_graph_failure(exc, cfg)) from None
    except LookupError as exc:  # no token for that WABA
        raise _Refused(str(exc), EXIT_USAGE) from None


async def _managed(args: argparse.Namespace, cfg: MetadConfig) -> int:
    """Run the action against Meta; after a change, have a running daemon sync."""
    async with _graph(cfg) as graph:
        match args.templates_command:
            case "list":
                return await _list(graph, args, cfg)
            case "create":
                code = await _create(graph, args, cfg)
            case "edit":
                code = await _edit(graph, args, cfg)
            case "delete":
                code = await _delete(graph, args, cfg)
            case _:
                raise AssertionError(args.templates_command)
    _say(await _sync_daemon(cfg), as_json=args.json)
    return code


SYNC_TIMEOUT_S = 30.0
"""How long a change waits for the daemon's sync before saying it did not answer."""


async def _sync_daemon(cfg: MetadConfig) -> tuple[str, bool] | None:
    """Ask a running daemon to sync its templates from Meta now, as ``metad ctl templates
    sync`` does (the control call ``templates.sync``).

    Why: the daemon's list says which templates a chip may send and under which category;
    it learns a review verdict from Meta's webhooks, but not a deletion or an edit's new
    category, so until a sync it would keep sending to a deleted template (Meta answers
    132001). None when no daemon listens (it syncs when it starts); else the line to
    print and whether the sync worked. Never raises: the change at Meta is done, and a
    daemon that cannot be reached must not turn it into a failure."""
    import trio

    from daemon.control.client import ControlError, NotRunning, connect
    from daemon.control.protocol import LineTooLong, ProtocolError

    retry = "`metad ctl templates sync` updates it"
    try:
        with trio.fail_after(SYNC_TIMEOUT_S):
            async with connect(cfg.daemon.runtime_dir / "metad.sock") as client:
                counts = await client.call("templates.sync")
    except NotRunning:
        return None
    except trio.TooSlowError:
        return f"the running daemon did not sync in {SYNC_TIMEOUT_S:.0f} s; {retry}", False
    except (ControlError, OSError, trio.BrokenResourceError, ProtocolError, LineTooLong) as exc:
        return f"the running daemon could not sync its templates ({exc}); {retry}", False
    return "the running daemon synced its templates from Meta" + _counts(counts), True


def _counts(counts: object) -> str:
    """``{waba: n}`` from ``templates.sync`` as `` (WABA 1…: 12 templates)``."""
    if not isinstance(counts, dict) or not counts:
        return ""
    return " (" + ", ".join(f"WABA {w}: {n} templates" for w, n in counts.items()) + ")"


def _say(synced: tuple[str, bool] | None, *, as_json: bool) -> None:
    """The sync's line: stdout as text, stderr when it failed or stdout is JSON."""
    if synced is None:
        return
    line, ok = synced
    if ok and not as_json:
        print(line)
    else:
        print(f"metad templates: {line}", file=sys.stderr)


def _info(t: TemplateInfo, waba_id: str) -> dict[str, Any]:
    return {
        "waba_id": waba_id,
        "id": t.id,
        "name": t.name,
        "language": t.language,
        "category": t.category,
        "status": t.status,
        "quality": t.quality_score.score if t.quality_score else "",
        "rejected_reason": t.rejected_reason or "",
    }


async def _list(graph: GraphClient, args: argparse.Namespace, cfg: MetadConfig) -> int:
    rows = [
        _info(t, waba)
        for waba in _wabas(cfg, args.waba, one=False)
        async for t in graph.iter_templates(waba)
    ]
    if args.json:
        print(json.dumps(rows))
    else:
        print(_table(rows, LIST_COLUMNS))
    return EXIT_OK


async def _create(graph: GraphClient, args: argparse.Namespace, cfg: MetadConfig) -> int:
    (waba,) = _wabas(cfg, args.waba, one=True)
    defn = _definition(args.file)
    findings = _checked(defn, args.file, as_json=args.json)
    spec = _spec(defn, args.file)
    created = await graph.create_template(waba, spec)
    if args.json:
        answer = {"waba_id": waba, **created.model_dump(mode="json"), "findings": findings}
        print(json.dumps(answer))
    else:
        print(
            f"created {spec.name} ({spec.language}) in WABA {waba}: id {created.id}, "
            f"status {created.status}, category {created.category}"
        )
    return EXIT_OK


async def _find(
    graph: GraphClient, waba: str, name: str, language: str | None
) -> list[TemplateInfo]:
    found = [t async for t in graph.iter_templates(waba, name=name) if t.name == name]
    if language is not None:
        found = [t for t in found if t.language == language]
    if not found:
        what = f"{name} ({language})" if language else name
        raise _Refused(f"no template {what} in WABA {waba}")
    return found


async def _edit(graph: GraphClient, args: argparse.Namespace, cfg: MetadConfig) -> int:
    (waba,) = _wabas(cfg, args.waba, one=True)
    defn = _definition(args.file)
    if defn.get("name", args.name) != args.name:
        raise _Refused(f"{args.file} defines {defn['name']!r}, not {args.name!r}")
    found = await _find(graph, waba, args.name, args.language or defn.get("language"))
    if len(found) > 1:
        langs = ", ".join(sorted(t.language for t in found))
        raise _Refused(f"{args.name} exists in {langs}: give --language", EXIT_USAGE)
    (current,) = found
    merged = {
        "name": current.name,
        "language": current.language,
        "category": current.category,
        "parameter_format": current.parameter_format or "positional",
        **defn,
    }
    findings = _checked(merged, args.file, as_json=args.json)
    spec = _spec(merged, args.file)
    await graph.edit_template(
        current.id,
        waba_id=waba,
        components=spec.components,
        category=spec.category if spec.category != current.category else None,
    )
    after = await graph.get_template(current.id, waba_id=waba)
    if args.json:
        print(json.dumps({**_info(after, waba), "findings": findings}))
    else:
        print(
            f"edited {after.name} ({after.language}) in WABA {waba}: id {after.id}, "
            f"status {after.status}, category {after.category}"
        )
    return EXIT_OK


async def _delete(graph: GraphClient, args: argparse.Namespace, cfg: MetadConfig) -> int:
    (waba,) = _wabas(cfg, args.waba, one=True)
    if args.language is None:
        await _find(graph, waba, args.name, None)
        await graph.delete_template(waba, args.name)
        what = f"{args.name} (every language)"
    else:
        (current,) = await _find(graph, waba, args.name, args.language)
        await graph.delete_template(waba, args.name, hsm_id=current.id)
        what = f"{args.name} ({args.language})"
    if args.json:
        print(json.dumps({"waba_id": waba, "deleted": what, "success": True}))
    else:
        print(f"deleted {what} from WABA {waba}")
    return EXIT_OK


def _table(rows: list[dict[str, Any]], columns: tuple[tuple[str, str], ...]) -> str:
    cells = [[head for _, head in columns]]
    cells += [[str(row.get(key, "")) for key, _ in columns] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells
    )


# --- report ----------------------------------------------------------------------------


def _report(args: argparse.Namespace, cfg: MetadConfig, with_store: WithStore) -> int:
    from daemon.store.analytics import marketing_messages_report, report
    from daemon.store.recommendations import RecommendationRepository

    async def read(store: Store) -> dict[str, Any]:
        now = dt.datetime.now(dt.UTC)
        return {
            "by": args.by,
            "days": args.days,
            "kept_days": cfg.storage.retention.messages_days,
            "rows": await report(store, by=args.by, days=args.days, now=now),
            "recommendations": await RecommendationRepository(store).latest(),
            "marketing_messages": await marketing_messages_report(store, days=args.days, now=now),
        }

    result: dict[str, Any] = with_store(cfg, read)
    if args.json:
        print(json.dumps(result))
        return EXIT_OK
    print(format_report(result))
    return EXIT_OK


_KEY_COLUMNS: dict[str, list[tuple[str, str, int]]] = {
    "template": [("name", "TEMPLATE", 28), ("language", "LANG", 7)],
    "chip": [("chip", "CHIP", 17), ("waba_id", "WABA", 17)],
    "campaign": [("campaign", "CAMPAIGN", 28)],
}


def format_report(result: dict[str, Any]) -> str:
    """The report as text: the table, then Marketing Messages API metrics, then the
    latest recommendations."""
    keys = _KEY_COLUMNS[result["by"]]
    head = "".join(f"{title:<{width}}" for _, title, width in keys)
    lines = [
        head + f"{'SENT':>7}{'DELIV':>7}{'READ':>7}{'REPLY':>7}{'FAIL':>6}{'READ%':>7}"
        f"{'COST $':>10}  FAILED BY CODE"
    ]
    for r in result["rows"]:
        key = "".join(f"{r[k]!s:<{width}}" for k, _, width in keys)
        codes = ",".join(f"{c}x{n}" for c, n in r["failed_by_code"].items())
        lines.append(
            f"{key}{r['sent']:>7}{r['delivered']:>7}{r['read']:>7}{r['replied']:>7}"
            f"{r['failed']:>6}{r['read_rate']:>7.0%}{r['cost_usd']:>10.4f}  {codes}"
        )
    mm = result["marketing_messages"]["total"]
    if mm["sent"]:
        lines += [
            "",
            f"Marketing Messages API: sent {mm['sent']}, delivered {mm['delivered']}, "
            f"read {mm['read']}, failed {mm['failed']}, clicked n/a, "
            f"cost {mm['cost_usd']:.4f} USD",
        ]
    kept = result.get("kept_days")
    if kept is not None and result["days"] > kept:
        lines += [
            "",
            f"note: messages are kept {kept} days ([storage.retention] messages_days);"
            f" the last {result['days']} days are counted from what is left",
        ]
    recs = result["recommendations"]
    lines.append("")
    if not recs:
        lines.append("recommendations: none yet (the weekly job runs Mondays 06:00 local)")
    else:
        lines.append(f"recommendations (run {recs[0]['run_at']}):")
        lines += [
            f"  {a['severity']:<8} {a['name']} ({a['language']}, WABA {a['waba_id']}): "
            f"{a['message']}"
            for a in recs
        ]
    return "\n".join(lines)

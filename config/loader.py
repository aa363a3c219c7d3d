"""Load ``metad.toml``: read, parse, validate, cross-check, anchor relative paths.

Why this module exists: the models say what each table may hold, but only the loader has
the file: it turns every problem (unreadable file, TOML syntax, wrong type, unknown key,
a chip naming a WABA that is not there) into a :class:`ConfigIssue` with the file, the
line and the field, and reports them all at once. Checks that span tables live here
rather than in a model validator so that each one points at its own field and line.
"""

from __future__ import annotations

import itertools
import re
import tomllib
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from config.errors import ConfigError, ConfigIssue, ConfigSource
from config.messages import describe_error
from config.model import PATTERN_HINTS, CapsConfig, MetadConfig
from config.secrets import absolute_secret_ref

__all__ = ["FLOW_HANDLERS", "load_config", "parse_config", "syntax_issue"]

_TOML_WHERE = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)$")
_WILDCARD_HOSTS = frozenset({"0.0.0.0", "[::]", "::", "*"})

FLOW_HANDLERS = frozenset({"doctor_onboarding", "shift_booking"})
"""The data-exchange handlers metad ships, by the name ``[[flows.flow]] handler`` uses.

Why a list here as well as ``daemon.flows.handlers.BUILTIN_HANDLERS``: config imports
nothing of the daemon, yet ``metad check`` and ``ctl reload`` must refuse the name that
``metad run`` would (a test keeps the two equal)."""


def load_config(path: str | Path) -> MetadConfig:
    """Load and check the config at ``path``, or raise ConfigError listing every problem.

    Relative paths in it (directories and ``file:`` secret references) are made absolute
    against the file's directory, so the result does not depend on the working directory.
    """
    shown = str(path)
    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError([ConfigIssue(shown, None, "", f"cannot read: {reason}")]) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError([ConfigIssue(shown, line, "", "not UTF-8 text")]) from None
    return _parse(ConfigSource(file=shown, path=file.absolute(), text=text))


def parse_config(
    text: str, *, file: str = "metad.toml", base_dir: Path | None = None
) -> MetadConfig:
    """Check config ``text`` as :func:`load_config` does, for text that is not in a file.

    ``file`` is the name messages show; ``base_dir`` anchors relative paths (default: the
    working directory).
    """
    base = (base_dir or Path.cwd()).absolute()
    return _parse(ConfigSource(file=file, path=base / Path(file).name, text=text))


def _parse(source: ConfigSource) -> MetadConfig:
    text = source.text
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([syntax_issue(exc, source)]) from None
    try:
        cfg = MetadConfig.model_validate(raw)
    except ValidationError as exc:
        # "from None": the ValidationError's context could carry a literal secret value.
        raise ConfigError(_sorted(_validation_issues(exc, source))) from None
    issues = list(_cross_check(cfg, source))
    if issues:
        raise ConfigError(_sorted(issues))
    return _anchor(cfg, source.path.parent).with_source(source)


def _sorted(issues: Iterable[ConfigIssue]) -> list[ConfigIssue]:
    return sorted(issues, key=lambda issue: issue.line or 0)


def syntax_issue(exc: tomllib.TOMLDecodeError, source: ConfigSource) -> ConfigIssue:
    message = str(exc)
    line = source.text.count("\n") + 1
    m = _TOML_WHERE.search(message)
    if m is not None:
        message = message[: m.start()]
        if m.group(1):
            line = int(m.group(1))
            message += f" (column {m.group(2)})"
        else:
            message += " (at end of file)"
    return ConfigIssue(source.file, line, "", f"invalid TOML: {message}")


def _validation_issues(exc: ValidationError, source: ConfigSource) -> Iterator[ConfigIssue]:
    for error in exc.errors():
        loc = error["loc"]
        yield source.issue(loc, describe_error(error, MetadConfig, PATTERN_HINTS))


def _duplicates(items: Sequence[Any], key: Callable[[Any], str]) -> Iterator[tuple[int, int, str]]:
    """(index, index of the first with the same key, key) for every repeat."""
    first: dict[str, int] = {}
    for i, item in enumerate(items):
        k = key(item)
        if k in first:
            yield i, first[k], k
        else:
            first[k] = i


def _cross_check(cfg: MetadConfig, source: ConfigSource) -> Iterator[ConfigIssue]:
    for i, j, waba_id in _duplicates(cfg.wabas, lambda w: w.id):
        first = source.line(("wabas", j, "id"))
        yield source.issue(
            ("wabas", i, "id"), f'duplicate WABA id "{waba_id}" (first at line {first})'
        )
    for i, j, number in _duplicates(cfg.chips, lambda c: c.phone_number_id):
        yield source.issue(
            ("chips", i, "phone_number_id"),
            f'duplicate phone_number_id "{number}" (first at line '
            f"{source.line(('chips', j, 'phone_number_id'))})",
        )
    known = {w.id for w in cfg.wabas}
    for i, chip in enumerate(cfg.chips):
        if chip.waba not in known:
            yield source.issue(("chips", i, "waba"), f'unknown WABA "{chip.waba}"')
    for i, j, prefix in _duplicates(cfg.pricing.rates, lambda r: r.prefix):
        yield source.issue(
            ("pricing", "rates", i, "prefix"),
            f'duplicate prefix "{prefix}" (first at line '
            f"{source.line(('pricing', 'rates', j, 'prefix'))})",
        )
    yield from _check_budget(cfg, source)
    yield from _check_listeners(cfg, source)
    yield from _check_flows(cfg, source)
    yield from _check_cluster(cfg, source)


def _listeners(cfg: MetadConfig) -> list[tuple[tuple[str, str], str]]:
    """(setting, address) of every address ``metad run`` listens on."""
    listeners = [(("webhook", "listen"), cfg.webhook.listen)]
    if cfg.sandbox.enabled:  # served by metad run, or by metad sim beside it
        listeners.append((("sandbox", "listen"), cfg.sandbox.listen))
    if cfg.metrics.listen:
        listeners.append((("metrics", "listen"), cfg.metrics.listen))
    return listeners


def _check_listeners(cfg: MetadConfig, source: ConfigSource) -> Iterator[ConfigIssue]:
    """Two listeners on one address: ``metad run`` would fail to start after the check
    passed. Each is reported at the later setting, naming the first it clashes with."""
    listeners = _listeners(cfg)
    for j, (setting, address) in enumerate(listeners):
        clash = next((a for a in listeners[:j] if _same_address(a[1], address)), None)
        if clash is not None:
            yield source.issue(setting, f'"{address}" is also {".".join(clash[0])} ("{clash[1]}")')


def _check_flows(cfg: MetadConfig, source: ConfigSource) -> Iterator[ConfigIssue]:
    """A flow's handler must be one metad ships and its WABA one of ``wabas``."""
    known = {w.id for w in cfg.wabas}
    names = ", ".join(sorted(FLOW_HANDLERS))
    for i, flow in enumerate(cfg.flows.flow):
        if flow.handler is not None and flow.handler not in FLOW_HANDLERS:
            yield source.issue(
                ("flows", "flow", i, "handler"), f'unknown handler "{flow.handler}" ({names})'
            )
        if flow.waba is not None and flow.waba not in known:
            yield source.issue(("flows", "flow", i, "waba"), f'unknown WABA "{flow.waba}"')


def _check_cluster(cfg: MetadConfig, source: ConfigSource) -> Iterator[ConfigIssue]:
    """A listed chip must be one of ``chips``: a typo would lease nothing, silently."""
    if not isinstance(cfg.cluster.chips, list):
        return
    known = {c.phone_number_id for c in cfg.chips}
    for i, chip in enumerate(cfg.cluster.chips):
        if chip not in known:
            yield source.issue(("cluster", "chips", i), f'unknown chip "{chip}"')


def _check_budget(cfg: MetadConfig, source: ConfigSource) -> Iterator[ConfigIssue]:
    yield from _check_caps(cfg.budget, ("budget",), source)
    known = {w.id for w in cfg.wabas}
    for i, waba in enumerate(cfg.budget.wabas):
        if waba.waba not in known:
            yield source.issue(("budget", "wabas", i, "waba"), f'unknown WABA "{waba.waba}"')
        yield from _check_caps(waba, ("budget", "wabas", i), source)
    for i, j, waba_id in _duplicates(cfg.budget.wabas, lambda w: w.waba):
        yield source.issue(
            ("budget", "wabas", i, "waba"),
            f'second caps for WABA "{waba_id}" (first at line '
            f"{source.line(('budget', 'wabas', j, 'waba'))})",
        )
    for i, campaign in enumerate(cfg.budget.campaigns):
        yield from _check_caps(campaign, ("budget", "campaigns", i), source)
    for i, j, campaign_id in _duplicates(cfg.budget.campaigns, lambda c: c.campaign):
        yield source.issue(
            ("budget", "campaigns", i, "campaign"),
            f'second caps for campaign "{campaign_id}" (first at line '
            f"{source.line(('budget', 'campaigns', j, 'campaign'))})",
        )


def _check_caps(
    caps_cfg: CapsConfig, where: tuple[str | int, ...], source: ConfigSource
) -> Iterator[ConfigIssue]:
    """A longer period's cap below a shorter one's would make the longer cap the real one."""
    caps = [
        (name, value)
        for name, value in (
            ("daily_usd", caps_cfg.daily_usd),
            ("weekly_usd", caps_cfg.weekly_usd),
            ("monthly_usd", caps_cfg.monthly_usd),
        )
        if value is not None
    ]
    for (short, short_cap), (long, long_cap) in itertools.pairwise(caps):
        if long_cap < short_cap:
            yield source.issue(
                (*where, long), f"{long} ({long_cap:g}) is below {short} ({short_cap:g})"
            )


def _same_address(a: str, b: str) -> bool:
    """Whether two ``HOST:PORT`` would be one listener (a port of 0 is a fresh one each)."""
    host_a, _, port_a = a.rpartition(":")
    host_b, _, port_b = b.rpartition(":")
    if int(port_a) != int(port_b) or int(port_a) == 0:
        return False
    return host_a == host_b or host_a in _WILDCARD_HOSTS or host_b in _WILDCARD_HOSTS


def _anchor(cfg: MetadConfig, base: Path) -> MetadConfig:
    """Make relative paths absolute against ``base`` (validation is not repeated)."""

    def path(p: Path) -> Path:
        return p if p.is_absolute() else base / p

    def ref(r: str | None) -> str | None:
        return None if r is None else absolute_secret_ref(r, base)

    daemon = cfg.daemon.model_copy(
        update={
            "state_dir": path(cfg.daemon.state_dir),
            "runtime_dir": path(cfg.daemon.runtime_dir),
        }
    )
    return cfg.model_copy(
        update={
            "daemon": daemon,
            "campaigns": cfg.campaigns.model_copy(update={"dir": path(cfg.campaigns.dir)}),
            "graph": cfg.graph.model_copy(update={"app_secret": ref(cfg.graph.app_secret)}),
            "webhook": cfg.webhook.model_copy(
                update={"verify_token": ref(cfg.webhook.verify_token)}
            ),
            "wabas": [w.model_copy(update={"token": ref(w.token)}) for w in cfg.wabas],
            "chips": [c.model_copy(update={"token": ref(c.token)}) for c in cfg.chips],
        }
    )

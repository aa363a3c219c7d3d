"""``[flows]`` as the daemon and the CLI use it: paths anchored, references checked.

Why here and not in ``config``: whether a handler name exists is the daemon's knowledge
(config imports nothing of ours), and the key and flow files are found relative to the
config file. Problems are still reported the config way — ``metad.toml:41:
flows.flow[1].handler: unknown handler "x"`` — and all at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from config import ConfigError, ConfigIssue, MetadConfig
from config.errors import format_loc
from config.model import FlowConfig
from daemon.flows.handlers import BUILTIN_HANDLERS

__all__ = ["FlowSettings", "flow_settings"]


@dataclass(frozen=True, slots=True)
class FlowSettings:
    """Resolved ``[flows]``: absolute paths and each flow's WABA."""

    dir: Path
    private_key: Path
    public_key: Path
    flows: tuple[FlowConfig, ...]
    wabas: dict[str, str]
    """Flow name → the WABA it belongs to."""
    default_waba: str | None

    def flow(self, name: str) -> FlowConfig | None:
        return next((f for f in self.flows if f.name == name), None)

    def file(self, name: str) -> Path:
        """Where the definition of flow ``name`` is kept."""
        return self.dir / f"{name}.json"

    def waba_of(self, name: str) -> str | None:
        return self.wabas.get(name, self.default_waba)


def _issue(cfg: MetadConfig, loc: tuple[str | int, ...], message: str) -> ConfigIssue:
    if cfg.source is not None:
        return cfg.source.issue(loc, message)
    return ConfigIssue("<config>", None, format_loc(loc), message)


def _problems(cfg: MetadConfig) -> Iterator[ConfigIssue]:
    known = {w.id for w in cfg.wabas}
    for i, flow in enumerate(cfg.flows.flow):
        if flow.handler is not None and flow.handler not in BUILTIN_HANDLERS:
            names = ", ".join(sorted(BUILTIN_HANDLERS))
            yield _issue(
                cfg, ("flows", "flow", i, "handler"), f'unknown handler "{flow.handler}" ({names})'
            )
        if flow.waba is not None and flow.waba not in known:
            yield _issue(cfg, ("flows", "flow", i, "waba"), f'unknown WABA "{flow.waba}"')


def flow_settings(cfg: MetadConfig) -> FlowSettings:
    """The resolved settings, or ConfigError listing every bad reference."""
    issues = list(_problems(cfg))
    if issues:
        raise ConfigError(issues)
    base = cfg.source.path.parent if cfg.source is not None else Path.cwd()
    private, public = cfg.flows.key_files(state_dir=cfg.daemon.state_dir, base_dir=base)
    directory = cfg.flows.dir if cfg.flows.dir.is_absolute() else base / cfg.flows.dir
    default = cfg.wabas[0].id if cfg.wabas else None
    wabas = {f.name: f.waba for f in cfg.flows.flow if f.waba is not None}
    return FlowSettings(directory, private, public, tuple(cfg.flows.flow), wabas, default)

"""``[flows]`` as the daemon and the CLI use it: paths anchored, each flow's WABA.

Why here and not in ``config``: the key and flow files are found relative to the config
file and the state directory, which only the daemon's commands need. The references
(a handler metad ships, a WABA of ``wabas``) are not checked here but by the config
loader (``config.loader``), so that ``metad check`` and ``ctl reload`` refuse what
``metad run`` would: ``metad.toml:41: flows.flow[1].handler: unknown handler "x"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from config import MetadConfig
from config.model import FlowConfig

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


def flow_settings(cfg: MetadConfig) -> FlowSettings:
    """The resolved settings of a loaded (so checked) config."""
    base = cfg.source.path.parent if cfg.source is not None else Path.cwd()
    private, public = cfg.flows.key_files(state_dir=cfg.daemon.state_dir, base_dir=base)
    directory = cfg.flows.dir if cfg.flows.dir.is_absolute() else base / cfg.flows.dir
    default = cfg.wabas[0].id if cfg.wabas else None
    wabas = {f.name: f.waba for f in cfg.flows.flow if f.waba is not None}
    return FlowSettings(directory, private, public, tuple(cfg.flows.flow), wabas, default)

"""What a config reload changes: a pure comparison of the running and the new config.

Why pure and apart: deciding which actors a new ``metad.toml`` touches is the risky part
of a reload (stop the wrong chip, forget to restart one whose limits changed), so it is
a function of two configs with no I/O, unit-tested on its own; :mod:`daemon.reloader`
only carries the plan out.

The rules:

* a chip or WABA that appears is started, one that disappears is drained and stopped
  (a removed WABA's chips are removed with it: the loader refuses a dangling chip);
* settings the chips read when they start (``windows``, ``limits``, ``quality``,
  ``pricing``, a chip's own fields, its WABA's ``marketing_messages``) restart the chips
  concerned, which rebuild from storage with the new values; the budget coordinator is
  restarted for ``budget``, ``pricing`` and ``timezone``;
* a WABA is restarted when its own fields or its set of chips change, and after any of
  its chips restarts, because on start it tells its chips their templates and the
  account's kill switch (a restarted chip has neither);
* tokens are re-read on every reload and need no restart (the Graph client looks them
  up per call); ``supervisor`` and ``daemon.log_level`` apply in place;
* everything else (storage, listeners, the Graph endpoint, the app secret, sections this
  module does not know) needs a restart of the daemon: it is reported, and the running
  daemon keeps the old value (see :func:`effective`) so it keeps being reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from config import MetadConfig
from config.model import ChipConfig, WabaConfig

__all__ = [
    "BUDGET_ID",
    "LIVE_SECTIONS",
    "ConfigChange",
    "chip_actor",
    "diff",
    "effective",
    "waba_actor",
]

BUDGET_ID = "budget"
"""The supervisor's id of the budget coordinator (see :mod:`daemon.fleet`)."""

CHIP_SECTIONS = frozenset({"windows", "limits", "quality", "pricing"})
"""Sections every chip reads when it starts."""
BUDGET_SECTIONS = frozenset({"budget", "pricing", "timezone"})
"""Sections the budget coordinator reads when it starts."""
IN_PLACE_SECTIONS = frozenset({"supervisor"})
LIVE_SECTIONS = CHIP_SECTIONS | BUDGET_SECTIONS | IN_PLACE_SECTIONS | {"wabas", "chips"}
"""Top-level sections a reload applies; ``daemon.log_level`` is applied too."""
LIVE_DAEMON_FIELDS = frozenset({"log_level"})


def chip_actor(phone_number_id: str) -> str:
    return f"chip:{phone_number_id}"


def waba_actor(waba_id: str) -> str:
    return f"waba:{waba_id}"


@dataclass(frozen=True, slots=True)
class ConfigChange:
    """The difference between two configs, and the plan that applies it.

    ``stop``, ``start`` and ``restart`` are supervisor child ids in the order to act on
    them: stop removed chips before their WABAs, start and restart chips before WABAs.
    """

    wabas_added: tuple[str, ...] = ()
    wabas_removed: tuple[str, ...] = ()
    wabas_changed: tuple[str, ...] = ()
    chips_added: tuple[str, ...] = ()
    chips_removed: tuple[str, ...] = ()
    chips_changed: tuple[str, ...] = ()
    settings: tuple[str, ...] = ()
    """Applied sections (and ``daemon.log_level``) whose values changed."""
    needs_restart: tuple[str, ...] = ()
    """Dotted fields that changed but only take effect when the daemon restarts."""
    stop: tuple[str, ...] = ()
    start: tuple[str, ...] = ()
    restart: tuple[str, ...] = ()
    tokens: bool = False
    """A token reference changed (tokens are re-read on every reload anyway)."""

    @property
    def empty(self) -> bool:
        """Nothing to apply and nothing waiting for a restart."""
        return not (self.settings or self.needs_restart or self.stop or self.start)

    def summary(self) -> dict[str, list[str]]:
        """The non-empty parts, for a log line and the control call's answer."""
        parts = {
            "wabas_added": self.wabas_added,
            "wabas_removed": self.wabas_removed,
            "wabas_changed": self.wabas_changed,
            "chips_added": self.chips_added,
            "chips_removed": self.chips_removed,
            "chips_changed": self.chips_changed,
            "settings": self.settings,
            "needs_restart": self.needs_restart,
            "restarted": self.restart,
        }
        return {k: list(v) for k, v in parts.items() if v}


def _by_id(items: Iterable[Any], key: str) -> dict[str, Any]:
    return {getattr(item, key): item for item in items}


def _changed_fields(old: Any, new: Any, prefix: str) -> Iterator[str]:
    """Dotted names of the fields that differ; one level into models, whole lists."""
    if isinstance(old, BaseModel) and isinstance(new, BaseModel) and type(old) is type(new):
        for name in type(old).model_fields:
            if getattr(old, name) != getattr(new, name):
                yield f"{prefix}.{name}"
    elif old != new:
        yield prefix


def _without(model: BaseModel, *names: str) -> dict[str, Any]:
    return {k: v for k, v in model.model_dump().items() if k not in names}


@dataclass(slots=True)
class _Plan:
    restart_chips: set[str] = field(default_factory=set)
    restart_wabas: set[str] = field(default_factory=set)
    restart_budget: bool = False


def diff(old: MetadConfig, new: MetadConfig) -> ConfigChange:
    """What applying ``new`` over the running ``old`` means; pure."""
    old_wabas: dict[str, WabaConfig] = _by_id(old.wabas, "id")
    new_wabas: dict[str, WabaConfig] = _by_id(new.wabas, "id")
    old_chips: dict[str, ChipConfig] = _by_id(old.chips, "phone_number_id")
    new_chips: dict[str, ChipConfig] = _by_id(new.chips, "phone_number_id")

    wabas_added = [w for w in new_wabas if w not in old_wabas]
    wabas_removed = [w for w in old_wabas if w not in new_wabas]
    wabas_changed = [w for w in new_wabas if w in old_wabas and old_wabas[w] != new_wabas[w]]
    chips_added = [c for c in new_chips if c not in old_chips]
    chips_removed = [c for c in old_chips if c not in new_chips]
    kept_chips = [c for c in new_chips if c in old_chips]
    chips_changed = [c for c in kept_chips if old_chips[c] != new_chips[c]]

    settings: list[str] = []
    needs_restart: list[str] = []
    for name in type(new).model_fields:
        before, after = getattr(old, name), getattr(new, name)
        if before == after or name in ("wabas", "chips"):
            continue
        if name in LIVE_SECTIONS:
            settings.append(name)
        elif name == "daemon":
            for dotted in _changed_fields(before, after, name):
                live = dotted.split(".", 1)[1] in LIVE_DAEMON_FIELDS
                (settings if live else needs_restart).append(dotted)
        else:
            needs_restart += _changed_fields(before, after, name)

    plan = _Plan()
    if CHIP_SECTIONS & set(settings):
        plan.restart_chips.update(kept_chips)
    plan.restart_budget = bool(BUDGET_SECTIONS & set(settings))
    for pnid in chips_changed:
        o, n = old_chips[pnid], new_chips[pnid]
        if _without(o, "token") != _without(n, "token"):
            plan.restart_chips.add(pnid)
        if o.waba != n.waba:
            plan.restart_wabas.update((o.waba, n.waba))
    for waba_id in wabas_changed:
        ow, nw = old_wabas[waba_id], new_wabas[waba_id]
        if _without(ow, "token", "marketing_messages") != _without(
            nw, "token", "marketing_messages"
        ):
            plan.restart_wabas.add(waba_id)
        if ow.marketing_messages != nw.marketing_messages:
            plan.restart_chips.update(c for c in kept_chips if new_chips[c].waba == waba_id)
    for pnid in chips_added:
        plan.restart_wabas.add(new_chips[pnid].waba)
    for pnid in chips_removed:
        plan.restart_wabas.add(old_chips[pnid].waba)
    for pnid in plan.restart_chips:
        plan.restart_wabas.add(new_chips[pnid].waba)
    # Only actors that run before and after are restarted; new ones start, gone ones stop.
    restart_wabas = [w for w in new_wabas if w in old_wabas and w in plan.restart_wabas]
    restart_chips = [c for c in kept_chips if c in plan.restart_chips]

    tokens = any(old_chips[c].token != new_chips[c].token for c in kept_chips) or any(
        old_wabas[w].token != new_wabas[w].token for w in new_wabas if w in old_wabas
    )
    return ConfigChange(
        wabas_added=tuple(wabas_added),
        wabas_removed=tuple(wabas_removed),
        wabas_changed=tuple(wabas_changed),
        chips_added=tuple(chips_added),
        chips_removed=tuple(chips_removed),
        chips_changed=tuple(chips_changed),
        settings=tuple(settings),
        needs_restart=tuple(needs_restart),
        stop=tuple([chip_actor(c) for c in chips_removed] + [waba_actor(w) for w in wabas_removed]),
        start=tuple([chip_actor(c) for c in chips_added] + [waba_actor(w) for w in wabas_added]),
        restart=tuple(
            ([BUDGET_ID] if plan.restart_budget else [])
            + [chip_actor(c) for c in restart_chips]
            + [waba_actor(w) for w in restart_wabas]
        ),
        tokens=tokens,
    )


def effective(old: MetadConfig, new: MetadConfig) -> MetadConfig:
    """The config the daemon runs with after applying ``new``: what a reload cannot
    apply keeps its running value, so the daemon's view matches what it does (and the
    next reload reports the same pending restart again)."""
    keep: dict[str, Any] = {}
    for name in type(new).model_fields:
        before, after = getattr(old, name), getattr(new, name)
        if before == after or name in LIVE_SECTIONS:
            continue
        if name == "daemon":
            live = {f: getattr(after, f) for f in LIVE_DAEMON_FIELDS}
            keep[name] = before.model_copy(update=live)
        else:
            keep[name] = before
    return new.model_copy(update=keep).with_source(new.source) if keep else new

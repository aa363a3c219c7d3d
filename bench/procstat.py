"""Where the CPU went: CPU seconds of the daemon's processes, read from /proc (Linux).

One reading of /proc serves every benchmark that reports CPU per unit of work, so they
attribute processes the same way: the daemon itself, its webhook ingest workers (its
children running ``daemon.webhook.worker``; their CPU is the daemon's work too), and the
embedded PostgreSQL (every process whose command line names the state directory, and
their children: the postmaster and its backends). With an external server PostgreSQL's
CPU cannot be told apart from its other clients', so it is left out.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

__all__ = ["Proc", "cpu_seconds", "daemon_roles", "descendants", "proc_table"]


class Proc(NamedTuple):
    ppid: int
    cmdline: bytes
    cpu_s: float
    """User + system CPU seconds so far."""


Table = dict[int, Proc]
Roles = Callable[[Table], dict[str, set[int]]]


def proc_table() -> Table:
    tick = os.sysconf("SC_CLK_TCK")
    table: Table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # gone meanwhile
        table[int(entry.name)] = Proc(
            int(fields[1]), cmdline, (int(fields[11]) + int(fields[12])) / tick
        )
    return table


def descendants(root: int, table: Table) -> set[int]:
    """``root`` and every process below it."""
    children: dict[int, list[int]] = {}
    for pid, proc in table.items():
        children.setdefault(proc.ppid, []).append(pid)
    found, frontier = {root}, [root]
    while frontier:
        for child in children.get(frontier.pop(), []):
            if child not in found:
                found.add(child)
                frontier.append(child)
    return found


def daemon_roles(daemon_pid: int, state_dir: Path | None) -> Roles:
    """Roles ``daemon``, ``ingest`` and (embedded only) ``postgres``."""

    def roles(table: Table) -> dict[str, set[int]]:
        postgres: set[int] = set()
        if state_dir is not None:
            marker = str(state_dir).encode()
            for pid, proc in table.items():
                if marker in proc.cmdline and b"postgres" in proc.cmdline:
                    postgres |= descendants(pid, table)
        family = descendants(daemon_pid, table) - postgres
        ingest = {p for p in family if b"daemon.webhook.worker" in table[p].cmdline}
        out = {"daemon": family - ingest, "ingest": ingest}
        if state_dir is not None:
            out["postgres"] = postgres
        return out

    return roles


def cpu_seconds(roles: Roles) -> dict[str, float]:
    """CPU seconds so far of each role's processes (one /proc reading for all)."""
    table = proc_table()
    return {
        role: sum(table[p].cpu_s for p in pids if p in table) for role, pids in roles(table).items()
    }

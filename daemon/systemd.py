"""systemd's notify protocol: READY, STATUS, WATCHDOG, RELOADING, STOPPING.

Why our own ~50 lines instead of a dependency: the protocol is one datagram per message
to ``$NOTIFY_SOCKET`` (a path, or an abstract socket when it starts with ``@``). Without
that variable (not under systemd, or ``Type=exec``) every call is a no-op.

The watchdog pings only while the daemon is healthy — the store answers and the
supervisor has not given up — so systemd restarts a daemon that is alive but stuck.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Awaitable, Callable, Mapping

import trio

__all__ = ["START_EXTEND_S", "START_LIMIT_S", "Notifier", "watchdog", "while_starting"]

log = logging.getLogger("metad.systemd")

START_EXTEND_S = 10.0
"""How often a start asks systemd for more time (for three times as much each time)."""
START_LIMIT_S = 900.0
"""A start asks for more time for at most this long; then systemd's own timeout rules."""


class Notifier:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):
            address = "\0" + address[1:]
        self._address = address or None
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        mine = not pid or pid == str(os.getpid())
        self.watchdog_s = int(usec) / 1e6 if usec.isdigit() and mine else None
        """Seconds systemd waits for a ping; None when the watchdog is off."""

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def notify(self, **fields: str | int) -> bool:
        """``notify(READY=1, STATUS="…")``; False when not under systemd or on error."""
        if self._address is None:
            return False
        message = "\n".join(f"{k}={v}" for k, v in fields.items()).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto(message, self._address)
        except OSError as exc:
            log.warning("sd_notify to %r failed: %s", self._address, exc)
            return False
        return True


async def watchdog(
    notifier: Notifier,
    healthy: Callable[[], Awaitable[bool]],
    status: Callable[[], Awaitable[str]],
) -> None:
    """Ping at half the watchdog period while healthy; refresh STATUS every few seconds."""
    interval = notifier.watchdog_s / 2 if notifier.watchdog_s else 5.0
    while True:
        ok = False
        with trio.move_on_after(interval):
            ok = await healthy()
        if ok and notifier.watchdog_s:
            notifier.notify(WATCHDOG=1)
        elif not ok:
            log.warning("unhealthy: not pinging the systemd watchdog")
        if notifier.enabled:
            notifier.notify(STATUS=await status())
        await trio.sleep(interval)


async def while_starting(
    notifier: Notifier,
    ready: trio.Event,
    *,
    every_s: float = START_EXTEND_S,
    limit_s: float = START_LIMIT_S,
    clock: Callable[[], float] = trio.current_time,
) -> None:
    """Until ``ready``: every ``every_s`` ask systemd for ``3 * every_s`` more time
    (``EXTEND_TIMEOUT_USEC``) and say how long the start has taken, for at most
    ``limit_s``.

    Why: systemd kills a start that has not said READY within ``TimeoutStartSec`` (90 s
    in deploy/metad.service) and starts it again. A start that needs longer (embedded
    PostgreSQL's crash recovery, a budget journal replayed after a long outage) would
    be killed, and killed again, for ever. One that is stuck (its event loop no longer
    runs this task) stops asking and is killed as before, as is one past ``limit_s``.
    """
    started = clock()
    while not ready.is_set() and clock() - started < limit_s:
        if notifier.enabled:
            notifier.notify(
                EXTEND_TIMEOUT_USEC=int(3 * every_s * 1e6),
                STATUS=f"starting ({clock() - started:.0f} s)",
            )
        with trio.move_on_after(every_s):
            await ready.wait()

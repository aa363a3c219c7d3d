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

__all__ = ["Notifier", "watchdog"]

log = logging.getLogger("metad.systemd")


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

"""The operator console (``metad tui``): a Textual app that talks to the daemon's socket.

Importing this package loads neither Textual nor the daemon; :func:`main` does.
"""

from __future__ import annotations

__all__ = ["main"]


def main(socket_path: str) -> int:
    """Run the console against the daemon at ``socket_path``; the exit status."""
    from tui.app import run

    return run(socket_path)

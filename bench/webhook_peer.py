"""The reference for ``bench/webhook_ingest.py``: a minimal FastAPI/uvicorn webhook handler.

It does the least a webhook receiver can do: read the body, check ``X-Hub-Signature-256``
with the same constant-time check metad uses (``daemon.webhook.signature.verify``), answer
200 or 401. Nothing is parsed or stored, so it is a ceiling for a Python receiver, not a
like-for-like one: metad commits every body to PostgreSQL before its 200.

FastAPI and uvicorn are installed for the benchmark only (``pip install fastapi uvicorn``);
they are not dependencies of metad. Usage: ``python bench/webhook_peer.py --port N
--secret S``; prints ``PEER READY url=...`` (with the uvicorn loop and HTTP parser) once
listening.
"""

# No ``from __future__ import annotations``: FastAPI reads the handler's annotations at
# run time, and ``Request`` is imported inside main() (FastAPI is optional).
import argparse
import contextlib
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from daemon.webhook.signature import verify

MISSING = (
    "the peer needs FastAPI and uvicorn, installed for the benchmark only:\n"
    "    pip install fastapi uvicorn"
)


def available() -> str | None:
    """None when FastAPI and uvicorn import; else what to do about it."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        return MISSING
    return None


def _exit_with_parent(parent: int) -> None:
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--path", default="/webhook")
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="uvicorn processes on the port (SO_REUSEPORT, as metad's ingest workers)",
    )
    args = parser.parse_args()
    problem = available()
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2

    import uvicorn
    from fastapi import FastAPI, Request, Response

    secret = args.secret.encode()
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.post(args.path)
    async def webhook(request: Request) -> Response:
        body = await request.body()
        if not verify(secret, body, request.headers.get("x-hub-signature-256")):
            return Response("missing or wrong X-Hub-Signature-256", status_code=401)
        return Response("OK", media_type="text/plain")

    # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY on accepted connections only when
    # the listening socket says proto 6, and without it every keep-alive response waits
    # ~40 ms for a delayed ACK (Nagle), which would make the peer look 50x slower.
    # One socket per process on the same port, balanced by the kernel: the same
    # arrangement as metad's ingest workers, so process counts compare like for like.
    sockets = []
    for _ in range(args.processes):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(("127.0.0.1", args.port))
        sock.listen(1024)
        sockets.append(sock)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    config.load()
    http = getattr(config.http_protocol_class, "__name__", str(config.http))
    loop = config.loop
    if loop == "auto":
        import importlib.util

        loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    children = []
    for sock in sockets[1:]:
        pid = os.fork()
        if pid == 0:
            # uvicorn re-raises the SIGTERM it caught once it has stopped, so the
            # parent cannot be relied on to stop its children: each leaves with it.
            _exit_with_parent(os.getppid())
            uvicorn.Server(config).run(sockets=[sock])
            os._exit(0)
        children.append(pid)

    print(
        f"PEER READY url=http://127.0.0.1:{args.port} loop={loop} http={http}"
        f" processes={args.processes}",
        flush=True,
    )
    try:
        uvicorn.Server(config).run(sockets=[sockets[0]])
    finally:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
    return 0


if __name__ == "__main__":
    sys.exit(main())

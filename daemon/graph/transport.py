"""The one place the Graph client touches HTTP: URLs, tokens, timeouts, retries, errors.

Why it is separate from the typed methods: the rules about *when* a call may be repeated
live here once. Idempotent calls (GET, DELETE) are retried on timeouts, connection
errors, 5xx and rate limits, with :class:`~daemon.graph.retry.RetryPolicy` delays. A
non-idempotent POST is retried only when it surely did not happen (the connection never
opened, or Meta answered with an explicit retryable error). A message send is never
retried here at all: its outcome goes back to the chip, which owns rate limits and the
in-doubt bookkeeping.

Why requests wait for a connection here and not in httpx's pool: httpcore hands a freed
connection over by scanning every queued request against every connection, so with a
fleet's sends queued (20 chips × 64 in flight behind 64 connections, then) that scan
was ~19 % of the daemon's CPU. A trio limiter as wide as the pool keeps httpx's own queue empty;
the wait for it is bounded by the same pool timeout, and a request that times out there
never left (``sent=False``), as with httpx's ``PoolTimeout``.

Why message sends do not go through httpx at all when this object owns its HTTP client:
see :mod:`daemon.graph.h1` (httpx was half of the daemon's CPU in a campaign). Every
other call (management, uploads, retries) still uses httpx; an injected httpx client (the
tests' mock transports) takes the sends too.
"""

from __future__ import annotations

import json
import random
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import trio

from actors.core import take_token
from daemon.graph.errors import GraphError, Reaction
from daemon.graph.h1 import H1Pool
from daemon.graph.retry import RetryPolicy

__all__ = ["MAX_CONNECTIONS", "GraphTimeouts", "OneShotBody", "TokenSource", "Transport"]

MAX_CONNECTIONS = 256
"""Connections to the Graph API at once. A send holds one for its whole round trip, so
the rate a fleet can reach is connections / round trip (Little's law): 1,000 msg/s at
Meta's usual 100-250 ms needs 100-250. With 64, a 20-chip campaign against the simulator
spent its time queueing for one (1,966/1,847 daemon CPU-µs and 655/683 msg/s; with 256,
1,733/1,706 µs and 727/831 msg/s, alternating runs)."""

TokenSource = Callable[[str], str] | Mapping[str, str]
"""Token lookup by owner id (a phone_number_id or a WABA id)."""

_NOT_SENT: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
    httpx.LocalProtocolError,
)
"""Failures that happen before a request leaves: repeating them cannot duplicate."""

_RETRY_REACTIONS = frozenset({Reaction.RETRY_BACKOFF, Reaction.BACKOFF_API, Reaction.SLOW_CHIP})


class OneShotBody(httpx.AsyncByteStream):
    """A request body of known bytes that is not an async generator.

    httpx wraps ``content=`` (bytes or a stream) in a stream whose ``__aiter__`` is an
    async generator; when a write fails halfway that generator is never closed, and trio
    reports it when it is garbage collected. Set as ``request.stream`` directly, this
    plain iterator has nothing to finalise.
    """

    def __init__(self, data: bytes) -> None:
        self._data = data

    def __aiter__(self) -> _Once:
        return _Once(self._data)


class _Once:
    def __init__(self, data: bytes) -> None:
        self._data: bytes | None = data

    def __aiter__(self) -> _Once:
        return self

    async def __anext__(self) -> bytes:
        if self._data is None:
            raise StopAsyncIteration
        data, self._data = self._data, None
        return data


@dataclass(frozen=True, slots=True)
class GraphTimeouts:
    """Seconds. ``send_s`` bounds a message send; ``read_s`` any other call."""

    connect_s: float = 5.0
    read_s: float = 20.0
    send_s: float = 15.0


class Transport:
    """HTTP plumbing shared by the typed methods of :class:`~daemon.graph.GraphClient`."""

    def __init__(
        self,
        base_url: str,
        api_version: str,
        *,
        token_for: TokenSource,
        http: httpx.AsyncClient | None = None,
        timeouts: GraphTimeouts | None = None,
        retry: RetryPolicy | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        version = api_version if api_version.startswith("v") else f"v{api_version}"
        self.base_url = base_url.rstrip("/")
        self.api_version = version
        self._root = f"{self.base_url}/{version}/"
        self._root_path = urllib.parse.urlsplit(self._root).path
        self._token_for = token_for
        self._owns_http = http is None
        self._slots = trio.CapacityLimiter(max_connections)
        """One per connection of the pool (see the module docstring)."""
        self._h1 = H1Pool(self.base_url) if http is None else None
        """The sends' own connections (None: sends go through the injected client)."""
        self._http = http or httpx.AsyncClient(
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            follow_redirects=False,
        )
        t = timeouts or GraphTimeouts()
        self.timeouts = t
        self._read_timeout = httpx.Timeout(t.read_s, connect=t.connect_s, pool=t.connect_s)
        self._send_timeout = httpx.Timeout(t.send_s, connect=t.connect_s, pool=t.connect_s)
        self.retry = retry or RetryPolicy()
        self._rng = rng or random.Random()
        self._sleep = sleep or trio.sleep

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it (an injected one is yours)."""
        if self._owns_http:
            await self._http.aclose()
        if self._h1 is not None:
            self._h1.close()

    def token(self, owner: str) -> str:
        """The access token for ``owner``; LookupError when none is configured."""
        if callable(self._token_for):
            return self._token_for(owner)
        try:
            return self._token_for[owner]
        except KeyError:
            raise LookupError(f"no access token configured for {owner}") from None

    def url(self, path: str) -> str:
        return self._root + path.lstrip("/")

    async def once(
        self,
        method: str,
        path: str,
        *,
        owner: str,
        send: bool = False,
        params: Mapping[str, str | int] | None = None,
        json_body: Mapping[str, Any] | None = None,
        data: Mapping[str, str] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        absolute_url: str | None = None,
    ) -> httpx.Response:
        """One attempt. Transport failures become GraphError with ``sent`` set."""
        try:
            token = self.token(owner)
        except LookupError as exc:
            raise GraphError(str(exc), type="NoToken", sent=False, code=190) from None
        content: OneShotBody | None = None
        headers = {"Authorization": f"Bearer {token}"}
        if json_body is not None:
            raw = orjson.dumps(dict(json_body))
            content = OneShotBody(raw)
            headers["Content-Type"] = "application/json"
            headers["Content-Length"] = str(len(raw))
        try:
            request = self._http.build_request(
                method,
                absolute_url or self.url(path),
                params=params,
                data=data,
                files=files,
                headers=headers,
                timeout=self._send_timeout if send else self._read_timeout,
            )
            if content is not None:
                request.stream = content  # as is: httpx would wrap it in a generator
            await self._take_slot(request)
            try:
                return await self._http.send(request)
            finally:
                self._slots.release()
        except _NOT_SENT as exc:
            raise GraphError.from_transport(exc, sent=False) from exc
        except httpx.HTTPError as exc:
            raise GraphError.from_transport(exc, sent=True) from exc

    async def _take_slot(self, request: httpx.Request | None = None) -> None:
        """One of the shared connection slots, waited for up to the connect timeout (then
        ``PoolTimeout``: nothing was sent); both send paths take one and release it."""
        if not await take_token(self._slots, self.timeouts.connect_s):
            raise httpx.PoolTimeout("no free connection", request=request)

    async def post_send(
        self, path: str, *, owner: str, json_body: Mapping[str, Any]
    ) -> tuple[int, bytes]:
        """A message send: one attempt, never retried; (HTTP status, answer body).

        Raises GraphError with ``sent`` set when there is no answer, like :meth:`once`."""
        if self._h1 is None:
            resp = await self.once("POST", path, owner=owner, send=True, json_body=json_body)
            return resp.status_code, resp.content
        try:
            token = self.token(owner)
        except LookupError as exc:
            raise GraphError(str(exc), type="NoToken", sent=False, code=190) from None
        if "\r" in token or "\n" in token:
            raise GraphError("access token holds a line break", sent=False, code=190)
        raw = orjson.dumps(dict(json_body))
        target = self._root_path + urllib.parse.quote(path.lstrip("/"), safe="/:@,;=")
        headers = (("Authorization", f"Bearer {token}"), ("Content-Type", "application/json"))
        t = self.timeouts
        try:
            await self._take_slot()
            try:
                return await self._h1.post(
                    target, headers, raw, connect_s=t.connect_s, timeout_s=t.send_s
                )
            finally:
                self._slots.release()
        except _NOT_SENT as exc:
            raise GraphError.from_transport(exc, sent=False) from exc
        except httpx.HTTPError as exc:
            raise GraphError.from_transport(exc, sent=True) from exc

    async def call(
        self,
        method: str,
        path: str,
        *,
        owner: str,
        idempotent: bool | None = None,
        params: Mapping[str, str | int] | None = None,
        json_body: Mapping[str, Any] | None = None,
        data: Mapping[str, str] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        absolute_url: str | None = None,
        raw: bool = False,
    ) -> Any:
        """A management call with retries; returns the JSON answer (or bytes if ``raw``).

        Raises GraphError when it finally fails, including for a 2xx answer that is not
        JSON (the body is kept on the error for the log).
        """
        if idempotent is None:
            idempotent = method in ("GET", "DELETE")
        attempt = 0
        while True:
            attempt += 1
            try:
                resp = await self.once(
                    method,
                    path,
                    owner=owner,
                    params=params,
                    json_body=json_body,
                    data=data,
                    files=files,
                    absolute_url=absolute_url,
                )
            except GraphError as err:
                if err.type == "NoToken":
                    raise
                if (idempotent or not err.sent) and self.retry.should_retry(attempt):
                    await self._sleep(self.retry.delay(attempt, self._rng))
                    continue
                raise
            if resp.is_success:
                if raw:
                    return resp.content
                try:
                    return json.loads(resp.content)
                except ValueError:
                    raise GraphError.unexpected(
                        resp.status_code, resp.content, "not JSON"
                    ) from None
            error = GraphError.from_response(resp.status_code, resp.content)
            retry_ok = idempotent or error.explicit
            if retry_ok and error.reaction in _RETRY_REACTIONS and self.retry.should_retry(attempt):
                await self._sleep(self.retry.delay(attempt, self._rng))
                continue
            raise error

"""Meta's side of the Flows data exchange: what a phone inside a flow makes Meta send.

Why in the simulator: the daemon's ``/flows/<name>`` endpoint can only be tested for
real by something that seals requests as Meta does — with the *business public key*,
never the private one. ``POST /_sim/flows/<name>/exchange`` plays one user action::

    {"action": "INIT" | "data_exchange" | "BACK" | "ping",
     "screen": "SHIFTS", "data": {...}, "flow_token": "…",        (optional)
     "phone_number_id": "…", "from": "<wa_id>", "endpoint": "<url>"}  (optional)

The simulator draws a fresh AES-128 key and 16-byte IV, wraps the key with RSA-OAEP
SHA-256, seals the request with AES-128-GCM, signs the body with the app secret like a
webhook, POSTs it, and opens the answer with the inverted IV. It answers
``{"status", "response" (decrypted, or null), "body" (when not decrypted), "endpoint",
"completion"}``. When the endpoint closes the flow (``SUCCESS`` with
``extension_message_response``), the simulator then does what Meta does: the user's
completion message (``interactive.nfm_reply``, its ``response_json`` the params) goes to
the daemon as a webhook, and ``completion`` names that message.

Which key: the number's registered key (``POST /{phone_number_id}/whatsapp_business_
encryption``, as ``metad flows keygen`` does), else the public key file beside the
daemon's private key (``[flows] private_key``; sandbox mode makes it in the state
directory). Which URL: ``endpoint``, else the ``endpoint_uri`` of a flow of that name,
else ``/flows/<name>`` on the webhook receiver's host.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from quart import Response, request
from quart_trio import QuartTrio

if TYPE_CHECKING:
    from sim.engine import Sim

__all__ = ["open_reply", "register_flow_exchange", "seal_request"]

_TIMEOUT_S = 10.0
"""Meta gives an endpoint about 10 s before the user sees an error."""


class _NoKey(Exception):
    pass


def seal_request(public_pem: str, payload: dict[str, Any]) -> tuple[bytes, bytes, bytes]:
    """(signed-to-be body, AES key, IV) of a request sealed for ``public_pem``'s owner."""
    key = load_pem_public_key(public_pem.encode())
    if not isinstance(key, rsa.RSAPublicKey):
        raise _NoKey("the business public key is not an RSA key")
    aes_key, iv = os.urandom(16), os.urandom(16)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    sealed = AESGCM(aes_key).encrypt(iv, json.dumps(payload).encode(), None)
    body = {
        "encrypted_flow_data": base64.b64encode(sealed).decode(),
        "encrypted_aes_key": base64.b64encode(key.encrypt(aes_key, oaep)).decode(),
        "initial_vector": base64.b64encode(iv).decode(),
    }
    return json.dumps(body).encode(), aes_key, iv


def open_reply(text: bytes, aes_key: bytes, iv: bytes) -> Any:
    """The endpoint's answer, sealed under the same key and the inverted IV."""
    flipped = bytes(b ^ 0xFF for b in iv)
    return json.loads(AESGCM(aes_key).decrypt(flipped, base64.b64decode(text), None))


def _public_key(sim: Sim, pid: str) -> str:
    registered = sim.world.numbers[pid].public_key
    if registered:
        return registered
    cfg = sim.cfg
    base = cfg.source.path.parent if cfg.source is not None else Path.cwd()
    _, public = cfg.flows.key_files(state_dir=cfg.daemon.state_dir, base_dir=base)
    try:
        return public.read_text(encoding="ascii")
    except OSError:
        raise _NoKey(f"no key registered for {pid} and no public key at {public}") from None


def _endpoint(sim: Sim, name: str, given: Any) -> str:
    if isinstance(given, str) and given:
        return given
    for flow in sim.world.flows.values():
        if flow.name == name and flow.endpoint_uri:
            return flow.endpoint_uri
    if sim.dispatcher.url is None:
        raise _NoKey("no endpoint: give one, or run the simulator with a webhook URL")
    parts = urlsplit(sim.dispatcher.url)
    return urlunsplit((parts.scheme, parts.netloc, f"/flows/{name}", "", ""))


def _completion(sim: Sim, pid: str, wa_id: str, params: dict[str, Any]) -> dict[str, Any]:
    """The user's completion message, sent as Meta sends it."""
    nfm = {"name": "flow", "body": "Sent", "response_json": json.dumps(params)}
    content = {"type": "interactive", "interactive": {"type": "nfm_reply", "nfm_reply": nfm}}
    wamid = sim.inbound(pid, wa_id, content)
    return {"wamid": wamid, "from": wa_id, "phone_number_id": pid, "response": params}


def _params(reply: Any) -> dict[str, Any] | None:
    if not isinstance(reply, dict) or reply.get("screen") != "SUCCESS":
        return None
    data = reply.get("data")
    ext = data.get("extension_message_response") if isinstance(data, dict) else None
    params = ext.get("params") if isinstance(ext, dict) else None
    return params if isinstance(params, dict) else None


async def exchange(sim: Sim, name: str, doc: dict[str, Any]) -> dict[str, Any]:
    """One user action through the data-exchange endpoint (see the module docstring)."""
    world = sim.world
    pid = str(doc.get("phone_number_id") or next(iter(world.numbers)))
    if pid not in world.numbers:
        raise _NoKey(f"unknown phone_number_id {pid}")
    payload: dict[str, Any] = {"version": "3.0", "action": doc.get("action", "INIT")}
    for key in ("screen", "data", "flow_token"):
        if key in doc:
            payload[key] = doc[key]
    body, aes_key, iv = seal_request(_public_key(sim, pid), payload)
    url = _endpoint(sim, name, doc.get("endpoint"))
    signature = "sha256=" + hmac.new(sim.app_secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"content-type": "application/json", "x-hub-signature-256": signature}
    sim.counters["flows:exchanges"] += 1
    async with httpx.AsyncClient(timeout=_TIMEOUT_S) as http:
        resp = await http.post(url, content=body, headers=headers)
    out: dict[str, Any] = {"status": resp.status_code, "endpoint": url, "response": None}
    out["completion"] = None
    if resp.status_code != 200:
        out["body"] = resp.text[:1000]
        return out
    try:
        out["response"] = open_reply(resp.content, aes_key, iv)
    except Exception:  # an answer Meta could not open: show what came back
        out["body"] = resp.text[:1000]
        return out
    params = _params(out["response"])
    if params is not None:
        wa_id = world.resolve(str(doc.get("from") or "")) or next(iter(world.contacts))
        out["completion"] = _completion(sim, pid, wa_id, params)
    return out


def register_flow_exchange(app: QuartTrio, sim: Sim) -> None:
    """Add ``POST /_sim/flows/<name>/exchange`` for ``sim`` to ``app``."""

    @app.post("/_sim/flows/<name>/exchange")
    async def flow_exchange(name: str) -> Response:
        raw = await request.get_data(as_text=False)
        try:
            doc = json.loads(raw) if raw else {}
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            return _json({"error": "the body must be a JSON object"}, 400)
        try:
            return _json(await exchange(sim, name, doc))
        except _NoKey as exc:
            return _json({"error": str(exc)}, 400)
        except httpx.HTTPError as exc:
            return _json({"error": f"endpoint unreachable: {exc!r}"}, 502)


def _json(doc: Any, status: int = 200) -> Response:
    return Response(json.dumps(doc, default=str), status, content_type="application/json")

"""Resumable uploads (``/{app_id}/uploads``): the handles template headers need.

Why apart from media uploads: a template's header *example* must be a resumable-upload
handle (``4::aW…``), not a ``/{phone_number_id}/media`` id, which is only for sends
(the old system mixed them, behaviour.md 15.5 #30). The protocol: open a session with
the file's name, length and type; POST the bytes with ``file_offset``; the answer's
``h`` is the handle. The bytes go raw (``application/octet-stream``) with an ``OAuth``
authorization, which the shared transport does not build, hence this mixin.
"""

from __future__ import annotations

import json

import httpx

from daemon.graph.errors import GraphError
from daemon.graph.transport import Transport

__all__ = ["UploadCalls"]


class UploadCalls(Transport):
    async def start_upload(
        self, app_id: str, *, owner: str, file_name: str, file_length: int, file_type: str
    ) -> str:
        """Open an upload session; returns its id (``upload:…``)."""
        doc = await self.call(
            "POST",
            f"{app_id}/uploads",
            owner=owner,
            params={"file_name": file_name, "file_length": file_length, "file_type": file_type},
        )
        session = doc.get("id") if isinstance(doc, dict) else None
        if not isinstance(session, str):
            raise GraphError.unexpected(200, json.dumps(doc).encode(), "no upload session id")
        return session

    async def upload_bytes(
        self, session_id: str, content: bytes, *, owner: str, offset: int = 0
    ) -> str:
        """Send the bytes (from ``offset``) to a session; returns the file handle ``h``."""
        try:
            token = self.token(owner)
        except LookupError as exc:
            raise GraphError(str(exc), type="NoToken", sent=False, code=190) from None
        try:
            resp = await self._http.post(
                self.url(session_id),
                content=content[offset:],
                headers={
                    "Authorization": f"OAuth {token}",
                    "file_offset": str(offset),
                    "Content-Type": "application/octet-stream",
                },
                timeout=self._read_timeout,
            )
        except httpx.HTTPError as exc:
            raise GraphError.from_transport(exc, sent=True) from exc
        if not resp.is_success:
            raise GraphError.from_response(resp.status_code, resp.content)
        try:
            doc = json.loads(resp.content)
        except ValueError:
            raise GraphError.unexpected(resp.status_code, resp.content, "not JSON") from None
        handle = doc.get("h") if isinstance(doc, dict) else None
        if not isinstance(handle, str):
            raise GraphError.unexpected(resp.status_code, resp.content, "no file handle")
        return handle

    async def resumable_upload(
        self, app_id: str, content: bytes, *, owner: str, file_name: str, file_type: str
    ) -> str:
        """Open a session and upload ``content`` in one go; returns the handle."""
        session = await self.start_upload(
            app_id, owner=owner, file_name=file_name, file_length=len(content), file_type=file_type
        )
        return await self.upload_bytes(session, content, owner=owner)

"""``otp.send`` and ``otp.verify`` over the control socket for the test contact: the
calls the OTP tests make again and again, with their answers typed."""

from __future__ import annotations

from typing import Any

from daemon.control.client import CtlClient
from tests.integration.daemon.conftest import CHIP, CONTACT


class OtpCalls:
    def __init__(self, client: CtlClient) -> None:
        self._client = client

    async def send(self, purpose: str = "login") -> dict[str, Any]:
        result: dict[str, Any] = await self._client.call(
            "otp.send", {"chip": CHIP, "to": CONTACT, "purpose": purpose}
        )
        return result

    async def verify(self, code: str, purpose: str = "login") -> dict[str, Any]:
        result: dict[str, Any] = await self._client.call(
            "otp.verify", {"to": CONTACT, "purpose": purpose, "code": code}
        )
        return result

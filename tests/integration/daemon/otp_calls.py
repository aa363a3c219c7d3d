"""``otp.send`` and ``otp.verify`` over the control socket for the test contact: the
calls the OTP tests make again and again, with their answers typed."""

from __future__ import annotations

from typing import Any

from actors.waba import SyncTemplates
from daemon.control.client import CtlClient
from tests.integration.daemon.conftest import CHIP, CONTACT, Env, wait_until

WABA = "100000000000001"


async def approved_shift_template(env: Env, client: CtlClient) -> Any:
    """Create the shift template, wait for the simulator to approve it, then sync the
    WABA so its chips know it approved before the test sends: a send right after the
    simulator's approval could reach the chip before the review webhook did, and the
    chip refused it (template PENDING; a flaky test)."""
    created = await client.call("shift.template.create", {"waba": WABA})
    record = env.sim.world.templates[created["id"]]
    await wait_until(lambda: record.status == "APPROVED")
    await env.daemon.fleet.waba(WABA).call(lambda r: SyncTemplates(reply=r), timeout=30)
    return record


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

"""FleetRouter: what each actor is told of a status webhook."""

from __future__ import annotations

from typing import Any

import pytest

from actors.budget.messages import Settle
from actors.chip import StatusEvent
from daemon.webhook import events as e
from daemon.webhook.content import ErrorDetail
from daemon.webhook.route import FleetRouter

PNID = "100000000000001"


class _Address:
    def __init__(self) -> None:
        self.told: list[Any] = []

    async def cast(self, msg: Any) -> None:
        self.told.append(msg)


class _Fleet:
    def __init__(self) -> None:
        self.chip = _Address()
        self.budget = _Address()

    def find_chip(self, phone_number_id: str) -> _Address | None:
        return self.chip if phone_number_id == PNID else None


def _status(status: str, **more: Any) -> e.StatusUpdate:
    return e.StatusUpdate(
        phone_number_id=PNID,
        display_phone_number=None,
        waba_id="200000000000001",
        wamid="wamid.1",
        status=status,
        timestamp=1_800_000_000,
        recipient_id="5511987654321",
        biz_opaque_callback_data="metad:o:7",
        **more,
    )


PRICED = e.Pricing(billable=True, pricing_model="PMP", category="marketing", type="regular")


async def test_a_sent_status_settles_the_price_and_does_not_reach_the_chip() -> None:
    fleet = _Fleet()
    router = FleetRouter(fleet)  # type: ignore[arg-type]
    assert await router.deliver(_status("sent", pricing=PRICED))
    assert [type(m) for m in fleet.budget.told] == [Settle]
    assert fleet.budget.told[0].id == "o:7"
    assert fleet.chip.told == []


@pytest.mark.parametrize("status", ["delivered", "read", "failed"])
async def test_deliveries_reads_and_failures_reach_the_chip(status: str) -> None:
    fleet = _Fleet()
    errors = (
        (ErrorDetail(code=131047, title="Re-engagement message"),) if status == "failed" else ()
    )
    assert await FleetRouter(fleet).deliver(_status(status, errors=errors))  # type: ignore[arg-type]
    [told] = fleet.chip.told
    assert isinstance(told, StatusEvent)
    assert (told.outbox_id, told.status) == (7, status)
    assert told.error_code == (131047 if status == "failed" else None)


async def test_a_status_of_an_unknown_number_is_not_routed() -> None:
    fleet = _Fleet()
    unknown = e.StatusUpdate(
        phone_number_id="999",
        display_phone_number=None,
        waba_id="w",
        wamid="wamid.2",
        status="delivered",
        timestamp=1,
    )
    assert not await FleetRouter(fleet).deliver(unknown)  # type: ignore[arg-type]
    assert fleet.chip.told == []

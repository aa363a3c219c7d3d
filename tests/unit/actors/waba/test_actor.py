"""The WABA actor folds account events into its kill switch and tells its chips."""

from __future__ import annotations

import trio

from actors.core import Mailbox, open_mailbox
from actors.ports import WabaRecord
from actors.waba import AccountEvent, GetWabaSnapshot, WabaActor, WabaMsg
from actors.waba.killswitch import KillSwitch, WabaEffect
from tests.fakes import FakeWabaRepo

NOW = 1_800_000_000.0


def _actor(repo: FakeWabaRepo, box: Mailbox[WabaMsg], seen: list[KillSwitch]) -> WabaActor:
    async def broadcast(switch: KillSwitch) -> None:
        seen.append(switch)

    return WabaActor(
        initial=WabaRecord(waba_id="100000000000001", name="SP"),
        chips=("200000000000001",),
        repo=repo,
        inbox=box.inbox,
        now=lambda: NOW,
        broadcast=broadcast,
    )


async def test_restriction_kills_every_chip_and_survives_a_restart() -> None:
    repo, seen = FakeWabaRepo(), []
    box: Mailbox[WabaMsg] = open_mailbox("waba")
    async with trio.open_nursery() as n:
        await n.start(_actor(repo, box, seen).run)
        effect = WabaEffect(kill=True, scope="all", reason="ACCOUNT_RESTRICTION")
        await box.address.cast(AccountEvent(effect=effect, at=NOW))
        snap = await box.address.call(lambda r: GetWabaSnapshot(reply=r))
        box.close()
    assert snap.record.restricted
    assert [k.scope for k in seen[-1].active(NOW)] == ["all"]

    again: list[KillSwitch] = []
    box2: Mailbox[WabaMsg] = open_mailbox("waba")
    restarted = _actor(repo, box2, again)
    await restarted.load()
    assert [k.scope for k in restarted.switch.active(NOW)] == ["all"]
    assert again  # the chips are told again after the restart


async def test_events_that_do_not_affect_sending_change_nothing() -> None:
    repo, seen = FakeWabaRepo(), []
    box: Mailbox[WabaMsg] = open_mailbox("waba")
    async with trio.open_nursery() as n:
        await n.start(_actor(repo, box, seen).run)
        await box.address.cast(
            AccountEvent(effect=WabaEffect(kill=None, scope="all", reason="x"), at=NOW)
        )
        snap = await box.address.call(lambda r: GetWabaSnapshot(reply=r))
        box.close()
    assert not snap.record.restricted
    assert seen == []
    assert repo.effects == {}


async def test_a_failed_template_sync_is_reported_not_a_crash() -> None:
    import pytest

    from actors.ports import PortError, TemplateRecord
    from actors.waba import SyncTemplates

    class Unreachable:
        async def templates(self, waba_id: str) -> list[TemplateRecord]:
            raise PortError("Meta unreachable")

    class Repo(FakeWabaRepo):
        async def load_templates(self, waba_id: str) -> list[TemplateRecord]:
            return []

        async def save_templates(self, records: object) -> None:
            raise AssertionError("nothing to save")

    repo: Repo = Repo()
    box: Mailbox[WabaMsg] = open_mailbox("waba")

    async def broadcast(switch: KillSwitch) -> None:
        pass

    actor = WabaActor(
        initial=WabaRecord(waba_id="100000000000001"),
        chips=(),
        repo=repo,
        inbox=box.inbox,
        now=lambda: NOW,
        broadcast=broadcast,
        templates=repo,
        source=Unreachable(),
    )
    async with trio.open_nursery() as n:
        await n.start(actor.run)
        with pytest.raises(PortError, match="unreachable"):
            await box.address.call(lambda r: SyncTemplates(reply=r))
        snap = await box.address.call(lambda r: GetWabaSnapshot(reply=r))  # still alive
        box.close()
    assert snap.record.waba_id == "100000000000001"

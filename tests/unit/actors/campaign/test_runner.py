"""The campaign runner and coordinator against in-memory stores, fleets and chip actors.

The fake chips are trio tasks reading a real mailbox: they answer ``Send`` from a script
(Sent, Refused, Uncertain, or no answer at all) and ``GetSnapshot`` from their state, so
the runner's calls, timeouts and concurrency are the real ones. Time is trio's virtual
clock; the runner's ``now`` is a fixed local instant plus the virtual time elapsed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import trio
import trio.testing
from trio.testing import MockClock

from actors.budget.coordinator import BudgetMsg, SetCampaignCap
from actors.budget.ledger import Caps
from actors.campaign.cards import plan_cards
from actors.campaign.coordinator import (
    CampaignCmd,
    CampaignCoordinator,
    CampaignError,
    CampaignMsg,
    CampaignStatus,
    ListCampaigns,
    ResolveInDoubt,
)
from actors.campaign.ports import CampaignStore, FleetPort
from actors.campaign.runner import PACE_CREDIT_S, YIELD_EVERY, CampaignRunner, render_text
from actors.campaign.schedule import next_open
from actors.chip.messages import (
    ChipMsg,
    ChipSnapshot,
    GetSnapshot,
    Refused,
    Send,
    SendResult,
    Sent,
    Uncertain,
)
from actors.core import ActorCrashed, Address, Mailbox, open_mailbox
from actors.ports import ChipRecord, TemplateRecord
from config.campaign import CampaignSpec

SP = ZoneInfo("America/Sao_Paulo")
NOON = dt.datetime(2026, 12, 1, 12, 0, tzinfo=SP)  # a Tuesday
CID = "offer"
W1, W2 = "100000000000001", "100000000000002"
A, B, C = "200000000000001", "200000000000002", "200000000000003"

QUICK = [{"type": "QUICK_REPLY", "text": "Aceitar"}, {"type": "QUICK_REPLY", "text": "Recusar"}]
VAGA_PLANTAO = (
    {"type": "HEADER", "format": "TEXT", "text": "Nova vaga"},
    {"type": "BODY", "text": "Olá {{1}}, temos um plantão em {{2}} para você."},
    {"type": "BUTTONS", "buttons": QUICK},
)
CARD = [
    {"type": "HEADER", "format": "IMAGE"},
    {"type": "BODY", "text": "Plantão em {{1}}."},
    {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Quero"}]},
]
CARROSSEL_VAGAS = (
    {"type": "BODY", "text": "Vagas da semana para você, {{1}}."},
    {"type": "CAROUSEL", "cards": [{"components": CARD}, {"components": CARD}]},
)
BUDGET_REFUSAL = (
    "budget: monthly cap would be crossed (0.0625 USD needed, 0 of 5 USD left, 2026-12)"
)


def vaga_plantao(waba: str, status: str = "APPROVED") -> TemplateRecord:
    return TemplateRecord(
        waba_id=waba,
        name="vaga_plantao",
        language="pt_BR",
        id="400000000000001",
        category="MARKETING",
        status=status,
        quality="GREEN",
        components=VAGA_PLANTAO,
    )


def carrossel_vagas(waba: str) -> TemplateRecord:
    return TemplateRecord(
        waba_id=waba,
        name="carrossel_vagas",
        language="pt_BR",
        category="MARKETING",
        status="APPROVED",
        components=CARROSSEL_VAGAS,
    )


# --- the store ------------------------------------------------------------------------------


@dataclass
class Rec:
    key: str
    to: str
    fields: dict[str, str]
    seq: int
    part: int = 0
    state: str = "pending"
    reason: str | None = None
    chip: str | None = None


@dataclass(frozen=True)
class PendingRow:
    key: str
    to: str
    fields: dict[str, str]
    seq: int
    part: int


@dataclass
class Row:
    id: str
    spec: dict[str, Any]
    state: str = "draft"
    reason: str | None = None
    cap_usd: float | None = None

    @property
    def name(self) -> str:
        return self.id


class FakeStore:
    """CampaignStore in memory; keeps every mark and state change it was asked for."""

    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}
        self.recipients: dict[str, dict[str, Rec]] = {}
        self.marks: list[tuple[str, str, str | None, str | None]] = []
        self.states: list[tuple[str, str, str | None]] = []
        self.affinities: dict[str, str] = {}
        self.recovered = 0
        self.in_doubt_rows: list[dict[str, Any]] = []
        self.resolved: list[tuple[str, str, str]] = []
        self.progress_calls = 0
        self.progress_s = 0.0
        """How long a count takes (a big campaign's takes long)."""

    def add(self, cid: str, stored: dict[str, Any], recs: Sequence[Rec], state: str) -> None:
        self.rows[cid] = Row(cid, stored, state)
        self.recipients[cid] = {r.key: r for r in recs}

    def state_of(self, cid: str = CID) -> dict[str, str]:
        return {k: r.state for k, r in self.recipients[cid].items()}

    def keys_in(self, state: str, cid: str = CID) -> list[str]:
        return [k for k, r in self.recipients[cid].items() if r.state == state]

    async def get(self, campaign_id: str) -> Row | None:
        row = self.rows.get(campaign_id)
        return dataclasses.replace(row) if row else None

    async def all(self) -> list[Row]:
        return [dataclasses.replace(r) for r in self.rows.values()]

    async def set_state(self, campaign_id: str, state: str, reason: str | None = None) -> None:
        self.states.append((campaign_id, state, reason))
        self.rows[campaign_id].state = state
        self.rows[campaign_id].reason = reason

    async def pending(
        self, campaign_id: str, *, after: tuple[int, int], limit: int
    ) -> list[PendingRow]:
        rows = sorted(
            (r for r in self.recipients[campaign_id].values() if r.state == "pending"),
            key=lambda r: (r.seq, r.part),
        )
        out = [r for r in rows if (r.seq, r.part) > after][:limit]
        return [PendingRow(r.key, r.to, dict(r.fields), r.seq, r.part) for r in out]

    async def mark(
        self, campaign_id: str, changes: Sequence[tuple[str, str, str | None, str | None]]
    ) -> None:
        for key, state, reason, chip in changes:
            self.marks.append((key, state, reason, chip))
            rec = self.recipients[campaign_id][key]
            rec.state, rec.reason, rec.chip = state, reason, chip or rec.chip

    async def recover(self, campaign_id: str) -> int:
        return self.recovered

    async def progress(self, campaign_id: str) -> dict[str, Any]:
        self.progress_calls += 1
        await trio.sleep(self.progress_s)
        counts: dict[str, Any] = {"total": len(self.recipients[campaign_id]), "spent": 0.0}
        for state in ("pending", "handed", "skipped", "refused", "dropped"):
            counts[state] = len(self.keys_in(state, campaign_id))
        return counts

    async def in_doubt(self, campaign_id: str, *, older_than: dt.datetime) -> list[dict[str, Any]]:
        return list(self.in_doubt_rows)

    async def resolve_in_doubt(self, campaign_id: str, recipient: str, action: str) -> bool:
        self.resolved.append((campaign_id, recipient, action))
        return True

    async def affinity(self, campaign_id: str, chips: Sequence[str]) -> dict[str, str]:
        return {to: chip for to, chip in self.affinities.items() if chip in chips}


# --- the chips and the fleet ---------------------------------------------------------------

Answer = Callable[[Send, int], SendResult | None]
"""What a fake chip answers to a send (the int: how many times it saw this recipient
before); None: no answer at all (the runner's call times out)."""


def sent(msg: Send, attempt: int) -> SendResult:
    return Sent(outbox_id=1, wamid=f"wamid.{msg.recipient_id}.{attempt}", method="template")


@dataclass
class FakeChip:
    pnid: str
    waba: str
    answer: Answer = sent
    quality: str = "GREEN"
    mode: str = "FULL"
    paused: bool = False
    draining: bool = False
    mps: float = 80.0
    gate: trio.Event | None = None
    """When set, answers wait for this event."""
    box: Mailbox[ChipMsg] = field(init=False)
    sends: list[tuple[float, Send]] = field(default_factory=list)
    snapshots: int = 0

    def __post_init__(self) -> None:
        self.box = open_mailbox(f"chip {self.pnid}")

    @property
    def address(self) -> Address[ChipMsg]:
        return self.box.address

    def keys(self) -> list[str]:
        return [str(s.recipient_id) for _, s in self.sends]

    def snapshot(self) -> ChipSnapshot:
        record = ChipRecord(
            phone_number_id=self.pnid,
            waba_id=self.waba,
            display_number="+55 11 94000-0001",
            quality_rating=self.quality,
            paused=self.paused,
        )
        return ChipSnapshot(
            record=record,
            restarts=0,
            mode=self.mode,
            policy="sending",
            open_windows=0,
            queued=0,
            in_flight=0,
            mps=self.mps,
            tier_used=0,
            tier_limit=None,
            draining=self.draining,
        )

    async def run(self) -> None:
        async with trio.open_nursery() as nursery:
            async for msg in self.box.inbox:
                match msg:
                    case GetSnapshot(reply=reply):
                        self.snapshots += 1
                        reply.ok(self.snapshot())
                    case Send():
                        attempt = sum(
                            1 for _, s in self.sends if s.recipient_id == msg.recipient_id
                        )
                        self.sends.append((trio.current_time(), msg))
                        nursery.start_soon(self._answer, msg, attempt)
                    case _:
                        raise AssertionError(f"unexpected {msg!r}")

    async def _answer(self, msg: Send, attempt: int) -> None:
        if self.gate is not None:
            await self.gate.wait()
        result = self.answer(msg, attempt)
        if result is not None:
            msg.reply.ok(result)


class FakeFleet:
    def __init__(self, chips: Sequence[FakeChip], templates: Mapping[str, list[TemplateRecord]]):
        self.by_pnid = {c.pnid: c for c in chips}
        self.template_records = dict(templates)

    def chips(self) -> dict[str, tuple[str, Address[ChipMsg]]]:
        return {p: (c.waba, c.address) for p, c in self.by_pnid.items()}

    async def snapshot(self, pnid: str) -> ChipSnapshot:
        snap: ChipSnapshot = await self.by_pnid[pnid].address.call(
            lambda r: GetSnapshot(reply=r), timeout=2.0
        )
        return snap

    async def templates(self, waba_id: str) -> list[TemplateRecord]:
        return list(self.template_records.get(waba_id, []))


# --- the world a test runs in ---------------------------------------------------------------


def people(n: int, start: int = 1) -> list[Rec]:
    return [
        Rec(
            key=f"{i}/SP",
            to=f"55119{i:08d}",
            fields={"primeiro_nome": f"Doc{i}", "especialidade": "Pediatria"},
            seq=i,
        )
        for i in range(start, start + n)
    ]


def stored_spec(cards: list[list[dict[str, Any]]] | None = None, **kw: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "name": CID,
        "audience": {"inline": [{"phone": "5511987654321"}]},
        "templates": [{"name": "vaga_plantao", "language": "pt_BR"}],
        "variables": {"1": {"column": "primeiro_nome", "aliases": ["nome"]}, "2": "especialidade"},
        "limits": {"rate_per_s": 1000},
    }
    limits = {**raw["limits"], **kw.pop("limits", {})}
    spec = CampaignSpec.model_validate({**raw, **kw, "limits": limits})
    return {"spec": spec.model_dump(mode="json"), "cards": cards or []}


@dataclass
class World:
    nursery: trio.Nursery
    store: FakeStore = field(default_factory=FakeStore)
    chips: list[FakeChip] = field(default_factory=list)
    templates: dict[str, list[TemplateRecord]] = field(default_factory=dict)
    pauses: list[str] = field(default_factory=list)
    start: float = 0.0
    local_start: dt.datetime = NOON
    budget: Address[BudgetMsg] | None = None

    def chip(self, pnid: str = A, waba: str = W1, **kw: Any) -> FakeChip:
        c = FakeChip(pnid, waba, **kw)
        self.chips.append(c)
        self.templates.setdefault(waba, [vaga_plantao(waba)])
        self.nursery.start_soon(c.run)
        return c

    @property
    def fleet(self) -> FakeFleet:
        return FakeFleet(self.chips, self.templates)

    def now(self) -> float:
        return self.local_start.timestamp() + trio.current_time() - self.start

    def elapsed(self) -> float:
        return trio.current_time() - self.start

    def sends(self) -> list[tuple[float, Send]]:
        return sorted((s for c in self.chips for s in c.sends), key=lambda s: s[0])

    def keys_sent(self) -> list[str]:
        return [str(s.recipient_id) for _, s in self.sends()]

    def runner(
        self,
        recs: Sequence[Rec] = (),
        *,
        stored: dict[str, Any] | None = None,
        on_pause: Callable[[str], None] | None = None,
        **spec: Any,
    ) -> CampaignRunner:
        stored = stored or stored_spec(**spec)
        self.store.add(CID, stored, recs, "running")
        fleet: FleetPort = self.fleet
        store: CampaignStore = self.store
        runner = CampaignRunner(
            campaign_id=CID,
            stored=stored,
            store=store,
            fleet=fleet,
            budget=self.budget,
            now=self.now,
            tz=SP,
            on_pause=on_pause or self.pauses.append,
        )
        return runner


# pytest-trio runs a test on the virtual clock only when the test itself takes
# ``autojump_clock`` (a fixture's request is not enough): every async test below does.


@pytest.fixture
async def world(autojump_clock: MockClock) -> AsyncIterator[World]:
    async with trio.open_nursery() as nursery:
        yield World(nursery, start=trio.current_time())
        nursery.cancel_scope.cancel()


async def run_to_end(runner: CampaignRunner, limit_s: float = 24 * 3600) -> None:
    with trio.fail_after(limit_s):
        await runner.run()


def components(send: Send) -> list[dict[str, Any]]:
    assert send.template is not None
    return list(send.template["components"])


# --- every recipient once ----------------------------------------------------------------------


async def test_every_pending_recipient_is_handed_once(
    world: World, autojump_clock: MockClock
) -> None:
    chips = [world.chip(A), world.chip(B), world.chip(C, waba=W2)]
    recs = people(30)
    runner = world.runner(recs)
    await run_to_end(runner)
    assert runner.finished
    assert sorted(world.keys_sent()) == sorted(r.key for r in recs)
    assert set(world.store.state_of().values()) == {"handed"}
    by_chip = {c.pnid: set(c.keys()) for c in chips}
    for rec in world.store.recipients[CID].values():
        assert rec.chip is not None
        assert rec.key in by_chip[rec.chip]
    assert runner.state.in_flight == 0
    assert runner.waiting is None


async def test_recipients_go_in_file_order(world: World, autojump_clock: MockClock) -> None:
    world.chip(A)
    recs = people(20)
    await run_to_end(world.runner(recs[::-1]))  # stored out of order; seq decides
    assert world.keys_sent() == [r.key for r in recs]


async def test_only_pending_recipients_are_handed(world: World, autojump_clock: MockClock) -> None:
    world.chip(A)
    recs = people(6)
    recs[1].state = "skipped"
    recs[3].state = "handed"
    recs[4].state = "refused"
    await run_to_end(world.runner(recs))
    assert world.keys_sent() == ["1/SP", "3/SP", "6/SP"]


async def test_the_send_carries_campaign_recipient_and_the_filled_template(
    world: World, autojump_clock: MockClock
) -> None:
    chip = world.chip(A)
    await run_to_end(world.runner(people(1)))
    ((_, send),) = chip.sends
    assert (send.to, send.campaign_id, send.recipient_id) == ("5511900000001", CID, "1/SP")
    assert (send.category, send.intent, send.content) == ("marketing", "marketing", None)
    assert send.template is not None
    assert send.template["name"] == "vaga_plantao"
    assert send.template["language"] == {"code": "pt_BR"}
    assert components(send) == [
        {
            "type": "body",
            "parameters": [
                {"type": "text", "text": "Doc1"},
                {"type": "text", "text": "Pediatria"},
            ],
        },
        *(
            {
                "type": "button",
                "sub_type": "quick_reply",
                "index": str(i),
                "parameters": [{"type": "payload", "payload": "mc:offer:1/SP"}],
            }
            for i in (0, 1)
        ),
    ]


async def test_free_form_text_goes_with_the_template(
    world: World, autojump_clock: MockClock
) -> None:
    chip = world.chip(A)
    await run_to_end(world.runner(people(1), text="Oi {primeiro_nome}, {sem_coluna}!"))
    ((_, send),) = chip.sends
    assert send.content == {"type": "text", "text": {"body": "Oi Doc1, {sem_coluna}!"}}
    assert send.template is not None


async def test_a_utility_campaign_says_so(world: World, autojump_clock: MockClock) -> None:
    chip = world.chip(A, quality="YELLOW")  # YELLOW stops marketing only
    await run_to_end(world.runner(people(1), intent="utility"))
    ((_, send),) = chip.sends
    assert send.intent == "utility"
    assert send.category == "marketing"  # the template's own category


# --- what the chip answers ---------------------------------------------------------------------


def answer_for(special: Mapping[str, SendResult | None]) -> Answer:
    def answer(msg: Send, attempt: int) -> SendResult | None:
        key = str(msg.recipient_id)
        if key in special and attempt == 0:
            return special[key]
        return sent(msg, attempt)

    return answer


SETTLE = [
    pytest.param(Sent(1, "wamid.1", "template"), "handed", None, id="sent"),
    pytest.param(Uncertain(1, "timeout"), "handed", None, id="uncertain"),
    pytest.param(Refused("duplicate: outbox 7 is sent", 7), "handed", None, id="duplicate"),
    pytest.param(
        Refused("not a phone number or user id: 'x'"),
        "refused",
        "not a phone number or user id: 'x'",
        id="refused",
    ),
    pytest.param(
        Refused("template vaga_plantao/pt_BR is PAUSED"),
        "refused",
        "template vaga_plantao/pt_BR is PAUSED",
        id="refused-template",
    ),
]


@pytest.mark.parametrize(("result", "state", "reason"), SETTLE)
async def test_how_an_answer_settles_the_recipient(
    world: World,
    result: SendResult,
    state: str,
    reason: str | None,
    autojump_clock: MockClock,
) -> None:
    chip = world.chip(A, answer=answer_for({"2/SP": result}))
    runner = world.runner(people(3))
    await run_to_end(runner)
    assert runner.finished
    rec = world.store.recipients[CID]["2/SP"]
    assert (rec.state, rec.reason, rec.chip) == (state, reason, A)
    assert chip.keys().count("2/SP") == 1  # never handed twice
    assert world.store.state_of() == {"1/SP": "handed", "2/SP": state, "3/SP": "handed"}
    assert world.pauses == []


@pytest.mark.parametrize("reason", ["chip is draining", "daemon stopping"])
async def test_a_transient_refusal_leaves_the_recipient_pending(
    world: World, reason: str, autojump_clock: MockClock
) -> None:
    chip = world.chip(A, answer=answer_for({"2/SP": Refused(reason)}))
    runner = world.runner(people(3))
    await run_to_end(runner)
    assert chip.keys().count("2/SP") == 2  # pending after the refusal, sent on the next pass
    assert world.store.state_of() == dict.fromkeys(("1/SP", "2/SP", "3/SP"), "handed")
    assert [m for m in world.store.marks if m[0] == "2/SP"] == [("2/SP", "handed", None, A)]
    assert runner.finished


async def test_a_refusal_that_keeps_coming_keeps_the_recipient_pending(
    world: World, autojump_clock: MockClock
) -> None:
    def answer(msg: Send, attempt: int) -> SendResult:
        return Refused("chip is draining") if msg.recipient_id == "2/SP" else sent(msg, attempt)

    chip = world.chip(A, answer=answer)
    runner = world.runner(people(3), limits={"rate_per_s": 10})
    world.nursery.start_soon(runner.run)
    await trio.sleep(30)
    runner.stop()
    await trio.sleep(1)
    assert world.store.keys_in("pending") == ["2/SP"]
    assert chip.keys().count("2/SP") > 2
    assert not runner.finished


async def test_a_budget_refusal_pauses_the_campaign(
    world: World, autojump_clock: MockClock
) -> None:
    runner: CampaignRunner | None = None

    def on_pause(reason: str) -> None:
        world.pauses.append(reason)
        assert runner is not None
        runner.stop()  # what the coordinator does with the pause

    chip = world.chip(A, answer=answer_for({"3/SP": Refused(BUDGET_REFUSAL)}))
    runner = world.runner(people(10), on_pause=on_pause, limits={"rate_per_s": 1})
    await run_to_end(runner)
    assert len(world.pauses) == 1
    assert world.pauses[0].startswith("budget:")
    assert BUDGET_REFUSAL in world.pauses[0]
    assert chip.keys() == ["1/SP", "2/SP", "3/SP"]
    assert world.store.keys_in("handed") == ["1/SP", "2/SP"]
    assert world.store.recipients[CID]["3/SP"].state == "pending"  # sent after a resume
    assert not runner.finished


async def test_no_answer_within_the_timeout_leaves_it_pending_for_the_next_pass(
    world: World, autojump_clock: MockClock
) -> None:
    chip = world.chip(A, answer=answer_for({"2/SP": None}))
    runner = world.runner(people(3))
    await run_to_end(runner)
    assert chip.keys() == ["1/SP", "2/SP", "3/SP", "2/SP"]
    retry_at = chip.sends[-1][0] - world.start
    assert retry_at >= 900  # SEND_TIMEOUT_S
    assert world.store.state_of() == dict.fromkeys(("1/SP", "2/SP", "3/SP"), "handed")
    assert runner.finished


async def test_a_missing_template_variable_skips_the_recipient(
    world: World, autojump_clock: MockClock
) -> None:
    chip = world.chip(A)
    recs = people(3)
    recs[1].fields = {"primeiro_nome": "Doc2"}  # no especialidade, no default
    recs[2].fields = {"nome": "Dra. Três", "especialidade": "UTI"}  # the alias fills slot 1
    runner = world.runner(recs)
    await run_to_end(runner)
    assert chip.keys() == ["1/SP", "3/SP"]
    rec = world.store.recipients[CID]["2/SP"]
    assert rec.state == "skipped"
    assert rec.reason is not None
    assert rec.reason.startswith("missing variable: ")
    assert "2" in rec.reason
    assert "especialidade" in rec.reason
    assert rec.chip is None
    assert runner.finished


async def test_a_default_fills_a_missing_variable(world: World, autojump_clock: MockClock) -> None:
    chip = world.chip(A)
    recs = people(1)
    recs[0].fields = {"especialidade": "UTI"}
    variables = {"1": {"column": "primeiro_nome", "default": "doutor(a)"}, "2": "especialidade"}
    await run_to_end(world.runner(recs, variables=variables))
    body = components(chip.sends[0][1])[0]
    assert body["parameters"][0] == {"type": "text", "text": "doutor(a)"}


# --- stop, finish ------------------------------------------------------------------------------


async def test_stop_takes_no_new_recipients(world: World, autojump_clock: MockClock) -> None:
    chip = world.chip(A)
    runner = world.runner(people(100), limits={"rate_per_s": 1})
    world.nursery.start_soon(runner.run)
    await trio.sleep(5.5)
    runner.stop()
    assert runner.stopping()
    await trio.sleep(60)
    assert chip.keys() == [f"{i}/SP" for i in range(1, 7)]  # at 0, 1, … 5 s
    assert len(world.store.keys_in("handed")) == 6  # what was in flight is journalled
    assert len(world.store.keys_in("pending")) == 94
    assert not runner.finished


async def test_stop_waits_for_what_is_in_flight(world: World, autojump_clock: MockClock) -> None:
    gate = trio.Event()
    world.chip(A, gate=gate)
    runner = world.runner(people(3))
    done = trio.Event()

    async def run() -> None:
        await runner.run()
        done.set()

    world.nursery.start_soon(run)
    await trio.sleep(1)
    runner.stop()
    await trio.sleep(10)
    assert not done.is_set()
    assert runner.state.in_flight == 3
    gate.set()
    with trio.fail_after(5):
        await done.wait()
    assert world.store.keys_in("handed") == ["1/SP", "2/SP", "3/SP"]


async def test_stop_while_waiting_for_an_in_flight_slot(
    world: World, autojump_clock: MockClock
) -> None:
    gate = trio.Event()
    chip = world.chip(A, gate=gate)
    runner = world.runner(people(5), limits={"max_in_flight": 1})
    world.nursery.start_soon(runner.run)
    await trio.sleep(10)  # 1/SP in flight; the feeder waits for a slot for 2/SP
    assert chip.keys() == ["1/SP"]
    runner.stop()
    gate.set()
    await trio.sleep(10)
    assert chip.keys() == ["1/SP"]


async def test_max_in_flight_bounds_the_concurrent_sends(
    world: World, autojump_clock: MockClock
) -> None:
    gate = trio.Event()
    chip = world.chip(A, gate=gate)
    runner = world.runner(people(10), limits={"max_in_flight": 3})
    world.nursery.start_soon(runner.run)
    await trio.sleep(10)
    assert chip.keys() == ["1/SP", "2/SP", "3/SP"]
    assert runner.state.in_flight == 3
    gate.set()
    await trio.sleep(10)
    assert len(chip.keys()) == 10
    assert runner.finished


@pytest.mark.parametrize(
    "states",
    [
        pytest.param([], id="no-recipients"),
        pytest.param(["skipped", "handed", "refused"], id="nothing-pending"),
    ],
)
async def test_finished_when_nothing_is_pending(
    world: World, states: list[str], autojump_clock: MockClock
) -> None:
    chip = world.chip(A)
    recs = people(len(states))
    for rec, state in zip(recs, states, strict=True):
        rec.state = state
    runner = world.runner(recs)
    await run_to_end(runner, limit_s=5)
    assert runner.finished
    assert chip.sends == []
    assert world.store.marks == []


async def test_marks_are_written_in_batches_not_per_recipient(
    world: World, autojump_clock: MockClock
) -> None:
    world.chip(A)
    calls: list[int] = []
    mark = world.store.mark

    async def counting(
        campaign_id: str, changes: Sequence[tuple[str, str, str | None, str | None]]
    ) -> None:
        calls.append(len(changes))
        await mark(campaign_id, changes)

    world.store.mark = counting  # type: ignore[method-assign]
    await run_to_end(world.runner(people(50)))
    assert sum(calls) == 50
    assert len(calls) < 50


# --- rate and schedule -------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "rate"), [(50, 10.0), (20, 1.0), (100, 40.0), (7, 0.5)])
async def test_the_rate_limit_spaces_the_sends(
    world: World, n: int, rate: float, autojump_clock: MockClock
) -> None:
    world.chip(A)
    world.chip(B)
    runner = world.runner(people(n), limits={"rate_per_s": rate})
    await run_to_end(runner)
    times = [t - world.start for t, _ in world.sends()]
    assert len(times) == n
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # The runner's clock is epoch seconds (~1.8e9): a float's step there is ~2e-7 s.
    assert min(gaps) >= 1 / rate - 1e-4
    assert (n - 1) / rate - 1e-3 <= times[-1] <= n / rate
    assert runner.finished


async def test_rate_and_eta(world: World, autojump_clock: MockClock) -> None:
    world.chip(A, mps=5.0)
    world.chip(B, mps=7.0)
    world.chip(C, mps=80.0, quality="RED")  # unhealthy: its room does not count
    runner = world.runner(people(1), limits={"rate_per_s": 20})
    assert runner.rate() == 0.0
    assert runner.eta_s(10) is None
    await run_to_end(runner)
    assert runner.rate() == 12.0
    assert runner.eta_s(0) == 0.0
    assert runner.eta_s(100) == 9  # ceil(100 / 12)


async def test_outside_the_schedule_it_waits_for_the_opening(
    world: World, autojump_clock: MockClock
) -> None:
    world.local_start = dt.datetime(2026, 12, 1, 6, 0, tzinfo=SP)
    chip = world.chip(A)
    runner = world.runner(people(3), schedule={"hours": "08:00-20:00"})
    world.nursery.start_soon(runner.run)
    await trio.sleep(3600)
    assert chip.sends == []
    assert runner.waiting == "outside the schedule until 2026-12-01T08:00-03:00"
    await trio.sleep(3600 + 10)
    times = [t - world.start for t, _ in chip.sends]
    assert times[0] == 7200.0
    assert times[-1] < 7201
    assert runner.finished


# The runner's refresher and flusher tick every second of virtual time, so these tests
# keep their waits to minutes or hours: days would cost real seconds.

WEEK = {"weekdays": ["mon", "tue", "wed", "thu", "fri"], "hours": "08:00-20:00"}


@pytest.mark.parametrize(
    ("local_start", "schedule", "until"),
    [
        pytest.param(
            dt.datetime(2026, 12, 5, 10, 0, tzinfo=SP), WEEK, "2026-12-07T08:00-03:00", id="sat"
        ),
        pytest.param(
            dt.datetime(2026, 12, 4, 20, 0, tzinfo=SP), WEEK, "2026-12-07T08:00-03:00", id="fri-pm"
        ),
        pytest.param(
            NOON,
            {"start": (NOON + dt.timedelta(days=20)).isoformat()},
            "2026-12-21T12:00-03:00",
            id="start-weeks-ahead",
        ),
    ],
)
async def test_a_long_wait_is_reported_not_finished(
    world: World,
    local_start: dt.datetime,
    schedule: dict[str, Any],
    until: str,
    autojump_clock: MockClock,
) -> None:
    world.local_start = local_start
    chip = world.chip(A)
    runner = world.runner(people(2), schedule=schedule)
    world.nursery.start_soon(runner.run)
    await trio.sleep(60)
    assert chip.sends == []
    assert not runner.finished
    assert runner.waiting == f"outside the schedule until {until}"
    runner.stop()  # wakes the sleeping feeder: it returns without sending
    await trio.sleep(1)
    assert chip.sends == []
    assert not runner.finished
    assert len(world.store.keys_in("pending")) == 2


async def test_quiet_hours_are_waited_out(world: World, autojump_clock: MockClock) -> None:
    world.local_start = dt.datetime(2026, 12, 1, 12, 10, tzinfo=SP)
    chip = world.chip(A)
    schedule = {"hours": "08:00-20:00", "quiet_hours": ["12:00-12:30"]}
    runner = world.runner(people(2), schedule=schedule)
    await run_to_end(runner, limit_s=3600)
    local = [world.local_start + dt.timedelta(seconds=t - world.start) for t, _ in chip.sends]
    assert local[0] == dt.datetime(2026, 12, 1, 12, 30, tzinfo=SP)
    assert local[-1] - local[0] < dt.timedelta(seconds=1)
    assert runner.finished


async def test_a_start_in_the_future_is_waited_for(world: World, autojump_clock: MockClock) -> None:
    chip = world.chip(A)
    start = NOON + dt.timedelta(minutes=30)
    runner = world.runner(people(1), schedule={"start": start.isoformat()})
    await run_to_end(runner, limit_s=3600)
    assert [t - world.start for t, _ in chip.sends] == [1800.0]
    assert runner.finished


async def test_a_campaign_inside_its_schedule_never_says_it_is_outside(
    world: World, autojump_clock: MockClock
) -> None:
    world.chip(A)
    left: list[str | None] = []
    for i in range(20):  # twenty instants: the rounding goes up for about a third of them
        world.start = trio.current_time() - i * 0.1234567  # now() off whole microseconds
        runner = world.runner(people(2))  # the second goes 1 ms later, at a new instant
        await run_to_end(runner, limit_s=60)
        assert runner.finished
        left.append(runner.waiting)  # the coordinator stores it as the finished reason
    assert left == [None] * 20


async def test_a_schedule_that_has_ended_finishes_the_campaign(
    world: World, autojump_clock: MockClock
) -> None:
    chip = world.chip(A)
    end = (NOON - dt.timedelta(hours=1)).isoformat()
    runner = world.runner(people(3), schedule={"end": end})
    await run_to_end(runner, limit_s=5)
    assert runner.finished
    assert runner.waiting == "the schedule has ended"
    assert chip.sends == []
    assert len(world.store.keys_in("pending")) == 3


async def test_no_send_after_the_hours_close_mid_batch(
    world: World, autojump_clock: MockClock
) -> None:
    world.local_start = dt.datetime(2026, 12, 1, 11, 59, tzinfo=SP)
    chip = world.chip(A)
    schedule = {"hours": "08:00-12:00"}
    runner = world.runner(people(120), schedule=schedule, limits={"rate_per_s": 1})
    world.nursery.start_soon(runner.run)
    await trio.sleep(200)
    runner.stop()
    spec = CampaignSpec.model_validate(world.store.rows[CID].spec["spec"]).schedule
    # The instants as the runner's clock (world.now) read them when it sent.
    local = [
        dt.datetime.fromtimestamp(world.local_start.timestamp() + t - world.start, SP)
        for t, _ in chip.sends
    ]
    assert local, "nothing was sent"
    assert local[-1] == dt.datetime(2026, 12, 1, 11, 59, 59, tzinfo=SP)  # then they closed
    outside = [t for t in local if next_open(t, spec, SP) != t]
    assert outside == []


# --- routing inside the runner -----------------------------------------------------------------


async def test_affinity_from_the_store_picks_the_chip(
    world: World, autojump_clock: MockClock
) -> None:
    a, b = world.chip(A), world.chip(B, quality="UNKNOWN")  # best quality picks A
    recs = people(4)
    world.store.affinities = {recs[1].to: B, recs[3].to: "299999999999999"}
    await run_to_end(world.runner(recs, limits={"rate_per_s": 1}))
    assert b.keys() == ["2/SP"]
    assert a.keys() == ["1/SP", "3/SP", "4/SP"]


async def test_round_robin_takes_turns(world: World, autojump_clock: MockClock) -> None:
    a, b = world.chip(A), world.chip(B)
    await run_to_end(world.runner(people(6), routing={"strategy": "round_robin"}))
    assert a.keys() == ["1/SP", "3/SP", "5/SP"]
    assert b.keys() == ["2/SP", "4/SP", "6/SP"]


async def test_routing_wabas_and_chips_limit_the_pool(
    world: World, autojump_clock: MockClock
) -> None:
    a, b, c = world.chip(A), world.chip(B), world.chip(C, waba=W2)
    await run_to_end(world.runner(people(3), routing={"wabas": [W2]}))
    assert (a.keys(), b.keys(), c.keys()) == ([], [], ["1/SP", "2/SP", "3/SP"])
    world.store = FakeStore()
    for x in (a, b, c):
        x.sends.clear()
    await run_to_end(world.runner(people(3), routing={"chips": [B]}))
    assert (a.keys(), b.keys(), c.keys()) == ([], ["1/SP", "2/SP", "3/SP"], [])


@pytest.mark.parametrize(
    ("records", "problem"),
    [
        pytest.param([], "vaga_plantao/pt_BR is not in the WABA", id="absent"),
        pytest.param([vaga_plantao(W1, "PENDING")], "vaga_plantao/pt_BR is PENDING", id="pending"),
        pytest.param([vaga_plantao(W1, "PAUSED")], "vaga_plantao/pt_BR is PAUSED", id="paused"),
    ],
)
async def test_a_waba_without_the_approved_template_is_not_used(
    world: World, records: list[TemplateRecord], problem: str, autojump_clock: MockClock
) -> None:
    a, c = world.chip(A), world.chip(C, waba=W2)
    world.templates[W1] = records
    runner = world.runner(people(3))
    await run_to_end(runner)
    assert (a.keys(), c.keys()) == ([], ["1/SP", "2/SP", "3/SP"])
    assert runner.template_problems() == {W1: problem}


async def test_a_template_chosen_per_waba(world: World, autojump_clock: MockClock) -> None:
    a, c = world.chip(A), world.chip(C, waba=W2)
    world.templates[W2] = [dataclasses.replace(vaga_plantao(W2), name="vaga_b")]
    templates = [{"waba": W2, "name": "vaga_b"}, {"waba": "*", "name": "vaga_plantao"}]
    await run_to_end(
        world.runner(people(4), templates=templates, routing={"strategy": "round_robin"})
    )
    assert {s.template["name"] for _, s in a.sends if s.template} == {"vaga_plantao"}
    assert {s.template["name"] for _, s in c.sends if s.template} == {"vaga_b"}


@pytest.mark.parametrize(
    "unhealthy",
    [
        pytest.param({"paused": True}, id="paused"),
        pytest.param({"draining": True}, id="draining"),
        pytest.param({"quality": "RED"}, id="red"),
        pytest.param({"quality": "YELLOW"}, id="yellow-marketing"),
        pytest.param({"mode": "PAUSED_ALL"}, id="paused-mode"),
    ],
)
async def test_with_no_healthy_chip_it_waits_until_one_is(
    world: World, unhealthy: dict[str, Any], autojump_clock: MockClock
) -> None:
    chip = world.chip(A, **unhealthy)
    runner = world.runner(people(2))
    world.nursery.start_soon(runner.run)
    await trio.sleep(30)
    assert chip.sends == []
    assert runner.waiting == "no chip in the pool is healthy with the template approved"
    for attr in unhealthy:
        setattr(chip, attr, getattr(FakeChip(A, W1), attr))
    await trio.sleep(10)
    assert chip.keys() == ["1/SP", "2/SP"]
    assert runner.finished
    assert runner.waiting is None


async def test_an_unhealthy_chip_is_left_for_a_healthy_one(
    world: World, autojump_clock: MockClock
) -> None:
    sticky = world.chip(A, quality="RED")
    other = world.chip(B)
    recs = people(2)
    world.store.affinities = {r.to: A for r in recs}
    await run_to_end(world.runner(recs))
    assert (sticky.keys(), other.keys()) == ([], ["1/SP", "2/SP"])


async def test_a_campaign_cap_is_registered_with_the_budget(
    world: World, autojump_clock: MockClock
) -> None:
    box: Mailbox[BudgetMsg] = open_mailbox("budget")
    seen: list[SetCampaignCap] = []

    async def budget() -> None:
        async for msg in box.inbox:
            assert isinstance(msg, SetCampaignCap)
            seen.append(msg)
            msg.reply.ok(None)

    world.nursery.start_soon(budget)
    world.budget = box.address
    world.chip(A)
    await run_to_end(world.runner(people(1), limits={"budget_usd": 5.0}))
    assert [(m.campaign_id, m.caps) for m in seen] == [(CID, Caps(monthly=Decimal("5.0")))]


# --- carousels ------------------------------------------------------------------------------


async def test_each_carousel_part_sends_its_own_cards(
    world: World, autojump_clock: MockClock
) -> None:
    listings = [
        {
            "vaga_id": f"V{i}",
            "hospital": f"Hospital {i}",
            "imagem_url": f"https://x.example/{i}.jpg",
        }
        for i in range(1, 5)
    ]
    plan = plan_cards(
        listings,
        campaign=CID,
        card_count=2,
        id_column="vaga_id",
        status_column=None,
        open_values=(),
        overflow="split",
        max_messages=3,
    )
    cards = [[dict(row) for row in group] for group in plan.groups]
    stored = stored_spec(
        cards,
        templates=[{"name": "carrossel_vagas"}],
        variables={"1": "primeiro_nome"},
        carousel={
            "listings": "shifts.csv",
            "id_column": "vaga_id",
            "overflow": "split",
            "cards": {"header": "imagem_url", "1": "hospital"},
        },
    )
    chip = world.chip(A)
    world.templates[W1] = [carrossel_vagas(W1)]
    base = people(1)[0]
    recs = [dataclasses.replace(base, key=f"{base.key}#{part + 1}", part=part) for part in range(2)]
    runner = world.runner(recs, stored=stored)
    await run_to_end(runner)
    assert runner.template_problems() == {}
    assert chip.keys() == ["1/SP#1", "1/SP#2"]
    for part, (_, send) in enumerate(chip.sends):
        assert send.template is not None
        assert send.template["name"] == "carrossel_vagas"
        comps = components(send)
        assert comps[0] == {"type": "body", "parameters": [{"type": "text", "text": "Doc1"}]}
        carousel = comps[-1]
        assert carousel["type"] == "carousel"
        payloads = [c["components"][-1]["parameters"][0]["payload"] for c in carousel["cards"]]
        ids = [f"V{2 * part + 1}", f"V{2 * part + 2}"]
        assert payloads == [f"mc:{CID}:{i}" for i in ids]
        images = [c["components"][0]["parameters"][0]["image"]["link"] for c in carousel["cards"]]
        assert images == [f"https://x.example/{i[1:]}.jpg" for i in ids]
        assert send.content is None


@pytest.mark.parametrize(
    ("text", "fields", "out"),
    [
        ("Oi {nome}!", {"nome": "Ana"}, "Oi Ana!"),
        ("Oi {nome}, {x}", {"nome": "Ana"}, "Oi Ana, {x}"),
        ("sem campos", {}, "sem campos"),
        ("{a}{b}", {"a": "1", "b": "2"}, "12"),
    ],
)
def test_render_text(text: str, fields: dict[str, str], out: str) -> None:
    assert render_text(text, fields) == out


# --- the coordinator ---------------------------------------------------------------------------


@dataclass
class Coordinated:
    world: World
    box: Mailbox[CampaignMsg]
    actor: CampaignCoordinator
    published: list[tuple[str, dict[str, Any]]]

    async def command(self, action: str, cid: str = CID, reason: str | None = None) -> Any:
        return await self.box.address.call(
            lambda r: CampaignCmd(action=action, campaign_id=cid, reason=reason, reply=r),
            timeout=5,
        )

    async def status(self, cid: str = CID) -> Any:
        return await self.box.address.call(
            lambda r: CampaignStatus(campaign_id=cid, reply=r), timeout=5
        )


async def coordinator(world: World, **kw: Any) -> Coordinated:
    box: Mailbox[CampaignMsg] = open_mailbox("campaigns")
    published: list[tuple[str, dict[str, Any]]] = []
    actor = CampaignCoordinator(
        store=world.store,
        fleet=world.fleet,
        inbox=box.inbox,
        address=box.address,
        budget=None,
        now=world.now,
        tz=SP,
        publish=lambda kind, data: published.append((kind, data)),
    )
    await world.nursery.start(actor.run)
    return Coordinated(world, box, actor, published)


def add_campaign(
    world: World, recs: Sequence[Rec], state: str = "draft", cid: str = CID, **spec: Any
) -> None:
    world.store.add(cid, stored_spec(**{"name": cid, **spec}), recs, state)


async def test_start_runs_the_campaign_to_finished(world: World, autojump_clock: MockClock) -> None:
    chip = world.chip(A)
    add_campaign(world, people(5))
    co = await coordinator(world)
    status = await co.command("start")
    assert status["state"] == "running"
    assert CID in co.actor.runners
    await trio.sleep(10)
    assert chip.keys() == [f"{i}/SP" for i in range(1, 6)]
    assert world.store.rows[CID].state == "finished"
    assert co.actor.runners == {}
    final = await co.status()
    assert (final["state"], final["pending"], final["handed"]) == ("finished", 0, 5)
    assert [d["state"] for k, d in co.published if k == "campaign.progress"][-1] == "finished"


async def test_pause_stops_the_runner_and_resume_goes_on(
    world: World, autojump_clock: MockClock
) -> None:
    chip = world.chip(A)
    add_campaign(world, people(20), limits={"rate_per_s": 1})
    co = await coordinator(world)
    await co.command("start")
    await trio.sleep(4.5)
    paused = await co.command("pause", reason="lunch")
    assert (paused["state"], paused["reason"]) == ("paused", "lunch")
    assert co.actor.runners == {}
    await trio.sleep(60)
    before = chip.keys()
    assert before == [f"{i}/SP" for i in range(1, 6)]
    resumed = await co.command("resume")
    assert resumed["state"] == "running"
    await trio.sleep(60)
    assert chip.keys() == [f"{i}/SP" for i in range(1, 21)]  # each once, in order
    assert world.store.rows[CID].state == "finished"


async def test_a_budget_refusal_pauses_through_the_coordinator(
    world: World, autojump_clock: MockClock
) -> None:
    chip = world.chip(A, answer=answer_for({"3/SP": Refused(BUDGET_REFUSAL)}))
    add_campaign(world, people(10), limits={"rate_per_s": 1})
    co = await coordinator(world)
    await co.command("start")
    await trio.sleep(30)
    row = world.store.rows[CID]
    assert row.state == "paused"
    assert row.reason is not None
    assert BUDGET_REFUSAL in row.reason
    assert chip.keys() == ["1/SP", "2/SP", "3/SP"]
    assert world.store.recipients[CID]["3/SP"].state == "pending"


async def test_cancel(world: World, autojump_clock: MockClock) -> None:
    world.chip(A)
    add_campaign(world, people(100), limits={"rate_per_s": 1})
    co = await coordinator(world)
    await co.command("start")
    await trio.sleep(2.5)
    cancelled = await co.command("cancel")
    assert (cancelled["state"], cancelled["reason"]) == ("cancelled", "cancel by the operator")
    await trio.sleep(10)
    assert world.store.rows[CID].state == "cancelled"
    assert len(world.store.keys_in("pending")) == 97


@pytest.mark.parametrize(
    ("state", "action", "message"),
    [
        ("running", "start", "campaign offer is running: cannot start it"),
        ("draft", "pause", "campaign offer is draft: cannot pause it"),
        ("draft", "resume", "campaign offer is draft: cannot resume it"),
        ("finished", "cancel", "campaign offer is finished: cannot cancel it"),
        ("cancelled", "start", "campaign offer is cancelled: cannot start it"),
        ("draft", "explode", "unknown action 'explode'"),
    ],
)
async def test_commands_not_allowed_in_a_state(
    world: World, state: str, action: str, message: str, autojump_clock: MockClock
) -> None:
    add_campaign(world, people(1), state="paused" if state == "running" else state)
    co = await coordinator(world)
    if state == "running":
        world.chip(A, gate=trio.Event())  # keeps it running
        await co.command("resume")
    with pytest.raises(CampaignError, match=message):
        await co.command(action)


async def test_unknown_campaigns(world: World, autojump_clock: MockClock) -> None:
    co = await coordinator(world)
    with pytest.raises(CampaignError, match="no campaign 'nope'"):
        await co.command("start", cid="nope")
    with pytest.raises(CampaignError, match="no campaign 'nope'"):
        await co.status("nope")


async def test_load_resumes_the_running_campaigns(world: World, autojump_clock: MockClock) -> None:
    chip = world.chip(A)
    add_campaign(world, people(2), state="running", cid="one")
    add_campaign(world, people(2, start=3), state="paused", cid="two")
    co = await coordinator(world)
    assert set(co.actor.runners) == {"one"}
    await trio.sleep(10)
    assert chip.keys() == ["1/SP", "2/SP"]
    assert world.store.rows["one"].state == "finished"
    assert world.store.rows["two"].state == "paused"


async def test_list_and_status(world: World, autojump_clock: MockClock) -> None:
    world.chip(A, gate=trio.Event())
    add_campaign(world, people(3), cid="one")
    add_campaign(world, people(2), cid="two")
    world.store.in_doubt_rows = [{"recipient_id": "1/SP", "id": 9, "chip": A}]
    co = await coordinator(world)
    await co.command("start", cid="one")
    await trio.sleep(5)
    listed: list[dict[str, Any]] = await co.box.address.call(
        lambda r: ListCampaigns(reply=r), timeout=5
    )
    assert [(s["id"], s["state"]) for s in listed] == [("one", "running"), ("two", "draft")]
    one = listed[0]
    assert one["rate_per_s"] == 80.0
    assert one["template_problems"] == {}
    assert one["in_doubt_overdue"] == [{"recipient": "1/SP", "outbox_id": 9, "chip": A}]
    assert listed[1]["eta_s"] is None
    assert listed[1]["rate_per_s"] == 0.0


async def test_a_count_that_takes_long_is_made_less_often(
    world: World, autojump_clock: MockClock
) -> None:
    world.chip(A, gate=trio.Event())  # the sends hang: the campaign keeps running
    add_campaign(world, people(3))
    world.store.progress_s = 0.5  # fresh for ten times that: 5 s
    co = await coordinator(world)
    await co.command("start")
    await co.status()
    counted = world.store.progress_calls
    await trio.sleep(4.0)  # the reporter asked every second meanwhile
    await co.status()
    assert world.store.progress_calls == counted
    await trio.sleep(1.5)
    await co.status()
    assert world.store.progress_calls == counted + 1


@pytest.mark.parametrize(("action", "ok"), [("resend", True), ("drop", True), ("retry", False)])
async def test_resolve_in_doubt(
    world: World, action: str, ok: bool, autojump_clock: MockClock
) -> None:
    add_campaign(world, people(1))
    co = await coordinator(world)

    async def resolve() -> Any:
        return await co.box.address.call(
            lambda r: ResolveInDoubt(campaign_id=CID, recipient="1/SP", action=action, reply=r),
            timeout=5,
        )

    if ok:
        assert await resolve() is True
        assert world.store.resolved == [(CID, "1/SP", action)]
    else:
        with pytest.raises(CampaignError, match="resend or drop"):
            await resolve()
        assert world.store.resolved == []


async def test_a_late_pacing_wake_up_is_made_up_for(
    world: World, autojump_clock: MockClock
) -> None:
    runner = world.runner(people(1), limits={"rate_per_s": 100})
    now = runner._now()
    # On time: the next slot is one interval on.
    assert await runner._pace(now, 100) == pytest.approx(now + 0.01)
    # Woken 30 ms late: the 3 slots missed go now, one after the other, without waiting.
    late = now - 0.03
    slots = [late]
    for _ in range(3):
        before = trio.current_time()
        slots.append(await runner._pace(slots[-1], 100))
        assert trio.current_time() == before
    assert slots[-1] == pytest.approx(now)
    # More lateness than PACE_CREDIT_S is not made up beyond it.
    assert await runner._pace(now - 10.0, 100) == pytest.approx(now - PACE_CREDIT_S + 0.01)


async def test_free_in_flight_slots_are_taken_without_yielding_each_time(
    world: World, autojump_clock: MockClock
) -> None:
    runner = world.runner(people(1))
    limit = trio.Semaphore(100)
    yields = 0
    for _ in range(YIELD_EVERY * 2):
        task = trio.lowlevel.current_task()
        before = task._schedule_points  # type: ignore[attr-defined]
        await runner._slot(limit)
        yields += task._schedule_points - before  # type: ignore[attr-defined]
    assert limit.value == 100 - YIELD_EVERY * 2
    assert yields == 2


async def test_a_chip_that_crashes_on_a_send_leaves_it_pending_for_the_next_pass(
    world: World, autojump_clock: MockClock
) -> None:
    def crash_once(msg: Send, attempt: int) -> SendResult | None:
        if msg.recipient_id == "2/SP" and attempt == 0:
            msg.reply.fail(ActorCrashed("chip A"))
            return None
        return sent(msg, attempt)

    chip = world.chip(A, answer=crash_once)
    runner = world.runner(people(3))
    await run_to_end(runner)
    assert chip.keys() == ["1/SP", "2/SP", "3/SP", "2/SP"]
    assert world.store.state_of() == dict.fromkeys(("1/SP", "2/SP", "3/SP"), "handed")
    assert runner.state.in_flight == 0
    assert runner.finished


async def test_a_full_chip_mailbox_is_waited_for(world: World, autojump_clock: MockClock) -> None:
    chip = world.chip(A)
    chip.box = open_mailbox("chip A", capacity=1)  # the runner's hand-overs overflow it
    runner = world.runner(people(40), limits={"rate_per_s": 1000})
    await run_to_end(runner)
    assert sorted(chip.keys()) == sorted(f"{i}/SP" for i in range(1, 41))
    assert len(world.store.keys_in("handed")) == 40
    assert runner.state.in_flight == 0
    assert runner.finished

"""In-memory store, fleet and chip actors for the campaign runner's and coordinator's tests.

Shared by the runner's tests (test_runner.py, test_answers.py, test_fleet_view.py,
test_content.py) and test_coordinator.py (the ``world`` fixture is in conftest.py), so
they drive the real actors against one set of fakes instead of copies that drift apart.

The fake chips are trio tasks reading a real mailbox: they answer ``Send`` from a script
(Sent, Refused, Uncertain, or no answer at all) and ``GetSnapshot`` from their state, so
the runner's calls, timeouts and concurrency are the real ones. Time is trio's virtual
clock; the runner's ``now`` is a fixed local instant plus the virtual time elapsed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import trio

from actors.budget.messages import BudgetMsg
from actors.campaign.ports import CampaignStore, FleetPort
from actors.campaign.runner import CampaignRunner
from actors.chip.messages import ChipMsg, ChipSnapshot, GetSnapshot, Send, SendResult, Sent
from actors.core import Address, Mailbox, open_mailbox
from actors.ports import ChipRecord, TemplateRecord
from config.campaign import CampaignSpec

SP = ZoneInfo("America/Sao_Paulo")
NOON = dt.datetime(2026, 12, 1, 12, 0, tzinfo=SP)  # a Tuesday
CID = "offer"
IN_DOUBT_OUTBOX_ID = 4242
"""The outbox id the fake store's in-doubt rows have (see ``resolve_in_doubt``)."""
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
        self.spent = Decimal(0)
        """What ``spent_before`` answers: the campaign's spend in earlier months."""
        self.spent_asked: list[dt.datetime] = []

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
        """The counts as of the call (a statement's snapshot is taken when it starts),
        answered ``progress_s`` later."""
        self.progress_calls += 1
        counts: dict[str, Any] = {"total": len(self.recipients[campaign_id]), "spent": 0.0}
        for state in ("pending", "handed", "skipped", "refused", "dropped"):
            counts[state] = len(self.keys_in(state, campaign_id))
        await trio.sleep(self.progress_s)
        return counts

    async def in_doubt(self, campaign_id: str, *, older_than: dt.datetime) -> list[dict[str, Any]]:
        return list(self.in_doubt_rows)

    async def resolve_in_doubt(self, campaign_id: str, recipient: str, action: str) -> int | None:
        """Every recipient is in doubt once, its outbox id ``IN_DOUBT_OUTBOX_ID``."""
        if (campaign_id, recipient) in {(c, r) for c, r, _ in self.resolved}:
            return None
        self.resolved.append((campaign_id, recipient, action))
        return IN_DOUBT_OUTBOX_ID

    async def affinity(self, campaign_id: str, chips: Sequence[str]) -> dict[str, str]:
        return {to: chip for to, chip in self.affinities.items() if chip in chips}

    async def spent_before(self, campaign_id: str, before: dt.datetime) -> Decimal:
        self.spent_asked.append(before)
        return self.spent


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


# --- what the chip answers


def answer_for(special: Mapping[str, SendResult | None]) -> Answer:
    def answer(msg: Send, attempt: int) -> SendResult | None:
        key = str(msg.recipient_id)
        if key in special and attempt == 0:
            return special[key]
        return sent(msg, attempt)

    return answer


async def run_to_end(runner: CampaignRunner, limit_s: float = 24 * 3600) -> None:
    with trio.fail_after(limit_s):
        await runner.run()


def components(send: Send) -> list[dict[str, Any]]:
    assert send.template is not None
    return list(send.template["components"])

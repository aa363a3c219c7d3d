"""The chip actor with in-memory ports: decisions, reactions, journal, rebuild."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import trio
import trio.testing

from actors.chip import (
    ChipActor,
    ChipMsg,
    ChipSettings,
    GetSnapshot,
    Inbound,
    Pause,
    QualityEvent,
    Refused,
    Resume,
    Send,
    Sent,
    StatusEvent,
    Uncertain,
)
from actors.chip.quality import QualityObservation, Rating
from actors.core import ActorCrashed, Mailbox, open_mailbox
from actors.ports import (
    Booking,
    ChipRecord,
    OutboxRow,
    SendAccepted,
    SendFailed,
    SendInDoubt,
)
from actors.reactions import Reaction
from config.model import LimitsConfig, QualityConfig, WindowsConfig
from tests.fakes import BookingBudget, FakeChipRepo, FakeGraph, FakeJournal

PNID = "200000000000001"
CONTACT = "5511987654321"
TEXT = {"type": "text", "text": {"body": "oi"}}
TEMPLATE = {"name": "hello_world", "language": {"code": "en_US"}}
T0 = 1_800_000_000.0

INITIAL = ChipRecord(
    phone_number_id=PNID, waba_id="100000000000001", display_number="+55 11 94000-0001"
)
SETTINGS = ChipSettings(WindowsConfig(), LimitsConfig(pair_interval_s=0), QualityConfig())


def _actor(box: Mailbox[ChipMsg], **ports: Any) -> ChipActor:
    """An actor on fresh in-memory ports (``ports`` overrides them and adds options)."""
    kwargs: dict[str, Any] = {
        "initial": INITIAL,
        "repo": FakeChipRepo(),
        "journal": FakeJournal(),
        "graph": FakeGraph(),
        "settings": SETTINGS,
        "inbox": box.inbox,
        "now": lambda: T0 + trio.current_time(),
    }
    return ChipActor(**{**kwargs, **ports})


@dataclass
class Harness:
    box: Mailbox[ChipMsg]
    repo: FakeChipRepo
    journal: FakeJournal
    graph: FakeGraph
    nursery: trio.Nursery
    actor: ChipActor | None = None

    @property
    def now(self) -> Callable[[], float]:
        return lambda: T0 + trio.current_time()

    async def start(self) -> ChipActor:
        self.actor = ChipActor(
            initial=INITIAL,
            repo=self.repo,
            journal=self.journal,
            graph=self.graph,
            settings=SETTINGS,
            inbox=self.box.inbox,
            now=self.now,
        )
        await self.nursery.start(self.actor.run)
        return self.actor

    async def call(self, build: Callable[[Any], ChipMsg]) -> Any:
        return await self.box.address.call(build, timeout=60)


@pytest.fixture
async def h(autojump_clock: trio.testing.MockClock) -> AsyncIterator[Harness]:
    async with trio.open_nursery() as n:
        harness = Harness(open_mailbox("chip"), FakeChipRepo(), FakeJournal(), FakeGraph(), n)
        await harness.start()
        yield harness
        n.cancel_scope.cancel()


async def _open_window(h: Harness, wa_id: str = CONTACT) -> None:
    await h.box.address.cast(Inbound(wa_id=wa_id, at=h.now()))


async def test_free_form_is_refused_outside_the_window(
    h: Harness, autojump_clock: trio.testing.MockClock
) -> None:
    assert await h.call(lambda r: Send(to=CONTACT, content=TEXT, reply=r)) == Refused(
        "service window closed and no template given"
    )
    assert h.graph.sent == []


async def test_inbound_opens_the_window_for_any_spelling_of_the_number(
    h: Harness, autojump_clock: trio.testing.MockClock
) -> None:
    await _open_window(h, "551187654321")  # Meta reports the old form without the 9
    result = await h.call(lambda r: Send(to="+55 11 98765-4321", content=TEXT, reply=r))
    assert isinstance(result, Sent)
    assert result.method == "free_form"
    assert h.graph.sent[0]["biz_opaque_callback_data"] == f"metad:o:{result.outbox_id}"
    assert h.journal.outbox[result.outbox_id]["state"] == "accepted"


async def test_template_outside_the_window_is_business_initiated(
    h: Harness, autojump_clock: trio.testing.MockClock
) -> None:
    result = await h.call(lambda r: Send(to=CONTACT, content=TEXT, template=TEMPLATE, reply=r))
    assert isinstance(result, Sent)
    assert result.method == "template"
    assert h.journal.outbox[result.outbox_id]["decision"]["business_initiated"] is True
    assert h.graph.sent[0]["type"] == "template"


@pytest.mark.parametrize(
    ("outcomes", "window", "kind", "posts", "state", "mps"),
    [
        pytest.param(
            [SendFailed(131047, "re-engagement", Reaction.FALLBACK_TEMPLATE)],
            True,
            Sent,
            ["text", "template"],
            "accepted",
            80,
            id="fallback-resends-as-template",
        ),
        pytest.param(
            [SendFailed(130429, "throughput", Reaction.SLOW_CHIP)],
            False,
            Sent,
            ["template", "template"],
            "accepted",
            40,
            id="throughput-slows-and-requeues",
        ),
        pytest.param(
            [SendFailed(131000, "oops", Reaction.RETRY_BACKOFF)] * 10,
            False,
            Refused,
            ["template"] * 6,  # first try + 5 retries
            "failed",
            80,
            id="retries-give-up-after-the-limit",
        ),
        pytest.param(
            [SendInDoubt("timeout after sending")],
            False,
            Uncertain,
            ["template"],
            "in_doubt",
            80,
            id="in-doubt-is-never-resent",
        ),
    ],
)
async def test_send_failure_reactions(
    h: Harness,
    autojump_clock: trio.testing.MockClock,
    outcomes: list[SendAccepted | SendFailed | SendInDoubt],
    window: bool,
    kind: type,
    posts: list[str],
    state: str,
    mps: int,
) -> None:
    if window:
        await _open_window(h)
    h.graph.outcomes = list(outcomes)
    result: Any = await h.call(lambda r: Send(to=CONTACT, content=TEXT, template=TEMPLATE, reply=r))
    assert isinstance(result, kind)
    assert [p["type"] for p in h.graph.sent] == posts
    assert h.journal.outbox[result.outbox_id]["state"] == state
    assert (await h.call(lambda r: GetSnapshot(reply=r))).mps == mps


async def test_async_131047_closes_the_window_and_sends_the_template(
    h: Harness, autojump_clock: trio.testing.MockClock
) -> None:
    await _open_window(h)
    first = await h.call(lambda r: Send(to=CONTACT, content=TEXT, template=TEMPLATE, reply=r))
    assert first.method == "free_form"
    await h.box.address.cast(
        StatusEvent(
            outbox_id=first.outbox_id,
            wamid=first.wamid,
            status="failed",
            at=h.now(),
            error_code=131047,
        )
    )
    await trio.sleep(1)
    assert [p["type"] for p in h.graph.sent] == ["text", "template"]
    assert h.journal.windows == {}


class _HeldGraph(FakeGraph):
    """Takes each POST at once but answers only once ``answer`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.answer = trio.Event()

    async def send(self, *args: Any, **kwargs: Any) -> Any:
        result = await super().send(*args, **kwargs)
        await self.answer.wait()
        return result


async def test_a_131047_webhook_before_the_posts_answer_still_sends_the_template(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Meta may send the failed status within milliseconds of its 200: the chip can read
    that webhook before the POST's answer. The fallback to the template must not be lost
    (it was: the webhook found no free-form send waiting for it)."""
    graph = _HeldGraph()
    async with trio.open_nursery() as n:
        h = Harness(open_mailbox("chip"), FakeChipRepo(), FakeJournal(), graph, n)
        await h.start()
        await _open_window(h)
        n.start_soon(h.call, lambda r: Send(to=CONTACT, content=TEXT, template=TEMPLATE, reply=r))
        await trio.sleep(1)
        assert [p["type"] for p in graph.sent] == ["text"]  # POSTed, no answer yet
        (outbox_id,) = h.journal.outbox
        await h.box.address.cast(
            StatusEvent(
                outbox_id=outbox_id, wamid=None, status="failed", at=h.now(), error_code=131047
            )
        )
        await trio.sleep(1)
        graph.answer.set()
        await trio.sleep(1)
        assert [p["type"] for p in graph.sent] == ["text", "template"]
        assert h.journal.windows == {}
        n.cancel_scope.cancel()


@pytest.mark.parametrize(
    ("code", "reaction"),
    [
        (190, Reaction.STOP_TOKEN),
        (131031, Reaction.STOP_WABA),
        (131042, Reaction.STOP_PAID_SENDS),
    ],
)
async def test_an_error_of_the_number_pauses_it_and_cancels_the_message(
    h: Harness, autojump_clock: trio.testing.MockClock, code: int, reaction: Reaction
) -> None:
    h.graph.outcomes = [SendFailed(code, "stopped", reaction)]
    refused = await h.call(lambda r: Send(to=CONTACT, template=TEMPLATE, reply=r))
    assert isinstance(refused, Refused)
    assert refused.reason.startswith(f"chip paused: {code}")  # campaigns reroute these
    assert refused.outbox_id is not None
    assert h.journal.outbox[refused.outbox_id]["state"] == "cancelled"  # never accepted
    assert h.repo.rows[PNID].paused
    assert str(code) in (h.repo.rows[PNID].pause_reason or "")
    again = await h.call(lambda r: Send(to=CONTACT, template=TEMPLATE, reply=r))
    assert isinstance(again, Refused)
    assert again.reason.startswith("chip paused")


async def test_spam_limit_pauses_business_sends_but_not_replies(
    h: Harness, autojump_clock: trio.testing.MockClock
) -> None:
    h.graph.outcomes = [SendFailed(131048, "spam rate limit", Reaction.PAUSE_CHIP)]
    await h.call(lambda r: Send(to=CONTACT, template=TEMPLATE, reply=r))
    snap = await h.call(lambda r: GetSnapshot(reply=r))
    assert snap.mode == "PAUSED_BUSINESS"
    await _open_window(h)
    reply = await h.call(lambda r: Send(to=CONTACT, content=TEXT, reply=r))
    assert isinstance(reply, Sent)


async def test_operator_pause_and_resume(
    h: Harness, autojump_clock: trio.testing.MockClock
) -> None:
    await h.call(lambda r: Pause(reason="maintenance", reply=r))
    refused = await h.call(lambda r: Send(to=CONTACT, template=TEMPLATE, reply=r))
    assert refused == Refused("chip paused: maintenance")
    await h.call(lambda r: Resume(reply=r))
    assert isinstance(await h.call(lambda r: Send(to=CONTACT, template=TEMPLATE, reply=r)), Sent)


async def test_rebuild_restores_windows_quality_and_pause(
    h: Harness, autojump_clock: trio.testing.MockClock
) -> None:
    await _open_window(h)
    await h.box.address.cast(
        QualityEvent(
            observation=QualityObservation(source="poll", rating=Rating.YELLOW, status="CONNECTED")
        )
    )
    await h.call(lambda r: Pause(reason="operator", reply=r))
    before = await h.call(lambda r: GetSnapshot(reply=r))
    # A new instance on the same journal and mailbox: what a supervisor restart does.
    fresh = ChipActor(
        initial=INITIAL,
        repo=h.repo,
        journal=h.journal,
        graph=h.graph,
        settings=SETTINGS,
        inbox=open_mailbox("other").inbox,
        now=h.now,
    )
    await fresh.load()
    after = fresh.snapshot()
    assert after.open_windows == before.open_windows == 1
    assert after.mode == before.mode == "SLOWED"
    assert after.record.paused


async def test_marketing_intent_uses_the_marketing_messages_api_when_onboarded(
    autojump_clock: trio.testing.MockClock,
) -> None:
    from actors.chip import WabaTemplates
    from actors.policy.pricing import PriceTable
    from actors.ports import TemplateRecord
    from config.model import PricingConfig

    graph = FakeGraph()
    box: Mailbox[ChipMsg] = open_mailbox("chip")
    actor = _actor(
        box, graph=graph, prices=PriceTable.from_config(PricingConfig()), marketing_messages=True
    )
    offer = TemplateRecord(
        waba_id="100000000000001",
        name="vaga",
        language="pt_BR",
        category="MARKETING",
        status="APPROVED",
        components=({"type": "BODY", "text": "Olá {{1}}, temos uma vaga hoje."},),
    )
    async with trio.open_nursery() as n:
        await n.start(actor.run)
        await box.address.cast(WabaTemplates(records=(offer,)))
        sent = await box.address.call(
            lambda r: Send(
                to=CONTACT,
                intent="marketing",
                variables={"1": "Ana"},
                languages=("pt_BR",),
                reply=r,
            ),
        )
        n.cancel_scope.cancel()
    assert isinstance(sent, Sent)
    assert graph.sent[0]["_endpoint"] == "marketing_messages"
    assert graph.sent[0]["template"]["components"][0]["parameters"][0]["text"] == "Ana"


class _FailingJournal(FakeJournal):
    async def outbox_new(self, rows: Sequence[OutboxRow]) -> list[int | None]:
        await trio.sleep(0.01)
        if any(r.recipient_id == "r7" for r in rows):
            raise RuntimeError("storage lost")
        return await super().outbox_new(rows)


async def test_a_crash_answers_every_call_the_instance_held(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Sends journalled side by side, queued in the internal channel or in the batch
    being handled when the journal fails: every caller gets an answer, none hangs."""
    box: Mailbox[ChipMsg] = open_mailbox("chip")
    actor = _actor(box, journal=_FailingJournal())
    answers: list[object] = []

    async def caller(i: int) -> None:
        if i >= 20:  # the second wave lands beside the failing journal write
            await trio.sleep(0.01)

        def build(r: Any) -> ChipMsg:
            return Send(
                to=f"55119876543{i:02d}",
                template=TEMPLATE,
                campaign_id="c",
                recipient_id=f"r{i}",
                reply=r,
            )

        try:
            answers.append(await box.address.call(build, timeout=60))
        except ActorCrashed as exc:
            answers.append(exc)

    async def run_actor(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            await actor.run(task_status=task_status)
        except* RuntimeError:
            pass

    async with trio.open_nursery() as nursery:
        await nursery.start(run_actor)
        for i in range(40):
            nursery.start_soon(caller, i)
    assert len(answers) == 40
    assert any(isinstance(a, ActorCrashed) for a in answers)


class _UnavailableBudget:
    """A budget coordinator that is restarting: every call fails."""

    def __init__(self) -> None:
        self.released: list[str] = []

    async def reserve(self, bookings: Sequence[Booking]) -> list[str | None]:
        raise ActorCrashed("budget")

    async def release(self, ref: str) -> None:
        self.released.append(ref)


async def test_a_budget_that_is_down_refuses_the_send_without_crashing_the_chip(
    autojump_clock: trio.testing.MockClock,
) -> None:
    from actors.policy.pricing import PriceTable
    from config.model import PricingConfig

    budget = _UnavailableBudget()
    graph = FakeGraph()
    box: Mailbox[ChipMsg] = open_mailbox("chip")
    actor = _actor(box, graph=graph, budget=budget, prices=PriceTable.from_config(PricingConfig()))
    async with trio.open_nursery() as n:
        await n.start(actor.run)
        refused = await box.address.call(
            lambda r: Send(to=CONTACT, template=TEMPLATE, category="marketing", reply=r),
            timeout=60,
        )
        assert isinstance(refused, Refused)
        assert refused.reason.startswith("budget unavailable")
        assert budget.released == [f"o:{refused.outbox_id}"]
        assert graph.sent == []
        snap = await box.address.call(lambda r: GetSnapshot(reply=r))  # still serving
        assert snap.record.phone_number_id == PNID
        n.cancel_scope.cancel()


class _RecordingBudget:
    """Books everything but ``refuse``; records each call's bookings."""

    def __init__(self, refuse: str) -> None:
        self.calls: list[list[str]] = []
        self.refuse = refuse

    async def reserve(self, bookings: Sequence[Booking]) -> list[str | None]:
        self.calls.append([b.ref for b in bookings])
        return ["budget: no" if b.ref == self.refuse else None for b in bookings]

    async def release(self, ref: str) -> None:
        raise AssertionError("nothing to release")


class _RecordingJournal(FakeJournal):
    def __init__(self) -> None:
        super().__init__()
        self.new_calls: list[int] = []
        self.sending_calls: list[int] = []

    async def outbox_new(self, rows: Sequence[OutboxRow]) -> list[int | None]:
        self.new_calls.append(len(rows))
        return await super().outbox_new(rows)

    async def outbox_sending(self, outbox_ids: Sequence[int]) -> None:
        self.sending_calls.append(len(outbox_ids))
        await super().outbox_sending(outbox_ids)


async def test_sends_that_arrive_together_are_journalled_and_reserved_together(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """One outbox write and one budget call per batch, not per message; a refusal
    stays with its own message, and each send is ``sending`` before its POST."""
    from actors.policy.pricing import PriceTable
    from config.model import PricingConfig

    budget, journal, graph = _RecordingBudget(refuse="o:3"), _RecordingJournal(), FakeGraph()
    box: Mailbox[ChipMsg] = open_mailbox("chip")
    actor = _actor(
        box,
        graph=graph,
        journal=journal,
        budget=budget,
        prices=PriceTable.from_config(PricingConfig()),
    )
    answers: dict[int, object] = {}

    async def send(i: int) -> None:
        answers[i] = await box.address.call(
            lambda r: Send(
                to=f"+55119999900{i:02d}", template=TEMPLATE, category="marketing", reply=r
            ),
            timeout=60,
        )

    async with trio.open_nursery() as n:
        await n.start(actor.run)
        async with trio.open_nursery() as senders:
            for i in range(6):
                senders.start_soon(send, i)
        n.cancel_scope.cancel()
    assert journal.new_calls == [6]
    assert budget.calls == [[f"o:{i}" for i in range(1, 7)]]
    refused = [a for a in answers.values() if isinstance(a, Refused)]
    assert [(r.outbox_id, r.reason) for r in refused] == [(3, "budget: no")]
    assert sum(isinstance(a, Sent) for a in answers.values()) == 5
    assert sum(journal.sending_calls) == 5
    assert len(graph.sent) == 5
    assert journal.outbox[3]["state"] == "cancelled"


async def test_a_known_template_is_priced_at_its_own_category_whatever_the_caller_says(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """``metad ctl send-test`` names no category: a marketing template was booked at the
    utility price (the default), so a cap between the two let it through."""
    from actors.chip import WabaTemplates
    from actors.chip.window import WindowState
    from actors.policy.pricing import PriceTable
    from actors.ports import TemplateRecord
    from config.model import PricingConfig

    prices = PriceTable.from_config(PricingConfig())
    budget = BookingBudget()
    box: Mailbox[ChipMsg] = open_mailbox("chip")
    actor = _actor(box, graph=FakeGraph(), budget=budget, prices=prices)
    offer = TemplateRecord(
        waba_id="100000000000001",
        name="hello_world",
        language="en_US",
        category="MARKETING",
        status="APPROVED",
        components=({"type": "BODY", "text": "Hello"},),
    )
    async with trio.open_nursery() as n:
        await n.start(actor.run)
        await box.address.cast(WabaTemplates(records=(offer,)))
        sent = await box.address.call(lambda r: Send(to=CONTACT, template=TEMPLATE, reply=r))
        n.cancel_scope.cancel()
    assert isinstance(sent, Sent)
    closed = WindowState(False, False, None, None, 0.0)
    marketing = prices.estimate(CONTACT, "marketing", closed)
    assert marketing > prices.estimate(CONTACT, "utility", closed)
    assert budget.amounts == [marketing]

"""The chip's send pipeline: what it journals, and what it refuses before journalling."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import pytest
import trio
import trio.testing

from actors.chip import ChipActor, ChipMsg, ChipSettings, Refused, Send, Sent, WabaTemplates
from actors.chip.wire import SECRET_MASK
from actors.core import Mailbox, open_mailbox
from actors.policy.pricing import PriceTable
from actors.ports import ChipRecord, TemplateRecord
from config.model import LimitsConfig, PricingConfig, QualityConfig, WindowsConfig
from tests.fakes import BookingBudget, FakeChipRepo, FakeGraph, FakeJournal

PNID = "200000000000001"
WABA = "100000000000001"
CONTACT = "5511987654321"
CODE = "482915"
T0 = 1_800_000_000.0
SETTINGS = ChipSettings(WindowsConfig(), LimitsConfig(pair_interval_s=0), QualityConfig())

AUTH = TemplateRecord(
    waba_id=WABA,
    name="codigo_verificacao",
    language="pt_BR",
    category="AUTHENTICATION",
    status="APPROVED",
    components=(
        {"type": "BODY", "text": "*{{1}}* é seu código de verificação."},
        {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE"}]},
    ),
)
SHIFT = TemplateRecord(
    waba_id=WABA,
    name="confirmar_plantao",
    language="pt_BR",
    category="UTILITY",
    status="APPROVED",
    components=(
        {"type": "BODY", "text": "Olá {{1}}, confirma o plantão de {{2}} em {{3}}?"},
        {
            "type": "BUTTONS",
            "buttons": [
                {"type": "QUICK_REPLY", "text": "Confirmo"},
                {"type": "QUICK_REPLY", "text": "Não posso"},
            ],
        },
    ),
)


def otp_template(code: str = CODE, name: str = "codigo_verificacao") -> dict[str, Any]:
    """What the OTP service sends (actors.otp.templates.auth_send_template)."""
    return {
        "name": name,
        "language": {"code": "pt_BR"},
        "components": [
            {"type": "body", "parameters": [{"type": "text", "text": code}]},
            {
                "type": "button",
                "sub_type": "url",
                "index": "0",
                "parameters": [{"type": "text", "text": code}],
            },
        ],
    }


def shift_template(*values: str, name: str = "confirmar_plantao") -> dict[str, Any]:
    return {
        "name": name,
        "language": {"code": "pt_BR"},
        "components": [
            {"type": "body", "parameters": [{"type": "text", "text": v} for v in values]},
        ],
    }


def _chip(
    box: Mailbox[ChipMsg], journal: FakeJournal, graph: FakeGraph, **options: Any
) -> ChipActor:
    """A chip on fakes, reading ``box``, its clock the trio clock from ``T0``."""
    return ChipActor(
        initial=ChipRecord(phone_number_id=PNID, waba_id=WABA, display_number="+55 11 94000-0001"),
        repo=FakeChipRepo(),
        journal=journal,
        graph=graph,
        settings=SETTINGS,
        inbox=box.inbox,
        now=lambda: T0 + trio.current_time(),
        **options,
    )


async def send_all(
    requests: Sequence[Mapping[str, Any]],
    *,
    records: tuple[TemplateRecord, ...] = (),
    journal: FakeJournal | None = None,
    graph: FakeGraph | None = None,
    **options: Any,
) -> list[Any]:
    """Each request (Send's fields but ``reply``) sent in turn to a fresh chip that
    knows ``records``; their answers."""
    box: Mailbox[ChipMsg] = open_mailbox("chip")
    actor = _chip(box, journal or FakeJournal(), graph or FakeGraph(), **options)
    answers: list[Any] = []
    async with trio.open_nursery() as n:
        await n.start(actor.run)
        if records:
            await box.address.cast(WabaTemplates(records=records))
        for fields in requests:
            answers.append(
                await box.address.call(lambda r, f=fields: Send(**f, reply=r), timeout=60)
            )
        n.cancel_scope.cancel()
    return answers


def _texts(template: Mapping[str, Any]) -> list[str]:
    return [str(p.get("text")) for c in template["components"] for p in c.get("parameters", [])]


@pytest.mark.parametrize(
    ("records", "category"),
    [
        pytest.param((AUTH,), "authentication", id="known-and-said"),
        pytest.param((), "authentication", id="registry-empty-otp-says-so"),
        pytest.param((AUTH,), "utility", id="registry-says-so"),
    ],
)
async def test_an_authentication_code_is_posted_but_never_journalled(
    autojump_clock: trio.testing.MockClock, records: tuple[TemplateRecord, ...], category: str
) -> None:
    """The outbox kept every one-time code in plain text for 180 days (a live one
    verified): the journal must get the payload with the code masked, Meta the code."""
    journal, graph = FakeJournal(), FakeGraph()
    (sent,) = await send_all(
        [{"to": CONTACT, "template": otp_template(), "category": category}],
        records=records,
        journal=journal,
        graph=graph,
    )
    assert isinstance(sent, Sent)
    assert _texts(graph.sent[0]["template"]) == [CODE, CODE]
    stored = journal.outbox[sent.outbox_id]["payload"]
    assert CODE not in repr(stored)
    assert _texts(stored["template"]) == [SECRET_MASK, SECRET_MASK]
    # What reports read from the stored payload is still there.
    assert stored["template"]["name"] == "codigo_verificacao"
    assert stored["template"]["language"] == {"code": "pt_BR"}
    assert stored["to"] == CONTACT


async def test_other_templates_are_journalled_as_sent(
    autojump_clock: trio.testing.MockClock,
) -> None:
    journal = FakeJournal()
    (sent,) = await send_all(
        [{"to": CONTACT, "template": shift_template("Ana", "amanhã", "UTI")}],
        records=(SHIFT,),
        journal=journal,
    )
    assert isinstance(sent, Sent)
    assert _texts(journal.outbox[sent.outbox_id]["payload"]["template"]) == [
        "Ana",
        "amanhã",
        "UTI",
    ]


@pytest.mark.parametrize(
    ("template", "records", "reason"),
    [
        pytest.param(
            shift_template("Ana"),
            (SHIFT,),
            "template confirmar_plantao/pt_BR takes 3 body parameters, the send gives 1",
            id="parameter-count",
        ),
        pytest.param(
            otp_template(name="nao_existe"),
            (SHIFT, AUTH),
            f"template nao_existe/pt_BR is not in WABA {WABA};"
            " run metad ctl templates sync if it was just created",
            id="not-in-the-synced-registry",
        ),
        pytest.param(
            {**shift_template("Ana", "amanhã", "UTI"), "language": {"code": "en_US"}},
            (SHIFT,),
            f"template confirmar_plantao/en_US is not in WABA {WABA} (it has"
            " confirmar_plantao in pt_BR); run metad ctl templates sync if it was just created",
            id="not-in-that-language",
        ),
        pytest.param(
            {**otp_template(), "components": otp_template()["components"][:1]},
            (AUTH,),
            "template codigo_verificacao/pt_BR needs a parameter for button 0 (url),"
            " the send gives none",
            id="otp-button-missing",
        ),
    ],
)
async def test_a_template_send_that_meta_would_refuse_is_refused_before_the_outbox(
    autojump_clock: trio.testing.MockClock,
    template: dict[str, Any],
    records: tuple[TemplateRecord, ...],
    reason: str,
) -> None:
    """Meta refused these (132000, 132001) only after an outbox row and a POST; the
    synced registry already knew (behaviour.md 15.7: validate before calling Meta)."""
    journal, graph = FakeJournal(), FakeGraph()
    (refused,) = await send_all(
        [{"to": CONTACT, "template": template}], records=records, journal=journal, graph=graph
    )
    assert refused == Refused(reason)
    assert journal.outbox == {}
    assert graph.sent == []


async def test_a_registry_never_synced_lets_any_template_through(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Nothing to check against: Meta judges, as before."""
    graph = FakeGraph()
    answers = await send_all(
        [
            {"to": CONTACT, "template": shift_template("Ana")},
            {"to": CONTACT, "template": otp_template(name="nao_existe")},
        ],
        graph=graph,
    )
    assert all(isinstance(a, Sent) for a in answers), answers
    assert len(graph.sent) == 2


async def test_a_template_known_only_from_its_review_webhook_is_not_checked(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Created since the last sync, it is in the registry by name, without its
    definition: its parameters are unknown, not none (the shift offer was refused with
    'takes no body parameters')."""
    reviewed = TemplateRecord(
        waba_id=WABA, name="confirmar_plantao", language="pt_BR", status="APPROVED"
    )
    (sent,) = await send_all(
        [{"to": CONTACT, "template": shift_template("Ana", "amanhã", "UTI")}],
        records=(reviewed, AUTH),
    )
    assert isinstance(sent, Sent)


async def test_a_registry_of_reviewed_templates_only_is_not_a_synced_one(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A WABA never synced whose registry holds only what review webhooks announced
    (a template metad created) does not know which others exist."""
    reviewed = TemplateRecord(
        waba_id=WABA, name="confirmar_plantao", language="pt_BR", status="APPROVED"
    )
    (sent,) = await send_all(
        [{"to": CONTACT, "template": otp_template(), "category": "authentication"}],
        records=(reviewed,),
    )
    assert isinstance(sent, Sent)


async def test_a_contact_known_only_by_its_user_id_gets_a_paid_template(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """It was refused: "pricing: no price for destination 'BR.Xk9aZ81bQ': add a
    [[pricing.rates]] entry for its calling code" — a BSUID has none."""
    budget, graph = BookingBudget(), FakeGraph()
    (sent,) = await send_all(
        [{"to": "BR.Xk9aZ81bQ", "template": shift_template("Ana", "amanhã", "UTI")}],
        records=(SHIFT,),
        graph=graph,
        budget=budget,
        prices=PriceTable.from_config(PricingConfig()),
    )
    assert isinstance(sent, Sent), sent
    assert budget.amounts == [Decimal("0.0068")]  # Brazil's utility rate
    assert len(graph.sent) == 1


async def _post_times(count: int) -> list[float]:
    """``count`` shift offers handed to an 80 msg/s chip at once; when each was POSTed."""
    graph = FakeGraph()
    box: Mailbox[ChipMsg] = open_mailbox("chip")
    actor = _chip(box, FakeJournal(), graph)
    offer = shift_template("Ana", "amanhã", "UTI")
    async with trio.open_nursery() as n:
        await n.start(actor.run)
        await box.address.cast(WabaTemplates(records=(SHIFT,)))
        start = trio.current_time()
        async with trio.open_nursery() as senders:
            for i in range(count):
                to = f"55119{i:08d}"
                senders.start_soon(
                    lambda to=to: box.address.call(
                        lambda r: Send(to=to, template=offer, reply=r), timeout=60
                    )
                )
        n.cancel_scope.cancel()
    return [at - start for at in graph.sent_at]


async def test_a_chip_at_its_rate_sends_in_groups_and_keeps_its_rate(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Past its half-second burst (40), a chip held back by its throughput sends four at
    a time every 50 ms (GROUP_S), not one every 12.5 ms: a dispatch costs a task, a
    commit and a wake-up whatever it carries. Its rate stays 80 msg/s."""
    times = await _post_times(200)
    assert len(times) == 200
    burst, rest = times[:40], times[40:]
    assert max(burst) < 0.01
    groups: dict[float, int] = {}
    for at in rest:
        groups[round(at, 6)] = groups.get(round(at, 6), 0) + 1
    assert max(groups.values()) <= 4
    assert len(groups) <= len(rest) / 4 + 2  # in groups, not one by one
    assert max(times) == pytest.approx(160 / 80, abs=0.1)  # 80 msg/s all the same


async def test_a_send_to_an_idle_chip_goes_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    assert await _post_times(1) == [pytest.approx(0.0, abs=0.01)]

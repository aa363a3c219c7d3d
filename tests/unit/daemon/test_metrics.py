"""Metrics: the scrape-time families from a fleet state, and the counters at the edges."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from actors.chip import ChipSnapshot
from actors.ports import ChipRecord, PortOutcome, SendAccepted, SendFailed, SendInDoubt
from actors.reactions import Reaction
from daemon.metrics import (
    CountingGraph,
    CountingSink,
    FleetCollector,
    FleetState,
    Metrics,
    instrument_asgi,
    send_method,
)
from daemon.webhook import events as e


def snap(pnid: str, **record: Any) -> ChipSnapshot:
    fields: dict[str, Any] = {
        "restarts": 0,
        "mode": "FULL",
        "policy": "",
        "open_windows": 3,
        "queued": 2,
        "in_flight": 1,
        "mps": 40.0,
        "tier_used": 10,
        "tier_limit": 250,
        "draining": False,
    }
    fields.update({k: record.pop(k) for k in list(record) if k in fields})
    rec = ChipRecord(phone_number_id=pnid, waba_id="1001", display_number="+55", **record)
    return ChipSnapshot(record=rec, **fields)


def render(state: FleetState) -> list[Sample]:
    registry = CollectorRegistry()
    collector = FleetCollector()
    registry.register(collector)
    collector.state = state
    text = generate_latest(registry).decode()
    return [s for f in text_string_to_metric_families(text) for s in f.samples]


def value(samples: list[Sample], name: str, **labels: str) -> float | None:
    for s in samples:
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    return None


def test_nothing_is_rendered_outside_a_scrape() -> None:
    registry = CollectorRegistry()
    registry.register(FleetCollector())
    assert generate_latest(registry) == b""


def test_per_chip_gauges_and_the_enum_of_quality() -> None:
    samples = render(
        FleetState(
            chips=(
                snap("1", quality_rating="YELLOW", mode="SLOWED", paused=True),
                snap("2", quality_rating="FLAGGED", tier_limit=None, queued=0),
            ),
            mailboxes={"1": 5, "2": 0},
        )
    )
    assert value(samples, "metad_chip_queued", chip="1") == 2
    assert value(samples, "metad_chip_queued", chip="2") == 0
    assert value(samples, "metad_chip_in_flight", chip="1") == 1
    assert value(samples, "metad_chip_mailbox", chip="1") == 5
    assert value(samples, "metad_chip_open_windows", chip="2") == 3
    assert value(samples, "metad_chip_paused", chip="1") == 1
    assert value(samples, "metad_chip_paused", chip="2") == 0
    ratings = {
        s.labels["rating"]: s.value
        for s in samples
        if s.name == "metad_chip_quality_rating" and s.labels["chip"] == "1"
    }
    assert ratings == {"GREEN": 0, "YELLOW": 1, "RED": 0, "UNKNOWN": 0}
    # A rating metad does not know yet still shows, as the current one.
    assert value(samples, "metad_chip_quality_rating", chip="2", rating="FLAGGED") == 1
    assert value(samples, "metad_chip_quality_mode", chip="1", mode="SLOWED") == 1
    assert value(samples, "metad_chip_quality_mode", chip="1", mode="FULL") == 0
    assert value(samples, "metad_chip_tier_limit", chip="1") == 250
    assert value(samples, "metad_chip_tier_limit", chip="2") is None  # unlimited: no series
    assert value(samples, "metad_chip_info", chip="2", waba="1001") == 1


def test_budget_restarts_and_counts() -> None:
    samples = render(
        FleetState(
            budget={
                "day": {"spent": "1.25", "reserved": "0.0068", "cap": "50"},
                "week": {"spent": "3", "reserved": "0", "cap": None},
            },
            restarts={"budget": 0, "chip:1": 2},
            down=("chip:1",),
            unanswered=("1",),
            counters={"metad_webhook_stored": 7, "metad_config_reloads": 1},
            gauges={"metad_bus_subscribers": 2},
        )
    )
    assert value(samples, "metad_budget_spent_usd", period="day") == 1.25
    assert value(samples, "metad_budget_reserved_usd", period="day") == 0.0068
    assert value(samples, "metad_budget_cap_usd", period="day") == 50
    assert value(samples, "metad_budget_cap_usd", period="week") is None
    assert value(samples, "metad_actor_restarts_total", actor="chip:1") == 2
    assert value(samples, "metad_actor_up", actor="chip:1") == 0
    assert value(samples, "metad_actor_up", actor="budget") == 1
    assert value(samples, "metad_chip_unanswered", chip="1") == 1
    assert value(samples, "metad_webhook_stored_total") == 7
    assert value(samples, "metad_config_reloads_total") == 1
    assert value(samples, "metad_config_reload_failures_total") is None  # not reported
    assert value(samples, "metad_bus_subscribers") == 2


def test_open_campaigns_and_messages_in_doubt() -> None:
    """What an alert pages on: messages in doubt (past their hold, per campaign) wait for
    the operator; the rest follows a campaign's progress."""
    samples = render(
        FleetState(
            campaigns=(
                {
                    "id": "shifts",
                    "state": "running",
                    "pending": 40,
                    "sent": 60,
                    "read": 20,
                    "in_doubt": 2,
                    "cost_usd": 3.75,
                    "in_doubt_overdue": [{"recipient": "r7", "outbox_id": 42, "chip": "1"}],
                },
            ),
            gauges={"metad_outbox_in_doubt": 3},
        )
    )
    assert value(samples, "metad_campaign_state", campaign="shifts", state="running") == 1
    assert value(samples, "metad_campaign_messages", campaign="shifts", state="pending") == 40
    assert value(samples, "metad_campaign_messages", campaign="shifts", state="in_doubt") == 2
    assert value(samples, "metad_campaign_messages", campaign="shifts", state="failed") == 0
    assert value(samples, "metad_campaign_in_doubt_overdue", campaign="shifts") == 1
    assert value(samples, "metad_campaign_cost_usd", campaign="shifts") == 3.75
    assert value(samples, "metad_outbox_in_doubt") == 3


async def test_exposition_reads_the_state_for_that_scrape_only() -> None:
    metrics = Metrics()

    async def state() -> FleetState:
        return FleetState(chips=(snap("9"),))

    text = (await metrics.exposition(state)).decode()
    assert 'metad_chip_queued{chip="9"} 2.0' in text
    assert metrics.fleet.state is None
    assert "metad_chip_queued{" not in generate_latest(metrics.registry).decode()


def test_two_daemons_do_not_share_series() -> None:
    a, b = Metrics(), Metrics()
    a.sends.labels("1", "template", "accepted").inc()
    labels = {"chip": "1", "method": "template", "outcome": "accepted"}
    assert a.registry.get_sample_value("metad_sends_total", labels) == 1
    assert b.registry.get_sample_value("metad_sends_total", labels) is None


class FakeGraph:
    def __init__(self, outcome: PortOutcome) -> None:
        self.outcome = outcome

    async def send(
        self,
        phone_number_id: str,
        payload: Mapping[str, Any],
        callback_data: str,
        endpoint: str = "messages",
    ) -> PortOutcome:
        return self.outcome

    async def phone_number(self, phone_number_id: str) -> Mapping[str, object]:
        return {"quality_rating": "GREEN"}


@pytest.mark.parametrize(
    ("outcome", "label"),
    [
        (SendAccepted("wamid.1", "5511"), "accepted"),
        (SendFailed(131056, "pair rate", Reaction.RETRY_RECIPIENT_LATER), "failed"),
        (SendInDoubt("timeout"), "in_doubt"),
    ],
)
async def test_counting_graph_counts_each_outcome(outcome: PortOutcome, label: str) -> None:
    metrics = Metrics()
    graph = CountingGraph(FakeGraph(outcome), metrics)
    assert await graph.send("1", {"type": "template"}, "metad:o:1") is outcome
    assert await graph.phone_number("1") == {"quality_rating": "GREEN"}
    get = metrics.registry.get_sample_value
    labels = {"chip": "1", "method": "template", "outcome": label}
    assert get("metad_sends_total", labels) == 1
    assert get("metad_send_seconds_count") == 1
    errors = get("metad_send_errors_total", {"chip": "1", "code": "131056"})
    assert errors == (1 if label == "failed" else None)


def test_send_method_names_what_the_chip_chose() -> None:
    assert send_method({"type": "template"}, "messages") == "template"
    assert send_method({"type": "text"}, "messages") == "free_form"
    assert send_method({"type": "template"}, "marketing_messages") == "marketing_messages"


class FakeSink:
    async def deliver(self, event: e.Event) -> bool:
        return event.phone_number_id == "1"  # type: ignore[union-attr]


async def test_counting_sink_counts_statuses_by_status_and_routing() -> None:
    metrics = Metrics()
    sink = CountingSink(FakeSink(), metrics)

    def status(pnid: str, value: str) -> e.StatusUpdate:
        return e.StatusUpdate(
            phone_number_id=pnid,
            display_phone_number=None,
            waba_id="1001",
            wamid="wamid.1",
            status=value,
            timestamp=0,
        )

    assert await sink.deliver(status("1", "delivered"))
    assert await sink.deliver(status("1", "delivered"))
    assert not await sink.deliver(status("2", "read"))
    get = metrics.registry.get_sample_value
    name = "metad_webhook_events_total"
    assert get(name, {"kind": "status", "status": "delivered", "routed": "true"}) == 2
    assert get(name, {"kind": "status", "status": "read", "routed": "false"}) == 1


async def test_instrumented_asgi_times_each_request_with_bounded_labels() -> None:
    metrics = Metrics()
    sent: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            status = 401 if scope["path"] == "/webhook" else 404
            await send({"type": "http.response.start", "status": status, "headers": []})

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    wrapped = instrument_asgi(app, metrics, path="/webhook")
    for path, method in [("/webhook", "POST"), ("/x?y", "DELETE"), ("/other", "GET")]:
        await wrapped({"type": "http", "path": path, "method": method}, None, send)
    await wrapped({"type": "lifespan"}, None, send)
    get = metrics.registry.get_sample_value
    name = "metad_webhook_request_seconds_count"
    assert get(name, {"route": "webhook", "method": "POST", "code": "401"}) == 1
    assert get(name, {"route": "other", "method": "other", "code": "404"}) == 1
    assert get(name, {"route": "other", "method": "GET", "code": "404"}) == 1
    assert len(sent) == 3  # responses pass through untouched


async def test_a_request_that_raises_is_counted_as_500() -> None:
    metrics = Metrics()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    wrapped = instrument_asgi(app, metrics, path="/webhook")
    with pytest.raises(RuntimeError):
        await wrapped({"type": "http", "path": "/webhook", "method": "POST"}, None, None)
    count = metrics.registry.get_sample_value(
        "metad_webhook_request_seconds_count", {"route": "webhook", "method": "POST", "code": "500"}
    )
    assert count == 1

"""The pure models behind the campaigns, budget, templates and quality screens."""

from __future__ import annotations

import pytest

from tui.budget import BudgetPeriod, parse_budget
from tui.campaigns import Campaign, parse_campaigns
from tui.model import Chip
from tui.templates import merge_templates, parse_report
from tui.timeline import QualityTimeline, RatingChange, parse_rating_changes, spark
from tui.views.campaigns import campaign_cells, campaign_detail


@pytest.mark.parametrize(
    ("spent", "cap", "level", "crossed"),
    [
        ("10", "100", "ok", 0),
        ("50", "100", "warning", 1),
        ("94.99", "100", "warning", 2),
        ("95", "100", "critical", 3),
        ("120", "100", "critical", 4),
        ("5", None, "ok", 0),
    ],
)
def test_budget_levels(spent: str, cap: str | None, level: str, crossed: int) -> None:
    (day,) = parse_budget({"day": {"spent": spent, "reserved": "0", "cap": cap}})
    assert (day.level, day.crossed) == (level, crossed)


def test_budget_reads_leniently() -> None:
    periods = parse_budget(
        {
            "day": {"spent": "1.5", "reserved": "0.5", "cap": "10", "alert_at": ["0.9", "x"]},
            "week": "garbage",
            "month": {"spent": 3},
            "alert_at": [0.5],
        }
    )
    assert [p.period for p in periods] == ["day", "month"]
    assert periods[0].used == 2.0
    assert periods[0].thresholds == (0.9,)
    assert periods[1] == BudgetPeriod("month", spent=3.0)
    assert parse_budget(None) == ()


def test_campaign_progress_and_allowed_actions() -> None:
    c = Campaign.from_wire({"id": 7, "name": "x", "state": "RUNNING", "total": 10,
                            "pending": 3, "sent": 5, "failed": 1, "skipped": 1,
                            "in_doubt": 1})  # fmt: skip
    assert (c.id, c.state, c.done, c.progress) == ("7", "running", 7, 0.7)
    assert [v for v in ("pause", "resume", "cancel") if c.can(v)] == ["pause", "cancel"]
    finished = Campaign("f", state="finished")
    assert finished.progress == 1.0
    assert not any(finished.can(v) for v in ("pause", "resume", "cancel"))
    assert [c.id for c in parse_campaigns([{"id": "a"}, {"name": "no id"}, 3])] == ["a"]
    assert [c.id for c in parse_campaigns({"campaigns": [{"id": "b"}]})] == ["b"]
    assert parse_campaigns(None) == []


def test_a_finished_campaign_with_a_dropped_recipient_is_done() -> None:
    """The operator's report: 3 recipients, 2 sent, 1 in doubt dropped showed 67 %, 2/3."""
    c = Campaign.from_wire({"id": "c", "state": "finished", "total": 3, "pending": 0,
                            "in_flight": 0, "sent": 2, "dropped": 1})  # fmt: skip
    assert (c.done, c.progress) == (3, 1.0)
    assert campaign_cells(c)[2].plain.endswith("100%")
    assert campaign_cells(c)[3].plain == "3/3"
    assert "dropped 1" in campaign_detail(c).plain


def test_campaign_done_is_what_pending_and_in_flight_leave() -> None:
    """Every state counted once: failed ones are part of sent, refused and dropped count."""
    doc = {"id": "c", "state": "running", "total": 20, "pending": 4, "in_flight": 3,
           "sent": 8, "delivered": 5, "read": 2, "failed": 2, "in_doubt": 1, "skipped": 2,
           "refused": 1, "dropped": 1}  # fmt: skip
    c = Campaign.from_wire(doc)
    assert (c.pending, c.in_flight, c.refused, c.dropped) == (4, 3, 1, 1)
    assert c.done == c.total - c.pending - c.in_flight == 13
    assert c.progress == 0.65


def test_a_campaign_carries_what_its_detail_shows() -> None:
    c = Campaign.from_wire(
        {"id": "x", "state": "paused", "reason": "budget cap reached", "taps": 3,
         "waiting": "quiet hours", "in_doubt_overdue": [
             {"recipient": f"r{n}", "outbox_id": n, "chip": "1"} for n in range(4)
         ] + [{"outbox_id": 9}]}  # no recipient: left out
    )  # fmt: skip
    assert (c.reason, c.waiting, c.taps) == ("budget cap reached", "quiet hours", 3)
    assert [d.recipient for d in c.overdue] == ["r0", "r1", "r2", "r3"]
    lines = campaign_detail(c).plain.splitlines()
    assert lines[:3] == ["x  paused  taps 3", "budget cap reached", "waiting: quiet hours"]
    assert lines[3].startswith("4 in doubt past the hold")
    assert lines[4:] == ["  r0  outbox 0  chip 1", "  r1  outbox 1  chip 1  … 2 more"]


def test_a_report_object_with_separate_recommendations_is_read() -> None:
    listed = [
        {"waba_id": "w", "name": "promo", "language": lang, "status": "approved"}
        for lang in ("pt_BR", "en_US")
    ]
    report = {
        "templates": [{"template": "promo", "language": "pt_BR", "sent": 10, "read": 4}],
        "recommendations": [
            {"name": "promo", "language": "pt_BR", "message": "pause it"},
            {"name": "gone", "text": "delete it"},
        ],
    }
    rows = merge_templates(listed, parse_report(report))
    by = {(r.name, r.language): r for r in rows}
    assert by["promo", "pt_BR"].read_rate == 0.4  # computed when the report has none
    assert by["promo", "pt_BR"].recommendations == ("pause it",)
    assert by["promo", "en_US"].sent is None  # no report for that language
    assert by["gone", ""].recommendations == ("delete it",)
    assert by["promo", "pt_BR"].status == "APPROVED"
    assert merge_templates(None, parse_report(None)) == []


def test_the_timeline_counts_sends_per_minute_and_rating_changes() -> None:
    timeline = QualityTimeline(minutes=60)
    timeline.baseline([Chip("1", accepted=100, quality_rating="GREEN")])
    timeline.observe(Chip("1", accepted=103, quality_rating="GREEN"), at=60.0)
    timeline.observe(Chip("1", accepted=110, quality_rating="YELLOW"), at=90.0)
    timeline.observe(Chip("1", accepted=2, quality_rating="YELLOW"), at=130.0)  # restarted
    assert timeline.sends_per_minute("1", now=150.0, minutes=3) == [0, 10, 2]
    assert timeline.ratings_per_minute("1", now=150.0, minutes=3) == ["GREEN", "YELLOW", "YELLOW"]
    assert [(c.old, c.new) for c in timeline.changes_of("1")] == [("GREEN", "YELLOW")]
    assert timeline.fleet_per_minute(now=150.0, minutes=2) == [10, 2]
    # An hour later the old minutes are forgotten.
    timeline.observe(Chip("1", accepted=3, quality_rating="YELLOW"), at=3800.0)
    assert sum(timeline.sends_per_minute("1", now=3800.0, minutes=120)) == 1


def test_the_timeline_starts_from_the_journals_rating_changes() -> None:
    """A console that connects after a drop draws it (not the current rating all along),
    once: a change also seen live, or seeded at an earlier connection, is not doubled."""
    timeline = QualityTimeline(minutes=60)
    timeline.baseline([Chip("1", quality_rating="RED")])
    timeline.observe(Chip("1", quality_rating="GREEN"), at=250.0)  # live, after connecting
    stored = parse_rating_changes(
        [
            {"chip": "1", "at": 70.0, "from_rating": "GREEN", "to_rating": "YELLOW"},
            {"chip": "1", "at": 130.0, "from_rating": "YELLOW", "to_rating": "RED"},
            {"chip": "1", "at": 249.5, "from_rating": "RED", "to_rating": "GREEN"},  # seen live
            {"chip": "1", "at": "soon"},  # malformed: left out
        ]
    )
    assert timeline.seed(stored) == 2
    assert timeline.ratings_per_minute("1", now=250.0, minutes=5) == [
        "GREEN", "YELLOW", "RED", "RED", "GREEN",
    ]  # fmt: skip
    assert timeline.seed(stored) == 0  # the next connection
    assert [c.at for c in timeline.changes] == [70.0, 130.0, 250.0]
    assert timeline.changes[0] == RatingChange(70.0, "1", "GREEN", "YELLOW")


def test_spark() -> None:
    assert spark([0, 1, 4, 8]) == " ▁▄█"
    assert spark([0, 0]) == "  "
    assert spark([]) == ""


def test_a_report_per_waba_gives_each_wabas_row_its_own_figures() -> None:
    """The same name and language in two WABAs are two templates, each with its results
    and recommendations; a report without WABAs (an older daemon) fills both."""
    listed = [
        {"waba_id": w, "name": "promo", "language": "pt_BR", "status": "approved"}
        for w in ("w1", "w2")
    ]
    report = {
        "rows": [
            {"waba_id": "w1", "name": "promo", "language": "pt_BR", "sent": 10, "read": 5},
            {"waba_id": "w2", "name": "promo", "language": "pt_BR", "sent": 4, "read": 1},
            {"waba_id": "w3", "name": "gone", "language": "es", "sent": 2, "read": 0},
        ],
        "recommendations": [{"waba_id": "w2", "name": "promo", "message": "pause it"}],
    }
    rows = merge_templates(listed, parse_report(report))
    by = {(r.waba_id, r.name): r for r in rows}
    assert (by["w1", "promo"].sent, by["w2", "promo"].sent) == (10, 4)
    assert (by["w1", "promo"].recommendations, by["w2", "promo"].recommendations) == (
        (),
        ("pause it",),
    )
    assert by["w3", "gone"].sent == 2  # reported, no longer listed
    older = {"rows": [{"name": "promo", "language": "pt_BR", "sent": 14}]}
    assert [r.sent for r in merge_templates(listed, parse_report(older))] == [14, 14]

"""The daemon's side of the ingest workers, without processes: sockets and counters."""

from __future__ import annotations

import json

from daemon.webhook.ingest import IngestCounters
from daemon.webhook.worker import WorkerSettings, counter_delta
from daemon.webhook.workers import WorkerStatus, add_delta


def test_counter_reports_add_up_in_the_daemon() -> None:
    worker = IngestCounters()
    sent = IngestCounters()
    daemon = IngestCounters(stored=5, by_status={200: 5})
    assert counter_delta(worker, sent) == {}
    worker.stored, worker.bad_signature, worker.by_status = 3, 1, {200: 3, 401: 1}
    first = counter_delta(worker, sent)
    assert first == {"stored": 3, "bad_signature": 1, "by_status": {"200": 3, "401": 1}}
    add_delta(daemon, first)
    sent = IngestCounters(stored=3, bad_signature=1, by_status={200: 3, 401: 1})
    worker.stored, worker.by_status[200] = 4, 4
    add_delta(daemon, counter_delta(worker, sent))
    assert (daemon.stored, daemon.bad_signature, daemon.by_status) == (9, 1, {200: 9, 401: 1})


def test_settings_travel_as_one_json_line() -> None:
    settings = WorkerSettings(
        dsn="postgresql://x", path="/webhook", app_secret="s", max_body_bytes=10, upstream="/u"
    )
    line = settings.to_json()
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1

    assert WorkerSettings(**json.loads(line)) == settings


def test_readiness_names_the_workers_that_are_not_up() -> None:
    status = WorkerStatus(2, up={0})
    assert status.reasons() == ["webhook ingest workers up: 1 of 2"]
    status.up.add(1)
    assert status.reasons() == []

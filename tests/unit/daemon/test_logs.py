"""Log lines carry the ids an operator filters by: from ``extra=``, ``fields`` or context."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import trio

from daemon.logs import JsonFormatter, TextFormatter, fields, log_context


@pytest.fixture
def lines() -> Iterator[tuple[logging.Logger, io.StringIO, io.StringIO]]:
    json_out, text_out = io.StringIO(), io.StringIO()
    logger = logging.getLogger("metad.test.logs")
    handlers = []
    for stream, formatter in ((json_out, JsonFormatter()), (text_out, TextFormatter())):
        handler = logging.StreamHandler(stream)
        handler.setFormatter(formatter)
        logger.addHandler(handler)
        handlers.append(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, json_out, text_out
    for handler in handlers:
        logger.removeHandler(handler)
    logger.propagate = True


def test_extra_ids_and_fields_become_keys(
    lines: tuple[logging.Logger, io.StringIO, io.StringIO],
) -> None:
    logger, json_out, text_out = lines
    logger.info("campaign %s: started", "c1", extra={"campaign": "c1", "wamid": "wamid.X"})
    logger.info("READY", extra=fields(chips=3))
    first, second = (json.loads(line) for line in json_out.getvalue().splitlines())
    assert first["campaign"] == "c1"
    assert first["wamid"] == "wamid.X"
    assert first["msg"] == "campaign c1: started"
    assert second["chips"] == 3
    assert "campaign=c1 wamid=wamid.X" in text_out.getvalue().splitlines()[0]


def test_a_record_without_ids_has_no_id_keys(
    lines: tuple[logging.Logger, io.StringIO, io.StringIO],
) -> None:
    logger, json_out, _ = lines
    logger.warning("plain")
    doc = json.loads(json_out.getvalue())
    assert set(doc) == {"ts", "level", "logger", "msg"}


async def test_context_reaches_tasks_started_inside_and_ends_with_the_block(
    lines: tuple[logging.Logger, io.StringIO, io.StringIO],
) -> None:
    logger, json_out, _ = lines

    async def child() -> None:
        logger.info("from a child task", extra={"wamid": "wamid.9"})

    with log_context(chip="2001", waba="1001"):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(child)
        with log_context(campaign="c7"):
            logger.info("nested")
    logger.info("outside")
    docs = [json.loads(line) for line in json_out.getvalue().splitlines()]
    assert docs[0] | {"ts": ""} == {
        "ts": "",
        "level": "info",
        "logger": "metad.test.logs",
        "msg": "from a child task",
        "chip": "2001",
        "waba": "1001",
        "wamid": "wamid.9",
    }
    assert (docs[1]["chip"], docs[1]["campaign"]) == ("2001", "c7")
    assert "chip" not in docs[2]

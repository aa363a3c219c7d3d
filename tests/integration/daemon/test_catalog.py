"""Catalog push and product messages against the simulator (real HTTP, real store)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import trio

from actors.chip import ChipSnapshot, GetSnapshot
from daemon.catalog.listings import parse_listings
from daemon.catalog.push import PushReport, push_listings
from daemon.catalog.remote import fetch_products, resync_listings
from daemon.control.client import connect
from daemon.graph.errors import GraphError
from daemon.store.catalog import CatalogRepository
from tests.integration.daemon.conftest import CHIP, CONTACT, Env, wait_until
from tests.support import free_port, metad_command

WABA = "100000000000001"
CATALOG = "300000000000001"  # the simulator's catalog of the first WABA
FIXTURE = Path(__file__).parents[4] / "shared" / "fixtures" / "listings_shifts.csv"


async def _sync(
    env: Env, text: str, sync: Callable[..., Awaitable[PushReport]], **extra: Any
) -> dict[str, Any]:
    """Run a push or a resync of ``text`` against the simulator's first catalog: both take
    the same target, so a test differs from another only in what it pushes."""
    listings, problems = parse_listings(text)
    assert problems == []
    report = await sync(
        env.daemon.graph,
        CatalogRepository(env.daemon.store),
        listings,
        catalog_id=CATALOG,
        waba_id=WABA,
        currency="BRL",
        link_base="https://example.com/vagas/",
        **extra,
    )
    return report.as_dict()


async def _push(env: Env, text: str) -> dict[str, Any]:
    return await _sync(env, text, push_listings)


def _products(env: Env) -> dict[str, dict[str, object]]:
    return env.sim.world.products.get(CATALOG, {})


def _edited(text: str) -> list[str]:
    """The fixture's rows with V1001's price raised and V1002 closed: the two edits an
    operator makes most, which several tests push after the first push."""
    rows = []
    for row in text.splitlines():
        if row.startswith("V1001,"):
            row = row.replace("1500.00", "1650.00")
        elif row.startswith("V1002,"):
            row = row.removesuffix("aberta") + "fechada"
        rows.append(row)
    return rows


def _cli_files(env: Env, tmp_path: Path, text: str, base_url: str | None = None) -> Path:
    """Write ``text`` as a listings file and, beside it as ``metad.toml``, a config for
    ``metad catalog push`` naming the test's store and simulator (or ``base_url``
    instead): the command line tests differ only in what they push and where to."""
    (tmp_path / "metad.toml").write_text(
        f"""
[daemon]
state_dir = "{tmp_path / "state"}"
[storage]
dsn = "{env.cfg.storage.dsn}"
[graph]
base_url = "{base_url or env.cfg.graph.base_url}"
[sandbox]
enabled = true
serve = false
[catalog]
id = "{CATALOG}"
[[wabas]]
id = "{WABA}"
"""
    )
    listings = tmp_path / "shifts.csv"
    listings.write_text(text, encoding="utf-8")
    return listings


async def _cli_push(listings: Path, *flags: str) -> subprocess.CompletedProcess[bytes]:
    """Run ``metad catalog push`` as an operator would, on the files ``_cli_files`` wrote;
    its exit code is the test's to judge."""
    config = listings.parent / "metad.toml"
    return await trio.run_process(
        metad_command("catalog", "push", str(listings), "-c", str(config), *flags),
        capture_stdout=True,
        capture_stderr=True,
        check=False,
    )


async def test_push_creates_updates_and_marks_closed_shifts_out_of_stock(env: Env) -> None:
    text = FIXTURE.read_text(encoding="utf-8")
    rows = text.splitlines()
    open_ids = [r.split(",")[0] for r in rows[1:] if r.endswith(",aberta")]
    first = await _push(env, text)
    assert sorted(first["created"]) == sorted(f"shift_{i}" for i in open_ids)
    assert first["errors"] == []
    products = _products(env)
    assert set(products) == {f"shift_{i}" for i in open_ids}
    assert products["shift_V1002"]["price"] == "1800.00 BRL"
    assert products["shift_V1002"]["availability"] == "in stock"

    # Nothing changed: nothing is pushed.
    again = await _push(env, text)
    assert (again["created"], again["updated"], again["handles"]) == ([], [], [])

    # V1001's price changes, V1002 closes, V1003 leaves the file, V2000 is new but has no
    # image (Meta refuses to create it: that item alone fails).
    changed = [row for row in _edited(text) if not row.startswith("V1003,")]
    changed.append(
        "V2000,Hospital Novo,Capital,SP,Pediatria,2026-12-20,07:00,19:00,2500.00,,aberta"
    )
    second = await _push(env, "\n".join(changed) + "\n")
    assert second["updated"] == ["shift_V1001"]
    assert sorted(second["out_of_stock"]) == ["shift_V1002", "shift_V1003"]
    assert second["created"] == []
    (error,) = second["errors"]
    assert error["retailer_id"] == "shift_V2000"
    assert error["method"] == "CREATE"
    assert "image_link" in error["message"]
    products = _products(env)  # the same dict; read again, for mypy kept the values seen before
    assert products["shift_V1001"]["price"] == "1650.00 BRL"
    assert products["shift_V1002"]["availability"] == "out of stock"
    assert products["shift_V1003"]["availability"] == "out of stock"
    assert "shift_V2000" not in products
    stored = await CatalogRepository(env.daemon.store).pushed(CATALOG)
    assert "shift_V2000" not in stored  # not believed pushed: the next push retries it
    assert stored["shift_V1002"].availability == "out of stock"


async def test_the_command_line_push_reports_per_item(env: Env, tmp_path: Path) -> None:
    listings = _cli_files(env, tmp_path, FIXTURE.read_text(encoding="utf-8"))
    out = await _cli_push(listings, "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert len(report["created"]) == len(_products(env)) > 0
    with listings.open("a", encoding="utf-8") as f:
        f.write("V2001,Hospital X,Capital,SP,Pediatria,2026-12-21,07:00,19:00,12,,aberta\n")
    failed = await _cli_push(listings)
    assert failed.returncode == 1
    assert b"CREATE shift_V2001 (listing V2001): missing required fields: image_link" in (
        failed.stdout
    )


async def test_products_are_sent_in_a_message(env: Env) -> None:
    await _push(env, FIXTURE.read_text(encoding="utf-8"))
    env.sim.inbound(CHIP, CONTACT, {"type": "text", "text": {"body": "quero ver as vagas"}})
    chip = env.daemon.fleet.chip(CHIP)

    async def window_open() -> bool:
        snap: ChipSnapshot = await chip.call(lambda r: GetSnapshot(reply=r))
        return snap.open_windows > 0

    await wait_until(window_open)
    async with connect(Path(env.daemon.control_socket)) as client:
        one = await client.call(
            "catalog.send",
            {"chip": CHIP, "to": CONTACT, "catalog": CATALOG, "listing_ids": ["V1002"]},
        )
        await trio.sleep(1.1)  # the pair rate limit is 1 s in the test config
        many = await client.call(
            "catalog.send",
            {
                "chip": CHIP,
                "to": CONTACT,
                "catalog": CATALOG,
                "listing_ids": ["V1002", "V1004"],
                "header": "Plantões da semana",
            },
        )
    assert (one["result"], many["result"]) == ("sent", "sent")
    product = env.sim.world.messages[one["wamid"]].payload["interactive"]
    assert product["type"] == "product"
    assert product["action"] == {"catalog_id": CATALOG, "product_retailer_id": "shift_V1002"}
    listing = env.sim.world.messages[many["wamid"]].payload["interactive"]
    assert listing["type"] == "product_list"
    assert listing["header"] == {"type": "text", "text": "Plantões da semana"}
    (section,) = listing["action"]["sections"]
    assert [i["product_retailer_id"] for i in section["product_items"]] == [
        "shift_V1002",
        "shift_V1004",
    ]


async def test_a_product_meta_lost_is_created_again_or_forgotten(env: Env) -> None:
    text = FIXTURE.read_text(encoding="utf-8")
    await _push(env, text)
    products = _products(env)
    products.pop("shift_V1001")  # the simulator lost them (restarted, or deleted by hand)
    products.pop("shift_V1002")
    changed = _edited(text)
    report = await _push(env, "\n".join(changed) + "\n")
    assert (report["created"], report["forgotten"], report["errors"]) == (
        ["shift_V1001"],
        ["shift_V1002"],
        [],
    )
    assert products["shift_V1001"]["price"] == "1650.00 BRL"
    stored = await CatalogRepository(env.daemon.store).pushed(CATALOG)
    assert "shift_V1002" not in stored
    again = await _push(env, "\n".join(changed) + "\n")
    assert (again["handles"], again["errors"]) == ([], [])


async def test_a_product_meta_already_has_is_updated_not_created_forever(env: Env) -> None:
    text = FIXTURE.read_text(encoding="utf-8")
    first = await _push(env, text)
    repo = CatalogRepository(env.daemon.store)
    await repo.forget(CATALOG, first["created"])  # metad's memory of its pushes is lost
    changed = text.replace("V1001,Hospital Municipal Norte", "V1001,Hospital Municipal Sul")
    report = await _push(env, changed)
    assert report["errors"] == []
    assert (report["created"], sorted(report["existing"])) == ([], sorted(first["created"]))
    assert sorted(report["updated"]) == sorted(first["created"])
    assert _products(env)["shift_V1001"]["brand"] == "Hospital Municipal Sul"
    assert set(await repo.pushed(CATALOG)) == set(first["created"])
    again = await _push(env, changed)
    assert (again["handles"], again["errors"]) == ([], [])


async def _resync(env: Env, text: str, lines: list[str] | None = None) -> dict[str, Any]:
    return await _sync(
        env,
        text,
        resync_listings,
        page_size=2,  # several pages even for the fixture's dozen products
        progress=None if lines is None else lines.append,
    )


async def test_resync_recreates_lost_products_and_repairs_changed_ones(env: Env) -> None:
    text = FIXTURE.read_text(encoding="utf-8")
    first = await _push(env, text)
    products = _products(env)
    lost = products.pop("shift_V1002")  # vanished on Meta's side; its listing is the same
    lost_price = products["shift_V1004"]["price"]
    products["shift_V1004"]["price"] = "10.00 BRL"  # edited in Commerce Manager
    products["shift_V1005"]["availability"] = "out of stock"
    plain = await _push(env, text)  # a diff against memory cannot see any of that…
    assert (plain["handles"], plain["errors"]) == ([], [])
    repo = CatalogRepository(env.daemon.store)
    await repo.forget(CATALOG, ["shift_V1007"])  # metad forgot it; Meta has it as it was

    lines: list[str] = []
    report = await _resync(env, text, lines)  # …a resync reads Meta's side
    assert report["errors"] == []
    assert report["created"] == ["shift_V1002"]
    assert sorted(report["updated"]) == ["shift_V1004", "shift_V1005"]
    assert report["remembered"] == ["shift_V1007"]
    assert report["unchanged"] == text.count("\n") - 1 - 3  # every listing but 3
    assert products["shift_V1002"] == lost
    assert products["shift_V1004"]["price"] == lost_price
    assert products["shift_V1005"]["availability"] == "in stock"
    assert lines[0] == f"read 2 products of catalog {CATALOG}"
    assert lines[-2:] == [
        f"read {len(first['created']) - 1} products of catalog {CATALOG}",
        "3 of them to send",
    ]
    assert set(await repo.pushed(CATALOG)) == set(first["created"])

    again = await _resync(env, text)  # all in line: nothing sent
    assert (again["handles"], again["errors"], again["remembered"]) == ([], [], [])
    assert (await _push(env, text))["handles"] == []


async def test_meta_answers_an_unknown_product_field_with_an_error(env: Env) -> None:
    with pytest.raises(GraphError, match="nonexisting field \\(title\\)"):
        await fetch_products(env.daemon.graph, CATALOG, waba_id=WABA, fields=["title"])


async def test_the_command_line_resync_reports_progress_and_what_it_did(
    env: Env, tmp_path: Path
) -> None:
    text = FIXTURE.read_text(encoding="utf-8")
    await _push(env, text)
    _products(env).pop("shift_V1002")
    out = await _cli_push(_cli_files(env, tmp_path, text), "--resync")
    assert out.returncode == 0, out.stderr
    assert out.stdout.decode().startswith(f"catalog {CATALOG}: 1 created, 0 updated,")
    progress = out.stderr.decode().splitlines()
    n = len(_products(env)) - 1  # read before V1002 was created again
    assert progress[-2] == f"metad catalog: read {n} products of catalog {CATALOG}"
    assert progress[-1] == "metad catalog: 1 of them to send"
    assert "shift_V1002" in _products(env)


async def test_the_command_line_names_an_unreachable_graph_api_in_one_line(
    env: Env, tmp_path: Path
) -> None:
    base_url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    listings = _cli_files(env, tmp_path, FIXTURE.read_text(encoding="utf-8"), base_url)
    out = await _cli_push(listings)
    assert out.returncode == 1
    (line,) = out.stderr.decode().splitlines()  # no progress line before the error
    assert line.startswith(f"metad catalog: the Graph API at {base_url} cannot be reached (")
    assert line.endswith("start the simulator: `metad sim`")

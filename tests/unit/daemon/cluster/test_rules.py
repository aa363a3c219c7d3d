"""The pure lease rules: who takes which chip, when a node must stop sending."""

from __future__ import annotations

import json

from daemon.cluster.rules import (
    LeaseTiming,
    View,
    chip_key,
    inbox_chips,
    plan,
    row_owner_chip,
)

CHIPS = tuple(f"2000000000000{n:02d}" for n in range(1, 13))


def _view(owners: dict[str, str], nodes: set[str]) -> View:
    return View(CHIPS, owners, frozenset(nodes))


def test_alone_with_all_takes_every_free_chip() -> None:
    p = plan("a", "all", _view({}, {"a"}))
    assert sorted(p.acquire) == sorted(CHIPS)
    assert p.release == ()


def test_all_leaves_chips_held_elsewhere() -> None:
    p = plan("b", "all", _view(dict.fromkeys(CHIPS[:5], "a"), {"a", "b"}))
    assert sorted(p.acquire) == sorted(CHIPS[5:])


def test_auto_takes_a_fair_share() -> None:
    p = plan("a", "auto", _view({}, {"a", "b", "c"}))
    assert len(p.acquire) == 4


def test_auto_gives_back_over_its_share_when_a_node_joins() -> None:
    p = plan("a", "auto", _view(dict.fromkeys(CHIPS, "a"), {"a", "b"}))
    assert p.release == CHIPS[6:]
    assert p.acquire == ()


def test_auto_takes_the_chips_of_a_dead_node() -> None:
    owners = dict.fromkeys(CHIPS[:4], "a") | dict.fromkeys(CHIPS[4:8], "b")  # c died
    p = plan("a", "auto", _view(owners, {"a", "b"}))
    assert len(p.acquire) == 2
    assert set(p.acquire) <= set(CHIPS[8:])


def test_racing_nodes_try_different_free_chips_first() -> None:
    free = _view({}, {"a", "b"})
    assert plan("a", "auto", free).acquire != plan("b", "auto", free).acquire


def test_a_list_takes_only_its_chips_and_gives_back_the_others() -> None:
    p = plan("a", [CHIPS[0], CHIPS[1]], _view({CHIPS[2]: "a", CHIPS[1]: "b"}, {"a", "b"}))
    assert p.acquire == (CHIPS[0],)
    assert p.release == (CHIPS[2],)


def test_a_chip_dropped_from_the_config_is_given_back() -> None:
    view = View(CHIPS[:2], {CHIPS[0]: "a", "999": "a"}, frozenset({"a"}))
    assert plan("a", "all", view).release == ("999",)


def test_renewal_and_stop_come_from_lease_s() -> None:
    t = LeaseTiming(9.0)
    assert t.renew_every_s == 3.0
    assert t.fence_after_s == 6.0
    assert not t.must_stop(105.9, last_renewed=100.0)
    assert t.must_stop(106.0, last_renewed=100.0)
    assert t.must_stop(0.0, last_renewed=None)


def test_the_server_drops_a_silent_session_after_the_fence_and_within_the_lease() -> None:
    for lease_s in (3.0, 10.0, 15.0, 60.0):
        k = LeaseTiming(lease_s).keepalive()
        dropped_after = int(k["tcp_keepalives_idle"]) + int(k["tcp_keepalives_count"]) * int(
            k["tcp_keepalives_interval"]
        )
        assert LeaseTiming(lease_s).fence_after_s < dropped_after <= lease_s + 1
        assert int(k["tcp_user_timeout"]) / 1000 > LeaseTiming(lease_s).fence_after_s


def test_chip_keys_are_int4_and_distinct() -> None:
    keys = {chip_key(c) for c in CHIPS}
    assert len(keys) == len(CHIPS)
    assert all(-(2**31) <= k < 2**31 for k in keys)


def _body(*pnids: str) -> bytes:
    changes = [{"field": "messages", "value": {"metadata": {"phone_number_id": p}}} for p in pnids]
    return json.dumps(
        {"object": "whatsapp_business_account", "entry": [{"changes": changes}]}
    ).encode()


def test_a_webhook_body_names_its_chips() -> None:
    assert inbox_chips(_body("2", "1", "2")) == ["2", "1"]
    assert inbox_chips(b"not json") == []
    assert (
        inbox_chips(b'{"entry": [{"changes": [{"field": "account_update", "value": {}}]}]}') == []
    )


def test_one_body_goes_to_one_chip_owner_or_to_the_leader() -> None:
    assert row_owner_chip(["3", "1"], {"1", "3"}) == "1"
    assert row_owner_chip(["9"], {"1", "3"}) is None
    assert row_owner_chip([], {"1"}) is None

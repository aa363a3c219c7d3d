"""A chip action on a chip this node does not run says where it runs.

Why: with several nodes, ``ctl status`` on any node lists every chip with its owner,
and ``ctl chip pause`` or ``send-test`` on another node's chip said "unknown chip".
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

from daemon.control.methods import METHODS, MethodError


def _ctx(owner: str | None, *, cluster: bool = True) -> Any:
    chips = [SimpleNamespace(phone_number_id=p) for p in ("1", "2")]
    leases = SimpleNamespace(owner=lambda pnid: owner, node_id="node-a") if cluster else None
    fleet = SimpleNamespace(find_chip=lambda pnid: None)
    return cast(Any, SimpleNamespace(cfg=SimpleNamespace(chips=chips), fleet=fleet, cluster=leases))


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("chip.pause", {"phone_number_id": "2"}),
        ("send.test", {"chip": "2", "to": "5511987654321", "text": "oi"}),
    ],
)
async def test_another_nodes_chip_is_named_with_its_node(
    method: str, params: dict[str, Any]
) -> None:
    with pytest.raises(MethodError, match="chip 2 runs on node node-c: ask that node's daemon"):
        await METHODS[method](_ctx("node-c"), params)
    with pytest.raises(MethodError, match="chip 2 runs on no node right now"):
        await METHODS[method](_ctx(None), params)


async def test_a_chip_not_configured_is_unknown_and_the_configured_ones_are_named() -> None:
    with pytest.raises(MethodError, match=r"unknown chip 9 \(configured: 1, 2\)"):
        await METHODS["chip.pause"](_ctx(None, cluster=False), {"phone_number_id": "9"})


async def test_a_chip_of_this_node_whose_actor_is_stopped_is_not_sent_to_this_node() -> None:
    """Its lease lapsed while the store hung (or it restarts): the lease table still
    names this node, and "ask that node's daemon" sent the operator back to it."""
    with pytest.raises(MethodError, match="chip 2 is not running on this node right now") as err:
        await METHODS["chip.pause"](_ctx("node-a"), {"phone_number_id": "2"})
    assert "node-a" not in str(err.value)

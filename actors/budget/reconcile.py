"""Which budget reservations can no longer be charged, or will never be priced, from
their outbox rows.

Why this exists: a reservation is released on the send path when the chip itself gives
up on a message (a refusal, Meta's synchronous error, a cancelled queue). Outside that
path nobody did: a message cancelled by a crash and restart (``queued`` rows become
``cancelled`` without their chip), dropped or re-sent by the operator while in doubt, or
failed by a status webhook after Meta accepted it kept its reservation for ever, and
the budget's "reserved" grew until it refused a campaign's sends.

The outbox row is the truth about a message, so the budget coordinator periodically
(and at once for an operator's decision) reads the rows of the reservations it holds
and releases those that :func:`to_release` names. A row decides:

* ``cancelled`` (never POSTed, or dropped/re-sent by the operator) and ``failed`` (Meta
  refused it, or reported it failed): never charged (:data:`NEVER_CHARGED`);
* no row at all: nothing can be charged under that id any more;
* anything else (``queued``, ``sending``, ``in_doubt``, ``accepted`` …): it may still be
  charged; the reservation stays until its pricing webhook settles it or the row ends.

A release after which Meta charges the message anyway (an in-doubt message the operator
dropped that had reached Meta) is not lost: the ledger books a settlement without a
reservation as spent.

The other way round, a message Meta accepted (``accepted``, ``sent``, ``delivered``,
``read``: :data:`ACCEPTED`) is charged, but only its status webhook says how much. When
those webhooks are lost for good (Meta retries for 7 days), nothing would ever end its
reservation, and "reserved" would grow as "released" did before the reconciliation.
:func:`to_settle` names such a reservation once it was made ``hold_s`` or more ago
(``[budget] unpriced_settle_days``, at least Meta's 7 days): it is settled at its
estimate, the best known price of a message that was charged. A price that still comes
later replaces the estimate (a second settlement of a message the ledger remembers
adjusts it by the difference: :meth:`~actors.budget.ledger.Ledger.settle`).

Two guards keep a release from freeing money a live send holds. A row must have been
in its final state for ``grace_s`` (the send path releases within milliseconds of
ending a row, on whichever daemon holds the chip: the reconciliation leaves those to
it instead of racing it). And a cancelled campaign row can be taken over by a new
attempt under the same id, which finds its reservation still held and reuses it: a
reservation reused at or after the moment the rows were read (``reused``) is kept.

Pure: no I/O, no clock; ages and times are arguments.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

__all__ = ["ACCEPTED", "NEVER_CHARGED", "RowState", "outbox_ref", "to_release", "to_settle"]

NEVER_CHARGED: Final = frozenset({"cancelled", "failed"})
"""Outbox states in which a message is never charged (see the module docstring)."""
ACCEPTED: Final = frozenset({"accepted", "sent", "delivered", "read"})
"""Outbox states of a message Meta accepted: charged at the price its status webhooks
carry (see the module docstring)."""

_PREFIX: Final = "o:"


@dataclass(frozen=True, slots=True)
class RowState:
    """An outbox row as the reconciliation needs it: its state, and for how long (in
    seconds, by the database's clock) it has not changed."""

    state: str
    idle_s: float


def outbox_ref(ref: str) -> int | None:
    """The outbox id a reservation id names (``o:<id>``), or None for any other id (not
    a message of the outbox: the reconciliation leaves it alone)."""
    if not ref.startswith(_PREFIX):
        return None
    number = ref[len(_PREFIX) :]
    return int(number) if number.isdigit() else None


def to_release(
    held: Iterable[str],
    rows: Mapping[int, RowState],
    *,
    grace_s: float,
    reused: Mapping[str, float],
    read_at: float,
) -> list[str]:
    """The reservations among ``held`` to release, in the order given.

    ``rows`` are the outbox rows read for them (a missing id: the row does not exist).
    ``reused``: reservation id → when a send last found it held and reused it; one reused
    at or after ``read_at`` (the moment before the rows were read) is kept, its row may
    have been taken over since. A row must have been idle ``grace_s`` seconds in a
    final state (pass 0 when the caller knows no send holds the message, e.g. the
    operator just resolved it).
    """
    out: list[str] = []
    for ref in held:
        oid = outbox_ref(ref)
        if oid is None or reused.get(ref, -math.inf) >= read_at:
            continue
        row = rows.get(oid)
        if row is None or (row.state in NEVER_CHARGED and row.idle_s >= grace_s):
            out.append(ref)
    return out


def to_settle(
    held: Mapping[str, float],
    rows: Mapping[int, RowState],
    *,
    hold_s: float,
    now: float,
    reused: Mapping[str, float],
    read_at: float,
) -> list[str]:
    """The reservations among ``held`` (id → when it was reserved) to settle at their
    estimate, in the order given: Meta accepted the message (its row is in
    :data:`ACCEPTED`) and it was reserved ``hold_s`` or more before ``now``, so no price
    is coming any more. ``rows`` and ``reused``/``read_at`` as for :func:`to_release`.

    A row in doubt, queued or sending is not settled however old: whether Meta has it
    is the operator's call (``metad campaign resolve``)."""
    out: list[str] = []
    for ref, reserved_at in held.items():
        oid = outbox_ref(ref)
        if oid is None or reused.get(ref, -math.inf) >= read_at:
            continue
        row = rows.get(oid)
        if row is not None and row.state in ACCEPTED and now - reserved_at >= hold_s:
            out.append(ref)
    return out

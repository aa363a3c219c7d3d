"""Storage of one-time passcodes and shift offers, and the contact key they are filed by.

Why a transaction with ``FOR UPDATE`` around every guess: two guesses arriving together
must each count, otherwise an attacker gets ``max_attempts`` guesses per parallel request.
The rules themselves are pure (:mod:`actors.otp.rules`); this module only loads and
stores their state. Floats at the boundary are epoch seconds, as everywhere in the store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from actors.chip.contacts import brazil_variants, canonical_key, is_bsuid, normalize_phone
from actors.otp.rules import Code, OtpState, failed
from actors.otp.shifts import replaces_answer

if TYPE_CHECKING:
    from daemon.store.connection import Queries, Row
    from daemon.store.pool import Store

__all__ = [
    "Carrier",
    "ContactKeys",
    "Decide",
    "OtpRepository",
    "ShiftOffer",
    "ShiftRepository",
    "Undelivered",
]


def _ts(seconds: float | None) -> dt.datetime | None:
    return None if seconds is None else dt.datetime.fromtimestamp(seconds, dt.UTC)


def _epoch(value: dt.datetime | None) -> float | None:
    return None if value is None else value.timestamp()


class ContactKeys:
    """The key a contact is filed under: what the chips learnt from Meta, else a guess.

    The chips journal every alias they learn (``contact_aliases``: phone forms, wa_id,
    BSUID → key); a phone never seen by Meta gets :func:`canonical_key`, the key a chip
    would use for it. So an OTP asked for ``+55 (11) 98765-4321`` and one for the wa_id
    ``551187654321`` share their attempts.
    """

    def __init__(self, db: Queries) -> None:
        self._db = db

    async def key(self, identifier: str) -> str | None:
        ident = identifier.strip()
        candidates = [ident]
        if not is_bsuid(ident):
            number = normalize_phone(ident)
            if number is not None:
                candidates += [number, *brazil_variants(number)]
        row = await self._db.fetchrow(
            "SELECT wa_id FROM contact_aliases WHERE alias = ANY($1::text[])"
            " ORDER BY array_position($1::text[], alias) LIMIT 1",
            list(dict.fromkeys(candidates)),
        )
        if row is not None:
            return str(row["wa_id"])
        return canonical_key(ident)

    async def bsuids(self) -> list[tuple[str, str]]:
        """Every (key, BSUID) the chips have learnt, for addressing sends by BSUID."""
        rows = await self._db.fetch(
            "SELECT wa_id, alias FROM contact_aliases WHERE kind = 'bsuid' AND wa_id <> alias"
        )
        return [(r["wa_id"], r["alias"]) for r in rows]


def _code(row: Row, prefix: str = "", *, carrier: str | None = None) -> Code | None:
    """The code stored in the columns named ``<prefix>salt`` and so on, if any, with
    the outbox id of its message from the column ``carrier``."""
    salt = row[f"{prefix}salt"]
    if salt is None:
        return None
    return Code(
        salt=bytes(salt),
        code_hash=bytes(row[f"{prefix}hash" if prefix else "code_hash"]),
        issued_at=row[f"{prefix}issued_at"].timestamp(),
        expires_at=row[f"{prefix}expires_at"].timestamp(),
        outbox_id=None if carrier is None else row[carrier],
    )


def _stored(row: Row) -> OtpState:
    return OtpState(
        code=_code(row, carrier="outbox_id"),
        attempts=row["attempts"],
        consumed=row["consumed_at"] is not None,
        locked_until=_epoch(row["locked_until"]),
        window_start=row["window_start"].timestamp(),
        window_sends=row["window_sends"],
        pending=_code(row, "pending_"),
        previous=_code(row, "previous_", carrier="previous_outbox_id"),
        previous_attempts=row["previous_attempts"],
        previous_consumed=row["previous_consumed"],
        undelivered=row["failed_outbox_id"],
    )


def _state(row: Row) -> OtpState:
    """The stored row, with the failures of its codes' messages that the outbox learnt
    since applied (:func:`actors.otp.rules.failed`). Why on reading and not only when
    the status webhook comes: the failure may come before the chip's answer made its
    code the contact's (the webhook then finds no code to fail), and the outbox keeps it.
    """
    state = _stored(row)
    failures = set(row["failed_carriers"])
    for code in (state.code, state.previous):  # the current code's first: it restores
        carrier = None if code is None else code.outbox_id
        if carrier is not None and carrier in failures:  # the previous one
            state = failed(state, carrier) or state
    return state


_SAVED = [
    "salt",
    "code_hash",
    "issued_at",
    "expires_at",
    "attempts",
    "consumed_at",
    "locked_until",
    "window_start",
    "window_sends",
    "pending_salt",
    "pending_hash",
    "pending_issued_at",
    "pending_expires_at",
    "previous_salt",
    "previous_hash",
    "previous_issued_at",
    "previous_expires_at",
    "previous_attempts",
    "previous_consumed",
    "outbox_id",
    "previous_outbox_id",
    "failed_outbox_id",
]
"""The stored columns, in :func:`_save`'s order."""
_COLUMNS = (
    ", ".join(_SAVED) + ", ARRAY(SELECT o.id FROM outbox o"
    " WHERE o.id IN (c.outbox_id, c.previous_outbox_id) AND o.state = 'failed')"
    " AS failed_carriers"
)
_SELECT = f"SELECT {_COLUMNS} FROM otp_codes c WHERE contact = $1 AND purpose = $2"
_SELECT_CONTACT = f"SELECT purpose, {_COLUMNS} FROM otp_codes c WHERE contact = $1"
_UPSERT = (
    f"INSERT INTO otp_codes (contact, purpose, {', '.join(_SAVED)})"
    f" VALUES ({', '.join(f'${i}' for i in range(1, len(_SAVED) + 3))})"
    " ON CONFLICT (contact, purpose) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in _SAVED)
)


def _columns(code: Code | None) -> tuple[bytes | None, bytes | None, Any, Any]:
    if code is None:
        return None, None, None, None
    return code.salt, code.code_hash, _ts(code.issued_at), _ts(code.expires_at)


async def _save(db: Queries, contact: str, purpose: str, s: OtpState, now: float) -> None:
    await db.execute(
        _UPSERT,
        contact,
        purpose,
        *_columns(s.code),
        s.attempts,
        _ts(now) if s.consumed else None,
        _ts(s.locked_until),
        _ts(s.window_start),
        s.window_sends,
        *_columns(s.pending),
        *_columns(s.previous),
        s.previous_attempts,
        s.previous_consumed,
        None if s.code is None else s.code.outbox_id,
        None if s.previous is None else s.previous.outbox_id,
        s.undelivered,
    )


@dataclass(frozen=True, slots=True)
class Undelivered:
    """The current code's message failed after Meta took it, with Meta's error code."""

    error_code: str | None


@dataclass(frozen=True, slots=True)
class Carrier:
    """The chip that sent the code issued at ``issued_at`` (its message's outbox id is
    the code's own, :attr:`actors.otp.rules.Code.outbox_id`)."""

    chip: str
    issued_at: float


Decide = Callable[[OtpState | None], Awaitable[tuple[OtpState | None, Any]]]


class OtpRepository:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def load(self, contact: str, purpose: str) -> OtpState | None:
        row = await self._store.fetchrow(_SELECT, contact, purpose)
        return None if row is None else _state(row)

    async def states(self, contact: str) -> dict[str, OtpState]:
        """Every purpose of ``contact`` as it stands (read, not locked): what a code
        typed in the chat may answer."""
        rows = await self._store.fetch(_SELECT_CONTACT, contact)
        return {str(r["purpose"]): _state(r) for r in rows}

    async def update(
        self,
        contact: str,
        purpose: str,
        now: float,
        decide: Decide,
        *,
        sent_by: Carrier | None = None,
    ) -> Any:
        """Lock the row, let ``decide`` compute the next state, store it; returns what
        ``decide`` returned beside the state. One guess or one issue at a time per row.

        ``sent_by`` records, in the same transaction, which chip sent a code, if that
        code is the current one afterwards. A failure of a code's message that the
        outbox learnt is applied first (:func:`_state`), and stored even when ``decide``
        changes nothing.
        """
        async with self._store.transaction() as tx:
            # Serialise on the key even when no row exists yet (the first issue).
            await tx.execute(
                "SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))", contact, purpose
            )
            row = await tx.fetchrow(_SELECT + " FOR UPDATE OF c", contact, purpose)
            state = None if row is None else _state(row)
            new, result = await decide(state)
            if new is None and row is not None and state != _stored(row):
                new = state  # a failure applied on reading, and nothing else
            if new is not None:
                await _save(tx, contact, purpose, new, now)
                if sent_by is not None:
                    await tx.execute(
                        "UPDATE otp_codes SET chip = $3"
                        " WHERE contact = $1 AND purpose = $2 AND issued_at = $4",
                        contact,
                        purpose,
                        sent_by.chip,
                        _ts(sent_by.issued_at),
                    )
            return result

    async def undelivered(self, contact: str, purpose: str) -> Undelivered | None:
        """Whether the message that carried the latest code sent failed (status
        webhook): the contact never got that code, which no verdict can tell by itself.
        """
        row = await self._store.fetchrow(
            "SELECT o.error ->> 'code' AS code FROM otp_codes c"
            " JOIN outbox o ON o.id IN (c.failed_outbox_id, c.outbox_id)"
            " WHERE c.contact = $1 AND c.purpose = $2 AND o.state = 'failed'"
            " ORDER BY (o.id = c.failed_outbox_id) IS TRUE DESC LIMIT 1",
            contact,
            purpose,
        )
        return None if row is None else Undelivered(row["code"])


@dataclass(frozen=True, slots=True)
class ShiftOffer:
    shift_id: str
    contact: str
    nonce: str | None
    """The nonce of the message that left last; None until the first one has."""
    chip: str
    state: str
    outbox_id: int | None = None
    answered_at: float | None = None
    pending_nonce: str | None = None
    """The nonce of a message being sent, whose fate the chip has not told yet."""
    error_code: int | None = None
    """Meta's error when the offer's message failed after Meta took it (``failed``)."""


def _offer(row: Row) -> ShiftOffer:
    return ShiftOffer(
        shift_id=row["shift_id"],
        contact=row["contact"],
        nonce=row["nonce"],
        chip=row["chip"],
        state=row["state"],
        outbox_id=row["outbox_id"],
        answered_at=_epoch(row["answered_at"]),
        pending_nonce=row["pending_nonce"],
        error_code=row["error_code"],
    )


_OFFER_COLUMNS = (
    "shift_id, contact, nonce, chip, state, outbox_id, answered_at, pending_nonce, error_code"
)
_OFFER_SELECT = (
    f"SELECT {_OFFER_COLUMNS} FROM shift_confirmations WHERE shift_id = $1 AND contact = $2"
)
_STATUS = """
SELECT s.shift_id, s.contact, s.nonce, s.chip, s.outbox_id, s.answered_at, s.pending_nonce,
       CASE WHEN s.state = 'pending' AND o.state = 'failed' THEN 'failed' ELSE s.state END
           AS state,
       CASE WHEN s.state <> 'pending' OR o.state IS DISTINCT FROM 'failed' THEN s.error_code
            WHEN jsonb_typeof(o.error -> 'code') = 'number'
            THEN (o.error ->> 'code')::integer END AS error_code
FROM shift_confirmations s LEFT JOIN outbox o ON o.id = s.outbox_id
WHERE s.shift_id = $1 AND s.contact = $2
"""

Refuse = Callable[[ShiftOffer], str | None]


class ShiftRepository:
    """Offers by (shift, contact). Why a pending nonce: see :mod:`actors.otp.shifts`."""

    def __init__(self, store: Store) -> None:
        self._db = store

    async def stage(
        self, shift_id: str, contact: str, nonce: str, chip: str, refuse: Refuse
    ) -> str | None:
        """Store ``nonce`` as the offer's pending message before it is sent, unless
        ``refuse`` says why the existing offer may not be offered again. The stored
        offer, its nonce and its answer are left as they are until the chip answers."""
        async with self._db.transaction() as tx:
            while True:
                created = await tx.fetchval(
                    "INSERT INTO shift_confirmations (shift_id, contact, pending_nonce, chip)"
                    " VALUES ($1, $2, $3, $4) ON CONFLICT (shift_id, contact) DO NOTHING"
                    " RETURNING true",
                    shift_id,
                    contact,
                    nonce,
                    chip,
                )
                if created:
                    return None
                row = await tx.fetchrow(_OFFER_SELECT + " FOR UPDATE", shift_id, contact)
                if row is not None:  # else deleted meanwhile (a refused first offer)
                    break
            reason = refuse(_offer(row))
            if reason is None:
                await tx.execute(
                    "UPDATE shift_confirmations SET pending_nonce = $3"
                    " WHERE shift_id = $1 AND contact = $2",
                    shift_id,
                    contact,
                    nonce,
                )
            return reason

    async def sent(
        self,
        shift_id: str,
        contact: str,
        nonce: str,
        chip: str,
        outbox_id: int | None,
        *,
        force: bool,
    ) -> ShiftOffer | None:
        """The message with ``nonce`` left (Meta took it, or may have): it becomes the
        offer, answered anew unless an answer came meanwhile (:func:`replaces_answer`)."""
        async with self._db.transaction() as tx:
            row = await tx.fetchrow(_OFFER_SELECT + " FOR UPDATE", shift_id, contact)
            if row is None:
                return None
            offer = _offer(row)
            key = "WHERE shift_id = $1 AND contact = $2"
            if offer.pending_nonce == nonce and replaces_answer(offer.state, force=force):
                # Failed already: Meta's failed status can come before the send's own
                # answer is recorded here, and found no offer with this outbox id then.
                row = await tx.fetchrow(
                    "WITH o AS (SELECT state, error FROM outbox WHERE id = $5 AND state = 'failed')"
                    " UPDATE shift_confirmations SET nonce = $3, pending_nonce = NULL,"
                    " chip = $4, outbox_id = $5, sent_at = now(),"
                    " state = CASE WHEN EXISTS (SELECT 1 FROM o) THEN 'failed' ELSE 'pending' END,"
                    " answered_at = NULL, answer_wamid = NULL,"
                    " error_code = (SELECT (error ->> 'code')::integer FROM o"
                    "               WHERE jsonb_typeof(error -> 'code') = 'number')"
                    f" {key} RETURNING {_OFFER_COLUMNS}",
                    shift_id,
                    contact,
                    nonce,
                    chip,
                    outbox_id,
                )
            elif offer.pending_nonce == nonce:  # answered on the previous message meanwhile
                row = await tx.fetchrow(
                    f"UPDATE shift_confirmations SET pending_nonce = NULL {key}"
                    f" RETURNING {_OFFER_COLUMNS}",
                    shift_id,
                    contact,
                )
            elif offer.nonce == nonce:  # a tap on this very message came first
                row = await tx.fetchrow(
                    f"UPDATE shift_confirmations SET chip = $3, outbox_id = $4 {key}"
                    f" RETURNING {_OFFER_COLUMNS}",
                    shift_id,
                    contact,
                    chip,
                    outbox_id,
                )
            # else a later offer took its place: this one changes nothing
            return None if row is None else _offer(row)

    async def withdraw(self, shift_id: str, contact: str, nonce: str) -> None:
        """The chip refused the message with ``nonce``: the offer is as it was before
        (a first offer's row goes)."""
        await self._db.execute(
            "DELETE FROM shift_confirmations WHERE shift_id = $1 AND contact = $2"
            " AND pending_nonce = $3 AND nonce IS NULL",
            shift_id,
            contact,
            nonce,
        )
        await self._db.execute(
            "UPDATE shift_confirmations SET pending_nonce = NULL"
            " WHERE shift_id = $1 AND contact = $2 AND pending_nonce = $3",
            shift_id,
            contact,
            nonce,
        )

    async def answer(
        self, nonce: str, shift_id: str, contacts: list[str], state: str, wamid: str, now: float
    ) -> ShiftOffer | None:
        """Settle the offer a tap answers; None when no offer matches (a tap from someone
        else, a stale message, or a replay of an answered one).

        A tap on the latest message that left answers a pending offer; a tap on the
        message being sent answers whatever the offer is, since that message, being
        tapped, did leave (and only a re-offer allowed to ask anew has one).
        """
        row = await self._db.fetchrow(
            "UPDATE shift_confirmations SET nonce = $1, state = $4, answered_at = $5,"
            " answer_wamid = $6, pending_nonce = NULLIF(pending_nonce, $1)"
            " WHERE shift_id = $2 AND contact = ANY($3::text[])"
            " AND (pending_nonce = $1 OR (nonce = $1 AND state = 'pending'))"
            f" RETURNING {_OFFER_COLUMNS}",
            nonce,
            shift_id,
            contacts,
            state,
            _ts(now),
            wamid,
        )
        return None if row is None else _offer(row)

    async def confirm_by_code(
        self, shift_id: str, contact: str, wamid: str | None, now: float
    ) -> ShiftOffer | None:
        """A valid passcode for ``shift:<shift_id>`` confirms the contact's offer of that
        shift, if one awaits an answer (None otherwise: an answered, failed or unsent
        offer is left as it is)."""
        row = await self._db.fetchrow(
            "UPDATE shift_confirmations SET state = 'confirmed', answered_at = $3,"
            " answer_wamid = $4 WHERE shift_id = $1 AND contact = $2"
            " AND state = 'pending' AND nonce IS NOT NULL"
            f" RETURNING {_OFFER_COLUMNS}",
            shift_id,
            contact,
            _ts(now),
            wamid,
        )
        return None if row is None else _offer(row)

    async def failed(
        self, outbox_id: int | None, wamid: str, error_code: int | None
    ) -> ShiftOffer | None:
        """The message ``outbox_id`` (else the one Meta calls ``wamid``) failed after Meta
        took it: the pending offer it carried, if any, is ``failed``. Replay-safe: an
        offer already failed or answered is left alone (None)."""
        row = await self._db.fetchrow(
            "UPDATE shift_confirmations SET state = 'failed', error_code = $3"
            " WHERE state = 'pending' AND outbox_id IS NOT NULL"
            " AND outbox_id = coalesce($1, (SELECT id FROM outbox WHERE wamid = $2))"
            f" RETURNING {_OFFER_COLUMNS}",
            outbox_id,
            wamid,
            error_code,
        )
        return None if row is None else _offer(row)

    async def get(self, shift_id: str, contact: str) -> ShiftOffer | None:
        """The offer as it stands. A pending one whose message the outbox knows failed
        is told as failed: the failure may have been applied before the offer learnt its
        outbox id (the status webhook raced the send's answer)."""
        row = await self._db.fetchrow(_STATUS, shift_id, contact)
        return None if row is None else _offer(row)

"""Contact identity: which string a chip keys a contact's windows and limits by.

Why this exists: the old system keyed windows by the raw ``from`` string and looked them
up by the phone stored in the CRM (behaviour.md 15.2 #11). Brazilian mobiles registered
before the ninth digit have a 12-digit ``wa_id`` (``55`` + DDD + 8 digits) while the CRM
holds the 13-digit number, so every lookup missed and every send was treated as
out-of-window. Usernames add a third identity, the business-scoped user id (BSUID,
``US.1349…``), which may come without any phone at all (cloud-api.md 1, 8).

The rules here:

- every contact has one *key*: ``canonical_key(wa_id)`` once Meta has told us its
  ``wa_id`` (the 13-digit form for Brazilian mobiles), else its BSUID;
- the book stores only what Meta said (``wa_id``, a BSUID, or the ``to`` a send went to
  next to the ``wa_id`` Meta answered with). Ninth-digit variants are *guessed at lookup
  time*, after an exact match failed, so a fact always beats a guess;
- a digit key is a Meta-reported user, so two different digit keys are never merged (a
  landline ``551133334444`` and a mobile ``5511933334444`` are two people). Only a
  provisional key (a BSUID-only contact, or the canonical form of a phone never seen in a
  webhook) is folded into a ``wa_id`` key, and the fold is reported so the actor can
  move window and limiter state (see :class:`Learned`).

Memory: one ``dict[str, str]`` of alias → key per chip (about 20k contacts), keys
interned so the same contact shared by several chips, and the windows keyed by it,
hold one string object.
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar, cast

__all__ = [
    "ContactBook",
    "Learned",
    "address_fields",
    "brazil_variants",
    "canonical_key",
    "is_bsuid",
    "normalize_phone",
]

_BR = "55"
_E164_MIN = 8
"""Shortest international number we accept (country code included)."""
_E164_MAX = 15
"""ITU-T E.164: at most 15 digits, country code included."""

_PHONE_CHARS = re.compile(r"\+?[0-9 \t().\-/\u00a0]+", re.ASCII)
"""A phone as people write it: digits, an optional leading ``+`` and punctuation."""
_NON_DIGITS = re.compile(r"[^0-9]", re.ASCII)
_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_BSUID = re.compile(r"[A-Za-z]{2}\.[A-Za-z0-9]{1,128}", re.ASCII)
"""Two-letter country code, a period, an alphanumeric id (kept exactly as received)."""

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _memo(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Remember the last few thousand answers of a pure per-number rule.

    Why: a send asks these rules about the same number when it is decided, answered and
    settled, a few seconds apart; a small cache of recent numbers takes them off the
    per-message path (about 2 % of the daemon's CPU in a campaign). The cast keeps the
    rule's own signature for the type checker (``lru_cache`` would erase it).
    """
    return cast("Callable[_P, _R]", functools.lru_cache(maxsize=4096)(fn))


def is_bsuid(identifier: str) -> bool:
    """True for a business-scoped user id such as ``US.13491208655302741918``."""
    return _BSUID.fullmatch(identifier) is not None


def address_fields(key: str, bsuid: str | None, mode: str) -> dict[str, str] | None:
    """How a send addresses the contact filed under ``key``: ``{"to": phone}`` or
    ``{"recipient": BSUID}`` (Meta's field for business-scoped user ids), by the
    ``[contacts] send_to`` migration switch; None when ``mode`` is ``bsuid`` and no BSUID
    is known (the send must not silently go to the phone).

    A contact known only by its BSUID (its key is one) can only be reached by it.
    """
    if is_bsuid(key):
        return {"recipient": key}
    if mode == "phone":
        return {"to": key}
    if bsuid is not None:
        return {"recipient": bsuid}
    return {"to": key} if mode == "prefer_bsuid" else None


def _br_national_ok(national: str) -> bool:
    """A Brazilian national significant number: DDD (two digits 1-9) + 8 digits, or
    DDD + ``9`` + 8 digits (mobiles). The subscriber's first digit is not checked: real
    CRM data holds legacy 8-digit mobiles of every shape and Meta is the judge."""
    n = len(national)
    if n not in (10, 11) or national[0] == "0" or national[1] == "0":
        return False
    return n == 10 or national[2] == "9"


@_memo
def normalize_phone(raw: str, default_country: str = _BR) -> str | None:
    """Digits of ``raw`` in international form (country code, no ``+``), or None.

    Accepts what a CRM holds: ``"+55 (11) 98765-4321"``, ``"5511987654321"``,
    ``"11987654321"`` and ``"011987654321"`` (no country code: the default country is
    prefixed, a leading trunk ``0`` dropped; for Brazil also ``0`` + a two-digit carrier
    code), ``"00…"`` (international prefix). Digits without ``+`` that are neither a
    valid national number nor start with the default country code are taken as already
    international, so a Meta ``wa_id`` from another country (``"14155550123"``) is kept.
    None for letters, an empty string, or a length E.164 or the Brazilian plan rules out.
    """
    s = raw.strip()
    if not s or _PHONE_CHARS.fullmatch(s) is None:
        return None
    plus = s[0] == "+"
    digits = _NON_DIGITS.sub("", s)
    if not digits:
        return None
    cc = default_country
    if plus:
        number = digits
    elif digits.startswith("00"):
        number = digits[2:]
    elif digits[0] == "0":
        national = digits[1:]
        if cc == _BR and not _br_national_ok(national) and _br_national_ok(national[2:]):
            national = national[2:]  # 0 + carrier selection code + DDD + number
        number = cc + national
    elif cc == _BR:
        if digits.startswith(_BR) and _br_national_ok(digits[2:]):
            number = digits
        elif _br_national_ok(digits):
            number = _BR + digits
        else:
            number = digits
    else:
        number = digits if digits.startswith(cc) else cc + digits
    if not _E164_MIN <= len(number) <= _E164_MAX:
        return None
    if number.startswith(_BR) and not _br_national_ok(number[2:]):
        return None
    return number


@_memo
def brazil_variants(wa_id: str) -> tuple[str, ...]:
    """Both forms of a Brazilian mobile, the 13-digit one (with the ninth digit) first.

    - ``55`` + DDD + ``9`` + 8 digits → itself and the form without the ``9``: Meta may
      know the user by either (registered before or after the ninth digit);
    - ``55`` + DDD + 8 digits starting 6-9 (a pre-2016 mobile) → the form with the ``9``
      first, then itself;
    - anything else (landlines, whose 8 digits start 2-5, other countries, BSUIDs) →
      ``(wa_id,)``: adding a ``9`` to a landline names a different line.
    """
    n = len(wa_id)
    if n not in (12, 13) or not wa_id.startswith(_BR) or _DIGITS.fullmatch(wa_id) is None:
        return (wa_id,)
    if not _br_national_ok(wa_id[2:]):
        return (wa_id,)
    if n == 13:  # _br_national_ok: the fifth digit is the ninth-digit 9
        return (wa_id, wa_id[:4] + wa_id[5:])
    if wa_id[4] in "6789":
        return (wa_id[:4] + "9" + wa_id[4:], wa_id)
    return (wa_id,)


@_memo
def canonical_key(identifier: str) -> str | None:
    """The key a contact is stored under when nothing else is known about it.

    A BSUID is its own key. A phone is normalized (see :func:`normalize_phone`) and a
    Brazilian mobile takes its 13-digit form, so ``551187654321`` and ``5511987654321``
    share one key. None when ``identifier`` is neither.
    """
    if is_bsuid(identifier):
        return identifier
    number = normalize_phone(identifier)
    if number is None:
        return None
    return brazil_variants(number)[0]


def _clean_wa_id(wa_id: str) -> str:
    """A ``wa_id`` as Meta sends it: international digits, no ``+``. Not passed through
    :func:`normalize_phone`: a wa_id is never national, so no country may be prefixed."""
    w = wa_id.strip().removeprefix("+")
    if _DIGITS.fullmatch(w) is None or not _E164_MIN <= len(w) <= _E164_MAX:
        raise ValueError(f"not a WhatsApp id: {wa_id!r}")
    return w


def _is_clean_wa_id(wa_id: str) -> bool:
    """True exactly when :func:`_clean_wa_id` returns ``wa_id`` unchanged."""
    return wa_id.isascii() and wa_id.isdigit() and _E164_MIN <= len(wa_id) <= _E164_MAX


def _is_normal_phone(number: str) -> bool:
    """True only when :func:`normalize_phone` (default country Brazil) returns ``number``
    unchanged: digits in international form, a Brazilian one with a valid national
    number, any other not readable as a Brazilian national one. False for some numbers
    that are normal too (a cheap test, not a second normalizer): they take the long way.
    """
    if not (
        number.isascii()
        and number.isdigit()
        and _E164_MIN <= len(number) <= _E164_MAX
        and number[0] != "0"
    ):
        return False
    if number.startswith(_BR):
        return _br_national_ok(number[2:])
    return not _br_national_ok(number)


@dataclass(frozen=True, slots=True)
class Learned:
    """What :meth:`ContactBook.learn_detailed` concluded.

    ``merged`` are earlier keys of the same contact that are now folded into ``key``:
    the actor moves window, pair-rate and tier state from each to ``key``
    (``WindowBook.rekey``, ``RateGate.rekey``). ``new_aliases`` are the identifiers that
    now point at ``key`` and did not before: the rows to journal as ``(alias, key)``.
    """

    key: str
    merged: tuple[str, ...] = ()
    new_aliases: tuple[str, ...] = ()


class ContactBook:
    """Maps every known form of a contact (phone forms, wa_id, BSUID) to one key.

    One per chip. Plain ``dict[str, str]``; a key always maps to itself, so a key is
    recognised by ``book.resolve(k) == k``. ``_pending`` keeps, for provisional (BSUID)
    keys only, the aliases pointing at them, so a merge re-points them without scanning
    the whole book.
    """

    __slots__ = ("_alias", "_pending")

    def __init__(self) -> None:
        self._alias: dict[str, str] = {}
        self._pending: dict[str, list[str]] = {}

    def __len__(self) -> int:
        """Number of aliases (keys included)."""
        return len(self._alias)

    def resolve(self, identifier: str) -> str | None:
        """The key of a known contact, or None.

        Exact match first (the hot path: keys and wa_ids as Meta sends them), then the
        normalized phone, then its ninth-digit variants — a guess, so it only runs after
        every fact missed.
        """
        alias = self._alias
        key = alias.get(identifier)
        if key is not None:
            return key
        if "." in identifier and is_bsuid(identifier):
            return None
        number = normalize_phone(identifier)
        if number is None:
            return None
        if number != identifier:
            key = alias.get(number)
            if key is not None:
                return key
        for variant in brazil_variants(number):
            if variant != number:
                key = alias.get(variant)
                if key is not None:
                    return key
        return None

    def key_for_send(self, phone_or_id: str) -> str:
        """The key to check windows and limits under before sending to ``phone_or_id``.

        A known contact's key, else :func:`canonical_key`. Does not record anything: only
        Meta's answer (the ``wa_id`` of the send response, via :meth:`learn`) is a fact.
        Raises ValueError for something that is neither a phone nor a BSUID.
        """
        key = self.resolve(phone_or_id)
        if key is not None:
            return key
        key = canonical_key(phone_or_id)
        if key is None:
            raise ValueError(f"not a phone number or BSUID: {phone_or_id!r}")
        return key

    def learn(
        self, wa_id: str | None = None, phone: str | None = None, bsuid: str | None = None
    ) -> str:
        """Record what an inbound message (or a send response) says; return the key.

        Shorthand for :meth:`learn_detailed` for callers that hold no per-key state.
        """
        return self.learn_detailed(wa_id, phone, bsuid).key

    def learn_detailed(
        self, wa_id: str | None = None, phone: str | None = None, bsuid: str | None = None
    ) -> Learned:
        """Record the identifiers Meta reported together and return the contact's key.

        - with a ``wa_id`` (authoritative: the inbound ``from``, or ``contacts[].wa_id`` of
          a send response next to the ``to`` as ``phone``): the key is
          ``canonical_key(wa_id)``; a BSUID key of the same contact, and the canonical
          form of ``phone`` if it was a provisional key, are merged into it;
        - BSUID (and maybe a phone) without wa_id: the contact already known by either,
          else the BSUID becomes the key until a wa_id arrives;
        - phone alone teaches nothing (it is not Meta's word): the key a send would use.

        Raises ValueError if no identifier is valid.
        """
        if wa_id:
            known = self._known(wa_id, phone, bsuid)
            if known is not None:
                return Learned(known)
        wa = _clean_wa_id(wa_id) if wa_id else None
        number = normalize_phone(phone) if phone else None
        if phone and number is None:
            raise ValueError(f"not a phone number: {phone!r}")
        bs = bsuid.strip() if bsuid else None
        if bs is not None and not is_bsuid(bs):
            raise ValueError(f"not a BSUID: {bsuid!r}")
        alias = self._alias
        if wa is not None:
            key = brazil_variants(wa)[0]
        elif bs is not None:
            key = alias.get(bs) or (alias.get(number) if number else None) or bs
        elif number is not None:
            return Learned(self.key_for_send(number))
        else:
            raise ValueError("learn needs a wa_id, a phone or a BSUID")
        key = sys.intern(key)

        merged: list[str] = []
        pending = self._pending
        if pending:
            # A BSUID-only contact now has a wa_id: found by its BSUID, or by a phone
            # form that an earlier BSUID message carried.
            for ident in (bs, wa, key):
                prev = alias.get(ident) if ident is not None else None
                if prev is not None and prev != key and prev in pending:
                    merged.append(prev)
        if number is not None and wa is not None:
            # The key a send to ``phone`` used until now (key_for_send).
            by_phone = self.resolve(number) or brazil_variants(number)[0]
            confirmed = alias.get(by_phone) == by_phone and by_phone not in pending
            if by_phone != key and not confirmed:
                merged.append(by_phone)  # provisional, never a Meta-reported user
        new_aliases: list[str] = []
        for old in merged:
            for moved in pending.pop(old, ()):
                alias[moved] = key
                new_aliases.append(moved)
        for ident in (key, wa, number, bs):
            if ident is not None and alias.get(ident) != key:
                alias[key if ident is key else sys.intern(ident)] = key
                new_aliases.append(ident)
        if wa is None and is_bsuid(key):
            # A provisional key: remember what points at it for the merge to come.
            points_here = pending.setdefault(key, [])
            points_here.extend(a for a in new_aliases if a not in points_here)
        return Learned(key, tuple(dict.fromkeys(merged)), tuple(dict.fromkeys(new_aliases)))

    def _known(self, wa_id: str, phone: str | None, bsuid: str | None) -> str | None:
        """The key if :meth:`learn_detailed` would find everything already recorded.

        After every accepted send Meta repeats a ``wa_id`` the book already holds next to
        the ``to`` we sent to, and normalizing, validating and resolving it all again
        only to change nothing cost more than the send's other bookkeeping. Each test
        here is what the full path needs to merge nothing and add no alias: the
        identifiers are already in their cleaned form and all point at the key, the key
        is ``canonical_key(wa_id)`` and maps to itself. Anything else (a new ``wa_id``
        for a known phone, a provisional key, a ninth-digit variant seen for the first
        time, an identifier written differently) returns None and takes the full path.
        """
        alias = self._alias
        key = alias.get(wa_id)
        if key is None or alias.get(key) != key or not _is_clean_wa_id(wa_id):
            return None
        if len(wa_id) == 12:  # maybe a pre-ninth-digit mobile, keyed by its 13-digit form
            if brazil_variants(wa_id)[0] != key:
                return None
        elif key != wa_id:  # any other wa_id is its own canonical key
            return None
        if phone and (alias.get(phone) != key or not _is_normal_phone(phone)):
            return None
        if bsuid and (alias.get(bsuid) != key or not is_bsuid(bsuid)):
            return None
        return key

    def load(self, rows: Iterable[tuple[str, str]]) -> int:
        """Rebuild from journaled ``(alias, key)`` rows, in journal order (later rows win).

        Keys that are BSUIDs are provisional again (a wa_id may still merge them).
        Returns the number of rows applied.
        """
        alias = self._alias
        n = 0
        for a, key in rows:
            key = sys.intern(key)
            alias[key] = key
            alias[sys.intern(a)] = key
            if is_bsuid(key):
                pending = self._pending.setdefault(key, [key])
                if a not in pending:
                    pending.append(a)
            n += 1
        # Drop provisional keys that a later row re-pointed (merged before the restart).
        for key in [k for k in self._pending if alias.get(k) != k]:
            del self._pending[key]
        return n

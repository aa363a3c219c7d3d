from __future__ import annotations

import pytest

from actors.chip.contacts import (
    ContactBook,
    Learned,
    brazil_variants,
    canonical_key,
    is_bsuid,
    normalize_phone,
)

MOBILE13 = "5511987654321"
MOBILE12 = "551187654321"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+55 (11) 98765-4321", MOBILE13),
        ("5511987654321", MOBILE13),
        ("11987654321", MOBILE13),  # no country code
        ("011987654321", MOBILE13),  # trunk 0
        ("0 21 11 98765-4321", MOBILE13),  # trunk 0 + carrier code
        ("005511987654321", MOBILE13),  # international prefix
        ("  +55 11 98765 4321 ", MOBILE13),
        ("(11) 9.8765.4321", MOBILE13),
        ("551187654321", MOBILE12),  # legacy mobile kept as given
        ("1187654321", MOBILE12),
        ("+55 11 3333-4444", "551133334444"),  # landline
        ("1133334444", "551133334444"),
        ("55987654321", "5555987654321"),  # DDD 55 without country code
        ("5555987654321", "5555987654321"),
        ("+1 (415) 555-0123", "14155550123"),
        ("14155550123", "14155550123"),  # a foreign wa_id is not taken as national
        ("447911123456", "447911123456"),
        ("", None),
        ("   ", None),
        ("+", None),
        ("12345", None),  # too short
        ("+55 12345", None),
        ("+55 11 98765-43210", None),  # too long for Brazil
        ("+1234567890123456", None),  # over 15 digits
        ("55 01 98765-4321", None),  # DDD with a 0
        ("11 8765-4321 ramal 2", None),  # letters
        ("1198765432a", None),
        ("+55 11 9876５-4321", None),  # non-ASCII digit
    ],
)
def test_normalize_phone(raw: str, expected: str | None) -> None:
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("4155550123", "1", "14155550123"),
        ("14155550123", "1", "14155550123"),
        ("+55 11 98765-4321", "1", MOBILE13),
    ],
)
def test_normalize_phone_other_default_country(raw: str, country: str, expected: str) -> None:
    assert normalize_phone(raw, default_country=country) == expected


@pytest.mark.parametrize(
    ("wa_id", "expected"),
    [
        # 13 digits with the ninth digit: both forms, 13-digit first
        (MOBILE13, (MOBILE13, MOBILE12)),
        ("5521998765432", ("5521998765432", "552198765432")),
        ("5571924716468", ("5571924716468", "557124716468")),
        ("5585996543210", ("5585996543210", "558596543210")),
        # 12 digits, legacy mobile (first digit 6-9): the ninth digit is added
        (MOBILE12, (MOBILE13, MOBILE12)),
        ("552176543210", ("5521976543210", "552176543210")),
        ("554169876543", ("5541969876543", "554169876543")),
        ("559188887777", ("5591988887777", "559188887777")),
        # landlines (first digit 2-5) never get a ninth digit
        ("551123456789", ("551123456789",)),
        ("551133334444", ("551133334444",)),
        ("552144227767", ("552144227767",)),
        ("553155556666", ("553155556666",)),
        # other shapes and countries are untouched
        ("14155550123", ("14155550123",)),
        ("447911123456", ("447911123456",)),
        ("5511887654321", ("5511887654321",)),  # 13 digits without the 9
        ("5501987654321", ("5501987654321",)),  # DDD with a 0
        ("55119876543", ("55119876543",)),
        ("BR.ABCDEFGHIJ", ("BR.ABCDEFGHIJ",)),
    ],
)
def test_brazil_variants(wa_id: str, expected: tuple[str, ...]) -> None:
    assert brazil_variants(wa_id) == expected


@pytest.mark.parametrize(
    ("identifier", "expected"),
    [
        (MOBILE12, MOBILE13),
        (MOBILE13, MOBILE13),
        ("+55 (11) 8765-4321", MOBILE13),
        ("551133334444", "551133334444"),
        ("14155550123", "14155550123"),
        ("US.13491208655302741918", "US.13491208655302741918"),
        ("br.abc123", "br.abc123"),  # BSUIDs are kept exactly as received
        ("not a phone", None),
    ],
)
def test_canonical_key(identifier: str, expected: str | None) -> None:
    assert canonical_key(identifier) == expected


@pytest.mark.parametrize(
    ("identifier", "expected"),
    [
        ("US.13491208655302741918", True),
        ("BR.abcXYZ09", True),
        ("B.123", False),
        ("BRA.123", False),
        ("BR.", False),
        ("BR.12-3", False),
        ("5511987654321", False),
    ],
)
def test_is_bsuid(identifier: str, expected: bool) -> None:
    assert is_bsuid(identifier) is expected


@pytest.mark.parametrize(
    ("inbound_wa_id", "send_to", "key"),
    [
        # Meta reports the legacy form; the CRM holds the 13-digit one (and vice versa)
        (MOBILE12, MOBILE13, MOBILE13),
        (MOBILE12, "+55 (11) 98765-4321", MOBILE13),
        (MOBILE12, "11987654321", MOBILE13),
        (MOBILE12, "011 8765-4321", MOBILE13),
        (MOBILE13, MOBILE12, MOBILE13),
        (MOBILE13, "(11) 98765-4321", MOBILE13),
        # a legacy wa_id whose 8 digits do not start 6-9 is still found from the 13-digit
        ("551102331683", "5511902331683", "551102331683"),
        ("552144227767", "+55 21 94422-7767", "552144227767"),
        # foreign numbers are untouched
        ("14155550123", "+1 415 555 0123", "14155550123"),
    ],
)
def test_window_key_found_from_either_form(inbound_wa_id: str, send_to: str, key: str) -> None:
    book = ContactBook()
    assert book.learn(wa_id=inbound_wa_id) == key
    assert book.resolve(send_to) == key
    assert book.key_for_send(send_to) == key
    assert book.resolve(inbound_wa_id) == key


@pytest.mark.parametrize(
    ("send_to", "expected"),
    [
        ("+55 (11) 98765-4321", MOBILE13),
        (MOBILE12, MOBILE13),
        ("551133334444", "551133334444"),
        ("US.1349", "US.1349"),
    ],
)
def test_key_for_send_unknown_contact_is_canonical(send_to: str, expected: str) -> None:
    book = ContactBook()
    assert book.resolve(send_to) is None
    assert book.key_for_send(send_to) == expected
    assert len(book) == 0  # a send teaches nothing


@pytest.mark.parametrize("bad", ["", "hello", "12345", "BR."])
def test_key_for_send_rejects_garbage(bad: str) -> None:
    with pytest.raises(ValueError, match="not a phone"):
        ContactBook().key_for_send(bad)


def test_landline_is_not_taken_for_a_mobile_after_meta_says_otherwise() -> None:
    book = ContactBook()
    landline = book.learn(wa_id="551133334444")
    # Before Meta answers, the mobile with the same 8 digits is guessed to be it ...
    assert book.key_for_send("5511933334444") == landline
    # ... the send response says it is another user: two contacts, nothing merged.
    learned = book.learn_detailed(wa_id="5511933334444", phone="5511933334444")
    assert learned.key == "5511933334444"
    assert learned.merged == ()
    assert book.key_for_send("5511933334444") == "5511933334444"
    assert book.resolve("551133334444") == landline


def test_send_response_teaches_the_mapping_and_reports_the_provisional_key() -> None:
    book = ContactBook()
    provisional = book.key_for_send("+55 11 90233-1683")
    assert provisional == "5511902331683"
    learned = book.learn_detailed(wa_id="551102331683", phone="+55 11 90233-1683")
    assert learned.key == "551102331683"
    assert learned.merged == (provisional,)
    assert set(learned.new_aliases) == {"551102331683", "5511902331683"}
    assert book.key_for_send("+55 11 90233-1683") == "551102331683"


def test_bsuid_only_contact_then_wa_id_merges() -> None:
    book = ContactBook()
    bsuid = "BR.1349120865530274"
    first = book.learn_detailed(bsuid=bsuid)
    assert first.key == bsuid
    assert first.merged == ()
    assert book.resolve(bsuid) == bsuid
    assert book.learn(bsuid=bsuid) == bsuid  # repeat: same key, nothing new

    second = book.learn_detailed(wa_id=MOBILE12, bsuid=bsuid)
    assert second.key == MOBILE13
    assert second.merged == (bsuid,)
    assert bsuid in second.new_aliases
    assert book.resolve(bsuid) == MOBILE13
    assert book.resolve(MOBILE12) == MOBILE13
    assert book.key_for_send("+55 11 98765-4321") == MOBILE13
    # Later messages carrying only the BSUID land on the merged contact.
    third = book.learn_detailed(bsuid=bsuid)
    assert third == Learned(MOBILE13)


def test_bsuid_with_phone_merges_every_alias_of_the_provisional_key() -> None:
    book = ContactBook()
    bsuid = "US.77"
    assert book.learn(phone="+55 11 98765-4321", bsuid=bsuid) == bsuid
    assert book.resolve("11987654321") == bsuid
    learned = book.learn_detailed(wa_id=MOBILE13, bsuid=bsuid)
    assert learned.merged == (bsuid,)
    assert book.resolve("11987654321") == MOBILE13
    assert book.resolve(bsuid) == MOBILE13


def test_wa_id_without_bsuid_still_merges_a_bsuid_contact_known_by_that_phone() -> None:
    book = ContactBook()
    book.learn(phone="+55 11 98765-4321", bsuid="BR.7")
    learned = book.learn_detailed(wa_id=MOBILE13)
    assert learned.merged == ("BR.7",)
    assert book.resolve("BR.7") == MOBILE13
    assert book.resolve("+55 11 98765-4321") == MOBILE13


def test_bsuid_of_a_known_wa_id_maps_to_it() -> None:
    book = ContactBook()
    book.learn(wa_id=MOBILE13)
    learned = book.learn_detailed(phone=MOBILE13, bsuid="BR.5")
    assert learned.key == MOBILE13
    assert learned.merged == ()
    assert book.resolve("BR.5") == MOBILE13
    # a wa_id key is never provisional: a later different wa_id does not absorb it
    other = book.learn_detailed(wa_id="5521998765432", bsuid="BR.5")
    assert other.merged == ()
    assert book.resolve(MOBILE13) == MOBILE13


def test_phone_alone_teaches_nothing() -> None:
    book = ContactBook()
    assert book.learn(phone="11987654321") == MOBILE13
    assert len(book) == 0


@pytest.mark.parametrize(
    ("wa_id", "phone", "bsuid"),
    [
        (None, None, None),
        ("", None, None),
        ("abc", None, None),
        ("1234", None, None),
        (None, "not a phone", None),
        (None, None, "nope"),
    ],
)
def test_learn_rejects_invalid_identifiers(
    wa_id: str | None, phone: str | None, bsuid: str | None
) -> None:
    with pytest.raises(ValueError, match=r"learn needs|not a"):
        ContactBook().learn(wa_id, phone, bsuid)


def test_keys_are_shared_string_objects() -> None:
    a, b = ContactBook(), ContactBook()
    ka = a.learn(wa_id="".join(["5511", "987654321"]))
    kb = b.learn(wa_id="".join(["55119876", "54321"]))
    assert ka is kb


def test_load_rebuilds_the_book_in_journal_order() -> None:
    journal: list[tuple[str, str]] = []
    book = ContactBook()
    for step in (
        book.learn_detailed(bsuid="BR.9"),
        book.learn_detailed(wa_id=MOBILE12, bsuid="BR.9"),
        book.learn_detailed(bsuid="US.1"),
    ):
        journal.extend((a, step.key) for a in step.new_aliases)
    rebuilt = ContactBook()
    assert rebuilt.load(journal) == len(journal)
    for ident in ("BR.9", MOBILE12, MOBILE13, "US.1", "11987654321"):
        assert rebuilt.resolve(ident) == book.resolve(ident)
    # A BSUID-only contact is still provisional after the rebuild.
    assert rebuilt.learn_detailed(wa_id="5521998765432", bsuid="US.1").merged == ("US.1",)
    # A merged one is not.
    assert rebuilt.learn_detailed(bsuid="BR.9").key == MOBILE13


# --------------------------------------------------------------------------- repeats
# After an accepted send learn_detailed takes a short path when everything is already
# recorded; these would fail if it answered from the book when something did change.


def test_repeated_send_response_changes_nothing() -> None:
    book = ContactBook()
    book.learn_detailed(wa_id=MOBILE12, phone=MOBILE13)
    before = dict(book._alias)
    for _ in range(3):
        assert book.learn_detailed(wa_id=MOBILE12, phone=MOBILE13) == Learned(MOBILE13)
        assert book.learn_detailed(wa_id=MOBILE13, phone=MOBILE13) == Learned(MOBILE13)
        assert book.learn_detailed(wa_id=MOBILE12) == Learned(MOBILE13)
    assert book._alias == before


@pytest.mark.parametrize("phone", [None, MOBILE13])
def test_journal_row_filing_the_legacy_form_under_itself_is_refiled(phone: str | None) -> None:
    book = ContactBook()
    book.load([(MOBILE12, MOBILE12)])
    learned = book.learn_detailed(wa_id=MOBILE12, phone=phone)
    assert learned == Learned(MOBILE13, (), (MOBILE13, MOBILE12))


def test_journal_row_with_an_uncleaned_wa_id_is_refiled() -> None:
    book = ContactBook()
    book.load([("+14155550123", "+14155550123")])
    learned = book.learn_detailed(wa_id="+14155550123")
    assert learned == Learned("14155550123", (), ("14155550123",))


def test_legacy_wa_id_whose_key_another_user_took_points_it_back() -> None:
    book = ContactBook()
    book.learn_detailed(wa_id=MOBILE12, phone=MOBILE13)
    book.learn_detailed(wa_id="5511987650000", phone=MOBILE13)  # the number changed hands
    assert book.resolve(MOBILE13) == "5511987650000"
    assert book.learn_detailed(wa_id=MOBILE12) == Learned(MOBILE13, (), (MOBILE13,))


Call = tuple[str | None, str | None, str | None]
"""``(wa_id, phone, bsuid)`` of one learn_detailed call."""


@pytest.mark.parametrize(
    ("calls", "last"),
    [
        # a new wa_id for a known phone: a different user now holds that number
        (
            [(MOBILE13, MOBILE13, None), ("5511987650000", MOBILE13, None)],
            Learned("5511987650000", (), ("5511987650000", MOBILE13)),
        ),
        # Meta answers with the pre-ninth-digit form the first time: a new alias
        (
            [(MOBILE13, MOBILE13, None), (MOBILE12, MOBILE13, None)],
            Learned(MOBILE13, (), (MOBILE12,)),
        ),
        (
            [(MOBILE13, MOBILE13, None), (MOBILE12, MOBILE13, None), (MOBILE12, MOBILE13, None)],
            Learned(MOBILE13),
        ),
        # the phone is a provisional (BSUID) key's alias, the wa_id equals the phone
        (
            [(None, MOBILE13, "BR.7"), (MOBILE13, MOBILE13, None)],
            Learned(MOBILE13, ("BR.7",), ("BR.7", MOBILE13)),
        ),
        # a foreign wa_id that reads as a Brazilian national number
        (
            [("11987654321", "11987654321", None)],
            Learned("11987654321", (MOBILE13,), ("11987654321", MOBILE13)),
        ),
        ([("11987654321", "11987654321", None)] * 2, Learned("11987654321")),
        # the phone's normal form is not recorded yet
        (
            [("11987654321", None, None), ("11987654321", "11987654321", None)],
            Learned("11987654321", (MOBILE13,), (MOBILE13,)),
        ),
        # a known wa_id, sent to as another known contact's number
        (
            [
                (MOBILE13, MOBILE13, None),
                ("551133334444", None, None),
                (MOBILE13, "551133334444", None),
            ],
            Learned(MOBILE13, (), ("551133334444",)),
        ),
        # ... as a number Meta never reported: its provisional key is folded in
        (
            [(MOBILE13, None, None), (MOBILE13, "5521998765432", None)],
            Learned(MOBILE13, ("5521998765432",), ("5521998765432",)),
        ),
        # a recorded phone that normalizes to another number (read as Brazilian national)
        (
            [(MOBILE13, "+01234567890", None), (MOBILE13, "01234567890", None)],
            Learned(MOBILE13, ("551234567890",), ("551234567890",)),
        ),
        (
            [("14155550123", "+1987654321", None), ("14155550123", "1987654321", None)],
            Learned("14155550123", ("5519987654321",), ("551987654321",)),
        ),
        # written differently: the long way, same answer
        (
            [(MOBILE13, MOBILE13, None), (" +" + MOBILE13, "+55 11 98765-4321", None)],
            Learned(MOBILE13),
        ),
        # a known wa_id with a BSUID seen before, then a new BSUID
        ([(MOBILE13, None, "BR.7")] * 2, Learned(MOBILE13)),
        ([(MOBILE13, None, "BR.7"), (MOBILE13, None, "BR.8")], Learned(MOBILE13, (), ("BR.8",))),
        # a landline (12 digits, its own key) and a foreign number, repeated
        ([("551133334444", "551133334444", None)] * 2, Learned("551133334444")),
        (
            [("14155550123", "+1 415 555 0123", None), ("14155550123", "14155550123", None)],
            Learned("14155550123"),
        ),
        # a known contact, then an invalid identifier next to it: still rejected
        ([(MOBILE13, MOBILE13, None), ("+", MOBILE13, None)], None),
        ([(MOBILE13, MOBILE13, None), (MOBILE13, "abc", None)], None),
        ([(MOBILE13, MOBILE13, "BR.7"), (MOBILE13, MOBILE13, "br7")], None),
        ([(MOBILE13, None, None), (MOBILE13, None, MOBILE13)], None),  # a phone is no BSUID
        # a wa_id of a shape no Brazilian phone has, repeated as the phone
        ([("55119876543", None, None), ("55119876543", "55119876543", None)], None),
    ],
)
def test_learn_after_a_known_contact(calls: list[Call], last: Learned | None) -> None:
    """``last`` None: the last call raises ValueError."""
    book = ContactBook()
    for call in calls[:-1]:
        book.learn_detailed(*call)
    if last is None:
        with pytest.raises(ValueError, match="not a"):
            book.learn_detailed(*calls[-1])
    else:
        assert book.learn_detailed(*calls[-1]) == last


def test_journal_row_with_an_overlong_phone_is_still_rejected_as_a_phone() -> None:
    book = ContactBook()
    book.load([(MOBILE13, MOBILE13), ("1234567890123456", MOBILE13)])
    with pytest.raises(ValueError, match="not a phone"):
        book.learn_detailed(wa_id=MOBILE13, phone="1234567890123456")

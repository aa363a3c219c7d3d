from __future__ import annotations

import itertools

import pytest

from actors.otp.codes import check_code, hash_code, new_code, new_salt

N = 2**4  # cheap scrypt for tests


def test_codes_are_digits_of_the_asked_length_and_keep_leading_zeros() -> None:
    zeros = itertools.cycle("0")
    assert new_code(6, choice=lambda _: next(zeros)) == "000000"
    for digits in (4, 6, 10):
        code = new_code(digits)
        assert len(code) == digits
        assert code.isdigit()


@pytest.mark.parametrize("digits", [3, 11])
def test_code_length_out_of_range_is_refused(digits: int) -> None:
    with pytest.raises(ValueError, match="4 to 10"):
        new_code(digits)


def test_codes_are_not_repeated() -> None:
    assert len({new_code(10) for _ in range(200)}) == 200


def test_hash_checks_the_code_and_nothing_else() -> None:
    salt = new_salt()
    stored = hash_code("123456", salt, n=N)
    assert check_code("123456", salt, stored, n=N)
    assert check_code(" 123456 ", salt, stored, n=N)
    assert not check_code("123457", salt, stored, n=N)
    assert not check_code("123456", new_salt(), stored, n=N)


def test_the_same_code_under_two_salts_hashes_differently() -> None:
    assert hash_code("123456", new_salt(), n=N) != hash_code("123456", new_salt(), n=N)
    assert b"123456" not in hash_code("123456", new_salt(), n=N)

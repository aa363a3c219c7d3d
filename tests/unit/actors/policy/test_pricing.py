from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from actors.policy.pricing import (
    PriceTable,
    Rate,
    UnknownDestination,
    destination_digits,
    parse_category,
    to_decimal,
)
from config.model import PriceRate, PricingConfig
from daemon.webhook.events import Pricing
from tests.unit.actors.policy.cost_builders import window

BR = "5511987654321"
D = Decimal


def table(*rates: PriceRate) -> PriceTable:
    if not rates:
        return PriceTable.from_config(PricingConfig())
    return PriceTable.from_config(PricingConfig(rates=list(rates)))


MULTI = table(
    PriceRate(prefix="1", marketing=0.025, utility=0.004, authentication=0.0135),
    PriceRate(prefix="1876", marketing=0.05, utility=0.01, authentication=0.02),
    PriceRate(prefix="55", marketing=0.0625, utility=0.0068, authentication=0.0068),
    PriceRate(
        prefix="91",
        marketing=0.0107,
        utility=0.0014,
        authentication=0.0014,
        authentication_international=0.028,
    ),
)


def test_defaults_are_brazil_in_usd_from_2025_07_01() -> None:
    t = table()
    assert t.currency == "USD"
    assert t.effective_date == dt.date(2025, 7, 1)
    assert t.rates == (
        Rate(
            prefix="55",
            marketing=D("0.0625"),
            utility=D("0.0068"),
            authentication=D("0.0068"),
            authentication_international=D("0.0068"),
            service=D("0"),
        ),
    )


@pytest.mark.parametrize(
    ("wa_id", "category", "expected"),
    [
        (BR, "marketing", D("0.0625")),
        (BR, "utility", D("0.0068")),
        (BR, "UTILITY", D("0.0068")),  # template registry spelling
        (BR, "authentication", D("0.0068")),
        (BR, "authentication_international", D("0.0068")),  # defaults to authentication
        (BR, "service", D("0")),
        ("+55 (11) 98765-4321", "marketing", D("0.0625")),
        ("15551234567", "marketing", D("0.025")),  # prefix 1
        ("18765551234", "marketing", D("0.05")),  # longest prefix 1876 wins over 1
        ("18765551234", "utility", D("0.01")),
        ("919876543210", "authentication", D("0.0014")),
        ("919876543210", "authentication_international", D("0.028")),
    ],
)
def test_price_longest_prefix_and_category(wa_id: str, category: str, expected: Decimal) -> None:
    assert MULTI.price(wa_id, category) == expected


def test_rates_sorted_longest_prefix_first() -> None:
    assert [r.prefix for r in MULTI.rates] == ["1876", "55", "91", "1"]


@pytest.mark.parametrize("wa_id", ["4915123456789", "", "55abc", "+"])
def test_unknown_destination_is_an_error(wa_id: str) -> None:
    with pytest.raises(UnknownDestination) as info:
        MULTI.price(wa_id, "marketing")
    assert info.value.wa_id == wa_id
    assert "pricing.rates" in str(info.value)


@pytest.mark.parametrize(
    ("bsuid", "category", "expected"),
    [
        ("BR.Xk9aZ81bQ", "marketing", D("0.0625")),  # the country's own rate
        ("BR.Xk9aZ81bQ", "utility", D("0.0068")),
        ("br.Xk9aZ81bQ", "marketing", D("0.0625")),
        ("US.13491208655302741918", "marketing", D("0.025")),  # prefix 1
        ("JM.7f3K", "marketing", D("0.05")),  # 1876 wins over 1, as for a number
        ("CA.7f3K", "utility", D("0.004")),
        ("IN.7f3K", "authentication_international", D("0.028")),
        # No rate for Germany, or a country code nobody knows: the highest of each
        # category (marketing is Brazil's, authentication Jamaica's), never less.
        ("DE.7f3K", "marketing", D("0.0625")),
        ("DE.7f3K", "authentication", D("0.02")),
        ("DE.7f3K", "authentication_international", D("0.028")),
        ("ZZ.7f3K", "utility", D("0.01")),
    ],
)
def test_a_user_id_is_priced_by_its_country_or_at_the_highest_rate(
    bsuid: str, category: str, expected: Decimal
) -> None:
    """A contact known only by its BSUID has no calling code: it was refused with
    advice nobody could follow (add a rate for its calling code), so it could never
    get a paid template."""
    assert MULTI.price(bsuid, category) == expected
    assert MULTI.estimate(bsuid, category, window()) == expected


def test_a_user_id_of_a_country_with_several_codes_is_priced_at_the_highest() -> None:
    dominican = table(
        PriceRate(prefix="1809", marketing=0.03, utility=0.01, authentication=0.02),
        PriceRate(prefix="1829", marketing=0.04, utility=0.005, authentication=0.02),
        PriceRate(prefix="55", marketing=1, utility=1, authentication=1),
    )
    assert dominican.price("DO.x1", "marketing") == D("0.04")
    assert dominican.price("DO.x1", "utility") == D("0.01")


def test_a_user_id_is_refused_only_when_no_rate_is_configured() -> None:
    empty = PriceTable.from_config(PricingConfig(rates=[]))
    with pytest.raises(UnknownDestination) as info:
        empty.price("BR.Xk9aZ81bQ", "marketing")
    assert "[pricing] has no rates" in str(info.value)
    assert "calling code" not in str(info.value)


def test_a_user_id_is_settled_at_the_category_meta_charged() -> None:
    p = Pricing(billable=True, pricing_model="PMP", category="marketing", type="regular")
    assert table().settle(p, "BR.Xk9aZ81bQ") == D("0.0625")


@pytest.mark.parametrize("category", ["promo", "", "conversation"])
def test_unknown_category_is_a_value_error(category: str) -> None:
    with pytest.raises(ValueError, match="unknown pricing category"):
        MULTI.price(BR, category)
    with pytest.raises(ValueError, match="unknown pricing category"):
        parse_category(category)


@pytest.mark.parametrize(
    ("raw", "digits"),
    [("5511987654321", "5511987654321"), ("+55 11 98765-4321", "5511987654321"), ("1.876", "1876")],
)
def test_destination_digits(raw: str, digits: str) -> None:
    assert destination_digits(raw) == digits


@pytest.mark.parametrize(
    ("category", "service", "free", "expected"),
    [
        # outside any window: list price (service can't be sent, but is never charged)
        ("marketing", False, False, D("0.0625")),
        ("utility", False, False, D("0.0068")),
        ("authentication", False, False, D("0.0068")),
        ("service", False, False, D("0")),
        # open service window: free-form and utility free, marketing/auth still paid
        ("service", True, False, D("0")),
        ("utility", True, False, D("0")),
        ("marketing", True, False, D("0.0625")),
        ("authentication", True, False, D("0.0068")),
        # free entry point window: everything free, with or without the service window
        ("marketing", False, True, D("0")),
        ("authentication", False, True, D("0")),
        ("utility", False, True, D("0")),
        ("marketing", True, True, D("0")),
    ],
)
def test_estimate_by_window(category: str, service: bool, free: bool, expected: Decimal) -> None:
    assert table().estimate(BR, category, window(service=service, free=free)) == expected


@pytest.mark.parametrize(
    ("category", "service", "free"),
    [("service", False, False), ("utility", True, False), ("marketing", False, True)],
)
def test_free_estimates_need_no_rate(category: str, service: bool, free: bool) -> None:
    w = window(service=service, free=free)
    assert table().estimate("4915123456789", category, w) == D("0")


def test_paid_estimate_to_unknown_destination_raises() -> None:
    with pytest.raises(UnknownDestination):
        table().estimate("4915123456789", "marketing", window())


@pytest.mark.parametrize(
    ("billable", "model", "category", "kind", "expected"),
    [
        (True, "PMP", "marketing", "regular", D("0.0625")),
        (True, "PMP", "utility", "regular", D("0.0068")),
        (True, "PMP", "authentication", "regular", D("0.0068")),
        (False, "PMP", "utility", "free_customer_service", D("0")),
        (False, "PMP", "marketing", "free_entry_point", D("0")),
        (False, "PMP", "service", "free_customer_service", D("0")),
        (False, "PMP", "marketing", "regular", D("0")),  # not billable wins
        (True, "PMP", "marketing", "free_entry_point", D("0")),  # free type wins
        (True, "PMP", "utility", "FREE_CUSTOMER_SERVICE", D("0")),
        (True, "PMP", "service", "regular", D("0")),  # service rate is 0
        (None, "PMP", "marketing", None, D("0.0625")),  # absent billable: assume a cost
        (True, "CBP", "marketing", None, D("0.0625")),  # old model priced per message
        (False, None, None, None, D("0")),
    ],
)
def test_settle_from_the_pricing_object(
    billable: bool | None,
    model: str | None,
    category: str | None,
    kind: str | None,
    expected: Decimal,
) -> None:
    p = Pricing(billable=billable, pricing_model=model, category=category, type=kind)
    assert table().settle(p, BR) == expected


def test_settle_uses_metas_category_not_ours() -> None:
    # We estimated utility; Meta recategorised the template as marketing.
    assert table().estimate(BR, "utility", window()) == D("0.0068")
    p = Pricing(billable=True, pricing_model="PMP", category="marketing", type="regular")
    assert table().settle(p, BR) == D("0.0625")


def test_settle_authentication_international() -> None:
    p = Pricing(
        billable=True, pricing_model="PMP", category="authentication_international", type="regular"
    )
    assert MULTI.settle(p, "919876543210") == D("0.028")


def test_settle_billable_without_category_raises() -> None:
    p = Pricing(billable=True, pricing_model="PMP", category=None, type="regular")
    with pytest.raises(ValueError, match="without a category"):
        table().settle(p, BR)


def test_settle_unknown_destination_raises_only_when_billable() -> None:
    free = Pricing(billable=False, pricing_model="PMP", category="utility", type="regular")
    assert table().settle(free, "4915123456789") == D("0")
    paid = Pricing(billable=True, pricing_model="PMP", category="utility", type="regular")
    with pytest.raises(UnknownDestination):
        table().settle(paid, "4915123456789")


def test_duplicate_prefix_rejected() -> None:
    cfg = PricingConfig(
        rates=[
            PriceRate(prefix="55", marketing=1, utility=1, authentication=1),
            PriceRate(prefix="55", marketing=2, utility=2, authentication=2),
        ]
    )
    with pytest.raises(ValueError, match="duplicate pricing prefix"):
        PriceTable.from_config(cfg)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.0068, "0.0068"), (0.1, "0.1"), (1, "1"), ("0.0315", "0.0315"), (D("2.50"), "2.50")],
)
def test_to_decimal_keeps_short_floats_exact(
    value: float | int | str | Decimal, expected: str
) -> None:
    assert str(to_decimal(value)) == expected

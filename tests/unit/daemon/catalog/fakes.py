"""Listings for the catalog tests: the push and the resync tests build the same shift, so
it is written once and a change of ``Listing`` is followed in one place."""

from __future__ import annotations

from decimal import Decimal

from daemon.catalog.listings import Listing


def listing(listing_id: str, price: str = "1800.00", *, is_open: bool = True) -> Listing:
    """A complete shift (an image, so Meta accepts its CREATE) that differs from another
    only by id, price and whether it is open, the fields the tests turn."""
    return Listing(
        id=listing_id,
        hospital="Hospital Santa Clara",
        specialty="Pediatria",
        date="2026-12-01",
        start="07:00",
        end="19:00",
        price=Decimal(price),
        image_url=f"https://cdn.example.com/{listing_id}.jpg",
        open=is_open,
    )

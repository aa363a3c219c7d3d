"""Example handler: a doctor books an open shift inside WhatsApp.

Screens (``flows/shift_booking.json``): ``SHIFTS`` lists the open shifts (INIT, and BACK
from the confirmation, always fresh); choosing one exchanges data and shows ``CONFIRM``
with its details; confirming books it and closes the flow with ``SUCCESS``, whose params
(flow token, shift, booking id) come back in the ``nfm_reply`` webhook as a
``flow.completed`` event. A shift taken by someone else in the meantime sends the user
back to a refreshed list with a message, never a double booking.

Where shifts come from is a :class:`ShiftBoard`; :class:`MemoryShiftBoard` is the
sandbox's, seeded with demo shifts. The screen builders are pure; only the board does I/O.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from daemon.flows.protocol import (
    FlowRequest,
    FlowResponse,
    InvalidFlowToken,
    finish,
    screen_error,
)

__all__ = [
    "SCREENS",
    "Booking",
    "MemoryShiftBoard",
    "Shift",
    "ShiftBoard",
    "ShiftBooking",
    "confirm_screen",
    "shifts_screen",
]

SCREENS = frozenset({"SHIFTS", "CONFIRM"})
_MAX_LISTED = 20
"""A RadioButtonsGroup shows at most 20 options."""


@dataclass(frozen=True, slots=True)
class Shift:
    id: str
    hospital: str
    specialty: str
    date: str
    """As shown, e.g. ``20/03``."""
    hours: str
    """As shown, e.g. ``19h–07h``."""
    pay_brl: int

    def title(self) -> str:
        return f"{self.hospital} · {self.date} {self.hours}"[:30]

    def description(self) -> str:
        return f"{self.specialty} · R$ {self.pay_brl:,}".replace(",", ".")


@dataclass(frozen=True, slots=True)
class Booking:
    id: str
    shift: Shift
    flow_token: str


class ShiftBoard(Protocol):
    """Where open shifts are listed and booked (a database in production)."""

    async def open_shifts(self) -> Sequence[Shift]: ...

    async def book(self, shift_id: str, flow_token: str) -> Booking | None:
        """Book ``shift_id``, or None when it is no longer open. Idempotent per token."""


def _demo_shifts() -> list[Shift]:
    return [
        Shift("sh_1001", "Hospital São Luiz", "Clínica médica", "20/03", "19h–07h", 1500),
        Shift("sh_1002", "Hospital Sírio-Libanês", "Pediatria", "21/03", "07h–19h", 1800),
        Shift("sh_1003", "Santa Casa", "Ortopedia", "22/03", "19h–07h", 1400),
        Shift("sh_1004", "Hospital Einstein", "Anestesiologia", "23/03", "07h–13h", 1200),
    ]


@dataclass
class MemoryShiftBoard:
    """Shifts held in memory (sandbox, tests): booked ones leave the list."""

    shifts: dict[str, Shift] = field(default_factory=dict)
    bookings: dict[str, Booking] = field(default_factory=dict)
    """By shift id."""
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @classmethod
    def demo(cls) -> MemoryShiftBoard:
        return cls({s.id: s for s in _demo_shifts()})

    async def open_shifts(self) -> Sequence[Shift]:
        return [s for s in self.shifts.values() if s.id not in self.bookings]

    async def book(self, shift_id: str, flow_token: str) -> Booking | None:
        held = self.bookings.get(shift_id)
        if held is not None:
            return held if held.flow_token == flow_token else None  # a retry is not a clash
        shift = self.shifts.get(shift_id)
        if shift is None:
            return None
        booking = Booking(f"bk_{next(self._ids):05d}", shift, flow_token)
        self.bookings[shift_id] = booking
        return booking


def shifts_screen(shifts: Sequence[Shift], error: str | None = None) -> FlowResponse:
    """The list of open shifts as the radio buttons' data source."""
    options = [
        {"id": s.id, "title": s.title(), "description": s.description()}
        for s in shifts[:_MAX_LISTED]
    ]
    data: dict[str, Any] = {"shifts": options, "has_shifts": bool(options)}
    if not options:
        data["shifts"] = [{"id": "none", "title": "Nenhum plantão aberto", "enabled": False}]
    return screen_error("SHIFTS", error or "", **data)


def confirm_screen(shift: Shift) -> FlowResponse:
    """The chosen shift's details and its id (carried in the confirm payload)."""
    return FlowResponse(
        "CONFIRM",
        {
            "shift_id": shift.id,
            "hospital": shift.hospital,
            "when": f"{shift.date} · {shift.hours}",
            "specialty": shift.specialty,
            "pay": f"R$ {shift.pay_brl:,}".replace(",", "."),
        },
    )


def _chosen(data: Mapping[str, Any]) -> str | None:
    value = data.get("shift_id")
    return value if isinstance(value, str) and value else None


class ShiftBooking:
    """The ``shift_booking`` flow's handler (see the module docstring)."""

    screens = SCREENS

    def __init__(self, board: ShiftBoard) -> None:
        self.board = board

    async def __call__(self, request: FlowRequest) -> FlowResponse:
        if request.action in ("INIT", "BACK"):
            return shifts_screen(await self.board.open_shifts())
        if not request.flow_token:
            raise InvalidFlowToken("a data exchange without a flow token")
        open_now = {s.id: s for s in await self.board.open_shifts()}
        shift_id = _chosen(request.data)
        if request.screen == "CONFIRM" and shift_id is not None:
            booking = await self.board.book(shift_id, request.flow_token)
            if booking is None:
                return shifts_screen(
                    list(open_now.values()), "Esse plantão acabou de ser preenchido."
                )
            return finish(
                request,
                shift_id=booking.shift.id,
                booking_id=booking.id,
                hospital=booking.shift.hospital,
            )
        shift = open_now.get(shift_id or "")
        if shift is None:
            return shifts_screen(list(open_now.values()), "Escolha um plantão da lista.")
        return confirm_screen(shift)

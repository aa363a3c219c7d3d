"""The data-exchange handlers metad ships, by the name ``[[flows.flow]] handler`` uses.

Why factories: each running endpoint gets its own handler instance (its own state, such
as the sandbox's shift board), so tests and restarts start clean.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from daemon.flows.handlers.doctor_onboarding import DoctorOnboarding
from daemon.flows.handlers.shift_booking import MemoryShiftBoard, ShiftBooking
from daemon.flows.protocol import FlowHandler

__all__ = ["BUILTIN_HANDLERS", "HandlerFactory"]

HandlerFactory = Callable[[], FlowHandler]

BUILTIN_HANDLERS: Mapping[str, HandlerFactory] = {
    "shift_booking": lambda: ShiftBooking(MemoryShiftBoard.demo()),
    "doctor_onboarding": DoctorOnboarding,
}

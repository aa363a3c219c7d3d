"""One-time passcodes and shift confirmation at the daemon's edge: send, verify, taps.

The rules are pure in :mod:`actors.otp`; here they meet the chips (sends go through the
chip actor like any other message: window, policy, budget, outbox), the store and the
webhooks (a quick-reply tap confirms a shift).
"""

from __future__ import annotations

from daemon.otp.service import OtpService, SendReport
from daemon.otp.shifts import ShiftService
from daemon.otp.taps import ShiftTaps

__all__ = ["OtpService", "SendReport", "ShiftService", "ShiftTaps"]

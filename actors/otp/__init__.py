"""One-time passcodes and shift confirmation: the pure rules (no I/O, time passed in).

Why in ``actors``: the codes, the attempt and send limits and the template shapes are
rules to unit-test on their own; storage (``daemon.store.otp``) and sending
(``daemon.otp``) sit at the edges.
"""

from __future__ import annotations

from actors.otp.codes import check_code, hash_code, new_code, new_salt
from actors.otp.rules import (
    Code,
    Issue,
    OtpPolicy,
    OtpState,
    Verdict,
    check_purpose,
    draw,
    failed,
    live_codes,
    local_time,
    may_issue,
    sent,
    stage,
    unsent,
    verify,
)

__all__ = [
    "Code",
    "Issue",
    "OtpPolicy",
    "OtpState",
    "Verdict",
    "check_code",
    "check_purpose",
    "draw",
    "failed",
    "hash_code",
    "live_codes",
    "local_time",
    "may_issue",
    "new_code",
    "new_salt",
    "sent",
    "stage",
    "unsent",
    "verify",
]

"""One-time passcodes and shift confirmation: the pure rules (no I/O, time passed in).

Why in ``actors``: the codes, the attempt and send limits and the template shapes are
rules to unit-test on their own; storage (``daemon.store.otp``) and sending
(``daemon.otp``) sit at the edges.
"""

from __future__ import annotations

from actors.otp.codes import check_code, hash_code, new_code, new_salt
from actors.otp.rules import Issue, OtpPolicy, OtpState, Verdict, issue, may_issue, verify

__all__ = [
    "Issue",
    "OtpPolicy",
    "OtpState",
    "Verdict",
    "check_code",
    "hash_code",
    "issue",
    "may_issue",
    "new_code",
    "new_salt",
    "verify",
]

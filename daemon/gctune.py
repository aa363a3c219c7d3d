"""The cyclic garbage collector's settings for metad's long-running processes.

Why: with CPython's defaults the daemon spent about a fifth of its CPU in the collector
during a 20,000-message campaign (10.8 s of 54 s, measured with ``gc.callbacks``): every
message allocates hundreds of short-lived objects (tasks' outcomes, events, dicts), so
young collections ran ~50 times a second, and each older pass walked every object the
process keeps (config, code, caches, the contact book). What exists once start-up is
over lives as long as the process: frozen, no collection walks it again. The young
generation is collected after 50,000 net allocations instead of 700, which makes the
passes rarer without letting cyclic garbage pile up (reference counting frees the rest
at once). The simulator uses the same settings for the same reason.
"""

from __future__ import annotations

import gc

__all__ = ["YOUNG_THRESHOLD", "settle"]

YOUNG_THRESHOLD = 50_000


def settle() -> None:
    """Call once start-up is done: freeze what it made, make young collections rarer.

    No ``gc.collect()`` first: with a million windows loaded it would hold READY back by
    a full pass, for the little cyclic garbage start-up leaves."""
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, 20, 100)

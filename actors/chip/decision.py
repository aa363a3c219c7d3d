"""May this message go now, and how: free-form in the window, a template, or not at all.

Pure: it reads the contact's window, the chip's quality policy (with the WABA kill
switch laid over it) and the operator's pause, and says which method to use and whether
the send is business-initiated (which is what counts against the messaging-limit tier).
The cost optimiser of a later milestone chooses *between* legal methods; this module
says which methods are legal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from actors.chip.quality import SendPolicy
from actors.chip.window import WindowState

__all__ = ["Decision", "decide"]

Method = Literal["free_form", "template", "refuse"]


@dataclass(frozen=True, slots=True)
class Decision:
    method: Method
    business_initiated: bool
    reason: str


def decide(
    *,
    has_content: bool,
    template_category: str | None,
    window: WindowState,
    policy: SendPolicy,
    paused_reason: str | None,
    force_template: bool = False,
) -> Decision:
    """``template_category`` is None when the request carries no template."""
    if paused_reason is not None:
        return Decision("refuse", False, f"chip paused: {paused_reason}")
    in_window = window.service_open and not force_template
    if has_content and in_window and policy.free_form_allowed:
        return Decision("free_form", False, "inside the customer-service window")
    if template_category is None:
        if not has_content:
            return Decision("refuse", False, "nothing to send")
        if not policy.free_form_allowed:
            return Decision("refuse", False, f"quality: {policy.reason}")
        return Decision("refuse", False, "service window closed and no template given")
    if template_category.lower() == "marketing" and not policy.marketing_allowed:
        return Decision("refuse", False, f"marketing stopped: {policy.reason}")
    if in_window:
        if not policy.free_form_allowed:
            return Decision("refuse", False, f"quality: {policy.reason}")
        return Decision("template", False, "template inside the service window")
    if not policy.business_initiated_allowed:
        return Decision("refuse", False, f"business-initiated sends stopped: {policy.reason}")
    return Decision("template", True, "template outside the service window")

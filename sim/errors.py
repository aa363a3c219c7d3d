"""Meta's error answers, as the simulator produces them.

Why its own catalog (and not :mod:`daemon.graph.errors`): the simulator stands in for
Meta, so it must not know how metad *reacts*; it only knows what Meta *says* for each
code (HTTP status, title, details). Keeping the two apart also lets the tests check one
against the other: every code in the client's table can be produced here.

Body shape, for a synchronous error::

    {"error": {"message": "(#131009) Parameter value is not valid", "type": "OAuthException",
               "code": 131009, "error_subcode": 2494010?, "error_data": {"messaging_product":
               "whatsapp", "details": "..."}, "fbtrace_id": "A..."}}

and for a failed status webhook ``errors[]`` entry: ``{code, title, message,
error_data: {details}}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["CATALOG", "ErrorSpec", "SimError", "bad_param", "unknown_object"]


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    http_status: int
    title: str
    details: str
    type: str = "OAuthException"


_E = ErrorSpec
CATALOG: dict[int, ErrorSpec] = {
    0: _E(401, "AuthException", "We were unable to authenticate the app user."),
    1: _E(500, "An unknown error occurred", "An unknown error occurred.", "GraphMethodException"),
    3: _E(403, "Capability or permissions issue", "The app lacks this capability."),
    4: _E(429, "Application request limit reached", "Too many calls from this app."),
    10: _E(403, "Permission Denied", "Permission has not been granted or was removed."),
    100: _E(400, "Invalid parameter", "Invalid parameter."),
    190: _E(401, "Invalid OAuth access token", "The access token is invalid or expired."),
    200: _E(403, "Permissions error", "The token has no permission on this object."),
    368: _E(403, "Temporarily blocked for policies violations", "Blocked for policy violations."),
    80007: _E(429, "Rate limit issues", "The WhatsApp Business Account reached its rate limit."),
    130429: _E(429, "Rate limit hit", "Cloud API message throughput has been reached."),
    130472: _E(400, "User's number is part of an experiment", "Not sent: marketing experiment."),
    130497: _E(
        400,
        "Business account is restricted from messaging users in this country",
        "Messaging to this country is restricted.",
    ),
    131000: _E(500, "Something went wrong", "Message failed to send due to an unknown error."),
    131008: _E(400, "Required parameter is missing", "A required parameter is missing."),
    131009: _E(400, "Parameter value is not valid", "One or more parameter values are invalid."),
    131016: _E(503, "Service unavailable", "A service is temporarily unavailable."),
    131026: _E(
        400,
        "Message undeliverable",
        "Unable to deliver message. The recipient may not be on WhatsApp, "
        "or uses an old app version.",
    ),
    131031: _E(403, "Account has been locked", "The business account is restricted or disabled."),
    131042: _E(
        400,
        "Business eligibility payment issue",
        "Message failed to send because of a payment method problem.",
    ),
    131047: _E(
        400,
        "Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer "
        "last replied to this number.",
    ),
    131048: _E(
        400,
        "Spam rate limit hit",
        "Message failed to send because there are restrictions on how many messages can be "
        "sent from this phone number.",
    ),
    131049: _E(
        400,
        "This message was not delivered to maintain healthy ecosystem engagement.",
        "In order to maintain a healthy ecosystem engagement, the message failed to be delivered.",
    ),
    131050: _E(
        400,
        "User has stopped marketing messages",
        "The user has chosen to stop receiving marketing messages from this business.",
    ),
    131051: _E(400, "Unsupported message type", "This message type is not supported."),
    131052: _E(400, "Media download error", "Unable to download the media sent with the message."),
    131053: _E(400, "Media upload error", "Unable to upload the media used in the message."),
    131056: _E(
        429,
        "(Business Account, Consumer Account) pair rate limit hit",
        "Too many messages sent from this phone number to the same phone number in a short "
        "period of time.",
    ),
    131057: _E(503, "Account in maintenance mode", "Business account is in maintenance mode."),
    132000: _E(
        400,
        "Number of parameters does not match the expected number of params",
        "The number of variable parameter values does not match the template.",
    ),
    132001: _E(
        404,
        "Template name does not exist in the translation",
        "The template does not exist in that language or is not approved.",
    ),
    132005: _E(400, "Translated text too long", "The translated text is too long."),
    132007: _E(
        400,
        "Template Format Character Policy Violated",
        "The template content violates a WhatsApp policy.",
    ),
    132012: _E(
        400,
        "Parameter format does not match format in the created template",
        "Variable parameter values are formatted incorrectly.",
    ),
    132015: _E(400, "Template is Paused", "The template is paused due to low quality."),
    132016: _E(400, "Template is Disabled", "The template was disabled due to low quality."),
    133004: _E(503, "Server temporarily unavailable", "The server is temporarily unavailable."),
    133010: _E(400, "Phone number not registered", "The number is not registered on the platform."),
}
"""Every code in docs/cloud-api.md §5 (plus 1, Graph's generic "unknown error")."""


class SimError(Exception):
    """A Meta error to answer with (synchronously) or to put on a failed status."""

    def __init__(
        self,
        code: int,
        details: str | None = None,
        *,
        message: str | None = None,
        subcode: int | None = None,
        http_status: int | None = None,
        type: str | None = None,  # Meta's field name
    ) -> None:
        spec = CATALOG.get(code, CATALOG[100])
        self.code = code
        self.spec = spec
        self.details = details or spec.details
        self.message = message or f"(#{code}) {spec.title}"
        self.subcode = subcode
        self.http_status = http_status or spec.http_status
        self.type = type or spec.type
        super().__init__(self.message)

    def body(self, fbtrace_id: str) -> dict[str, Any]:
        """The synchronous answer's JSON object."""
        err: dict[str, Any] = {
            "message": self.message,
            "type": self.type,
            "code": self.code,
            "error_data": {"messaging_product": "whatsapp", "details": self.details},
            "fbtrace_id": fbtrace_id,
        }
        if self.subcode is not None:
            err["error_subcode"] = self.subcode
        return {"error": err}

    def status_error(self) -> dict[str, Any]:
        """The ``errors[]`` entry of a failed status webhook."""
        return {
            "code": self.code,
            "title": self.spec.title,
            "message": self.spec.title,
            "error_data": {"details": self.details},
        }


def bad_param(details: str) -> SimError:
    """Graph's generic "(#100) Invalid parameter" with the reason in details."""
    return SimError(100, details)


def unknown_object(method: str, object_id: str) -> SimError:
    """What Graph says for an id that does not exist or is not visible to the token."""
    return SimError(
        100,
        message=(
            f"Unsupported {method.lower()} request. Object with ID '{object_id}' does not "
            "exist, cannot be loaded due to missing permissions, or does not support this "
            "operation."
        ),
        details="Unknown object or edge.",
        subcode=33,
        type="GraphMethodException",
    )

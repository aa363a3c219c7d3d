"""Graph API client: typed calls, send outcomes, and the one error→reaction table.

Who may import it: the daemon's wiring and edges. Actors see a ``GraphPort`` protocol and
receive :class:`Reaction` values, never raw error codes (docs/model-codebases.md §12).
"""

from __future__ import annotations

from daemon.graph.client import PHONE_FIELDS, TEMPLATE_FIELDS, GraphClient
from daemon.graph.errors import ERROR_TABLE, ErrorRule, GraphError, Reaction, reaction_for
from daemon.graph.outcome import Accepted, Failed, InDoubt, SendOutcome
from daemon.graph.retry import RetryPolicy
from daemon.graph.transport import GraphTimeouts, TokenSource

__all__ = [
    "ERROR_TABLE",
    "PHONE_FIELDS",
    "TEMPLATE_FIELDS",
    "Accepted",
    "ErrorRule",
    "Failed",
    "GraphClient",
    "GraphError",
    "GraphTimeouts",
    "InDoubt",
    "Reaction",
    "RetryPolicy",
    "SendOutcome",
    "TokenSource",
    "reaction_for",
]

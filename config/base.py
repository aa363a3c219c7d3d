"""The base of every model of ``metad.toml`` and the field types several sections share.

Why this module exists: every mistake in the file must be caught before anything starts,
and the same rules hold for every table. The models are frozen and forbid unknown keys,
so a typo is an error rather than a silently ignored setting; a pattern a field must match
carries words (:data:`PATTERN_HINTS`) so an error never shows a bare regex. The sections
derive from :class:`_Model` here; :mod:`config.model` assembles them into the whole file.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["PATTERN_HINTS", "GraphId", "HostPort"]

_GRAPH_ID = r"^[0-9]{1,20}$"
_PORT = r"([0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
"""0 to 65535 (0: any free port, for tests). Checked here because getaddrinfo takes a
port modulo 65536: ``:99999`` would have listened on 34463."""
_HOST_PORT = rf"^[^\s:]+:{_PORT}$"
_HOST_PORT_OR_OFF = rf"^([^\s:]+:{_PORT})?$"
_API_VERSION = r"^v[0-9]+\.[0-9]+$"
_URL_PATH = r"^/[A-Za-z0-9_./-]*$"
_PREFIX = r"^[0-9]{1,4}$"
_FLOW_NAME = r"^[a-z0-9_]{1,64}$"

PATTERN_HINTS: dict[str, str] = {
    _GRAPH_ID: "a numeric Graph API id (digits only)",
    _HOST_PORT: "HOST:PORT such as 127.0.0.1:8088 (PORT 0 to 65535)",
    _HOST_PORT_OR_OFF: 'HOST:PORT such as 127.0.0.1:9108 (PORT 0 to 65535), or "" for off',
    _API_VERSION: "a Graph API version such as v21.0",
    _URL_PATH: "a URL path starting with /",
    _PREFIX: "a calling-code prefix of 1 to 4 digits",
    _FLOW_NAME: "a name of lowercase letters, digits and _ (at most 64)",
}
"""Words for each pattern, so an error says what is expected rather than showing a regex."""

GraphId = Annotated[str, Field(pattern=_GRAPH_ID, description="a numeric Graph API id")]
HostPort = Annotated[str, Field(pattern=_HOST_PORT, description="HOST:PORT")]


class _Model(BaseModel):
    # hide_input_in_errors: a literal secret written where a reference belongs must not be
    # echoed by a ValidationError's text. allow_inf_nan: no setting means "inf" or "nan".
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
        hide_input_in_errors=True,
        allow_inf_nan=False,
    )

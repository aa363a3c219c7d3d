"""Example handler: a doctor signs up with name, CRM and specialty.

Screen (``flows/doctor_onboarding.json``): ``DETAILS`` asks for the full name, the CRM
(``123456/SP``: number and the state council) and a specialty from a list. Submitting
exchanges data; the answers are checked here — not in the Flow JSON, because a CRM's
shape and the list of councils are ours to decide — and either shown again with what to
fix (the user's input is never lost) or the flow finishes with the normalised record as
the ``SUCCESS`` params, which arrive as a ``flow.completed`` event.

Pure: :func:`check_doctor` does the work; the handler only routes.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from daemon.flows.protocol import (
    FlowRequest,
    FlowResponse,
    InvalidFlowToken,
    finish,
    screen_error,
)

__all__ = [
    "SCREENS",
    "SPECIALTIES",
    "UFS",
    "Doctor",
    "DoctorOnboarding",
    "check_doctor",
    "details_screen",
]

SCREENS = frozenset({"DETAILS"})
SPECIALTIES: Mapping[str, str] = {
    "clinica_medica": "Clínica médica",
    "cardiologia": "Cardiologia",
    "pediatria": "Pediatria",
    "ortopedia": "Ortopedia",
    "cirurgia_geral": "Cirurgia geral",
    "anestesiologia": "Anestesiologia",
    "outra": "Outra",
}
_STATES = "AC AL AM AP BA CE DF ES GO MA MG MS MT PA PB PE PI PR RJ RN RO RR RS SC SE SP TO"
UFS = frozenset(_STATES.split(" "))
"""The 27 regional medical councils (a CRM is issued by one of them)."""
_CRM = re.compile(r"^(?:CRM[\s-]*)?([0-9]{4,7})\s*[/\-\s]\s*([A-Za-z]{2})$", re.IGNORECASE)
_NAME_MAX = 120


@dataclass(frozen=True, slots=True)
class Doctor:
    name: str
    crm: str
    """Digits only."""
    uf: str
    specialty: str
    """An id of :data:`SPECIALTIES`."""


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return " ".join(value.split()) if isinstance(value, str) else ""


def _name_ok(name: str) -> bool:
    words = name.split(" ")
    letters = all(unicodedata.category(ch).startswith("L") or ch in " '-." for ch in name)
    return len(words) >= 2 and all(len(w) >= 2 for w in words) and letters


def check_doctor(data: Mapping[str, Any]) -> tuple[Doctor | None, list[str]]:
    """The doctor described by the screen's answers, or the problems to show the user."""
    problems: list[str] = []
    name = _text(data, "name")
    if not name or len(name) > _NAME_MAX or not _name_ok(name):
        problems.append("Informe nome e sobrenome.")
    crm_match = _CRM.match(_text(data, "crm"))
    uf = crm_match.group(2).upper() if crm_match else ""
    if crm_match is None:
        problems.append("CRM no formato 123456/SP.")
    elif uf not in UFS:
        problems.append(f"{uf} não é um CRM estadual.")
    specialty = data.get("specialty")
    if not isinstance(specialty, str) or specialty not in SPECIALTIES:
        problems.append("Escolha uma especialidade.")
        specialty = ""
    if problems or crm_match is None:
        return None, problems
    return Doctor(name=name, crm=crm_match.group(1), uf=uf, specialty=specialty), []


def details_screen(error: str | None = None) -> FlowResponse:
    data = {"specialties": [{"id": k, "title": v} for k, v in SPECIALTIES.items()]}
    return screen_error("DETAILS", error or "", **data)


class DoctorOnboarding:
    """The ``doctor_onboarding`` flow's handler (see the module docstring)."""

    screens = SCREENS

    async def __call__(self, request: FlowRequest) -> FlowResponse:
        if request.action in ("INIT", "BACK"):
            return details_screen()
        if not request.flow_token:
            raise InvalidFlowToken("a data exchange without a flow token")
        doctor, problems = check_doctor(request.data)
        if doctor is None:
            return details_screen(" ".join(problems))
        return finish(
            request,
            name=doctor.name,
            crm=doctor.crm,
            uf=doctor.uf,
            specialty=doctor.specialty,
        )

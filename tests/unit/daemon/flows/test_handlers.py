"""The two shipped handlers: what each screen shows and how each flow ends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import trio
from hypothesis import given, settings, strategies as st

from daemon.flows.handlers import BUILTIN_HANDLERS
from daemon.flows.handlers.doctor_onboarding import DoctorOnboarding, check_doctor
from daemon.flows.handlers.shift_booking import MemoryShiftBoard, ShiftBooking
from daemon.flows.protocol import FlowRequest, InvalidFlowToken
from daemon.flows.validate import shape

FLOWS = Path(__file__).parents[4] / "flows"


def req(
    action: str, screen: str | None = None, token: str | None = "tok", **data: Any
) -> FlowRequest:
    return FlowRequest("f", action, screen=screen, data=data, flow_token=token)


def _params(reply_data: Any) -> dict[str, Any]:
    params: dict[str, Any] = reply_data["extension_message_response"]["params"]
    return params


# --- shift booking --------------------------------------------------------------------


async def test_init_lists_the_open_shifts() -> None:
    board = MemoryShiftBoard.demo()
    reply = await ShiftBooking(board)(req("INIT"))
    assert reply.screen == "SHIFTS"
    ids = [s["id"] for s in reply.data["shifts"]]
    assert ids == list(board.shifts)
    assert reply.data["has_shifts"] is True
    assert reply.data["error_message"] == ""


async def test_choosing_a_shift_shows_it_then_confirming_books_it() -> None:
    board = MemoryShiftBoard.demo()
    handler = ShiftBooking(board)
    shown = await handler(req("data_exchange", "SHIFTS", shift_id="sh_1002"))
    assert shown.screen == "CONFIRM"
    assert shown.data["shift_id"] == "sh_1002"
    assert shown.data["pay"] == "R$ 1.800"
    done = await handler(req("data_exchange", "CONFIRM", shift_id="sh_1002"))
    assert done.screen == "SUCCESS"
    params = _params(done.data)
    assert params["shift_id"] == "sh_1002"
    assert params["flow_token"] == "tok"
    assert board.bookings["sh_1002"].id == params["booking_id"]
    again = await handler(req("BACK", "CONFIRM"))
    assert "sh_1002" not in [s["id"] for s in again.data["shifts"]]


async def test_a_shift_taken_meanwhile_sends_the_user_back_to_a_fresh_list() -> None:
    board = MemoryShiftBoard.demo()
    handler = ShiftBooking(board)
    await handler(req("data_exchange", "CONFIRM", token="someone-else", shift_id="sh_1001"))
    lost = await handler(req("data_exchange", "CONFIRM", shift_id="sh_1001"))
    assert lost.screen == "SHIFTS"
    assert "preenchido" in lost.data["error_message"]
    assert "sh_1001" not in [s["id"] for s in lost.data["shifts"]]


async def test_a_retried_confirmation_is_the_same_booking() -> None:
    board = MemoryShiftBoard.demo()
    handler = ShiftBooking(board)
    first = await handler(req("data_exchange", "CONFIRM", shift_id="sh_1003"))
    second = await handler(req("data_exchange", "CONFIRM", shift_id="sh_1003"))
    assert _params(first.data) == _params(second.data)
    assert len(board.bookings) == 1


async def test_an_unknown_shift_asks_again() -> None:
    reply = await ShiftBooking(MemoryShiftBoard.demo())(
        req("data_exchange", "SHIFTS", shift_id="sh_9")
    )
    assert (reply.screen, reply.data["error_message"]) == ("SHIFTS", "Escolha um plantão da lista.")


async def test_no_open_shift_disables_the_list() -> None:
    reply = await ShiftBooking(MemoryShiftBoard())(req("INIT"))
    assert reply.data["has_shifts"] is False
    assert reply.data["shifts"][0]["enabled"] is False


async def test_a_data_exchange_without_a_token_is_refused() -> None:
    with pytest.raises(InvalidFlowToken):
        await ShiftBooking(MemoryShiftBoard.demo())(req("data_exchange", "SHIFTS", token=None))


# --- doctor onboarding -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"name": " Ana   Souza ", "crm": "123456/sp", "specialty": "pediatria"},
            ("Ana Souza", "123456", "SP", "pediatria"),
        ),
        (
            {"name": "José da Silva", "crm": "CRM-RJ 5432 RJ", "specialty": "outra"},
            None,
        ),
        (
            {"name": "José da Silva", "crm": "CRM 54321-rj", "specialty": "outra"},
            ("José da Silva", "54321", "RJ", "outra"),
        ),
    ],
)
def test_check_doctor_normalises(data: dict[str, str], expected: Any) -> None:
    doctor, problems = check_doctor(data)
    if expected is None:
        assert doctor is None
        assert problems == ["CRM no formato 123456/SP."]
    else:
        assert doctor is not None
        assert (doctor.name, doctor.crm, doctor.uf, doctor.specialty) == expected
        assert problems == []


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"name": "Ana", "crm": "123456/SP", "specialty": "pediatria"}, "nome e sobrenome"),
        ({"name": "Ana 2Souza", "crm": "123456/SP", "specialty": "pediatria"}, "nome"),
        ({"name": "Ana Souza", "crm": "12/SP", "specialty": "pediatria"}, "123456/SP"),
        ({"name": "Ana Souza", "crm": "123456/XX", "specialty": "pediatria"}, "XX não é"),
        ({"name": "Ana Souza", "crm": "123456/SP", "specialty": "astrologia"}, "especialidade"),
        ({"name": ["Ana"], "crm": 123456, "specialty": None}, "nome"),
    ],
)
def test_check_doctor_says_what_to_fix(data: dict[str, Any], problem: str) -> None:
    doctor, problems = check_doctor(data)
    assert doctor is None
    assert problem in " ".join(problems)


async def test_onboarding_shows_the_form_then_completes_with_the_record() -> None:
    handler = DoctorOnboarding()
    first = await handler(req("INIT"))
    assert first.screen == "DETAILS"
    assert {"id": "cardiologia", "title": "Cardiologia"} in first.data["specialties"]
    wrong = await handler(req("data_exchange", "DETAILS", name="Ana", crm="1", specialty="x"))
    assert wrong.screen == "DETAILS"
    assert wrong.data["error_message"].count(".") == 3
    done = await handler(
        req("data_exchange", "DETAILS", name="Ana Souza", crm="123456/SP", specialty="cardiologia")
    )
    assert done.screen == "SUCCESS"
    assert _params(done.data) == {
        "flow_token": "tok",
        "flow_name": "f",
        "name": "Ana Souza",
        "crm": "123456",
        "uf": "SP",
        "specialty": "cardiologia",
    }


# --- both ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BUILTIN_HANDLERS))
async def test_every_screen_a_handler_answers_is_in_its_flow_json(name: str) -> None:
    handler = BUILTIN_HANDLERS[name]()
    flow = shape(json.loads((FLOWS / f"{name}.json").read_text(encoding="utf-8")))
    assert handler.screens <= set(flow.screens)  # type: ignore[attr-defined]
    assert (await handler(req("INIT"))).screen in flow.screens


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=150, deadline=None)
@given(
    name=st.sampled_from(sorted(BUILTIN_HANDLERS)),
    action=st.sampled_from(["INIT", "BACK", "data_exchange"]),
    screen=st.none() | st.sampled_from(["SHIFTS", "CONFIRM", "DETAILS", "OTHER"]),
    data=st.dictionaries(
        st.sampled_from(["shift_id", "name", "crm", "specialty", "x"]) | st.text(), _json
    ),
)
def test_handlers_answer_any_data_with_a_screen(
    name: str, action: str, screen: str | None, data: dict[str, Any]
) -> None:
    handler = BUILTIN_HANDLERS[name]()
    request = FlowRequest(name, action, screen=screen, data=data, flow_token="tok")
    reply = trio.run(handler, request)
    assert reply.screen in {*handler.screens, "SUCCESS"}  # type: ignore[attr-defined]
    json.dumps(reply.payload())

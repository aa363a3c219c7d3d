"""The Flow JSON rules: each one fails the definition that breaks it, and only that one."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from daemon.flows.validate import (
    Finding,
    has_errors,
    shape,
    validate,
    validate_file,
    validate_text,
)

FLOWS = Path(__file__).parents[4] / "flows"


def _screen(sid: str, *children: dict[str, Any], terminal: bool = False) -> dict[str, Any]:
    node: dict[str, Any] = {
        "id": sid,
        "layout": {"type": "SingleColumnLayout", "children": list(children)},
    }
    if terminal:
        node["terminal"] = True
    return node


def _footer(action: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Footer", "label": "Go", "on-click-action": action}


def _navigate(to: str) -> dict[str, Any]:
    return {"name": "navigate", "next": {"type": "screen", "name": to}}


def endpoint_flow() -> dict[str, Any]:
    """A valid two-screen flow with an endpoint."""
    return {
        "version": "7.0",
        "data_api_version": "3.0",
        "routing_model": {"A": ["B"], "B": []},
        "screens": [
            _screen("A", _footer(_navigate("B"))),
            _screen("B", _footer({"name": "data_exchange", "payload": {}}), terminal=True),
        ],
    }


def errors(doc: Any) -> list[str]:
    return [f"{f.field}: {f.message}" for f in validate(doc) if f.severity == "error"]


def one_error(doc: Any) -> str:
    found = errors(doc)
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("name", ["shift_booking", "doctor_onboarding"])
def test_the_shipped_flows_are_valid(name: str) -> None:
    doc, findings = validate_file(FLOWS / f"{name}.json")
    assert findings == []
    assert doc is not None
    assert shape(doc).uses_endpoint


def test_the_reference_flow_is_valid() -> None:
    assert validate(endpoint_flow()) == []
    assert shape(endpoint_flow()).terminal == frozenset({"B"})


def test_a_flow_without_endpoint_needs_no_routing_model() -> None:
    doc = endpoint_flow()
    del doc["data_api_version"], doc["routing_model"]
    doc["screens"][1]["layout"]["children"] = [_footer({"name": "complete", "payload": {}})]
    assert validate(doc) == []


@pytest.mark.parametrize("version", [None, 7, "7", "v7.0", ""])
def test_version_is_required_and_shaped(version: Any) -> None:
    doc = endpoint_flow()
    doc["version"] = version
    assert one_error(doc).startswith("version:")


def test_data_api_version_is_3_0() -> None:
    doc = endpoint_flow()
    doc["data_api_version"] = "2.0"
    assert one_error(doc).startswith("data_api_version:")


def test_data_channel_uri_is_gone_from_version_3() -> None:
    doc = endpoint_flow()
    doc["data_channel_uri"] = "https://example.com/flows"
    assert one_error(doc).startswith("data_channel_uri:")


@pytest.mark.parametrize("screens", [None, [], {}])
def test_screens_are_a_non_empty_list(screens: Any) -> None:
    doc = endpoint_flow()
    doc["screens"] = screens
    assert "screens: a non-empty list" in errors(doc)[0]


def test_screen_ids_are_unique_and_success_is_reserved() -> None:
    doc = endpoint_flow()
    doc["screens"][0]["id"] = "B"
    assert any('duplicate screen id "B"' in e for e in errors(doc))
    doc = endpoint_flow()
    doc["screens"][0]["id"] = "SUCCESS"
    assert any("SUCCESS is reserved" in e for e in errors(doc))


def test_a_screen_needs_a_single_column_layout() -> None:
    doc = endpoint_flow()
    doc["screens"][0]["layout"] = {"type": "Grid", "children": []}
    assert one_error(doc).startswith("screens[0].layout:")


def test_some_screen_must_be_terminal() -> None:
    doc = endpoint_flow()
    doc["screens"][1].pop("terminal")
    assert "at least one screen must be terminal" in " ".join(errors(doc))


def test_a_terminal_screen_needs_a_footer() -> None:
    doc = endpoint_flow()
    doc["screens"][1]["layout"]["children"] = [{"type": "TextBody", "text": "bye"}]
    assert one_error(doc) == "screens[1].layout: a terminal screen needs a Footer"


def test_navigate_must_name_an_existing_screen() -> None:
    doc = endpoint_flow()
    doc["screens"][0]["layout"]["children"] = [_footer(_navigate("NOPE"))]
    assert "navigate must name an existing screen" in one_error(doc)


def test_complete_only_on_a_terminal_screen() -> None:
    doc = endpoint_flow()
    doc["screens"][0]["layout"]["children"] = [_footer({"name": "complete", "payload": {}})]
    assert one_error(doc) == (
        "screens[0].layout.children[0].on-click-action.name: "
        "complete is only allowed on a terminal screen"
    )


def test_data_exchange_needs_an_endpoint() -> None:
    doc = endpoint_flow()
    del doc["data_api_version"]
    found = validate(doc)
    assert [f.field for f in found if f.severity == "error"] == [
        "screens[1].layout.children[0].on-click-action.name"
    ]
    assert (
        Finding("warning", "routing_model", "only flows with an endpoint (data_api_version) use it")
        in found
    )


def test_unknown_actions_are_errors() -> None:
    doc = endpoint_flow()
    doc["screens"][1]["layout"]["children"] = [_footer({"name": "teleport"})]
    assert "unknown action 'teleport'" in one_error(doc)


def test_an_endpoint_flow_needs_a_routing_model() -> None:
    doc = endpoint_flow()
    del doc["routing_model"]
    assert one_error(doc) == "routing_model: a flow with an endpoint (data_api_version) needs one"


@pytest.mark.parametrize(
    ("routing", "message"),
    [
        ({"A": ["B"], "B": [], "C": []}, 'routing_model.C: "C" is not a screen'),
        ({"A": ["B", "Z"], "B": []}, 'routing_model.A: routes to "Z", which is not a screen'),
        ({"A": ["B"]}, 'routing_model: screen "B" is missing'),
        ({"A": [], "B": []}, "routing_model.A: a non-terminal screen needs a route onwards"),
        ({"A": "B", "B": []}, "routing_model.A: a list of screen ids"),
    ],
)
def test_the_routing_model_names_every_screen_and_only_screens(
    routing: dict[str, Any], message: str
) -> None:
    doc = endpoint_flow()
    doc["routing_model"] = routing
    assert message in errors(doc)


def test_routes_must_not_cycle() -> None:
    doc = endpoint_flow()
    doc["routing_model"] = {"A": ["B"], "B": ["A"]}
    assert "routing_model: routes form a cycle: A → B → A" in errors(doc)


def test_each_navigate_is_a_route() -> None:
    doc = endpoint_flow()
    doc["screens"].insert(1, _screen("C", _footer(_navigate("B"))))
    doc["routing_model"] = {"A": ["C"], "C": ["B"], "B": []}
    assert one_error(doc) == (
        "screens[0].layout.children[0].on-click-action.next: "
        'navigate A → B is not a route in routing_model["A"]'
    )


def test_data_bindings_are_declared() -> None:
    doc = endpoint_flow()
    doc["screens"][0]["layout"]["children"].insert(0, {"type": "TextBody", "text": "${data.who}"})
    assert one_error(doc) == (
        "screens[0].layout.children[0].text: ${data.who} is not declared in the screen's data"
    )
    doc["screens"][0]["data"] = {"who": {"type": "string", "__example__": "Ana"}}
    assert validate(doc) == []


def test_a_data_field_without_example_is_a_warning() -> None:
    doc = endpoint_flow()
    doc["screens"][0]["data"] = {"who": {"type": "string"}}
    assert validate(doc) == [
        Finding("warning", "screens[0].data.who", "no __example__: the builder preview is empty")
    ]


def test_form_bindings_name_an_input_of_the_screen() -> None:
    doc = endpoint_flow()
    form = {
        "type": "Form",
        "name": "f",
        "children": [
            {"type": "TextInput", "name": "crm", "label": "CRM"},
            _footer({"name": "data_exchange", "payload": {"crm": "${form.crm}", "x": "${form.x}"}}),
        ],
    }
    doc["screens"][1]["layout"]["children"] = [form]
    assert "${form.x} names no input of this screen" in one_error(doc)


def test_each_problem_is_reported_at_once() -> None:
    doc = copy.deepcopy(endpoint_flow())
    doc["version"] = 1
    doc["screens"][0]["layout"]["children"] = [_footer(_navigate("NOPE"))]
    doc["routing_model"]["A"] = []
    assert len(errors(doc)) == 3
    assert has_errors(validate(doc))


@pytest.mark.parametrize("text", ["", "{", "[]", "42", '"flow"'])
def test_text_that_is_not_a_definition_is_one_error(text: str) -> None:
    doc, findings = validate_text(text)
    assert doc is None
    assert len(findings) == 1
    assert findings[0].severity == "error"


def test_an_unreadable_file_is_an_error(tmp_path: Path) -> None:
    _, findings = validate_file(tmp_path / "missing.json")
    assert has_errors(findings)
    assert json.dumps([str(f) for f in findings]).count("cannot read") == 1

"""Which template the send decision picks among those that qualify: RED quality only
when nothing else fits, then language preference, then the requested names, then name.
"""

from __future__ import annotations

import pytest

from actors.policy.cost import Intent, TemplateOption, pick_template
from tests.unit.actors.policy.cost_builders import req, run, tpl


@pytest.mark.parametrize(
    ("templates", "languages", "expected"),
    [
        # RED is avoided when another fits, even in a less preferred language...
        ((tpl("a", quality="RED"), tpl("b", language="en_US")), ("pt_BR", "en_US"), "b/en_US"),
        ((tpl("a", quality="RED"), tpl("b", quality="YELLOW")), ("pt_BR",), "b/pt_BR"),
        # ...but used when nothing else fits.
        ((tpl("a", quality="red"), tpl("b", status="PAUSED")), ("pt_BR",), "a/pt_BR"),
        # language preference, then name
        ((tpl("a", language="en_US"), tpl("b")), ("pt_BR", "en_US"), "b/pt_BR"),
        ((tpl("a", language="en_US"), tpl("b")), ("en_US", "pt_BR"), "a/en_US"),
        ((tpl("b"), tpl("a")), ("pt_BR",), "a/pt_BR"),
        ((tpl("a", language="pt-br"),), ("pt_BR",), "a/pt-br"),  # code spelling
        ((tpl("a", "utility", status="approved"),), ("pt_BR",), "a/pt_BR"),  # any case
    ],
)
def test_pick_template_ranking(
    templates: tuple[TemplateOption, ...], languages: tuple[str, ...], expected: str
) -> None:
    chosen, why = pick_template(templates, category="utility", languages=languages)
    assert chosen is not None, why
    assert chosen.label() == expected


def test_pick_template_name_preference() -> None:
    ts = (tpl("a"), tpl("b"), tpl("c"))
    chosen, _ = pick_template(ts, category="utility", languages=("pt_BR",), names=("c", "a"))
    assert chosen is not None
    assert chosen.name == "c"


def test_red_template_noted_in_reason() -> None:
    d = run(req(Intent.FOLLOW_UP), templates=(tpl("a", quality="RED"),))
    assert d.method == "utility_template"
    assert "quality RED" in d.reason

"""What a campaign sends (actors/campaign/content.py): carousel parts with their own
cards, through the runner against the fakes (fakes.py), and ``render_text``."""

from __future__ import annotations

import dataclasses

import pytest
from trio.testing import MockClock

from actors.campaign.cards import plan_cards
from actors.campaign.content import render_text
from tests.unit.actors.campaign.fakes import (
    CID,
    W1,
    A,
    World,
    carrossel_vagas,
    components,
    people,
    run_to_end,
    stored_spec,
)

# --- carousels ------------------------------------------------------------------------------


async def test_each_carousel_part_sends_its_own_cards(
    world: World, autojump_clock: MockClock
) -> None:
    listings = [
        {
            "vaga_id": f"V{i}",
            "hospital": f"Hospital {i}",
            "imagem_url": f"https://x.example/{i}.jpg",
        }
        for i in range(1, 5)
    ]
    plan = plan_cards(
        listings,
        campaign=CID,
        card_count=2,
        id_column="vaga_id",
        status_column=None,
        open_values=(),
        overflow="split",
        max_messages=3,
    )
    cards = [[dict(row) for row in group] for group in plan.groups]
    stored = stored_spec(
        cards,
        templates=[{"name": "carrossel_vagas"}],
        variables={"1": "primeiro_nome"},
        carousel={
            "listings": "shifts.csv",
            "id_column": "vaga_id",
            "overflow": "split",
            "cards": {"header": "imagem_url", "1": "hospital"},
        },
    )
    chip = world.chip(A)
    world.templates[W1] = [carrossel_vagas(W1)]
    base = people(1)[0]
    recs = [dataclasses.replace(base, key=f"{base.key}#{part + 1}", part=part) for part in range(2)]
    runner = world.runner(recs, stored=stored)
    await run_to_end(runner)
    assert runner.template_problems() == {}
    assert chip.keys() == ["1/SP#1", "1/SP#2"]
    for part, (_, send) in enumerate(chip.sends):
        assert send.template is not None
        assert send.template["name"] == "carrossel_vagas"
        comps = components(send)
        assert comps[0] == {"type": "body", "parameters": [{"type": "text", "text": "Doc1"}]}
        carousel = comps[-1]
        assert carousel["type"] == "carousel"
        payloads = [c["components"][-1]["parameters"][0]["payload"] for c in carousel["cards"]]
        ids = [f"V{2 * part + 1}", f"V{2 * part + 2}"]
        assert payloads == [f"mc:{CID}:{i}" for i in ids]
        images = [c["components"][0]["parameters"][0]["image"]["link"] for c in carousel["cards"]]
        assert images == [f"https://x.example/{i[1:]}.jpg" for i in ids]
        assert send.content is None


@pytest.mark.parametrize(
    ("text", "fields", "out"),
    [
        ("Oi {nome}!", {"nome": "Ana"}, "Oi Ana!"),
        ("Oi {nome}, {x}", {"nome": "Ana"}, "Oi Ana, {x}"),
        ("sem campos", {}, "sem campos"),
        ("{a}{b}", {"a": "1", "b": "2"}, "12"),
    ],
)
def test_render_text(text: str, fields: dict[str, str], out: str) -> None:
    assert render_text(text, fields) == out

"""Request models refuse what Meta would refuse, before anything is spent."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from daemon.graph.models import (
    BodyComponent,
    ButtonComponent,
    ButtonsAction,
    CarouselCard,
    CarouselComponent,
    FlowParameters,
    HeaderComponent,
    ImageParam,
    InteractiveHeader,
    ListAction,
    ListRow,
    ListSection,
    Media,
    OutboundMessage,
    ReplyButton,
    ReplyButtonBody,
    Template,
    Text,
    TextParam,
    VideoParam,
)


def test_payload_is_metas_shape_without_unset_fields() -> None:
    msg = OutboundMessage(
        to="5511987654321", type="text", text=Text(body="oi"), biz_opaque_callback_data="o:1"
    )
    assert msg.payload() == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "5511987654321",
        "type": "text",
        "text": {"body": "oi", "preview_url": False},
        "biz_opaque_callback_data": "o:1",
    }


@pytest.mark.parametrize(
    "build",
    [
        lambda: OutboundMessage(to="1", type="image", text=Text(body="x")),
        lambda: OutboundMessage(
            to="1", type="text", text=Text(body="x"), biz_opaque_callback_data="x" * 513
        ),
        lambda: Media(),
        lambda: Media(id="1", link="https://x"),
        lambda: ButtonsAction(
            buttons=[ReplyButton(reply=ReplyButtonBody(id=str(i), title="t")) for i in range(4)]
        ),
        lambda: ReplyButtonBody(id="1", title="x" * 21),
        lambda: ListAction(
            button="Ver",
            sections=[ListSection(rows=[ListRow(id=str(i), title="r") for i in range(11)])],
        ),
        lambda: FlowParameters(flow_token="t", flow_cta="Abrir"),
        lambda: InteractiveHeader(type="image", text="no image"),
        lambda: CarouselComponent(cards=[_card(0, "image")]),
        lambda: CarouselComponent(cards=[_card(0, "image"), _card(1, "video")]),
        lambda: CarouselComponent(cards=[_card(0, "image"), _card(2, "image")]),
        lambda: ButtonComponent(sub_type="quick_reply", index=10),
    ],
)
def test_refused_locally(build: Any) -> None:
    with pytest.raises(ValidationError):
        build()


def _card(i: int, kind: str) -> CarouselCard:
    media = Media(link="https://x/a")
    param = ImageParam(image=media) if kind == "image" else VideoParam(video=media)
    return CarouselCard(card_index=i, components=[HeaderComponent(parameters=[param])])


def test_template_helpers_and_named_parameters() -> None:
    t = Template.simple("vaga", "pt_BR", "a", "b")
    assert t.model_dump(exclude_none=True)["components"][0]["parameters"][1] == {
        "type": "text",
        "text": "b",
    }
    named = BodyComponent(parameters=[TextParam(text="Ana", parameter_name="nome")])
    assert named.model_dump(exclude_none=True)["parameters"][0]["parameter_name"] == "nome"
    assert Template.simple("hello_world", "en_US").components == []

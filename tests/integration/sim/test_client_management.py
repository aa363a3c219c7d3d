"""Every management method of the Graph client against the running simulator."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from daemon.graph import GraphError, Reaction
from daemon.graph.resources import (
    CatalogItemData,
    CatalogItemRequest,
    TemplateComponentSpec,
    TemplateSpec,
)
from tests.integration.sim.conftest import PID_A1, PID_B1, WABA_A, WABA_B, SimEnv

FLOW_JSON = {
    "version": "6.0",
    "screens": [
        {
            "id": "WELCOME",
            "title": "Cadastro",
            "terminal": True,
            "layout": {"type": "SingleColumnLayout", "children": []},
        }
    ],
}


async def test_templates_list_pages_get_create_edit_delete(env: SimEnv) -> None:
    c = env.client
    first = await c.list_templates(WABA_A, limit=3)
    assert len(first.data) == 3
    assert first.after is not None
    everything = [t async for t in c.iter_templates(WABA_A, page_size=2)]
    names = {t.name for t in everything}
    assert {"hello_world", "vaga_plantao", "promo_pausada"} <= names
    hello = next(t for t in everything if t.name == "hello_world")
    got = await c.get_template(hello.id, waba_id=WABA_A)
    assert got.language == "en_US"
    assert got.status == "APPROVED"

    spec = TemplateSpec(
        name="aviso_escala",
        language="pt_BR",
        category="UTILITY",
        components=[
            TemplateComponentSpec(
                type="BODY", text="Olá {{1}}, sua escala de amanhã mudou. Confira."
            )
        ],
    )
    created = await c.create_template(WABA_A, spec)
    assert created.status == "PENDING"
    approved = await env.receiver.wait_for(
        lambda: [
            ch
            for ch in env.receiver.changes("message_template_status_update")
            if ch["value"]["message_template_id"] == int(created.id)
        ]
    )
    assert approved[0]["value"]["event"] == "APPROVED"
    new_body = TemplateComponentSpec(
        type="BODY", text="Oi {{1}}, sua escala mudou. Veja no app, por favor."
    )
    await c.edit_template(created.id, waba_id=WABA_A, components=[new_body])
    assert (await c.get_template(created.id, waba_id=WABA_A)).status == "PENDING"
    await c.delete_template(WABA_A, "aviso_escala")
    assert not (await c.list_templates(WABA_A, name="aviso_escala")).data
    with pytest.raises(GraphError) as exc:
        await c.delete_template(WABA_A, "aviso_escala")
    assert exc.value.code == 100
    assert exc.value.reaction is Reaction.FIX_REQUEST


async def test_template_review_rejects_and_recategorises(env: SimEnv) -> None:
    bad = TemplateSpec(
        name="so_variavel",
        language="pt_BR",
        category="MARKETING",
        components=[TemplateComponentSpec(type="BODY", text="{{1}} venha trabalhar")],
    )
    promo = TemplateSpec(
        name="oferta_util",
        language="pt_BR",
        category="UTILITY",
        components=[
            TemplateComponentSpec(type="BODY", text="Aproveite o desconto de hoje nas vagas.")
        ],
    )
    rejected = await env.client.create_template(WABA_A, bad)
    moved = await env.client.create_template(WABA_A, promo)
    events = await env.receiver.wait_for(
        lambda: (
            len(env.receiver.changes("message_template_status_update")) >= 2
            and env.receiver.changes("template_category_update")
        )
    )
    assert events
    by_id = {
        ch["value"]["message_template_id"]: ch["value"]
        for ch in env.receiver.changes("message_template_status_update")
    }
    assert by_id[int(rejected.id)]["event"] == "REJECTED"
    assert by_id[int(moved.id)]["event"] == "APPROVED"
    category = env.receiver.changes("template_category_update")[0]["value"]
    assert (category["previous_category"], category["new_category"]) == ("UTILITY", "MARKETING")
    with pytest.raises(GraphError) as exc:
        await env.client.create_template(WABA_A, promo)
    assert exc.value.subcode == 2388024


async def test_phone_numbers(env: SimEnv) -> None:
    number = await env.client.get_phone_number(PID_A1)
    assert number.quality_rating == "GREEN"
    assert number.messaging_limit_tier == "TIER_1K"
    assert number.status == "CONNECTED"
    assert number.name_status == "APPROVED"
    assert number.throughput is not None
    assert number.throughput.level == "STANDARD"
    assert number.display_phone_number == "5511940000001"
    numbers = await env.client.list_phone_numbers(WABA_A)
    assert [n.id for n in numbers] == [PID_A1, "200000000000002"]


async def test_media_upload_get_download_delete(env: SimEnv) -> None:
    c = env.client
    media_id = await c.upload_media(PID_A1, b"\xff\xd8\xff fake jpeg", "image/jpeg", "crm.jpg")
    info = await c.get_media(media_id, phone_number_id=PID_A1)
    assert info.mime_type == "image/jpeg"
    assert info.file_size == 13
    assert await c.download_media(info, phone_number_id=PID_A1) == b"\xff\xd8\xff fake jpeg"
    await c.delete_media(media_id, phone_number_id=PID_A1)
    with pytest.raises(GraphError) as exc:
        await c.get_media(media_id, phone_number_id=PID_A1)
    assert (exc.value.code, exc.value.subcode) == (100, 33)
    with pytest.raises(GraphError) as exc:
        await c.upload_media(PID_A1, b"x", "application/x-msdownload", "a.exe")
    assert exc.value.code == 131053
    assert exc.value.reaction is Reaction.FIX_REQUEST


async def test_flows_life_cycle_assets_metrics_and_key(env: SimEnv) -> None:
    c = env.client
    flow_id = await c.create_flow(
        WABA_A, "cadastro", ["SIGN_UP"], endpoint_uri="https://x.example/flows"
    )
    errors = await c.update_flow_json(flow_id, {"version": "6.0"}, waba_id=WABA_A)
    assert errors
    assert errors[0].error == "MISSING_REQUIRED_PROPERTY"
    with pytest.raises(GraphError):
        await c.publish_flow(flow_id, waba_id=WABA_A)
    assert await c.update_flow_json(flow_id, FLOW_JSON, waba_id=WABA_A) == []
    assets = await c.flow_assets(flow_id, waba_id=WABA_A)
    assert assets[0].asset_type == "FLOW_JSON"
    await c.publish_flow(flow_id, waba_id=WABA_A)
    assert (await c.get_flow(flow_id, waba_id=WABA_A)).status == "PUBLISHED"
    with pytest.raises(GraphError):
        await c.delete_flow(flow_id, waba_id=WABA_A)
    await c.deprecate_flow(flow_id, waba_id=WABA_A)
    metric = await c.flow_metrics(
        flow_id,
        waba_id=WABA_A,
        metric="ENDPOINT_REQUEST_COUNT",
        since="2025-07-01",
        until="2025-07-03",
    )
    assert metric.name == "ENDPOINT_REQUEST_COUNT"
    assert len(metric.data_points) == 3
    draft = await c.create_flow(WABA_A, "rascunho", ["OTHER"])
    assert {f.id for f in await c.list_flows(WABA_A)} == {flow_id, draft}
    await c.delete_flow(draft, waba_id=WABA_A)
    assert [f.id for f in await c.list_flows(WABA_A)] == [flow_id]

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    await c.set_business_public_key(PID_A1, pem)
    got = await c.get_business_public_key(PID_A1)
    assert got.business_public_key == pem
    assert got.business_public_key_signature_status == "VALID"
    with pytest.raises(GraphError) as exc:
        await c.set_business_public_key(PID_A1, "not a key")
    assert exc.value.code == 100


async def test_catalog_items_batch_and_status(env: SimEnv) -> None:
    state = await env.ctl("GET", "state")
    catalog_a = next(k for k, v in state["catalogs"].items() if v == WABA_A)
    requests = [
        CatalogItemRequest(
            method="CREATE",
            data=CatalogItemData(
                id="V1001",
                title="Plantão UTI",
                description="Data: 2026-12-02",
                availability="in stock",
                condition="new",
                price="1500.00 BRL",
                link="https://example.com/vagas/V1001",
                image_link="https://cdn.example.com/vagas/V1001.jpg",
            ),
        ),
        CatalogItemRequest(method="DELETE", data=CatalogItemData(id="V0999")),
    ]
    handles = await env.client.items_batch(catalog_a, requests, waba_id=WABA_A)
    status = await env.client.batch_status(catalog_a, handles[0], waba_id=WABA_A)
    assert status.status == "finished"
    # The batch is taken; the item that names no product fails alone.
    assert [(e["line"], e["id"]) for e in status.errors] == [(1, "V0999")]
    with pytest.raises(GraphError) as exc:  # a WABA B token on WABA A's catalog
        await env.client.items_batch(catalog_a, requests, waba_id=WABA_B)
    assert exc.value.code == 200
    assert exc.value.reaction is Reaction.STOP_ACTION
    with pytest.raises(GraphError) as exc:  # an id that does not exist
        await env.client.get_template("999999999", waba_id=WABA_A)
    assert (exc.value.code, exc.value.subcode) == (100, 33)
    with pytest.raises(GraphError) as exc:  # no token configured: refused before sending
        await env.client.get_phone_number(PID_B1.replace("3", "9"))
    assert exc.value.code == 190
    assert not exc.value.sent

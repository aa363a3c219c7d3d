"""Loading a campaign for ``plan`` and ``start``: what is refused (it could never send),
what is only a note (a sync or a review away), and what the plan shows; finding a
campaign file by its declared name. The store is a fake: these read it only."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, cast

import pytest

from actors.ports import TemplateRecord
from config import ConfigError, MetadConfig
from config.loader import load_config
from daemon.campaigns.service import campaign_file_in, find_campaign_file, load_prepared, plan
from daemon.store import Store
from tests.unit.daemon.campaigns.test_checks import CARROSSEL, LEMBRETE, VAGA, W1, W2, rec

REPO = Path(__file__).resolve().parents[4]
NOW = dt.datetime(2026, 11, 26, 18, 0, tzinfo=dt.UTC)
AUDIENCE = """\
crm,nome,telefone,esp,opt_out
1,Ana,+55 11 98765-4321,Pediatria,não

2,Bia,12345,Clínica,não
3,Caio,5511987654322,Cardiologia,sim
4,Duda,5511987654323,Anestesia,não
"""
SHIFTS = "vaga_id,hospital,img,status\n" + "".join(
    f"V{i},H{i},https://cdn.example.com/{i}.jpg,{'fechada' if i % 5 == 0 else 'aberta'}\n"
    for i in range(1, 26)
)


class _Templates:
    def __init__(self, by_waba: dict[str, list[TemplateRecord]]) -> None:
        self.by_waba = by_waba

    async def load_templates(self, waba_id: str) -> list[TemplateRecord]:
        return list(self.by_waba.get(waba_id, []))


class _Campaigns:
    async def opted_out(self) -> frozenset[str]:
        return frozenset()


class _Chips:
    async def load(self, pnid: str) -> None:
        return None


class FakeStore:
    def __init__(self, by_waba: dict[str, list[TemplateRecord]]) -> None:
        self.templates = _Templates(by_waba)
        self.campaigns = _Campaigns()
        self.chips = _Chips()

    async def fetch(self, sql: str, *args: object) -> list[dict[str, Any]]:
        return []  # no open windows


def store(*records: TemplateRecord, only: str | None = None) -> Store:
    """Both WABAs with ``records`` (or only the WABA ``only``)."""
    wabas = [only] if only else [W1, W2]
    return cast(Store, FakeStore({w: list(records) for w in wabas}))


@pytest.fixture
def cfg(tmp_path: Path) -> MetadConfig:
    base = load_config(REPO / "metad.toml")
    return base.model_copy(
        update={"campaigns": base.campaigns.model_copy(update={"dir": tmp_path})}
    )


def write(tmp_path: Path, body: str, name: str = "c") -> Path:
    (tmp_path / "a.csv").write_text(AUDIENCE, encoding="utf-8")
    (tmp_path / "shifts.csv").write_text(SHIFTS, encoding="utf-8")
    path = tmp_path / f"{name}.toml"
    path.write_text(
        f'name = "{name}"\n[audience]\nfile = "a.csv"\nopt_out_column = "opt_out"\n' + body,
        encoding="utf-8",
    )
    return path


VAGA_FILE = '[[templates]]\nname = "vaga_plantao"\n[variables]\n"1" = "nome"\n"2" = "esp"\n'


async def refused(path: Path, cfg: MetadConfig, st: Store) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        await load_prepared(st, cfg, path, now=NOW)
    return [str(i) for i in caught.value.issues]


# --- refused: it could never send ---------------------------------------------------------------


async def test_a_template_no_waba_has(tmp_path: Path, cfg: MetadConfig) -> None:
    path = write(tmp_path, VAGA_FILE.replace("vaga_plantao", "nao_existe"))
    assert await refused(path, cfg, store(VAGA, LEMBRETE)) == [
        f'{path}:6: templates[0].name: no template "nao_existe" among the synced ones'
        " (created since the last sync? run `metad ctl templates sync`)"
    ]


async def test_a_slot_the_template_lacks(tmp_path: Path, cfg: MetadConfig) -> None:
    path = write(tmp_path, VAGA_FILE + '"3" = "nome"\n')
    assert await refused(path, cfg, store(VAGA)) == [
        f'{path}:10: variables.3: vaga_plantao/pt_BR has no slot "3" (its slots: 1, 2, button.0)'
    ]


async def test_an_unmapped_url_button(tmp_path: Path, cfg: MetadConfig) -> None:
    path = write(tmp_path, '[[templates]]\nname = "lembrete_plantao"\n[variables]\ndata = "esp"\n')
    (issue,) = await refused(path, cfg, store(LEMBRETE))
    assert issue.startswith(
        f'{path}:7: variables."button.0": lembrete_plantao/pt_BR needs a value for its URL button 0'
    )


async def test_an_unknown_key_in_a_variable_is_the_files_own_error(
    tmp_path: Path, cfg: MetadConfig
) -> None:
    path = write(tmp_path, VAGA_FILE.replace('"esp"', '{ column = "esp", defualt = "Clínica" }'))
    assert await refused(path, cfg, store(VAGA)) == [
        f'{path}:9: variables.2: unknown key "defualt" (a slot takes column, aliases, default)'
    ]


async def test_an_end_already_past(tmp_path: Path, cfg: MetadConfig) -> None:
    schedule = "[schedule]\nstart = 2026-11-20T09:00:00\nend = 2026-11-21T10:00:00\n"
    path = write(tmp_path, VAGA_FILE + schedule)
    assert await refused(path, cfg, store(VAGA)) == [
        f"{path}:12: schedule.end: 2026-11-21T10:00 is past: the campaign could never send"
    ]


async def test_unknown_chips_and_wabas(tmp_path: Path, cfg: MetadConfig) -> None:
    routing = '[routing]\nchips = ["200000000000001", "nope"]\n'
    body = VAGA_FILE.replace("[variables]", 'waba = "100000000000009"\n[variables]') + routing
    path = write(tmp_path, body)
    configured = "200000000000001, 200000000000002, 200000000000003"
    assert await refused(path, cfg, store(VAGA)) == [
        f'{path}:7: templates[0].waba: unknown WABA "100000000000009" (configured: {W1}, {W2})',
        f'{path}:12: routing.chips[1]: unknown chip "nope" (configured: {configured})',
    ]


async def test_a_carousel_whose_template_nothing_has_synced(
    tmp_path: Path, cfg: MetadConfig
) -> None:
    body = (
        '[[templates]]\nname = "carrossel_vagas"\n[variables]\n"1" = "nome"\n'
        '[carousel]\nlistings = "shifts.csv"\nid_column = "vaga_id"\n'
    )
    path = write(tmp_path, body)
    (issue,) = await refused(path, cfg, store())
    assert issue == (
        f"{path}:9: carousel: the cards cannot be planned before carrossel_vagas/pt_BR"
        " is synced: run `metad ctl templates sync`"
    )


async def test_a_missing_file_lists_the_campaigns_there_are(
    tmp_path: Path, cfg: MetadConfig
) -> None:
    write(tmp_path, VAGA_FILE, name="shifts")
    assert await refused(tmp_path / "nope.toml", cfg, store(VAGA)) == [
        f"{tmp_path / 'nope.toml'}: cannot read: no such file (the campaigns in {tmp_path}: shifts)"
    ]


# --- accepted, with notes -------------------------------------------------------------------


async def test_one_waba_with_the_template_sends_the_others_are_notes(
    tmp_path: Path, cfg: MetadConfig
) -> None:
    other = f'[[templates]]\nwaba = "{W2}"\nname = "nao_existe"\n'
    path = write(tmp_path, other + VAGA_FILE.replace("[[templates]]", '[[templates]]\nwaba = "*"'))
    st = store(VAGA)
    p = await plan(st, cfg, await load_prepared(st, cfg, path, now=NOW), now=NOW)
    assert p["valid"] == 2
    assert p["template_problems"] == {
        W2: 'templates[0].name: no template "nao_existe" among the synced ones'
        " (created since the last sync? run `metad ctl templates sync`)"
    }


@pytest.mark.parametrize(
    ("records", "note"),
    [
        pytest.param((), "no templates synced for this WABA yet: run `metad ctl templates sync`"),
        pytest.param(
            (rec(VAGA.name, list(VAGA.components), status="PENDING"),),
            "vaga_plantao/pt_BR is PENDING (in Meta's review: the campaign waits for it)",
        ),
    ],
    ids=["not-synced", "pending"],
)
async def test_a_template_a_sync_or_a_review_away_is_a_note(
    tmp_path: Path, cfg: MetadConfig, records: tuple[TemplateRecord, ...], note: str
) -> None:
    path = write(tmp_path, VAGA_FILE)
    st = store(*records)
    p = await plan(st, cfg, await load_prepared(st, cfg, path, now=NOW), now=NOW)
    assert p["valid"] == 0
    assert p["template_problems"] == {W1: note, W2: note}
    why = "no chip: no WABA of the pool has the campaign's template approved"
    assert p["skipped_by_reason"][why] == 2


# --- the plan ----------------------------------------------------------------------------------


async def test_skipped_rows_with_their_line_phone_and_reason(
    tmp_path: Path, cfg: MetadConfig
) -> None:
    path = write(tmp_path, VAGA_FILE)
    st = store(VAGA, only=W1)  # W2 has nothing synced: its chip is not used
    prepared = await load_prepared(st, cfg, path, now=NOW)
    p = await plan(st, cfg, prepared, now=NOW, list_skipped=True)
    assert p["skipped_rows"] == [
        {"row": 2, "at": "a.csv:4", "phone": "12345", "reason": "bad number: '12345'"},
        {"row": 3, "at": "a.csv:5", "phone": "5511987654322", "reason": "opted out"},
    ]
    assert "skipped_rows" not in await plan(st, cfg, prepared, now=NOW)


async def test_a_missing_variable_names_its_slot(tmp_path: Path, cfg: MetadConfig) -> None:
    (tmp_path / "b.csv").write_text("telefone,nome,esp\n5511987654321,Ana,\n5511987654322,Bia,X\n")
    path = write(tmp_path, VAGA_FILE)
    path.write_text(path.read_text().replace('"a.csv"', '"b.csv"'))
    st = store(VAGA)
    p = await plan(st, cfg, await load_prepared(st, cfg, path, now=NOW), now=NOW, list_skipped=True)
    assert p["skipped_by_reason"] == {"missing variable: 2": 1}
    assert p["skipped_rows"] == [
        {
            "row": 1,
            "at": "b.csv:2",
            "phone": "5511987654321",
            "reason": "missing variable: 2: no value in esp",
        }
    ]


async def test_the_plan_says_what_became_of_the_listings(tmp_path: Path, cfg: MetadConfig) -> None:
    body = (
        '[[templates]]\nname = "carrossel_vagas"\n[variables]\n"1" = "nome"\n'
        '[carousel]\nlistings = "shifts.csv"\nid_column = "vaga_id"\nstatus_column = "status"\n'
        'overflow = "split"\nmax_messages = 3\n'
        '[carousel.cards]\nheader = "img"\n"1" = "hospital"\n'
    )
    path = write(tmp_path, body)
    st = store(CARROSSEL)
    p = await plan(st, cfg, await load_prepared(st, cfg, path, now=NOW), now=NOW)
    assert p["cards"] == [2, 2, 2]
    assert p["listings"] == {
        "used": 6, "closed": 5, "left_out": 14, "overflow": "split", "max_messages": 3,
    }  # fmt: skip
    assert p["valid"] == 6  # two recipients, three carousels each


# --- finding the file ------------------------------------------------------------------------


def test_a_name_finds_the_file_that_declares_it(tmp_path: Path, cfg: MetadConfig) -> None:
    (tmp_path / "demo_carousel.toml").write_text('name = "demo-carousel"\n')
    (tmp_path / "broken.toml").write_text("name = \n")
    assert find_campaign_file(cfg, "demo-carousel") == tmp_path / "demo_carousel.toml"


def test_the_files_own_name_wins_when_it_declares_the_name(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('name = "b"\n')
    (tmp_path / "b.toml").write_text('name = "b"\n')
    assert campaign_file_in(tmp_path, "b") == tmp_path / "b.toml"


@pytest.mark.parametrize("files", [{}, {"x.toml": 'name = "y"\n'}], ids=["empty", "other"])
def test_no_file_declares_the_name(tmp_path: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert campaign_file_in(tmp_path, "x") == tmp_path / "x.toml"
    assert campaign_file_in(tmp_path / "absent", "x") == tmp_path / "absent" / "x.toml"


def test_a_path_is_taken_as_given(tmp_path: Path, cfg: MetadConfig) -> None:
    assert find_campaign_file(cfg, "elsewhere/c.toml") == Path("elsewhere/c.toml")

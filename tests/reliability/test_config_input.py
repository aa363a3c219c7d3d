"""Part 6: a generated set of broken ``metad.toml`` and campaign files, bad phone
numbers, CSVs with bad encodings and missing columns.

Every broken input must give a clear error naming the file and the line (a
:class:`ConfigError` whose issues all carry both), never another exception; a valid
mutation (deleting an optional line, say) may load. The daemon-side "nothing
half-applied" checks (reload, campaign start) are in ``test_security.py``, which runs a
daemon anyway.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from config import ConfigError, load_config
from config.campaign import load_campaign
from daemon.campaigns.files import read_rows
from daemon.campaigns.prepare import prepare

REPO = Path(__file__).resolve().parents[2]
BAD_VALUES = ('"x"', "-1", "[]", "{}", "true", "1e999", '"env:"', '"🙂"', "0")
KEY_LINE = re.compile(r"^\s*([A-Za-z0-9_\"-]+)\s*=")


def mutations(text: str) -> Iterator[tuple[str, str]]:
    """(what, mutated text) for one file: line deletions, wrong values, unknown keys,
    duplicated lines, syntax garbage and truncations, deterministically."""
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        n = i + 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        yield f"line {n} deleted", "".join(lines[:i] + lines[i + 1 :])
        yield f"line {n} doubled", "".join([*lines[: i + 1], line, *lines[i + 1 :]])
        yield f"garbage after line {n}", "".join([*lines[: i + 1], "= = nope\n", *lines[i + 1 :]])
        yield f"truncated in line {n}", "".join(lines[:i]) + line[: len(line) // 2]
        if KEY_LINE.match(line):
            key = line.split("=", 1)[0]
            for bad in BAD_VALUES[(i % 3) :: 3]:
                yield (
                    f"line {n} = {bad}",
                    "".join([*lines[:i], f"{key}= {bad}\n", *lines[i + 1 :]]),
                )
            yield (
                f"unknown key after line {n}",
                "".join([*lines[: i + 1], "bogus_key_zz = 1\n", *lines[i + 1 :]]),
            )


def check_error(exc: ConfigError, path: Path, text: str, what: str) -> list[str]:
    """Problems with an error: an issue without the file, without a line, or out of range."""
    bad = []
    last = text.count("\n") + 1
    for issue in exc.issues:
        if issue.file != str(path):
            bad.append(f"{what}: names {issue.file!r}, not the file: {issue}")
        elif issue.line is None or not 1 <= issue.line <= last:
            bad.append(f"{what}: no usable line ({issue.line}): {issue}")
        elif not issue.message:
            bad.append(f"{what}: no message: {issue}")
    return bad


@pytest.mark.parametrize("source", ["metad.toml", "deploy/metad.production.toml"])
def test_broken_daemon_configs_name_file_and_line(source: str, tmp_path: Path) -> None:
    text = (REPO / source).read_text(encoding="utf-8")
    path = tmp_path / "metad.toml"
    problems: list[str] = []
    errors = 0
    for what, mutated in mutations(text):
        path.write_text(mutated, encoding="utf-8")
        try:
            load_config(path)
        except ConfigError as exc:
            errors += 1
            problems += check_error(exc, path, mutated, what)
        except Exception as exc:
            problems.append(f"{what}: {type(exc).__name__}: {exc}")
    assert errors > 100  # the set really is broken, mostly
    assert problems == []


def test_config_bytes_that_are_not_utf8_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "metad.toml"
    text = (REPO / "metad.toml").read_bytes()
    cut = text.index(b"\n", len(text) // 2) + 1
    path.write_bytes(text[:cut] + b'name = "\xe9t\xe9"\n' + text[cut:])
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (issue,) = caught.value.issues
    assert issue.line == text[:cut].count(b"\n") + 1


def test_metad_check_prints_file_line_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "metad.toml"
    text = (REPO / "metad.toml").read_text(encoding="utf-8")
    path.write_text(text.replace("[sandbox]", "[sandbox]\nbogus_key_zz = 1", 1), encoding="utf-8")
    out = subprocess.run(
        [sys.executable, "-m", "daemon", "check", "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    said = out.stdout + out.stderr
    assert out.returncode == 2, said
    assert "Traceback" not in said
    assert re.search(rf"^{re.escape(str(path))}:\d+: sandbox\.bogus_key_zz: ", said, re.M), said


# --- campaign files ----------------------------------------------------------------------


@pytest.fixture
def campaign_dir(tmp_path: Path) -> Path:
    for name in ("demo.toml", "demo_audience.csv"):
        shutil.copy(REPO / "campaigns" / name, tmp_path / name)
    return tmp_path


def test_broken_campaign_files_name_file_and_line(campaign_dir: Path) -> None:
    source = campaign_dir / "demo.toml"
    text = source.read_text(encoding="utf-8")
    problems: list[str] = []
    errors = 0
    for what, mutated in mutations(text):
        source.write_text(mutated, encoding="utf-8")
        try:
            spec = load_campaign(source)
            rows = read_rows(spec.audience.file) if spec.audience.file is not None else []
            prepare(spec, rows=rows, file=str(source))
        except ConfigError as exc:
            errors += 1
            for issue in exc.issues:  # the campaign file, or the data file it names
                target = Path(issue.file)
                shown = target.read_text(encoding="utf-8", errors="replace")
                problems += check_error(ConfigError([issue]), target, shown, what)
        except Exception as exc:
            problems.append(f"{what}: {type(exc).__name__}: {exc}")
    assert errors > 50
    assert problems == []


AUDIENCE = "crm,nome,telefone\n1/SP,Ana,+5511987654321\n2/SP,Bia,+5511987654322\n"


def _campaign(folder: Path, csv_bytes: bytes, extra: str = "") -> Path:
    (folder / "people.csv").write_bytes(csv_bytes)
    path = folder / "c.toml"
    path.write_text(
        'name = "c"\n[audience]\nfile = "people.csv"\n' + extra + "[[templates]]\n"
        'name = "vaga_plantao"\nlanguage = "pt_BR"\n[variables]\n"1" = "nome"\n',
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize(
    ("what", "data", "line"),
    [
        ("latin-1", AUDIENCE.replace("Bia", "Béa").encode("latin-1"), 3),
        ("utf-16", AUDIENCE.encode("utf-16"), 1),
        ("binary", b"\x00\xff\xfe\x00garbage\n\x89PNG\r\n", 1),
        ("more fields than the header", (AUDIENCE + "3/SP,Cy,+5511987654323,extra\n").encode(), 4),
    ],
)
def test_unreadable_audience_csv_names_its_line(
    tmp_path: Path, what: str, data: bytes, line: int
) -> None:
    path = _campaign(tmp_path, data)
    spec = load_campaign(path)
    assert spec.audience.file is not None
    with pytest.raises(ConfigError) as caught:
        prepare(spec, rows=read_rows(spec.audience.file), file=str(path))
    (issue,) = caught.value.issues
    assert (issue.file, issue.line) == (str(tmp_path / "people.csv"), line), (what, str(issue))


@pytest.mark.parametrize(
    ("data", "extra", "field"),
    [
        (b"crm,nome\n1/SP,Ana\n", "", "audience.phone_column"),
        (AUDIENCE.encode(), 'phone_column = "celular"\n', "audience.phone_column"),
        (b"", "", ""),  # no header at all: the CSV's own error, at its line 1
    ],
)
def test_audience_without_its_phone_column_names_the_header(
    tmp_path: Path, data: bytes, extra: str, field: str
) -> None:
    path = _campaign(tmp_path, data, extra)
    spec = load_campaign(path)
    assert spec.audience.file is not None
    with pytest.raises(ConfigError) as caught:
        prepare(spec, rows=read_rows(spec.audience.file), file=str(path))
    (issue,) = caught.value.issues
    assert issue.field == field, str(issue)
    assert issue.line is not None, str(issue)
    assert issue.file in (str(path), str(tmp_path / "people.csv")), str(issue)


BAD_NUMBERS = ["", "abc", "+55", "123", "+55 11 9876", "5511" + "9" * 20, "++5511987654321", "🙂"]


def test_invalid_phone_numbers_are_skipped_with_their_row_and_reason(tmp_path: Path) -> None:
    rows = "".join(f"{i}/SP,Dr {i},{n}\n" for i, n in enumerate(BAD_NUMBERS))
    good = "99/SP,Dr ok,+55 (11) 98765-4321\n"
    path = _campaign(tmp_path, ("crm,nome,telefone\n" + rows + good).encode())
    spec = load_campaign(path)
    assert spec.audience.file is not None
    prepared = prepare(spec, rows=read_rows(spec.audience.file), file=str(path))
    assert prepared.sendable == 1
    skipped = {r.seq: r for r in prepared.recipients if r.state == "skipped"}
    assert sorted(skipped) == list(range(1, len(BAD_NUMBERS) + 1))
    assert all(r.reason and ("number" in r.reason) for r in skipped.values()), skipped

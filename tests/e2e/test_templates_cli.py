"""``metad templates lint``: the review rules from the shell, with exit codes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.support import metad_command

GOOD = {
    "name": "shift_confirmation",
    "language": "pt_BR",
    "category": "UTILITY",
    "components": [
        {
            "type": "BODY",
            "text": "Olá {{1}}, seu plantão em {{2}} está confirmado para amanhã cedo.",
            "example": {"body_text": [["Ana", "Hospital Sírio"]]},
        }
    ],
}
BAD = {
    "name": "Promo",
    "language": "pt_BR",
    "category": "UTILITY",
    "components": [{"type": "BODY", "text": "{{1}} {{2}} desconto"}],
}


def _lint(*files: Path, json_out: bool = False) -> subprocess.CompletedProcess[str]:
    args = ["templates", "lint", *map(str, files)] + (["--json"] if json_out else [])
    return subprocess.run(metad_command(*args), capture_output=True, text=True, check=False)


def test_a_clean_template_passes(tmp_path: Path) -> None:
    path = tmp_path / "ok.json"
    path.write_text(json.dumps(GOOD))
    out = _lint(path)
    assert out.returncode == 0, out.stdout
    assert f"{path}: ok" in out.stdout


def test_rule_breaks_are_named_with_their_field_and_exit_1(tmp_path: Path) -> None:
    good, bad = tmp_path / "ok.json", tmp_path / "bad.json"
    good.write_text(json.dumps(GOOD))
    bad.write_text(json.dumps(BAD))
    out = _lint(good, bad)
    assert out.returncode == 1
    assert "error: components[0].text: the body cannot start with a variable" in out.stdout
    report = json.loads(_lint(bad, json_out=True).stdout)
    fields = {f["field"] for f in report[str(bad)]}
    assert {"name", "components[0].text"} <= fields


def test_an_unreadable_file_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    out = _lint(tmp_path / "missing.json")
    assert out.returncode == 1
    assert "cannot read" in out.stdout
    assert "Traceback" not in out.stderr


def test_a_field_of_the_wrong_json_type_is_an_error_not_ok(tmp_path: Path) -> None:
    """The creation call refuses it, so lint must too (it used to say ok)."""
    path = tmp_path / "e.json"
    body = {"type": "BODY", "format": 5, "text": "Oi, seu plantão está confirmado para amanhã."}
    path.write_text(json.dumps({**GOOD, "components": [body]}))
    out = _lint(path)
    assert out.returncode == 1
    assert "error: components[0].format: must be a string" in out.stdout

"""Loading metad.toml: every problem names the file, the line and the field."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from config import ConfigError, ConfigIssue, load_config, parse_config, resolve_secrets

DEFAULT = Path(__file__).parents[3] / "metad.toml"

FLEET = """\
[sandbox]
enabled = true

[[wabas]]
id = "1"

[[wabas]]
id = "2"

[[chips]]
phone_number_id = "10"
display_number = "+55 11 90000-0010"
waba = "1"
"""


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work in tmp_path, so messages show the bare file name the test gave."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def errors(text: str, name: str = "metad.toml") -> str:
    Path(name).write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(name)
    return str(info.value)


def test_default_config_loads() -> None:
    cfg = load_config(DEFAULT)
    assert cfg.sandbox.enabled
    assert [w.id for w in cfg.wabas] == ["100000000000001", "100000000000002"]
    assert len(cfg.chips) == 3
    assert cfg.daemon.state_dir == DEFAULT.parent / "var" / "state"
    assert cfg.campaigns.dir == DEFAULT.parent / "campaigns"
    assert cfg.source is not None
    assert cfg.source.file == str(DEFAULT)
    secrets = resolve_secrets(cfg, environ={})
    assert set(secrets.tokens) == {c.phone_number_id for c in cfg.chips}


def test_minimal_config_loads(in_tmp: Path) -> None:
    Path("metad.toml").write_text(FLEET, encoding="utf-8")
    cfg = load_config("metad.toml")
    assert cfg.chips[0].waba == "1"
    assert cfg.daemon.runtime_dir == in_tmp / "var" / "run"


def test_wrong_type(in_tmp: Path) -> None:
    text = FLEET + 'throughput_mps = "abc"\n'
    assert errors(text) == (
        'metad.toml:14: chips[0].throughput_mps: Input should be a valid integer, got "abc"'
    )


def test_wrong_type_for_a_table(in_tmp: Path) -> None:
    assert errors("daemon = 5\n") == "metad.toml:1: daemon: Input should be a table, got 5"


def test_literal_and_pattern_are_worded_for_toml(in_tmp: Path) -> None:
    text = '[daemon]\nlog_level = "verbose"\n[webhook]\nlisten = "8088"\n'
    assert errors(text) == (
        "metad.toml:2: daemon.log_level: Input should be "
        '"debug", "info", "warning" or "error", got "verbose"\n'
        "metad.toml:4: webhook.listen: Input should be HOST:PORT such as 127.0.0.1:8088 "
        '(PORT 0 to 65535), got "8088"'
    )


def test_unknown_key_top_level(in_tmp: Path) -> None:
    assert errors('timezone = "UTC"\n\nbogus = 1\n') == (
        "metad.toml:3: bogus: unknown key (allowed: timezone, daemon, supervisor, storage, "
        "graph, webhook, sandbox, wabas, chips, pricing, budget, campaigns, windows, limits, "
        "quality, otp, shifts, contacts, media, catalog, keeper, metrics, flows, cluster)"
    )


def test_unknown_key_nested(in_tmp: Path) -> None:
    text = '[daemon]\nstate_dir = "s"\nstat_dir = "t"\n'
    assert errors(text) == (
        "metad.toml:3: daemon.stat_dir: unknown key (allowed: state_dir, runtime_dir, "
        "log_level, log_format, shutdown_timeout_s)"
    )


def test_unknown_key_as_dotted_key(in_tmp: Path) -> None:
    assert errors("\nsupervisor.restarts = 3\n") == (
        "metad.toml:2: supervisor.restarts: unknown key "
        "(allowed: max_restarts, period_s, backoff_min_s, backoff_max_s)"
    )


def test_unknown_key_inside_array_of_tables(in_tmp: Path) -> None:
    text = (
        FLEET + '\n[[chips]]\nphone_number_id = "11"\ndisplay_number = "x"\nwaba = "2"\nwba = 1\n'
    )
    assert errors(text) == (
        "metad.toml:19: chips[1].wba: unknown key "
        "(allowed: phone_number_id, display_number, waba, throughput_mps, token)"
    )


def test_missing_key_points_at_its_table(in_tmp: Path) -> None:
    text = FLEET + '\n[[chips]]\nphone_number_id = "11"\nwaba = "2"\n'
    assert errors(text) == "metad.toml:15: chips[1].display_number: required key is missing"


def test_model_rule_points_at_its_table(in_tmp: Path) -> None:
    text = "[storage]\npool_min_size = 5\npool_max_size = 2\n"
    assert errors(text) == "metad.toml:1: storage: pool_max_size must be >= pool_min_size"


def test_dangling_waba_reference(in_tmp: Path) -> None:
    # The very example of the message format promised to operators.
    text = """\
[[wabas]]
id = "1"
[[chips]]
phone_number_id = "10"
display_number = "a"
waba = "1"
[[chips]]
phone_number_id = "11"
display_number = "b"
waba = "1"
[[chips]]
phone_number_id = "12"
display_number = "c"
waba = "x"
"""
    assert errors(text) == 'metad.toml:14: chips[2].waba: unknown WABA "x"'


def test_duplicate_ids(in_tmp: Path) -> None:
    text = FLEET.replace('id = "2"', 'id = "1"')
    text += '\n[[chips]]\nphone_number_id = "10"\ndisplay_number = "x"\nwaba = "1"\n'
    assert errors(text) == (
        'metad.toml:8: wabas[1].id: duplicate WABA id "1" (first at line 5)\n'
        'metad.toml:16: chips[1].phone_number_id: duplicate phone_number_id "10" '
        "(first at line 11)"
    )


def test_budget_caps_must_grow_with_the_period(in_tmp: Path) -> None:
    text = "[budget]\ndaily_usd = 300.0\nweekly_usd = 250.0\nmonthly_usd = 900.0\n"
    assert errors(text) == (
        "metad.toml:3: budget.weekly_usd: weekly_usd (250) is below daily_usd (300)"
    )
    text = "[budget]\ndaily_usd = 300.0\nmonthly_usd = 100.0\n"
    assert errors(text) == (
        "metad.toml:3: budget.monthly_usd: monthly_usd (100) is below daily_usd (300)"
    )


def test_unpriced_messages_settle_only_after_meta_stops_retrying(in_tmp: Path) -> None:
    """Settling before Meta's last retry could settle a message whose price is on its way."""
    assert errors("[budget]\nunpriced_settle_days = 6.5\n").startswith(
        "metad.toml:2: budget.unpriced_settle_days: Input should be greater than or equal to 7"
    )


def test_sandbox_and_webhook_need_their_own_addresses(in_tmp: Path) -> None:
    text = (
        '[webhook]\nlisten = "0.0.0.0:9000"\n[sandbox]\nenabled = true\nlisten = "127.0.0.1:9000"\n'
    )
    assert errors(text) == (
        'metad.toml:5: sandbox.listen: "127.0.0.1:9000" is also webhook.listen ("0.0.0.0:9000")'
    )
    Path("metad.toml").write_text(text.replace("true", "false"), encoding="utf-8")
    load_config("metad.toml")  # the simulator is not started outside sandbox mode


def test_metrics_needs_an_address_of_its_own_too(in_tmp: Path) -> None:
    """metad check said ok where metad run failed with [Errno 98] Address already in use."""
    webhook = '[webhook]\nlisten = "127.0.0.1:9000"\n'
    sandbox = '[sandbox]\nenabled = true\nlisten = "127.0.0.1:9001"\n'
    assert errors(f'{webhook}{sandbox}[metrics]\nlisten = "0.0.0.0:9000"\n') == (
        'metad.toml:7: metrics.listen: "0.0.0.0:9000" is also webhook.listen ("127.0.0.1:9000")'
    )
    assert errors(f'{webhook}{sandbox}[metrics]\nlisten = "127.0.0.1:9001"\n') == (
        'metad.toml:7: metrics.listen: "127.0.0.1:9001" is also sandbox.listen ("127.0.0.1:9001")'
    )
    text = f'{webhook}[sandbox]\nenabled = true\nlisten = "127.0.0.1:9000"\n'
    assert errors(f'{text}[metrics]\nlisten = "127.0.0.1:9000"\n').splitlines() == [
        'metad.toml:5: sandbox.listen: "127.0.0.1:9000" is also webhook.listen ("127.0.0.1:9000")',
        'metad.toml:7: metrics.listen: "127.0.0.1:9000" is also webhook.listen ("127.0.0.1:9000")',
    ]
    ok = f'{webhook}{sandbox}[metrics]\nlisten = "127.0.0.1:9002"\n'
    Path("metad.toml").write_text(ok, encoding="utf-8")
    load_config("metad.toml")
    any_port = '[webhook]\nlisten = "127.0.0.1:0"\n[metrics]\nlisten = "127.0.0.1:0"\n'
    Path("metad.toml").write_text(any_port, encoding="utf-8")
    load_config("metad.toml")  # port 0: each listener gets a free port of its own


@pytest.mark.parametrize("port", ["99999", "70000", "65536"])
def test_a_port_out_of_range_is_refused_with_its_line(in_tmp: Path, port: str) -> None:
    """Not wrapped round to another port (getaddrinfo took :99999 as 34463)."""
    text = f'[webhook]\nlisten = "127.0.0.1:{port}"\n[sandbox]\nlisten = "127.0.0.1:{port}"\n'
    text += f'[metrics]\nlisten = "127.0.0.1:{port}"\n'
    assert errors(text).splitlines() == [
        "metad.toml:2: webhook.listen: Input should be HOST:PORT such as 127.0.0.1:8088 "
        f'(PORT 0 to 65535), got "127.0.0.1:{port}"',
        "metad.toml:4: sandbox.listen: Input should be HOST:PORT such as 127.0.0.1:8088 "
        f'(PORT 0 to 65535), got "127.0.0.1:{port}"',
        "metad.toml:6: metrics.listen: Input should be HOST:PORT such as 127.0.0.1:9108 "
        f'(PORT 0 to 65535), or "" for off, got "127.0.0.1:{port}"',
    ]


def test_the_edges_of_the_port_range_load(in_tmp: Path) -> None:
    text = '[webhook]\nlisten = "127.0.0.1:65535"\n[metrics]\nlisten = "127.0.0.1:1"\n'
    Path("metad.toml").write_text(text, encoding="utf-8")
    cfg = load_config("metad.toml")
    assert (cfg.webhook.listen, cfg.metrics.listen) == ("127.0.0.1:65535", "127.0.0.1:1")


def test_a_flow_handler_typo_is_refused_by_the_loader(in_tmp: Path) -> None:
    """metad check said ok to what metad run refused."""
    text = FLEET + '[[flows.flow]]\nname = "shifts"\nhandler = "shift_bookin"\nwaba = "1"\n'
    assert errors(text) == (
        'metad.toml:16: flows.flow[0].handler: unknown handler "shift_bookin" '
        "(doctor_onboarding, shift_booking)"
    )


def test_cluster_chips_must_name_known_chips(in_tmp: Path) -> None:
    """A typo would lease nothing, silently, like a chip naming an unknown WABA."""
    text = FLEET + '[cluster]\nchips = ["10", "200000000000009"]\n'
    assert errors(text) == 'metad.toml:15: cluster.chips[1]: unknown chip "200000000000009"'
    Path("metad.toml").write_text(FLEET + '[cluster]\nchips = ["10"]\n', encoding="utf-8")
    assert load_config("metad.toml").cluster.chips == ["10"]


def test_toml_syntax_error(in_tmp: Path) -> None:
    assert errors('[daemon]\nstate_dir = "a"\nlog_level = \n') == (
        "metad.toml:3: invalid TOML: Invalid value (column 13)"
    )
    assert errors('[daemon]\nstate_dir = "a') == (
        "metad.toml:2: invalid TOML: Unterminated string (at end of file)"
    )


def test_duplicate_key_is_a_syntax_error(in_tmp: Path) -> None:
    assert errors("[daemon]\nlog_level = 'info'\nlog_level = 'debug'\n") == (
        "metad.toml:3: invalid TOML: Cannot overwrite a value (column 20)"
    )


def test_missing_file(in_tmp: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config("missing.toml")
    assert str(info.value) == "missing.toml: cannot read: No such file or directory"
    assert info.value.issues == [
        ConfigIssue("missing.toml", None, "", "cannot read: No such file or directory")
    ]


def test_not_utf8(in_tmp: Path) -> None:
    Path("metad.toml").write_bytes(b'timezone = "UTC"\nx = "\xff"\n')
    with pytest.raises(ConfigError) as info:
        load_config("metad.toml")
    assert str(info.value) == "metad.toml:2: not UTF-8 text"


def test_file_is_shown_as_given(in_tmp: Path) -> None:
    Path("conf").mkdir()
    assert errors("bogus = 1\n", "conf/../conf/m.toml").startswith("conf/../conf/m.toml:1: bogus:")


def test_all_problems_are_reported_together_in_line_order(in_tmp: Path) -> None:
    text = '[webhook]\npath = "no-slash"\n[daemon]\nlog_format = "xml"\n'
    assert errors(text) == (
        'metad.toml:2: webhook.path: Input should be a URL path starting with /, got "no-slash"\n'
        'metad.toml:4: daemon.log_format: Input should be "text" or "json", got "xml"'
    )


def test_literal_secret_is_rejected_and_never_echoed(in_tmp: Path) -> None:
    text = '[graph]\napp_secret = "s3cr3t-value"\n[[wabas]]\nid = "1"\ntoken = 123456789\n'
    message = errors(text)
    assert message == (
        "metad.toml:2: graph.app_secret: secrets are not written in the config: give a "
        'reference, "env:NAME", "file:/path" or "credential:NAME"\n'
        "metad.toml:5: wabas[0].token: secrets are not written in the config: give a "
        'reference, "env:NAME", "file:/path" or "credential:NAME"'
    )
    with pytest.raises(ConfigError) as info:
        load_config("metad.toml")
    assert "s3cr3t" not in repr(info.value)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def test_relative_paths_are_anchored_at_the_config_file(in_tmp: Path) -> None:
    Path("etc").mkdir()
    Path("etc/metad.toml").write_text(
        '[daemon]\nstate_dir = "state"\nruntime_dir = "/run/metad"\n'
        '[graph]\napp_secret = "file:secret.txt"\n[webhook]\nverify_token = "env:VT"\n'
        '[campaigns]\ndir = "../campaigns"\n',
        encoding="utf-8",
    )
    cfg = load_config("etc/metad.toml")
    assert cfg.daemon.state_dir == in_tmp / "etc" / "state"
    assert cfg.daemon.runtime_dir == Path("/run/metad")
    assert cfg.campaigns.dir == in_tmp / "etc" / ".." / "campaigns"
    assert cfg.graph.app_secret == f"file:{in_tmp / 'etc' / 'secret.txt'}"
    assert cfg.webhook.verify_token == "env:VT"


def test_parse_config_without_a_file(tmp_path: Path) -> None:
    cfg = parse_config('[daemon]\nstate_dir = "s"\n', base_dir=tmp_path)
    assert cfg.daemon.state_dir == tmp_path / "s"
    with pytest.raises(ConfigError, match=r"^stdin:1: bogus: unknown key"):
        parse_config("bogus = 1", file="stdin")


def test_config_error_pickles() -> None:
    err = ConfigError([ConfigIssue("m.toml", 3, "a.b", "bad")])
    again = pickle.loads(pickle.dumps(err))
    assert str(again) == "m.toml:3: a.b: bad"
    assert again.issues == err.issues

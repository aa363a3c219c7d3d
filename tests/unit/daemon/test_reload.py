"""The reload plan: which actors a new config starts, stops and restarts, and what waits."""

from __future__ import annotations

from config import MetadConfig, parse_config
from daemon.reload import ConfigChange, diff, effective

BASE = """
[daemon]
log_level = "info"
[[wabas]]
id = "1001"
[[wabas]]
id = "1002"
[[chips]]
phone_number_id = "2001"
display_number = "+55 11 94000-0001"
waba = "1001"
[[chips]]
phone_number_id = "2002"
display_number = "+55 11 94000-0002"
waba = "1001"
[[chips]]
phone_number_id = "2003"
display_number = "+55 21 94000-0003"
waba = "1002"
"""


def cfg(text: str = BASE, extra: str = "") -> MetadConfig:
    return parse_config(text + extra, file="t.toml")


def chip(pnid: str, waba: str, extra: str = "") -> str:
    return (
        f'\n[[chips]]\nphone_number_id = "{pnid}"\n'
        f'display_number = "+55 11 9{pnid}"\nwaba = "{waba}"\n{extra}'
    )


def test_the_same_config_changes_nothing() -> None:
    change = diff(cfg(), cfg())
    assert change == ConfigChange()
    assert change.empty
    assert change.summary() == {}


def test_an_added_chip_starts_and_its_waba_restarts_to_tell_it_the_templates() -> None:
    change = diff(cfg(), cfg(extra=chip("2004", "1002")))
    assert change.chips_added == ("2004",)
    assert change.start == ("chip:2004",)
    assert change.restart == ("waba:1002",)
    assert change.stop == ()
    assert not change.empty


def test_a_removed_chip_is_stopped_and_its_waba_restarted() -> None:
    text = BASE.replace(
        '[[chips]]\nphone_number_id = "2002"\ndisplay_number = "+55 11 94000-0002"\n'
        'waba = "1001"\n',
        "",
    )
    change = diff(cfg(), cfg(text))
    assert change.chips_removed == ("2002",)
    assert change.stop == ("chip:2002",)
    assert change.restart == ("waba:1001",)
    assert change.start == ()


def test_a_removed_waba_stops_its_chips_first_then_itself() -> None:
    text = BASE.split('[[wabas]]\nid = "1002"\n')[0] + BASE.split('id = "1002"\n', 1)[1]
    text = text.split('[[chips]]\nphone_number_id = "2003"')[0]
    change = diff(cfg(), cfg(text))
    assert change.wabas_removed == ("1002",)
    assert change.stop == ("chip:2003", "waba:1002")
    assert change.restart == ()


def test_a_new_waba_with_a_chip_starts_chip_then_waba() -> None:
    change = diff(cfg(), cfg(extra='\n[[wabas]]\nid = "1003"\n' + chip("2009", "1003")))
    assert change.start == ("chip:2009", "waba:1003")
    assert change.restart == ()


def test_a_limit_restarts_every_chip_then_every_waba_but_not_the_budget() -> None:
    change = diff(cfg(), cfg(extra="[limits]\npair_interval_s = 2\n"))
    assert change.settings == ("limits",)
    assert change.restart == ("chip:2001", "chip:2002", "chip:2003", "waba:1001", "waba:1002")


def test_pricing_restarts_chips_and_the_budget_first() -> None:
    extra = (
        '[[pricing.rates]]\nprefix = "1"\nmarketing = 0.02\nutility = 0.01\nauthentication = 0.01\n'
    )
    change = diff(cfg(), cfg(extra=extra))
    assert change.settings == ("pricing",)
    assert change.restart[0] == "budget"
    assert "chip:2003" in change.restart


def test_a_budget_cap_restarts_only_the_budget_coordinator() -> None:
    change = diff(cfg(), cfg(extra="[budget]\ndaily_usd = 5\n"))
    assert change.restart == ("budget",)
    assert change.needs_restart == ()


def test_one_chips_throughput_restarts_that_chip_and_its_waba() -> None:
    new = BASE.replace(
        'display_number = "+55 21 94000-0003"\nwaba = "1002"\n',
        'display_number = "+55 21 94000-0003"\nwaba = "1002"\nthroughput_mps = 20\n',
    )
    change = diff(cfg(), cfg(new))
    assert change.chips_changed == ("2003",)
    assert change.restart == ("chip:2003", "waba:1002")


def test_a_chip_moving_to_another_waba_restarts_both_wabas() -> None:
    new = BASE.replace(
        'display_number = "+55 21 94000-0003"\nwaba = "1002"',
        'display_number = "+55 21 94000-0003"\nwaba = "1001"',
    )
    change = diff(cfg(), cfg(new))
    assert change.restart == ("chip:2003", "waba:1001", "waba:1002")


def test_a_token_reference_needs_no_restart() -> None:
    new = BASE.replace('id = "1002"\n', 'id = "1002"\ntoken = "env:TOKEN_1002"\n', 1)
    change = diff(cfg(), cfg(new))
    assert change.wabas_changed == ("1002",)
    assert change.tokens
    assert change.restart == ()


def test_marketing_messages_restarts_the_wabas_chips() -> None:
    new = BASE.replace('id = "1001"\n', 'id = "1001"\nmarketing_messages = true\n', 1)
    change = diff(cfg(), cfg(new))
    assert change.restart == ("chip:2001", "chip:2002", "waba:1001")


def test_listeners_and_storage_wait_for_a_restart() -> None:
    extra = '[webhook]\nlisten = "127.0.0.1:9999"\n[storage]\npool_max_size = 20\n'
    change = diff(cfg(), cfg(extra=extra))
    assert set(change.needs_restart) == {"webhook.listen", "storage.pool_max_size"}
    assert change.restart == ()
    assert not change.empty


def test_log_level_applies_but_log_format_waits() -> None:
    new = BASE.replace('log_level = "info"', 'log_level = "debug"\nlog_format = "json"')
    change = diff(cfg(), cfg(new))
    assert change.settings == ("daemon.log_level",)
    assert change.needs_restart == ("daemon.log_format",)


def test_effective_keeps_what_needs_a_restart_and_takes_the_rest() -> None:
    new_text = BASE.replace('log_level = "info"', 'log_level = "debug"\nlog_format = "json"')
    new = cfg(new_text, extra='[webhook]\nlisten = "127.0.0.1:9999"\n[limits]\npair_burst = 3\n')
    old = cfg()
    running = effective(old, new)
    assert running.webhook.listen == old.webhook.listen
    assert running.daemon.log_format == "text"
    assert running.daemon.log_level == "debug"
    assert running.limits.pair_burst == 3
    assert running.source is new.source
    # the next reload of the same file reports the same pending restart again
    assert set(diff(running, new).needs_restart) == {"webhook.listen", "daemon.log_format"}
    assert diff(running, new).restart == ()


def test_effective_of_an_applicable_change_is_the_new_config() -> None:
    new = cfg(extra="[limits]\npair_burst = 3\n")
    assert effective(cfg(), new) is new

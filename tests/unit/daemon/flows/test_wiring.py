"""``[flows]`` in the daemon: references checked with lines, the key, completion events."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from config import ConfigError, ResolvedSecrets, parse_config
from config.loader import FLOW_HANDLERS
from daemon.flows.handlers import BUILTIN_HANDLERS
from daemon.flows.keyring import KeyRing
from daemon.flows.keys import generate_private_key, write_key_pair
from daemon.flows.settings import flow_settings
from daemon.flows.wiring import FLOW_COMPLETED, FlowCompletions, build_endpoint
from daemon.webhook import events as e
from daemon.webhook.content import FlowReply, Text
from tests.unit.daemon.flows.meta_side import APP_SECRET
from tests.unit.daemon.flows.test_endpoint import exchange

BASE = """
[daemon]
state_dir = "{state}"
[sandbox]
enabled = {sandbox}
[[wabas]]
id = "100000000000001"
[[chips]]
phone_number_id = "200000000000001"
display_number = "+55 11 94000-0001"
waba = "100000000000001"
"""

SECRETS = ResolvedSecrets("app-secret", "verify", {}, {})
DOCTOR = '[[flows.flow]]\nname = "x"\nhandler = "doctor_onboarding"\n'


def cfg_text(tmp_path: Path, extra: str, *, sandbox: bool = True) -> Any:
    text = BASE.format(state=tmp_path / "state", sandbox=str(sandbox).lower()) + extra
    return parse_config(text, file="metad.toml", base_dir=tmp_path)


def test_unknown_handlers_and_wabas_are_config_errors_with_lines(tmp_path: Path) -> None:
    """Refused by the loader itself, so ``metad check`` and ``ctl reload`` refuse them
    as ``metad run`` does (check said ok to a handler typo that run refused)."""
    with pytest.raises(ConfigError) as info:
        cfg_text(
            tmp_path,
            """
[[flows.flow]]
name = "a"
handler = "nope"
[[flows.flow]]
name = "b"
waba = "999"
""",
        )
    assert str(info.value).splitlines() == [
        'metad.toml:15: flows.flow[0].handler: unknown handler "nope" '
        "(doctor_onboarding, shift_booking)",
        'metad.toml:18: flows.flow[1].waba: unknown WABA "999"',
    ]


def test_the_config_knows_the_handlers_the_daemon_ships() -> None:
    assert set(BUILTIN_HANDLERS) == FLOW_HANDLERS


def test_paths_are_anchored_at_the_config_and_the_state_dir(tmp_path: Path) -> None:
    cfg = cfg_text(tmp_path, '[[flows.flow]]\nname = "a"\nwaba = "100000000000001"\n')
    s = flow_settings(cfg)
    assert s.dir == tmp_path / "flows"
    assert s.private_key == tmp_path / "state" / "flows" / "private_key.pem"
    assert s.public_key == tmp_path / "state" / "flows" / "private_key.pem.pub"
    assert s.file("a") == tmp_path / "flows" / "a.json"
    assert (s.waba_of("a"), s.waba_of("other")) == ("100000000000001", "100000000000001")
    cfg = cfg_text(tmp_path, '[flows]\ndir = "defs"\nprivate_key = "keys/k.pem"\n')
    s = flow_settings(cfg)
    assert (s.dir, s.private_key) == (tmp_path / "defs", tmp_path / "keys" / "k.pem")


def test_sandbox_makes_the_key_on_first_use(tmp_path: Path) -> None:
    cfg = cfg_text(tmp_path, '[[flows.flow]]\nname = "shift_booking"\nhandler = "shift_booking"\n')
    endpoint = build_endpoint(cfg, SECRETS)
    assert endpoint is not None
    assert set(endpoint.handlers) == {"shift_booking"}
    assert (tmp_path / "state" / "flows" / "private_key.pem").exists()
    again = build_endpoint(cfg, SECRETS)
    assert again is not None
    assert isinstance(again.private_key, KeyRing)
    assert isinstance(endpoint.private_key, KeyRing)
    assert again.private_key.current.private_numbers() == (
        endpoint.private_key.current.private_numbers()
    )


async def test_keygen_force_while_running_takes_effect_without_a_restart(
    tmp_path: Path, business_key: rsa.RSAPrivateKey
) -> None:
    """The endpoint follows the key file: no 421 after ``metad flows keygen --force``."""
    key_file = tmp_path / "k.pem"
    write_key_pair(key_file, business_key, passphrase=None)
    flow = '[[flows.flow]]\nname = "shift_booking"\nhandler = "shift_booking"\n'
    cfg = cfg_text(tmp_path, f'[flows]\nprivate_key = "{key_file}"\n' + flow, sandbox=False)
    endpoint = build_endpoint(cfg, ResolvedSecrets(APP_SECRET.decode(), "verify", {}, {}))
    assert endpoint is not None
    ping = {"version": "3.0", "action": "ping"}
    assert await exchange(endpoint, business_key, ping) == {"data": {"status": "active"}}
    new = generate_private_key()
    write_key_pair(key_file, new, passphrase=None, replace=True)
    assert await exchange(endpoint, new, ping) == {"data": {"status": "active"}}


def test_no_flow_with_a_handler_means_no_endpoint(tmp_path: Path) -> None:
    cfg = cfg_text(tmp_path, '[[flows.flow]]\nname = "survey"\n')
    assert build_endpoint(cfg, SECRETS) is None
    assert not (tmp_path / "state" / "flows").exists()


def test_outside_sandbox_a_missing_key_turns_the_endpoint_off(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = cfg_text(tmp_path, DOCTOR, sandbox=False)
    with caplog.at_level(logging.WARNING, "metad.flows"):
        assert build_endpoint(cfg, SECRETS) is None
    assert "metad flows keygen" in caplog.text
    assert not (tmp_path / "state" / "flows").exists()


def test_a_key_that_does_not_load_stops_the_start(tmp_path: Path) -> None:
    key_file = tmp_path / "k.pem"
    write_key_pair(key_file, generate_private_key(), passphrase="right")
    cfg = cfg_text(
        tmp_path,
        f'[flows]\nprivate_key = "{key_file}"\n' + DOCTOR,
        sandbox=False,
    )
    with pytest.raises(ConfigError, match=r"metad.toml:13: flows.private_key: .*passphrase"):
        build_endpoint(cfg, SECRETS)
    right = ResolvedSecrets("app-secret", "verify", {}, {}, flows_passphrase="right")
    assert build_endpoint(cfg, right) is not None


def _message(content: Any) -> e.InboundMessage:
    return e.InboundMessage(
        phone_number_id="200000000000001",
        display_phone_number=None,
        waba_id="100000000000001",
        wamid="wamid.1",
        from_wa_id="5511987654321",
        bsuid=None,
        timestamp=1,
        type="interactive",
        content=content,
    )


class Sink:
    def __init__(self) -> None:
        self.events: list[e.Event] = []

    async def deliver(self, event: e.Event) -> bool:
        self.events.append(event)
        return False


async def test_a_completed_flow_is_published_and_still_delivered() -> None:
    published: list[tuple[str, dict[str, Any]]] = []
    sink = Sink()
    completions = FlowCompletions(sink, lambda kind, data: published.append((kind, data)))
    response = {"flow_token": "ft", "flow_name": "shift_booking", "shift_id": "sh_1"}
    reply = FlowReply("flow", "Sent", response, "{}")
    assert await completions.deliver(_message(reply)) is False  # the router's answer
    assert await completions.deliver(_message(Text("oi"))) is False
    assert len(sink.events) == 2
    assert published == [
        (
            FLOW_COMPLETED,
            {
                "phone_number_id": "200000000000001",
                "waba_id": "100000000000001",
                "from": "5511987654321",
                "wamid": "wamid.1",
                "name": "shift_booking",
                "flow_token": "ft",
                "response": {"shift_id": "sh_1"},
            },
        )
    ]

"""Coverage-guided fuzzing (atheris, when it is installed) of what a stored webhook body
goes through: the signature check and the parser the inbox processor runs.

Why the parser: the endpoint stores any correctly signed JSON object, and the processor
parses stored rows later; a body that made ``parse`` raise anything but
``MalformedBody`` would fail every batch it is in, again and again — a poison row that
stops the whole inbox. So: ``verify`` never raises, and ``parse`` raises only
``MalformedBody`` and returns events whatever the JSON holds.

Not a pytest module (atheris is not a dependency): ``bench/reliability.py`` runs it when
``import atheris`` works, as ``python -m tests.reliability.atheris_webhook -runs=N``
(libFuzzer flags), seeded with the shared webhook fixtures. Exit 0: nothing found.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import atheris

with atheris.instrument_imports():
    from daemon.webhook.payloads import MalformedBody, parse
    from daemon.webhook.signature import verify

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "webhooks"
SECRET = b"metad-sandbox-app-secret"


def _seeds() -> list[Any]:
    found = sorted(FIXTURES.glob("*.json")) if FIXTURES.is_dir() else []
    return [json.loads(p.read_bytes()) for p in found] or [{"object": "x", "entry": []}]


SEEDS = _seeds()


def _value(fdp: atheris.FuzzedDataProvider, depth: int = 0) -> Any:
    kind = fdp.ConsumeIntInRange(0, 8 if depth < 3 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return fdp.ConsumeBool()
    if kind == 2:
        return fdp.ConsumeInt(8)
    if kind == 3:
        return fdp.ConsumeFloat()
    if kind in (4, 5):
        return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 40))
    if kind == 6:
        return [_value(fdp, depth + 1) for _ in range(fdp.ConsumeIntInRange(0, 3))]
    keys = ["id", "status", "type", "from", "timestamp", "errors", "field", "value", "x"]
    return {
        fdp.PickValueInList(keys): _value(fdp, depth + 1)
        for _ in range(fdp.ConsumeIntInRange(0, 3))
    }


def _mutate(doc: Any, fdp: atheris.FuzzedDataProvider) -> Any:
    """Replace one node of ``doc``, picked by the fuzzer, with a fuzzer-made value."""
    if not isinstance(doc, dict | list) or not doc or fdp.ConsumeIntInRange(0, 5) == 0:
        return _value(fdp)
    if isinstance(doc, dict):
        key = fdp.PickValueInList(list(doc))
        return {**doc, key: _mutate(doc[key], fdp)}
    i = fdp.ConsumeIntInRange(0, len(doc) - 1)
    return [*doc[:i], _mutate(doc[i], fdp), *doc[i + 1 :]]


def one(data: bytes) -> None:
    verify(SECRET, data, data[:71].decode("latin-1"))
    fdp = atheris.FuzzedDataProvider(data)
    doc = SEEDS[fdp.ConsumeIntInRange(0, len(SEEDS) - 1)]
    for _ in range(fdp.ConsumeIntInRange(1, 4)):
        doc = _mutate(doc, fdp)
    for body in (data, json.dumps(doc).encode()):
        try:
            result = parse(body)
        except MalformedBody:
            continue
        list(result.events)
        list(result.unknown)


def main(argv: list[str]) -> None:
    corpus = Path(tempfile.mkdtemp(prefix="metad-atheris-"))
    for path in sorted(FIXTURES.glob("*.json")) if FIXTURES.is_dir() else []:
        doc = json.loads(path.read_bytes())
        (corpus / path.name).write_bytes(json.dumps(doc, separators=(",", ":")).encode())
    atheris.Setup([argv[0], *argv[1:], str(corpus)], one)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)

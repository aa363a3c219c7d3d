"""WhatsApp Flows: definitions checked before upload, the encrypted data-exchange
endpoint, its key pair, the shipped handlers and ``metad flows``.

Modules (each one job): :mod:`~daemon.flows.validate` (Flow JSON rules, pure),
:mod:`~daemon.flows.crypto` (Meta's envelope, pure), :mod:`~daemon.flows.protocol`
(what a request asks and the reply, sans-IO), :mod:`~daemon.flows.keys` (key files),
:mod:`~daemon.flows.keyring` (the endpoint's key, following the file through a rotation),
:mod:`~daemon.flows.endpoint` (``POST /flows/<name>``), :mod:`~daemon.flows.handlers`,
:mod:`~daemon.flows.settings` and :mod:`~daemon.flows.wiring` (config and daemon glue),
:mod:`~daemon.flows.cli` (the command). Nothing is imported here, so ``metad --help``
stays fast.
"""

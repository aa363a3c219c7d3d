"""Control calls: ``otp.send``, ``otp.verify``, ``otp.template.create``,
``shift.confirm.send``, ``shift.status``, ``shift.template.create``.

Why the socket and not an HTTP API: the control socket is mode 0600, so only the
daemon's user may send or check codes (the old system's verify endpoints were open to
anyone, who could lock a doctor out with five bad guesses, behaviour.md 15.5 #31).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actors.core import ActorCrashed, ActorStopped, CallTimeout
from actors.otp.shifts import shift_template_payload
from actors.otp.templates import AuthTemplate, OtpType, auth_template_payload
from daemon.control.methods import INVALID_PARAMS, REFUSED, UNAVAILABLE, MethodError
from daemon.graph.errors import GraphError
from daemon.graph.resources import TemplateSpec
from daemon.otp.service import OtpService
from daemon.otp.shifts import ShiftService
from daemon.store.otp import ContactKeys, OtpRepository, ShiftRepository

if TYPE_CHECKING:
    from daemon.control.methods import ControlContext, Handler

__all__ = ["METHODS", "otp_service", "shift_service"]


def _str(params: dict[str, Any], name: str, default: str | None = None) -> str:
    value = params.get(name, default)
    if not isinstance(value, str) or not value:
        raise MethodError(INVALID_PARAMS, f"missing or invalid parameter {name!r}")
    return value


def otp_service(ctx: ControlContext) -> OtpService:
    return OtpService(
        ctx.cfg.otp,
        codes=OtpRepository(ctx.store),
        contacts=ContactKeys(ctx.store),
        chip=ctx.fleet.find_chip,
        tz=ctx.cfg.tz,
        publish=ctx.bus.publish,
        shifts=shift_service(ctx),
    )


def shift_service(ctx: ControlContext) -> ShiftService:
    return ShiftService(
        ctx.cfg.shifts,
        offers=ShiftRepository(ctx.store),
        contacts=ContactKeys(ctx.store),
        chip=ctx.fleet.find_chip,
        publish=ctx.bus.publish,
        tz=ctx.cfg.tz,
    )


async def _guarded(call: Any) -> Any:
    try:
        return await call
    except LookupError as exc:
        raise MethodError(REFUSED, str(exc.args[0] if exc.args else exc)) from None
    except ValueError as exc:
        raise MethodError(INVALID_PARAMS, str(exc)) from None
    except (ActorCrashed, ActorStopped, CallTimeout) as exc:
        raise MethodError(UNAVAILABLE, str(exc)) from None
    except GraphError as exc:
        raise MethodError(REFUSED, f"Graph API: {exc}") from None


async def otp_send(ctx: ControlContext, params: dict[str, Any]) -> dict[str, Any]:
    service = otp_service(ctx)
    chip, to = _str(params, "chip"), _str(params, "to")
    result: dict[str, Any] = await _guarded(
        service.send(chip, to, _str(params, "purpose", "login"))
    )
    return result


async def otp_verify(ctx: ControlContext, params: dict[str, Any]) -> dict[str, Any]:
    service = otp_service(ctx)
    to, code = _str(params, "to"), _str(params, "code")
    result: dict[str, Any] = await _guarded(
        service.verify(to, _str(params, "purpose", "login"), code)
    )
    return result


def _waba(ctx: ControlContext, params: dict[str, Any]) -> str:
    waba = params.get("waba") or (ctx.fleet.waba_ids[0] if ctx.fleet.waba_ids else "")
    if not isinstance(waba, str) or ctx.fleet.find_waba(waba) is None:
        raise MethodError(REFUSED, f"unknown WABA {waba}")
    return waba


async def _create(ctx: ControlContext, waba: str, payload: dict[str, Any]) -> dict[str, Any]:
    if ctx.graph is None:
        raise MethodError(UNAVAILABLE, "no Graph API client in this daemon")
    spec = TemplateSpec.model_validate(payload)
    created = await _guarded(ctx.graph.create_template(waba, spec))
    return {"waba_id": waba, "id": created.id, "status": created.status, "payload": payload}


async def otp_template_create(ctx: ControlContext, params: dict[str, Any]) -> dict[str, Any]:
    """Create an authentication template (COPY_CODE, ONE_TAP or ZERO_TAP) in a WABA."""
    kinds: dict[str, OtpType] = {k: k for k in ("COPY_CODE", "ONE_TAP", "ZERO_TAP")}
    kind = kinds.get(str(params.get("otp_type", "COPY_CODE")).upper())
    if kind is None:
        raise MethodError(INVALID_PARAMS, "otp_type must be COPY_CODE, ONE_TAP or ZERO_TAP")
    expiry = params.get("code_expiration_minutes", 10)
    try:
        payload = auth_template_payload(
            AuthTemplate(
                name=str(params.get("name") or ctx.cfg.otp.template),
                language=str(params.get("language") or ctx.cfg.otp.language),
                otp_type=kind,
                code_expiration_minutes=int(expiry) if expiry is not None else None,
                package_name=params.get("package_name"),
                signature_hash=params.get("signature_hash"),
                zero_tap_terms_accepted=bool(params.get("zero_tap_terms_accepted", False)),
            )
        )
    except (TypeError, ValueError) as exc:
        raise MethodError(INVALID_PARAMS, str(exc)) from None
    return await _create(ctx, _waba(ctx, params), payload)


async def shift_template_create(ctx: ControlContext, params: dict[str, Any]) -> dict[str, Any]:
    """Create the UTILITY shift-confirmation template (two quick replies) in a WABA."""
    try:
        payload = shift_template_payload(
            str(params.get("name") or ctx.cfg.shifts.template),
            str(params.get("language") or ctx.cfg.shifts.language),
        )
    except ValueError as exc:
        raise MethodError(INVALID_PARAMS, str(exc)) from None
    return await _create(ctx, _waba(ctx, params), payload)


async def shift_confirm_send(ctx: ControlContext, params: dict[str, Any]) -> dict[str, Any]:
    """Offer a shift; ``force: true`` offers it again to a contact who answered (else
    refused, so a resend never erases an answer)."""
    raw = params.get("params", [])
    if not isinstance(raw, list) or not all(isinstance(p, str) for p in raw):
        raise MethodError(INVALID_PARAMS, "params must be a list of strings")
    force = params.get("force", False)
    if not isinstance(force, bool):
        raise MethodError(INVALID_PARAMS, "force must be true or false")
    service = shift_service(ctx)
    chip, to, shift = _str(params, "chip"), _str(params, "to"), _str(params, "shift_id")
    result: dict[str, Any] = await _guarded(service.send(chip, to, shift, raw, force=force))
    return result


async def shift_status(ctx: ControlContext, params: dict[str, Any]) -> dict[str, Any]:
    offer = await shift_service(ctx).status(_str(params, "shift_id"), _str(params, "to"))
    if offer is None:
        return {"shift_id": params["shift_id"], "state": None}
    return {
        "shift_id": offer.shift_id,
        "contact": offer.contact,
        "state": offer.state,
        "chip": offer.chip,
        "outbox_id": offer.outbox_id,
        "answered_at": offer.answered_at,
        "error_code": offer.error_code,
    }


METHODS: dict[str, Handler] = {
    "otp.send": otp_send,
    "otp.verify": otp_verify,
    "otp.template.create": otp_template_create,
    "shift.confirm.send": shift_confirm_send,
    "shift.status": shift_status,
    "shift.template.create": shift_template_create,
}

"""`POST /webhooks/calendly` and `POST /webhooks/cal.com`: booked calls, attributed.

The booking link carries the screening's opaque reference (bot/core/booking.py); the
provider hands it back when the call is booked, cancelled or moved. Each webhook is verified
(HMAC-SHA256 with `booking_webhook_secret`, compared in constant time), applied once (its
event id is remembered: the same event again, a provider's retry after an answer it never got,
is answered 200 and applies nothing), and recorded against the screening's (channel,
user, flow) in one store transaction with a short message to the person and a notice to every
staff place. Refusals are logged with their reason, never with the payload (it names the
person: their name, their email, sometimes their answers to the provider's questions).

Calendly: `Calendly-Webhook-Signature: t=<unix seconds>,v1=<hex HMAC of "<t>.<body>">`, the
timestamp within `TOLERANCE` of now; events `invitee.created` (with `old_invitee`: a
reschedule) and `invitee.canceled` (with `rescheduled`: the old half of a reschedule, ignored);
the reference in `payload.tracking.utm_content`.
Cal.com: `X-Cal-Signature-256: <hex HMAC of the body>`; events `BOOKING_CREATED`,
`BOOKING_CANCELLED`, `BOOKING_RESCHEDULED`; the reference in `payload.metadata.ref`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.core import records
from bot.turns.runner import BOOKING_AGAIN, BOOKING_UNKNOWN, TurnRunner

TOLERANCE = 180.0  # seconds a Calendly signature's timestamp may be off from now
CALENDLY_HEADER = "Calendly-Webhook-Signature"
CALCOM_HEADER = "X-Cal-Signature-256"
CALENDLY_KINDS = {"invitee.created": records.BOOKED, "invitee.canceled": records.BOOKING_CANCELLED}
CALCOM_KINDS = {
    "BOOKING_CREATED": records.BOOKED,
    "BOOKING_CANCELLED": records.BOOKING_CANCELLED,
    "BOOKING_RESCHEDULED": records.BOOKING_RESCHEDULED,
}

log = logging.getLogger(__name__)


class Refused(Exception):
    """A webhook not applied: the HTTP status to answer and the reason to log."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass(frozen=True, slots=True)
class BookingEvent:
    """What a verified webhook says: which happening, about which screening's reference, and
    the provider's id for it (a replay carries the same id)."""

    provider: str
    kind: str
    ref: str
    event_id: str


# -- verification ------------------------------------------------------------------------------


def _hmac(secret: bytes, data: bytes) -> str:
    return hmac.new(secret, data, hashlib.sha256).hexdigest()


def verify_calendly(secret: bytes, header: str, body: bytes, now: float) -> None:
    """Raises Refused unless the header signs the body with the secret, made within
    TOLERANCE of now (at most; one second more is refused)."""
    if not header:
        raise Refused(401, "no signature")
    fields: dict[str, str] = {}
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        fields.setdefault(name, value)
    stamp, signature = fields.get("t", ""), fields.get("v1", "")
    if not stamp.isdigit() or not signature or not signature.isascii():
        raise Refused(401, "malformed signature")
    expected = _hmac(secret, stamp.encode() + b"." + body)
    if not hmac.compare_digest(expected, signature.lower()):
        raise Refused(401, "wrong signature")
    if abs(now - int(stamp)) > TOLERANCE:
        raise Refused(401, "stale signature")


def verify_calcom(secret: bytes, header: str, body: bytes) -> None:
    """Raises Refused unless the header is the body's HMAC with the secret."""
    if not header:
        raise Refused(401, "no signature")
    if not header.isascii():  # a hex digest is ASCII; compare_digest refuses other text
        raise Refused(401, "malformed signature")
    if not hmac.compare_digest(_hmac(secret, body), header.strip().lower()):
        raise Refused(401, "wrong signature")


# -- parsing -----------------------------------------------------------------------------------


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Refused(400, "not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("payload"), dict):
        raise Refused(400, "no payload")
    return data


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def parse_calendly(body: bytes) -> BookingEvent | None:
    """The happening a Calendly webhook reports; None for one the bot does not record."""
    data = _json(body)
    payload, name = data["payload"], _text(data.get("event"))
    kind = CALENDLY_KINDS.get(name)
    if kind is None:
        return None
    if kind == records.BOOKING_CANCELLED and payload.get("rescheduled"):
        return None  # the old half of a reschedule; the new invitee reports it
    if kind == records.BOOKED and payload.get("old_invitee"):
        kind = records.BOOKING_RESCHEDULED
    tracking = payload.get("tracking") if isinstance(payload.get("tracking"), dict) else {}
    uri = _text(payload.get("uri"))
    if not uri:
        raise Refused(400, "no invitee uri")
    return BookingEvent("calendly", kind, _text(tracking.get("utm_content")), f"{name} {uri}")


def parse_calcom(body: bytes) -> BookingEvent | None:
    """The happening a Cal.com webhook reports; None for one the bot does not record."""
    data = _json(body)
    payload, name = data["payload"], _text(data.get("triggerEvent"))
    kind = CALCOM_KINDS.get(name)
    if kind is None:
        return None
    metadata = payload.get("metadata") if isinstance(payload.get("metadata"), dict) else {}
    uid = _text(payload.get("uid"))
    if not uid:
        raise Refused(400, "no booking uid")
    return BookingEvent("cal.com", kind, _text(metadata.get("ref")), f"{name} {uid}")


# -- the routes --------------------------------------------------------------------------------


def add_booking_webhooks(app: web.Application, engine: TurnRunner) -> None:
    """Mount the booking providers' webhooks on the bot's web server."""

    async def receive(request: web.Request, provider: str) -> web.Response:
        body = await request.read()
        now = engine.clock()
        secret = engine.settings.booking_webhook_secret
        try:
            if secret is None or not secret.get_secret_value():
                raise Refused(401, "no booking_webhook_secret set")
            key = secret.get_secret_value().encode()
            if provider == "calendly":
                verify_calendly(key, request.headers.get(CALENDLY_HEADER, ""), body, now)
                event = parse_calendly(body)
            else:
                verify_calcom(key, request.headers.get(CALCOM_HEADER, ""), body)
                event = parse_calcom(body)
            if event is None or not event.ref:  # not recorded, or booked without the bot's link
                engine.metrics.webhook(provider, "ignored", accepted=True)
                return web.json_response({"status": "ignored"})
            applied = await engine.booked(event.ref, event.kind, event.provider,
                                          f"{event.provider} {event.event_id}")
            if applied == BOOKING_UNKNOWN:
                raise Refused(400, "unknown reference")
        except Refused as refused:
            log.warning("booking webhook from %s refused: %s", provider, refused.reason)
            reason = refused.reason.lower().replace(" ", "_")
            engine.metrics.webhook(provider, reason, accepted=False)
            return web.json_response({"status": "refused"}, status=refused.status)
        if applied == BOOKING_AGAIN:  # a retry (our answer was lost): it must stop, change nothing
            log.info("booking webhook from %s: already applied", provider)
            engine.metrics.webhook(provider, "already_applied", accepted=True)
            return web.json_response({"status": "already applied"})
        log.info("booking webhook from %s: %s recorded", provider, event.kind)
        engine.metrics.webhook(provider, "recorded", accepted=True)
        return web.json_response({"status": "recorded"})

    async def calendly(request: web.Request) -> web.Response:
        return await receive(request, "calendly")

    async def calcom(request: web.Request) -> web.Response:
        return await receive(request, "cal.com")

    app.router.add_post("/webhooks/calendly", calendly)
    app.router.add_post("/webhooks/cal.com", calcom)
    app.router.add_post("/webhooks/calcom", calcom)

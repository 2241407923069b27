"""What a lead alert says, by email and by webhook, decided without I/O: the subject and body of
the email, the JSON of the webhook and its signature.

Alerts leave the practice's private staff rooms, so by default they carry who the person is,
how to reach them and where to read more (the dashboard's lead page), never what they answered:
the practice turns health details on with `alerts.health_details`.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from email.message import EmailMessage
from urllib.parse import quote

from bot.core import jsontext
from bot.core.effects import EMAIL_PLACE, WEBHOOK_PLACE, StaffNotice
from bot.core.markup import plain
from bot.settings import Settings

SIGNATURE_HEADER = "X-Bot-Signature"  # "sha256=" + HMAC-SHA256 of "<timestamp>.<body>"
TIMESTAMP_HEADER = "X-Bot-Timestamp"  # Unix seconds when it was signed (refuse old ones)
DELIVERY_HEADER = "X-Bot-Delivery"  # the same on every retry of one alert: drop repeats by it
EVENT_HEADER = "X-Bot-Event"  # the alert's kind


def alert_places(settings: Settings) -> frozenset[str]:
    """The alert places this deployment has configured (email, webhook)."""
    alerts = settings.alerts
    places = set()
    if alerts.email.host and alerts.email.to:
        places.add(EMAIL_PLACE)
    if alerts.webhook.url and alerts.webhook.secret is not None:
        places.add(WEBHOOK_PLACE)
    return frozenset(places)


def lead_page(settings: Settings, channel: str, user_id: str) -> str:
    """The dashboard's page about the person, when the bot has a public address."""
    if not settings.public_url:
        return ""
    return (f"{settings.public_url.rstrip('/')}/admin/leads/"
            f"{quote(channel, safe='')}/{quote(user_id, safe='')}")


def alert_text(settings: Settings, notice: StaffNotice) -> str:
    """The notice as plain text: in full only when the practice turned health details on."""
    full = settings.alerts.health_details or not notice.brief
    return plain(notice.text if full else notice.brief).strip()


def delivery_id(notice: StaffNotice) -> str:
    """The same for every attempt at one alert, different for each alert."""
    key = "\n".join((notice.kind, notice.channel, notice.user_id, repr(notice.at), notice.text))
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def email_message(settings: Settings, notice: StaffNotice) -> EmailMessage:
    """The alert as an email to the practice's addresses; a reply goes to the person when
    they left an email address."""
    config = settings.alerts.email
    text = alert_text(settings, notice)
    headline = text.splitlines()[0] if text else notice.kind
    message = EmailMessage()
    message["Subject"] = f"{settings.practice.name}: {headline}"
    message["From"] = config.sender
    message["To"] = ", ".join(config.to)
    contact = dict(notice.contact)
    if contact.get("email"):
        message["Reply-To"] = contact["email"]
    lines = [text, ""]
    page = lead_page(settings, notice.channel, notice.user_id)
    lines.append(f"Open it in the dashboard: {page}" if page
                 else "Open the dashboard's Leads page to read more.")
    if not settings.alerts.health_details:
        lines.append("What they answered is in the dashboard, not in this email.")
    message.set_content("\n".join(lines) + "\n")
    return message


def webhook_body(settings: Settings, notice: StaffNotice) -> bytes:
    """The alert as JSON for another system (a CRM, Zapier, Make, n8n)."""
    when = datetime.fromtimestamp(notice.at or 0, UTC).isoformat().replace("+00:00", "Z")
    return jsontext.dumps_bytes({
        "id": delivery_id(notice),
        "kind": notice.kind,
        "at": when,
        "practice": settings.practice.name,
        "person": {"channel": notice.channel, "user_id": notice.user_id,
                   **dict(notice.contact)},
        "text": alert_text(settings, notice),
        "health_details": settings.alerts.health_details,
        "lead_url": lead_page(settings, notice.channel, notice.user_id),
    })


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`sha256=<hex>`: HMAC-SHA256 with the shared secret over `<timestamp>.<body>`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def signed_headers(secret: str, timestamp: int, body: bytes, notice: StaffNotice) -> dict[str, str]:
    """The headers of one webhook post."""
    return {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature(secret, timestamp, body),
        TIMESTAMP_HEADER: str(timestamp),
        DELIVERY_HEADER: delivery_id(notice),
        EVENT_HEADER: notice.kind,
    }

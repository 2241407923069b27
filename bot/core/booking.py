"""The booking link: UTM parameters, the screening's opaque reference, and a prefill.

The reference is a random token (bot/core/conversation.py `new_booking_ref`); the provider
hands it back in its webhooks (Calendly: `tracking.utm_content`; Cal.com: `metadata.ref`),
and only the bot's store knows whose screening it names. What the prefill carries is the
practice's choice (`practice.booking_prefill`): a short non-clinical line by default.
"""

from __future__ import annotations

from typing import Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from bot.core.channels import CHANNELS


class BookingPractice(Protocol):
    """What a booking link is built from: the practice's settings (bot/settings.py `Practice`)."""

    @property
    def booking_url(self) -> str: ...

    @property
    def booking_provider(self) -> str: ...

PREFILL_FIELD = {"calendly": "a1", "cal.com": "notes"}
REF_FIELD = {"calendly": "utm_content", "cal.com": "metadata[ref]"}
REF_LIMIT = 64  # a reference is 16 characters; anything longer is not one of ours
SUMMARY_LIMIT = 300


# The longest link a button may carry anywhere the bot runs (Discord's link buttons take 512
# characters); the summary is cut to stay within it.
URL_LIMIT = min(spec.link_limit for spec in CHANNELS.values() if spec.link_limit)


def booking_link(
    practice: BookingPractice, channel: str, flow: str | None, summary: str = "", ref: str = ""
) -> str:
    """The practice's booking URL tagged with where the person came from, the screening's
    reference, and the prefill (already chosen by `practice.booking_prefill`)."""
    parts = urlsplit(practice.booking_url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update(
        {"utm_source": channel, "utm_medium": "chatbot", "utm_campaign": flow or "general"}
    )
    ref_field = REF_FIELD.get(practice.booking_provider)
    if ref_field and ref:
        query[ref_field] = ref[:REF_LIMIT]
    prefill = PREFILL_FIELD.get(practice.booking_provider)
    if not (prefill and summary):
        return urlunsplit(parts._replace(query=urlencode(query)))
    summary = summary[:SUMMARY_LIMIT]
    while True:  # as much of the summary as keeps the link within every platform's limit
        query[prefill] = summary
        link = urlunsplit(parts._replace(query=urlencode(query)))
        if len(link) <= URL_LIMIT:
            return link
        if not summary:
            del query[prefill]
            return urlunsplit(parts._replace(query=urlencode(query)))
        summary = summary[: max(0, len(summary) - max(1, (len(link) - URL_LIMIT) // 3))].rstrip()

"""What the store keeps besides conversations: funnel events, leads and consents."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.core.conversation import Conversation

# Funnel event kinds, stored one row per happening so stats survive restarts.
STARTED = "started"
FINISHED = "finished"
RED_FLAG = "red_flag"
LINK_CLICK = "link_click"
LEAD = "lead"
TALK_REQUEST = "talk_request"
BOOKED = "booked"  # the booking provider's webhook: a call was booked from a screening's link
BOOKING_CANCELLED = "booking_cancelled"
BOOKING_RESCHEDULED = "booking_rescheduled"
FOLLOWUP_SCHEDULED = "followup_scheduled"  # a person asked for a check-in (detail: its kind)
FOLLOWUP_SENT = "followup_sent"
CHECKIN_FINISHED = "checkin_finished"  # a check-in's result was shown
EVENT_KINDS = (STARTED, FINISHED, RED_FLAG, LINK_CLICK, LEAD, TALK_REQUEST, BOOKED,
               BOOKING_CANCELLED, BOOKING_RESCHEDULED, FOLLOWUP_SCHEDULED, FOLLOWUP_SENT,
               CHECKIN_FINISHED)

# What a person may consent to: being contacted, having their details stored, reminders.
CONTACTED = "contacted"
STORED = "stored"
REMINDERS = "reminders"
CONSENT_KINDS = (CONTACTED, STORED, REMINDERS)


@dataclass(frozen=True, slots=True)
class Lead:
    """A person who asked to be contacted and consented to it."""

    channel: str
    user_id: str
    name: str
    email: str
    phone: str
    source: str
    flow: str
    drivers: tuple[str, ...]
    red_flag: str | None
    created_at: float
    flow_version: str = ""
    urgency: str | None = None
    consent_version: str = ""  # the version of the consent text the person said yes to


@dataclass(frozen=True, slots=True)
class Consent:
    """One consent a person gave: to what, to which version of the text, when, on which channel.

    `version` names the exact words asked (the flow's declared version and a fingerprint of
    the template); `withdrawn_at` is set when the person takes it back.
    """

    channel: str
    user_id: str
    kind: str
    version: str
    at: float
    withdrawn_at: float | None = None


# Where a follow-up stands: waiting for its time, sent, or stopped (and why).
PENDING, SENT, CANCELLED, SKIPPED = "pending", "sent", "cancelled", "skipped"


@dataclass(frozen=True, slots=True)
class Followup:
    """A check-in a person asked for: a durable timer in the store, fired once by whichever
    process finds it due. `baseline` is what the check-in compares against (from the screening);
    `result` what the check-in found; `reason` why it was cancelled or skipped."""

    id: int
    channel: str
    user_id: str
    flow: str
    kind: str
    due_at: float
    status: str = PENDING
    attempt: int = 0
    baseline: dict[str, Any] = field(default_factory=dict)
    timezone: str = ""
    created_at: float = 0.0
    result: dict[str, Any] = field(default_factory=dict)
    reason: str = ""


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One stored funnel event of one person."""

    kind: str
    flow: str
    detail: str
    version: str
    at: float


@dataclass(frozen=True, slots=True)
class KeptText:
    """A message kept for a while: a reply kept for a retried update, one waiting to be sent,
    a staff note on a lead. `kind` says which (the note's kind for a note)."""

    kind: str
    text: str
    at: float


@dataclass(frozen=True, slots=True)
class StoredData:
    """Everything stored about one person on one channel (for /mydata and the audit)."""

    channel: str
    user_id: str
    conversation: Conversation | None = None
    events: tuple[EventRecord, ...] = ()
    leads: tuple[Lead, ...] = ()
    consents: tuple[Consent, ...] = ()
    followups: tuple[Followup, ...] = ()
    staff_notices: int = 0  # notices about them posted to the practice's staff places
    replies_kept: tuple[KeptText, ...] = ()  # the bot's replies kept for retried updates
    waiting: tuple[KeptText, ...] = ()  # messages to them, and about them to staff, not sent
    lead_notes: tuple[KeptText, ...] = ()  # staff's notes and statuses on their request
    booking_refs: tuple[tuple[str, float], ...] = ()  # (flow, made at) of each booking link


@dataclass(frozen=True, slots=True)
class StatRow:
    """How many events of one kind happened on one day, channel and flow."""

    day: str
    channel: str
    flow: str
    kind: str
    detail: str
    count: int

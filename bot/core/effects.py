"""What a turn asks the outside world to do: decided by the dialog, carried out by the turn
runner in the turn's own store transaction (bot/turns/effects.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.core.events import Message, Reply
from bot.core.records import Consent, Followup, Lead

# The notice kind that asks staff places to replace earlier notices about a person.
FORGOTTEN_NOTICE = "forgotten"
LEAD_NOTICE = "lead"  # a new lead for staff: the person's name and contact details


@dataclass(frozen=True, slots=True)
class RecordEvent:
    """Append a funnel event (started, finished, red flag, lead, talk request)."""

    kind: str
    flow: str
    detail: str = ""
    version: str = ""  # the flow version an outcome came from


@dataclass(frozen=True, slots=True)
class SaveLead:
    """Keep a consented lead."""

    lead: Lead


@dataclass(frozen=True, slots=True)
class SaveConsent:
    """Keep the record of one consent (what to, which text version, when, where)."""

    consent: Consent


@dataclass(frozen=True, slots=True)
class StaffNotice:
    """A short message for the practice's private staff chat or channel (light markup).

    `channel` and `user_id` say whose conversation it is about, so a staff reply can be
    relayed back to that person.

    A `forgotten` notice is not posted: it lists in `redact` the earlier notices about the
    person, as (staff place, message id) pairs from the relays table, and each staff place
    replaces its own with `text` ("[deleted at the person's request]") where its platform
    allows editing.
    """

    kind: str  # lead | talk_request | relay_message | relay_ended | consent_withdrawn | forgotten
    #            | booked (a call booked, cancelled or moved, from the booking webhooks)
    channel: str
    user_id: str
    text: str
    redact: tuple[tuple[str, str], ...] = ()
    # For alerts outside the private staff rooms (email, a webhook): the notice without health
    # details, and who the person is and how to reach them (name, email, phone) when known.
    brief: str = ""
    contact: tuple[tuple[str, str], ...] = ()
    at: float = 0.0  # when the turn that made it was saved


# The notices alert places (email, webhook) take; the rest (relayed chat, forgets) belong to
# the staff rooms where staff answer.
ALERT_KINDS = frozenset({"lead", "talk_request", "booked", "consent_withdrawn"})
EMAIL_PLACE, WEBHOOK_PLACE = "email", "webhook"


@dataclass(frozen=True, slots=True)
class CancelFollowups:
    """Stop the person's pending follow-ups (a stop, a red flag, a withdrawal), saying why."""

    reason: str


@dataclass(frozen=True, slots=True)
class SaveProgress:
    """Keep what a check-in found against the follow-up that started it."""

    followup_id: int
    progress: dict[str, object]


@dataclass(frozen=True, slots=True)
class ScheduleFollowup:
    """Keep a check-in the person asked for (a durable timer row)."""

    followup: Followup


@dataclass(frozen=True, slots=True)
class MoveFollowup:
    """Move a follow-up on: sent, put off until `due_at`, or skipped (with why)."""

    followup_id: int
    status: str
    due_at: float
    attempt: int
    reason: str = ""


@dataclass(frozen=True, slots=True)
class WithdrawConsents:
    """Take back the person's consents: one `kind`, or every kind when it is empty. With
    `delete_leads`, the contact details those consents covered go too."""

    kind: str = ""
    delete_leads: bool = False


@dataclass(frozen=True, slots=True)
class DropUndelivered:
    """Forget the person's messages still waiting in the outbox (the question is shown again
    instead)."""


@dataclass(frozen=True, slots=True)
class Forget:
    """Delete everything stored about the person, and ask staff places to blank the notices
    about them (the runner reads which before the delete)."""


@dataclass(frozen=True, slots=True)
class ForgetReplies:
    """Drop the replies kept for the person's applied updates: they echoed contact details
    the conversation no longer keeps ("Thanks, <name>")."""


Effect = (RecordEvent | SaveLead | SaveConsent | StaffNotice | CancelFollowups | SaveProgress
          | ScheduleFollowup | MoveFollowup | WithdrawConsents | DropUndelivered | Forget
          | ForgetReplies)


@dataclass(frozen=True, slots=True)
class Address:
    """A person the bot can write to on their own: their conversation's channel and user id."""

    channel: str
    user_id: str


# What kind of failure a send was, for the operators' metrics (bot_send_failures).
RATE_LIMITED, SERVER_ERROR, TIMED_OUT, OTHER_FAILURE = "429", "5xx", "timeout", "other"


def failure_kind(status: int | None) -> str:
    """The kind of failure an HTTP status is: 429, 5xx, or other (no status: other)."""
    if status == 429:
        return RATE_LIMITED
    return SERVER_ERROR if status is not None and status >= 500 else OTHER_FAILURE


class DeliveryFailed(Exception):
    """A message could not be sent now. `retry_after`: seconds the platform asked to wait
    (429); `permanent`: sending again cannot help (the person blocked the bot, the chat is
    gone), so the message is dropped instead of retried; `kind`: RATE_LIMITED, SERVER_ERROR,
    TIMED_OUT or OTHER_FAILURE (by default RATE_LIMITED when the platform asked to wait)."""

    def __init__(self, reason: str, *, retry_after: float | None = None,
                 permanent: bool = False, kind: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.permanent = permanent
        self.kind = kind or (RATE_LIMITED if retry_after is not None else OTHER_FAILURE)


class Outbox(Protocol):
    """A channel's way to reach a person on its own: the messages a turn saved in the store's
    outbox, staff relays, retries after a failure or a restart. Every channel implements it."""

    async def deliver(self, address: Address, reply: Reply) -> None:
        """Send every message of the reply to the person, in order. Raises `DeliveryFailed`
        (never anything else) when the platform cannot take it now; the message text is never
        part of the error."""


STAFF_PREFIX = "staff:"  # outbox rows for a staff place: channel `staff:<place's channel>`


def staff_address(place: str, notice: StaffNotice) -> Address:
    """Where a notice for one staff place waits in the outbox: the place, and whom it is about
    (so a forget finds it)."""
    return Address(STAFF_PREFIX + place, about(notice.channel, notice.user_id))


def about(channel: str, user_id: str) -> str:
    """How a staff row names the person it is about."""
    return f"{channel}:{user_id}"


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message waiting in the store's outbox: saved with the turn that produced it, deleted
    once the platform took it. `turn` is the turn its buttons answer. A row for a staff place
    carries its `notice` instead."""

    id: int
    address: Address
    turn: int
    message: Message
    attempts: int = 0
    notice: StaffNotice | None = None


class StaffNotifier(Protocol):
    """Somewhere staff are told about leads and requests (a Telegram chat, a Discord channel).

    Every notice posted is remembered with `store.save_relay(place, message_id, channel,
    user_id)`, so a staff reply reaches the person and a forget can find it again. A notice of
    kind `forgotten` is never posted: the place edits each of its messages listed in
    `notice.redact` (those whose place is its own) to `notice.text`, and logs, by kind only,
    any it cannot edit.
    """

    async def notify(self, notice: StaffNotice) -> None:
        """Deliver one notice. Raises `DeliveryFailed` (never anything else) when the platform
        cannot take it now, so the outbox tries again; the notice's text is never logged."""

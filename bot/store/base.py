"""The interface every store implements: SQLite (bot/store/sqlite.py) and PostgreSQL
(bot/store/postgres.py), both on the queries in bot/store/sql.py and the parts it combines."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from bot.core.conversation import Conversation
from bot.core.effects import Address, Outgoing, StaffNotice
from bot.core.events import Message
from bot.core.records import Consent, Followup, KeptText, Lead, StatRow, StoredData


@dataclass(frozen=True, slots=True)
class TurnStart:
    """What a turn starts from, read in one query."""

    earlier_reply: str | None  # the stored reply (JSON) when the update was applied before
    conversation: Conversation | None  # None for someone new
    undelivered: int  # the person's messages still waiting in the outbox


class ConversationStore(Protocol):
    """Conversations by (channel, user_id), plus funnel events, leads and consents.

    Whatever a person's rows are deleted from must keep nothing recoverable of them: SQLite
    overwrites deleted rows and empties its log; PostgreSQL deletes them in one transaction.
    """

    async def open(self) -> None:
        """Connect and migrate the schema (a store also opens itself on first use)."""

    async def ping(self) -> None:
        """Raises when the database does not answer (the readiness probe)."""

    def turn(
        self, channel: str, user_id: str
    ) -> AbstractAsyncContextManager[ConversationStore]:
        """One person's turn: the store it yields runs every call in one transaction that
        holds the person's lock across processes and replicas, committed at the end of the
        block, or rolled back if the block raises."""

    async def load(self, channel: str, user_id: str) -> Conversation | None:
        """The saved conversation, or None for someone new."""

    async def load_turn(self, channel: str, user_id: str, update_id: str = "") -> TurnStart:
        """What a turn starts from, in one query: the stored reply of the update if it was
        applied already, the saved conversation and how many messages to the person wait."""

    async def save(self, conversation: Conversation, at: float | None = None) -> None:
        """Persist the conversation, last touched `at` (now when not given)."""

    async def delete(self, channel: str, user_id: str) -> None:
        """Remove everything stored about this person on this channel, in one transaction:
        state, events, leads, consents and the record of staff notices about them."""

    async def stored_about(self, channel: str, user_id: str) -> StoredData:
        """Everything kept about one person on one channel (/mydata, the audit)."""

    async def channels_of(self, user_id: str) -> list[str]:
        """The channels on which anything is kept about a user id."""

    async def record(
        self, kind: str, channel: str, user_id: str, flow: str, detail: str = "",
        at: float | None = None, version: str = "",
    ) -> None:
        """Append one funnel event (outcomes carry the flow version they came from)."""

    async def count_click(self, clicker: str, target: str, at: float) -> bool:
        """Mark a click on a link by a pseudonymous clicker; False when already counted."""

    async def forget_clicks(self, clicker: str) -> None:
        """Drop the click marks of one pseudonymous clicker."""

    async def events(self, channel: str, user_id: str) -> list[tuple[str, str, str, str]]:
        """One person's funnel events, oldest first: (kind, flow, detail, version)."""

    async def stats(self) -> list[StatRow]:
        """Event counts by day, channel, flow and kind."""

    async def save_booking_ref(
        self, ref: str, channel: str, user_id: str, flow: str, at: float
    ) -> None:
        """Remember whose screening a booking link's reference names."""

    async def booking_ref(self, ref: str) -> tuple[str, str, str] | None:
        """(channel, user_id, flow) of the screening a booking reference names, if any."""

    async def remember_webhook(self, webhook_id: str, at: float) -> bool:
        """Mark a booking webhook applied; False when it already was (a replay)."""

    async def save_lead(self, lead: Lead) -> None:
        """Keep a consented lead."""

    async def leads(self) -> list[Lead]:
        """Every lead, oldest first."""

    async def delete_leads(self, channel: str, user_id: str) -> int:
        """Delete one person's leads; how many there were."""

    async def add_lead_note(self, channel: str, user_id: str, kind: str, text: str,
                            staff: str, at: float) -> None:
        """Keep a staff member's status change (`kind` "status") or note about a lead."""

    async def lead_notes(self, channel: str, user_id: str) -> list[tuple[str, str, str, float]]:
        """A lead's status changes and notes, oldest first: (kind, text, staff, at)."""

    async def lead_statuses(self) -> dict[tuple[str, str], str]:
        """Each lead's latest status, by (channel, user_id)."""

    async def save_consent(self, consent: Consent) -> None:
        """Keep the record of one consent."""

    async def consents(self, channel: str, user_id: str) -> list[Consent]:
        """One person's consents, oldest first, withdrawn ones included."""

    async def withdraw_consents(self, channel: str, user_id: str, at: float) -> int:
        """Mark every consent still standing as withdrawn; how many were."""

    async def withdraw_consent(self, channel: str, user_id: str, kind: str, at: float) -> int:
        """Mark one kind of consent (e.g. reminders) withdrawn; how many were standing."""

    async def schedule_followup(self, followup: Followup) -> int:
        """Keep a follow-up to fire at `due_at`; its id."""

    async def followup(self, followup_id: int) -> Followup | None:
        """One follow-up by id."""

    async def followups(self, channel: str, user_id: str) -> list[Followup]:
        """One person's follow-ups, oldest first."""

    async def due_followups(
        self, channels: Sequence[str], now: float, limit: int = 100
    ) -> list[Followup]:
        """Pending follow-ups due by `now` on these channels, earliest first."""

    async def due_count_by_channel(self, now: float) -> dict[str, int]:
        """How many pending follow-ups are due by `now`, by channel."""

    async def update_followup(
        self, followup_id: int, status: str, due_at: float, attempt: int, reason: str = ""
    ) -> None:
        """Move a follow-up on: sent, postponed, cancelled or skipped."""

    async def save_followup_result(self, followup_id: int, result: dict[str, Any]) -> None:
        """What the check-in a follow-up started found."""

    async def latest_progress(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Each person's latest check-in result, by (channel, user_id)."""

    async def cancel_followups(self, channel: str, user_id: str, reason: str) -> int:
        """Stop every pending follow-up of one person; how many."""

    async def save_relay(
        self, staff_chat: str, message_id: str, channel: str, user_id: str
    ) -> None:
        """Remember whose conversation a staff notice is about."""

    async def relay_messages(self, channel: str, user_id: str) -> list[tuple[str, str]]:
        """Every staff notice about a person still on record: (staff place, message id)."""

    async def relay_target(self, staff_chat: str, message_id: str) -> tuple[str, str] | None:
        """(channel, user_id) for a staff notice, if it was one of ours."""

    async def replies_kept(self, channel: str, user_id: str) -> list[KeptText]:
        """The replies kept for a person's applied updates, oldest first."""

    async def waiting_about(self, channel: str, user_id: str) -> list[KeptText]:
        """Messages to this person, and notices about them to staff places, not yet sent."""

    async def forget_replies(self, channel: str, user_id: str) -> None:
        """Drop the replies kept for a person's applied updates."""

    async def remember_update(
        self, channel: str, update_id: str, user_id: str, reply: str, at: float
    ) -> None:
        """Mark an update applied, with the reply it got (in the same turn as its effects)."""

    async def enqueue(
        self, address: Address, turn: int, message: Message | StaffNotice, at: float,
        hold: float = 0.0,
    ) -> int:
        """Keep a message (or a staff notice) to send with the turn that made it; its id.
        `hold`: seconds no other sender may take it (this process shows it another way)."""

    async def enqueue_all(
        self, address: Address, turn: int, messages: Sequence[Message | StaffNotice],
        at: float, claim: float = 0.0, hold: float = 0.0, none_waiting: bool = False,
    ) -> tuple[list[int], bool]:
        """Keep a turn's messages to send, in order; their ids, and whether they are claimed
        for the caller for `claim` seconds, as they are when none older waits for the person
        (inside the person's turn only). `hold`: seconds they are kept for the caller whatever
        waits. Marks the person's waiting messages as having one queued behind them, unless
        the caller found none waiting under the person's lock in this turn (`none_waiting`)."""

    async def release(self, outgoing_id: int) -> None:
        """Give up a hold or a claim without sending: any sender may take it now."""

    async def undelivered(self, channel: str, user_id: str) -> int:
        """How many messages to this person are still waiting to be sent."""

    async def waiting_by_channel(self) -> dict[str, tuple[int, float]]:
        """Messages not yet taken by their platform, by channel: (how many, oldest queued at)."""

    async def drop_undelivered(self, channel: str, user_id: str) -> int:
        """Give up on this person's waiting messages (the current question goes instead)."""

    async def drop_staff_notices(self, channel: str, user_id: str, kind: str) -> int:
        """Give up on the notices of one kind about this person waiting for a staff place."""

    async def due(self, channels: Sequence[str], now: float, limit: int = 100) -> list[Outgoing]:
        """Messages due now on these channels, each the oldest waiting for its person."""

    async def next_for(self, address: Address, now: float) -> Outgoing | None:
        """The person's oldest waiting message, if it is due and nobody is sending it."""

    async def claim(self, outgoing_id: int, now: float, lease: float) -> bool:
        """Take a message to send it; False when another process (or task) has it."""

    async def claim_next(self, address: Address, now: float, lease: float) -> Outgoing | None:
        """Take the person's oldest waiting message to send it, if it is due and nobody is
        sending it; None otherwise."""

    async def sent(self, outgoing_id: int) -> bool:
        """The platform took it: it leaves the outbox. True when another message to the person
        was queued behind it meanwhile (the sender looks for it)."""

    async def retry_later(self, outgoing_id: int, at: float, reason: str) -> None:
        """Sending failed: free it, to be tried again from `at`."""

    async def booking_events(self) -> list[tuple[str, str, str, float]]:
        """Every booked, cancelled and rescheduled call: (channel, user_id, kind, at)."""

    # -- the practice's dashboard (bot/admin) ---------------------------------------------------

    async def add_staff(self, email: str, password_hash: str, at: float) -> bool:
        """Create a staff account; False when one with this email exists."""

    async def staff_password_hash(self, email: str) -> str | None:
        """A staff account's password hash, or None when there is no such account."""

    async def set_staff_password_hash(self, email: str, password_hash: str) -> None:
        """Replace a staff account's password hash."""

    async def remove_staff(self, email: str) -> bool:
        """Delete a staff account and its sessions; False when there was none."""

    async def staff_accounts(self) -> list[tuple[str, float]]:
        """Every staff account: (email, created at)."""

    async def start_staff_session(
        self, token_hash: str, email: str, csrf: str, at: float, expires_at: float
    ) -> None:
        """Keep a signed-in session by the hash of its token (expired ones are dropped)."""

    async def staff_session(self, token_hash: str, now: float) -> tuple[str, str] | None:
        """(email, CSRF token) of a session valid at `now` whose account still exists."""

    async def end_staff_session(self, token_hash: str) -> None:
        """Sign a session out."""

    async def count_sign_in_failure(self, key: str, at: float, forget_before: float) -> int:
        """Count a failed sign-in for a key; the failures in a row now (a run whose last
        failure is older than `forget_before` starts again)."""

    async def sign_in_failures(self, key: str) -> tuple[int, float]:
        """(failures in a row, last failure's time) of a key; (0, 0.0) for none."""

    async def clear_sign_in_failures(self, key: str) -> None:
        """Forget a key's failed sign-ins."""

    async def purge(self, older_than: float, unanswered_before: float | None = None,
                    forms: tuple[str, ...] = ()) -> dict[str, int]:
        """Delete what is older than the retention window, and conversations that never got
        an answer last touched before `unanswered_before`; close the `forms` (flows taking a
        lead) left unfinished since then, dropping what was typed into them."""

    async def close(self) -> None:
        """Release connections."""

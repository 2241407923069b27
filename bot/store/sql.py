"""The SQL both stores speak: every query once, with `?` placeholders; SQLite and PostgreSQL
differ only in how a statement runs, how a transaction and its lock are taken, and a few
dialect words (`day_of`).

A `Queries` object runs on one connection. Inside a turn (`store.turn(...)`) that connection
holds an open transaction and the person's lock; outside one, each method commits on its own.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from bot.core import jsontext
from bot.core.conversation import Conversation
from bot.core.effects import STAFF_PREFIX, Address, Outgoing, StaffNotice, about
from bot.core.events import Message
from bot.core.records import (
    BOOKED,
    BOOKING_CANCELLED,
    BOOKING_RESCHEDULED,
    CANCELLED,
    PENDING,
    Consent,
    EventRecord,
    Followup,
    Lead,
    StatRow,
    StoredData,
)
from bot.core.wire import message_from_dict, message_to_json, notice_from_dict, notice_to_json
from bot.store.base import TurnStart

LEAD_COLUMNS = (
    "channel, user_id, name, email, phone, source, flow, drivers, red_flag, created_at,"
    " flow_version, urgency, consent_version"
)
CONSENT_COLUMNS = "channel, user_id, kind, version, at, withdrawn_at"
OUTBOX_COLUMNS = "id, channel, user_id, turn, message, attempts"
# Taking an outbox message to send it (parameters: claimed until), when nobody is sending it
# and it is new or due for its retry (parameters: now, now).
CLAIM = "UPDATE outbox SET claimed_until = ?, attempts = attempts + 1"
CLAIMABLE = "claimed_until < ? AND (attempts = 0 OR next_at <= ?)"
# Everything kept about a person, by (channel, user_id): what a forget deletes.
PERSON_TABLES = ("conversations", "events", "leads", "relays", "consents", "updates", "outbox",
                 "booking_refs", "followups")
FOLLOWUP_COLUMNS = ("id, channel, user_id, flow, kind, due_at, status, attempt, baseline, timezone,"
                    " created_at, result, reason")
# Seconds a new message waits for the background sender: the channel sends it at once, and
# the background sender takes it only if that did not happen (a crash, a failed send).
FIRST_SEND_GRACE = 10.0
UPDATES_KEPT_FOR = 2 * 86400.0  # platforms resend an update for a day at most (Telegram: 24 h)


class Queries:
    """Every query of the store, on one connection (see the module docstring)."""

    day_of = "date(at, 'unixepoch')"  # SQL for the UTC day of the `at` column

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """Run a query; its rows."""
        raise NotImplementedError

    async def _run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; how many rows it changed."""
        raise NotImplementedError

    def _atomic(self) -> contextlib.AbstractAsyncContextManager[None]:
        """A transaction around several statements (nothing more inside a turn)."""
        raise NotImplementedError

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> tuple | None:
        rows = await self._rows(sql, params)
        return rows[0] if rows else None

    async def ping(self) -> None:
        """Raises when the database does not answer."""
        await self._rows("SELECT 1")

    # -- conversations ------------------------------------------------------------------------

    async def load(self, channel: str, user_id: str) -> Conversation | None:
        """The saved conversation, or None for someone new."""
        row = await self._one(
            "SELECT data FROM conversations WHERE channel = ? AND user_id = ?", (channel, user_id)
        )
        return Conversation.from_json(row[0]) if row else None

    async def save(self, conversation: Conversation, at: float | None = None) -> None:
        """Persist the conversation (called in every turn), last touched `at` (now)."""
        conversation.updated_at = time.time() if at is None else at
        await self._run(
            "INSERT INTO conversations (channel, user_id, data, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (channel, user_id) DO UPDATE"
            " SET data = excluded.data, updated_at = excluded.updated_at",
            (conversation.channel, conversation.user_id, conversation.to_json(),
             conversation.updated_at),
        )

    async def delete(self, channel: str, user_id: str) -> None:
        """Forget a person: everything kept about them on this channel, in one transaction."""
        async with self._atomic():
            for table in PERSON_TABLES:
                await self._run(f"DELETE FROM {table} WHERE channel = ? AND user_id = ?",
                                (channel, user_id))
            await self._run("DELETE FROM outbox WHERE channel LIKE ? AND user_id = ?",
                            (STAFF_PREFIX + "%", about(channel, user_id)))

    async def stored_about(self, channel: str, user_id: str) -> StoredData:
        """Everything kept about one person on one channel."""
        where = (channel, user_id)
        events = await self._rows(
            "SELECT kind, flow, detail, version, at FROM events WHERE channel = ? AND user_id = ?"
            " ORDER BY id", where,
        )
        leads = await self._rows(
            f"SELECT {LEAD_COLUMNS} FROM leads WHERE channel = ? AND user_id = ?"
            " ORDER BY created_at", where,
        )
        return StoredData(
            channel=channel,
            user_id=user_id,
            conversation=await self.load(channel, user_id),
            events=tuple(EventRecord(*row) for row in events),
            leads=tuple(lead_of(row) for row in leads),
            consents=tuple(await self.consents(channel, user_id)),
            followups=tuple(await self.followups(channel, user_id)),
            staff_notices=len(await self.relay_messages(channel, user_id)),
        )

    async def channels_of(self, user_id: str) -> list[str]:
        """The channels on which anything is kept about a user id."""
        rows = await self._rows(
            " UNION ".join(f"SELECT channel FROM {table} WHERE user_id = ?"
                           for table in PERSON_TABLES) + " ORDER BY channel",
            (user_id,) * len(PERSON_TABLES),
        )
        return [row[0] for row in rows]

    # -- funnel events ------------------------------------------------------------------------

    async def record(
        self, kind: str, channel: str, user_id: str, flow: str, detail: str = "",
        at: float | None = None, version: str = "",
    ) -> None:
        """Append one funnel event (outcomes carry the flow version they came from)."""
        await self._run(
            "INSERT INTO events (channel, user_id, flow, kind, detail, at, version)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (channel, user_id, flow, kind, detail, time.time() if at is None else at, version),
        )

    async def count_click(self, clicker: str, target: str, at: float) -> bool:
        """Mark a click on a link by a pseudonymous clicker; False when it was already counted."""
        return await self._run(
            "INSERT INTO clicks (clicker, target, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (clicker, target, at),
        ) == 1

    async def forget_clicks(self, clicker: str) -> None:
        """Drop the click marks of one pseudonymous clicker (part of a forget)."""
        await self._run("DELETE FROM clicks WHERE clicker = ?", (clicker,))

    async def events(self, channel: str, user_id: str) -> list[tuple[str, str, str, str]]:
        """One person's funnel events, oldest first: (kind, flow, detail, version)."""
        rows = await self._rows(
            "SELECT kind, flow, detail, version FROM events WHERE channel = ? AND user_id = ?"
            " ORDER BY id", (channel, user_id),
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]

    async def stats(self) -> list[StatRow]:
        """Event counts by day, channel, flow, kind and detail, oldest day first."""
        rows = await self._rows(
            f"SELECT {self.day_of} AS day, channel, flow, kind, detail, count(*)"
            " FROM events GROUP BY day, channel, flow, kind, detail"
            " ORDER BY day, channel, flow, kind, detail"
        )
        return [StatRow(*row) for row in rows]

    # -- booking references and webhooks --------------------------------------------------------

    async def save_booking_ref(
        self, ref: str, channel: str, user_id: str, flow: str, at: float
    ) -> None:
        """Remember whose screening a booking link's reference names."""
        await self._run(
            "INSERT INTO booking_refs (ref, channel, user_id, flow, created_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (ref) DO UPDATE SET flow = excluded.flow",
            (ref, channel, user_id, flow, at),
        )

    async def booking_ref(self, ref: str) -> tuple[str, str, str] | None:
        """(channel, user_id, flow) of the screening a booking reference names, if any."""
        row = await self._one(
            "SELECT channel, user_id, flow FROM booking_refs WHERE ref = ?", (ref,)
        )
        return (row[0], row[1], row[2]) if row else None

    async def remember_webhook(self, webhook_id: str, at: float) -> bool:
        """Mark a booking webhook applied; False when it already was (a replay)."""
        return await self._run(
            "INSERT INTO booking_webhooks (id, at) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (webhook_id, at),
        ) == 1

    # -- leads and consents -------------------------------------------------------------------

    async def save_lead(self, lead: Lead) -> None:
        """Keep a consented lead."""
        await self._run(
            f"INSERT INTO leads ({LEAD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (lead.channel, lead.user_id, lead.name, lead.email, lead.phone, lead.source,
             lead.flow, ",".join(lead.drivers), lead.red_flag, lead.created_at,
             lead.flow_version, lead.urgency, lead.consent_version),
        )

    async def leads(self) -> list[Lead]:
        """Every lead, oldest first."""
        rows = await self._rows(f"SELECT {LEAD_COLUMNS} FROM leads ORDER BY created_at")
        return [lead_of(row) for row in rows]

    async def delete_leads(self, channel: str, user_id: str) -> int:
        """Delete one person's leads (their consent to be stored was withdrawn); how many."""
        return await self._run("DELETE FROM leads WHERE channel = ? AND user_id = ?",
                               (channel, user_id))

    async def save_consent(self, consent: Consent) -> None:
        """Keep the record of one consent."""
        await self._run(
            f"INSERT INTO consents ({CONSENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
            (consent.channel, consent.user_id, consent.kind, consent.version, consent.at,
             consent.withdrawn_at),
        )

    async def consents(self, channel: str, user_id: str) -> list[Consent]:
        """One person's consents, oldest first, withdrawn ones included."""
        rows = await self._rows(
            f"SELECT {CONSENT_COLUMNS} FROM consents WHERE channel = ? AND user_id = ?"
            " ORDER BY id", (channel, user_id),
        )
        return [Consent(*row) for row in rows]

    async def withdraw_consents(self, channel: str, user_id: str, at: float) -> int:
        """Mark every consent still standing as withdrawn; how many were."""
        return await self._run(
            "UPDATE consents SET withdrawn_at = ?"
            " WHERE channel = ? AND user_id = ? AND withdrawn_at IS NULL",
            (at, channel, user_id),
        )

    async def withdraw_consent(self, channel: str, user_id: str, kind: str, at: float) -> int:
        """Mark one kind of consent (e.g. reminders) withdrawn; how many were standing."""
        return await self._run(
            "UPDATE consents SET withdrawn_at = ?"
            " WHERE channel = ? AND user_id = ? AND kind = ? AND withdrawn_at IS NULL",
            (at, channel, user_id, kind),
        )

    # -- follow-ups: durable timers ---------------------------------------------------------------

    async def schedule_followup(self, followup: Followup) -> int:
        """Keep a follow-up to fire at `due_at`; its id."""
        row = await self._one(
            "INSERT INTO followups (channel, user_id, flow, kind, due_at, status, attempt,"
            " baseline, timezone, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " RETURNING id",
            (followup.channel, followup.user_id, followup.flow, followup.kind, followup.due_at,
             PENDING, followup.attempt, jsontext.dumps(followup.baseline), followup.timezone,
             followup.created_at),
        )
        assert row is not None
        return int(row[0])

    async def followup(self, followup_id: int) -> Followup | None:
        """One follow-up by id (read again under the person's lock before it fires)."""
        row = await self._one(f"SELECT {FOLLOWUP_COLUMNS} FROM followups WHERE id = ?",
                              (followup_id,))
        return followup_of(row) if row else None

    async def followups(self, channel: str, user_id: str) -> list[Followup]:
        """One person's follow-ups, oldest first, whatever became of them."""
        rows = await self._rows(
            f"SELECT {FOLLOWUP_COLUMNS} FROM followups WHERE channel = ? AND user_id = ?"
            " ORDER BY id", (channel, user_id),
        )
        return [followup_of(row) for row in rows]

    async def due_followups(
        self, channels: Sequence[str], now: float, limit: int = 100
    ) -> list[Followup]:
        """Pending follow-ups due by `now` on these channels, earliest first."""
        if not channels:
            return []
        marks = ", ".join("?" * len(channels))
        rows = await self._rows(
            f"SELECT {FOLLOWUP_COLUMNS} FROM followups WHERE status = ? AND due_at <= ?"
            f" AND channel IN ({marks}) ORDER BY due_at, id LIMIT ?",
            (PENDING, now, *channels, limit),
        )
        return [followup_of(row) for row in rows]

    async def update_followup(
        self, followup_id: int, status: str, due_at: float, attempt: int, reason: str = ""
    ) -> None:
        """Move a follow-up on: sent, postponed (a later due time), cancelled or skipped."""
        await self._run(
            "UPDATE followups SET status = ?, due_at = ?, attempt = ?, reason = ? WHERE id = ?",
            (status, due_at, attempt, reason, followup_id),
        )

    async def save_followup_result(self, followup_id: int, result: dict[str, Any]) -> None:
        """What the check-in a follow-up started found (the progress since the screening)."""
        await self._run("UPDATE followups SET result = ? WHERE id = ?",
                        (jsontext.dumps(result), followup_id))

    async def latest_progress(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Each person's latest check-in result, by (channel, user_id)."""
        rows = await self._rows(
            "SELECT channel, user_id, result FROM followups WHERE result != '{}' ORDER BY id")
        return {(row[0], row[1]): jsontext.loads(row[2]) for row in rows}

    async def cancel_followups(self, channel: str, user_id: str, reason: str) -> int:
        """Stop every pending follow-up of one person (a stop, a booking, a red flag)."""
        return await self._run(
            "UPDATE followups SET status = ?, reason = ?"
            " WHERE channel = ? AND user_id = ? AND status = ?",
            (CANCELLED, reason, channel, user_id, PENDING),
        )

    # -- staff relays -------------------------------------------------------------------------

    async def save_relay(
        self, staff_chat: str, message_id: str, channel: str, user_id: str
    ) -> None:
        """Remember whose conversation a staff notice is about, so staff can reply to it."""
        await self._run(
            "INSERT INTO relays (staff_chat, message_id, channel, user_id, created_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (staff_chat, message_id) DO UPDATE"
            " SET channel = excluded.channel, user_id = excluded.user_id,"
            " created_at = excluded.created_at",
            (staff_chat, message_id, channel, user_id, time.time()),
        )

    async def relay_messages(self, channel: str, user_id: str) -> list[tuple[str, str]]:
        """Every staff notice about a person still on record: (staff place, message id)."""
        rows = await self._rows(
            "SELECT staff_chat, message_id FROM relays WHERE channel = ? AND user_id = ?"
            " ORDER BY created_at", (channel, user_id),
        )
        return [(row[0], row[1]) for row in rows]

    async def relay_target(self, staff_chat: str, message_id: str) -> tuple[str, str] | None:
        """(channel, user_id) of the person a staff notice was about, if it was one of ours."""
        row = await self._one(
            "SELECT channel, user_id FROM relays WHERE staff_chat = ? AND message_id = ?",
            (staff_chat, message_id),
        )
        return (row[0], row[1]) if row else None

    # -- updates applied: exactly once in -------------------------------------------------------

    async def load_turn(self, channel: str, user_id: str, update_id: str = "") -> TurnStart:
        """What a turn starts from, in one query: the stored reply of the update if it was
        applied already, the saved conversation and how many messages to the person wait."""
        row = await self._one(
            "SELECT (SELECT reply FROM updates WHERE channel = ? AND update_id = ?),"
            " (SELECT data FROM conversations WHERE channel = ? AND user_id = ?),"
            " (SELECT count(*) FROM outbox WHERE channel = ? AND user_id = ?)",
            (channel, update_id, channel, user_id, channel, user_id),
        )
        assert row is not None
        conversation = Conversation.from_json(row[1]) if row[1] is not None else None
        return TurnStart(row[0], conversation, int(row[2]))

    async def remember_update(
        self, channel: str, update_id: str, user_id: str, reply: str, at: float
    ) -> None:
        """Mark an update applied, with the reply it got (in the same turn as its effects)."""
        await self._run(
            "INSERT INTO updates (channel, update_id, user_id, reply, at) VALUES (?, ?, ?, ?, ?)",
            (channel, update_id, user_id, reply, at),
        )

    # -- outgoing messages: at least once out ---------------------------------------------------

    async def enqueue(
        self, address: Address, turn: int, message: Message | StaffNotice, at: float,
        hold: float = 0.0,
    ) -> int:
        """Keep a message to send with the turn that made it; its id (see `enqueue_all`)."""
        (outgoing_id,), _ = await self.enqueue_all(address, turn, (message,), at, hold=hold)
        return outgoing_id

    async def enqueue_all(
        self, address: Address, turn: int, messages: Sequence[Message | StaffNotice],
        at: float, claim: float = 0.0, hold: float = 0.0,
    ) -> tuple[list[int], bool]:
        """Keep a turn's messages to send, in order; their ids, and whether they are claimed
        for the caller for `claim` seconds, which they are when none older waits for the
        person: the caller sends them after the turn without claiming them (safe only inside
        the person's turn). `hold`: seconds they are kept for the caller whatever waits (it
        shows them another way first). Neither: the channel sends them right after the turn,
        the background sender once FIRST_SEND_GRACE has passed."""
        if not messages:
            return [], False
        # A sender looks for the person's next message only when one was queued behind the one
        # it sent (`sent`), so every message queued while others wait marks them, under the
        # person's lock. A sender deleting a marked one gets the mark (on PostgreSQL its DELETE
        # waits for this turn's row lock); one that deleted it first left nothing to mark, and
        # these are first in line for this turn's own flush. Either way someone looks.
        waiting = await self._run(
            "UPDATE outbox SET queued_behind = 1 WHERE channel = ? AND user_id = ?",
            (address.channel, address.user_id),
        )
        claimed = bool(claim) and not waiting
        kept_for = claim if claimed else hold
        last = len(messages) - 1
        rows = [(address.channel, address.user_id, turn, _to_json(message), at,
                 at + FIRST_SEND_GRACE, at + kept_for if kept_for else 0.0, int(number < last))
                for number, message in enumerate(messages)]
        inserted = await self._rows(
            "INSERT INTO outbox (channel, user_id, turn, message, created_at, next_at,"
            " claimed_until, queued_behind) VALUES "
            + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * len(rows)) + " RETURNING id",
            [value for row in rows for value in row],
        )
        return sorted(int(row[0]) for row in inserted), claimed  # ids grow in insertion order

    async def undelivered(self, channel: str, user_id: str) -> int:
        """How many messages to this person are still waiting to be sent."""
        row = await self._one(
            "SELECT count(*) FROM outbox WHERE channel = ? AND user_id = ?", (channel, user_id)
        )
        return int(row[0]) if row else 0

    async def drop_undelivered(self, channel: str, user_id: str) -> int:
        """Give up on this person's waiting messages (what they said is shown again instead)."""
        return await self._run("DELETE FROM outbox WHERE channel = ? AND user_id = ?",
                               (channel, user_id))

    async def due(self, channels: Sequence[str], now: float, limit: int = 100) -> list[Outgoing]:
        """Messages due to be sent now, each the oldest waiting for its person, oldest first."""
        if not channels:
            return []
        marks = ", ".join("?" for _ in channels)
        rows = await self._rows(
            f"SELECT {OUTBOX_COLUMNS} FROM outbox AS o"
            f" WHERE o.channel IN ({marks}) AND o.next_at <= ? AND o.claimed_until < ?"
            " AND NOT EXISTS (SELECT 1 FROM outbox AS e WHERE e.channel = o.channel"
            " AND e.user_id = o.user_id AND e.id < o.id)"
            " ORDER BY o.id LIMIT ?",
            (*channels, now, now, limit),
        )
        return [outgoing_of(row) for row in rows]

    async def next_for(self, address: Address, now: float) -> Outgoing | None:
        """The person's oldest waiting message, if nobody is sending it and it is new or due."""
        row = await self._one(
            f"SELECT {OUTBOX_COLUMNS}, next_at, claimed_until FROM outbox"
            " WHERE channel = ? AND user_id = ? ORDER BY id LIMIT 1",
            (address.channel, address.user_id),
        )
        if row is None or (row[5] and row[6] > now) or row[7] >= now:
            return None
        return outgoing_of(row[:6])

    async def claim(self, outgoing_id: int, now: float, lease: float) -> bool:
        """Take a message to send it; False when another process (or task) has it."""
        return await self._run(
            f"{CLAIM} WHERE id = ? AND {CLAIMABLE}", (now + lease, outgoing_id, now, now)
        ) == 1

    async def claim_next(self, address: Address, now: float, lease: float) -> Outgoing | None:
        """Take the person's oldest waiting message to send it, if nobody is sending it and it
        is new or due (`next_for` and `claim` in one statement); None otherwise."""
        row = await self._one(
            f"{CLAIM} WHERE id = (SELECT id FROM outbox WHERE channel = ? AND user_id = ?"
            f" ORDER BY id LIMIT 1) AND {CLAIMABLE}"
            # attempts as they were before this one, as `next_for` gives them
            " RETURNING id, channel, user_id, turn, message, attempts - 1",
            (now + lease, address.channel, address.user_id, now, now),
        )
        return outgoing_of(row) if row else None

    async def release(self, outgoing_id: int) -> None:
        """Give up a hold or a claim without sending: any sender may take it now."""
        await self._run("UPDATE outbox SET claimed_until = 0 WHERE id = ?", (outgoing_id,))

    async def sent(self, outgoing_id: int) -> bool:
        """The platform took it: it leaves the outbox. True when another message to the person
        was queued behind it meanwhile, for the sender to look for; otherwise the one queued
        next (if any) is its own sender's."""
        row = await self._one("DELETE FROM outbox WHERE id = ? RETURNING queued_behind",
                              (outgoing_id,))
        return bool(row and row[0])

    async def retry_later(self, outgoing_id: int, at: float, reason: str) -> None:
        """Sending failed: free it, to be tried again from `at` (not before: a message claimed
        with its turn counts its first attempt only now)."""
        await self._run(
            "UPDATE outbox SET claimed_until = 0, next_at = ?, last_error = ?,"
            " attempts = CASE WHEN attempts = 0 THEN 1 ELSE attempts END WHERE id = ?",
            (at, reason[:200], outgoing_id),
        )

    # -- the practice's dashboard: staff accounts, sessions, failed sign-ins ---------------------

    async def add_staff(self, email: str, password_hash: str, at: float) -> bool:
        """Create a staff account; False when one with this email exists."""
        return await self._run(
            "INSERT INTO staff (email, password_hash, created_at) VALUES (?, ?, ?)"
            " ON CONFLICT (email) DO NOTHING", (email, password_hash, at),
        ) == 1

    async def staff_password_hash(self, email: str) -> str | None:
        """The stored password hash of a staff account, or None when there is no such account."""
        row = await self._one("SELECT password_hash FROM staff WHERE email = ?", (email,))
        return str(row[0]) if row else None

    async def set_staff_password_hash(self, email: str, password_hash: str) -> None:
        """Replace a staff account's hash (a rehash with stronger parameters)."""
        await self._run("UPDATE staff SET password_hash = ? WHERE email = ?",
                        (password_hash, email))

    async def remove_staff(self, email: str) -> bool:
        """Delete a staff account and its sessions; False when there was none."""
        async with self._atomic():
            await self._run("DELETE FROM staff_sessions WHERE email = ?", (email,))
            return await self._run("DELETE FROM staff WHERE email = ?", (email,)) == 1

    async def staff_accounts(self) -> list[tuple[str, float]]:
        """Every staff account: (email, created at), by email."""
        rows = await self._rows("SELECT email, created_at FROM staff ORDER BY email")
        return [(str(row[0]), float(row[1])) for row in rows]

    async def start_staff_session(
        self, token_hash: str, email: str, csrf: str, at: float, expires_at: float
    ) -> None:
        """Keep a signed-in session (by the hash of its token); expired ones go at the same time."""
        async with self._atomic():
            await self._run("DELETE FROM staff_sessions WHERE expires_at <= ?", (at,))
            await self._run(
                "INSERT INTO staff_sessions (token_hash, email, csrf, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?)", (token_hash, email, csrf, at, expires_at),
            )

    async def staff_session(self, token_hash: str, now: float) -> tuple[str, str] | None:
        """(email, CSRF token) of a session still valid at `now` whose account exists."""
        row = await self._one(
            "SELECT s.email, s.csrf FROM staff_sessions AS s JOIN staff AS a ON a.email = s.email"
            " WHERE s.token_hash = ? AND s.expires_at > ?", (token_hash, now),
        )
        return (str(row[0]), str(row[1])) if row else None

    async def end_staff_session(self, token_hash: str) -> None:
        """Sign a session out."""
        await self._run("DELETE FROM staff_sessions WHERE token_hash = ?", (token_hash,))

    async def count_sign_in_failure(self, key: str, at: float, forget_before: float) -> int:
        """Count one failed sign-in for a key (an account or an address); how many in a row
        now. A count whose last failure came before `forget_before` starts again at one."""
        row = await self._one(
            "INSERT INTO sign_in_failures (key, failures, last_at) VALUES (?, 1, ?)"
            " ON CONFLICT (key) DO UPDATE SET failures = CASE"
            " WHEN sign_in_failures.last_at < ? THEN 1 ELSE sign_in_failures.failures + 1 END,"
            " last_at = excluded.last_at RETURNING failures",
            (key, at, forget_before),
        )
        assert row is not None
        return int(row[0])

    async def sign_in_failures(self, key: str) -> tuple[int, float]:
        """(failures in a row, when the last was) for a key; (0, 0.0) when there are none."""
        row = await self._one("SELECT failures, last_at FROM sign_in_failures WHERE key = ?",
                              (key,))
        return (int(row[0]), float(row[1])) if row else (0, 0.0)

    async def clear_sign_in_failures(self, key: str) -> None:
        """Forget a key's failures (it signed in)."""
        await self._run("DELETE FROM sign_in_failures WHERE key = ?", (key,))

    async def booking_events(self) -> list[tuple[str, str, str, float]]:
        """Every booked, cancelled and rescheduled call on record, oldest first:
        (channel, user_id, kind, at)."""
        rows = await self._rows(
            "SELECT channel, user_id, kind, at FROM events WHERE kind IN (?, ?, ?) ORDER BY id",
            (BOOKED, BOOKING_CANCELLED, BOOKING_RESCHEDULED),
        )
        return [(str(r[0]), str(r[1]), str(r[2]), float(r[3])) for r in rows]

    # -- retention ----------------------------------------------------------------------------

    async def purge(self, older_than: float) -> dict[str, int]:
        """Delete conversations, events and leads last touched before a time; counts per table.

        Consents go with them and click marks expire too (neither is counted: they only ever
        exist beside the rows that are); updates already applied are kept two days at most.
        """
        deleted = {}
        async with self._atomic():
            for table, column in (("conversations", "updated_at"), ("events", "at"),
                                  ("leads", "created_at"), ("relays", "created_at")):
                deleted[table] = await self._run(f"DELETE FROM {table} WHERE {column} < ?",
                                                 (older_than,))
            await self._run("DELETE FROM consents WHERE at < ?", (older_than,))
            await self._run("DELETE FROM clicks WHERE at < ?", (older_than,))
            await self._run("DELETE FROM booking_refs WHERE created_at < ?", (older_than,))
            await self._run("DELETE FROM booking_webhooks WHERE at < ?", (older_than,))
            await self._run("DELETE FROM staff_sessions WHERE expires_at < ?", (time.time(),))
            await self._run("DELETE FROM sign_in_failures WHERE last_at < ?", (older_than,))
            await self._run("DELETE FROM outbox WHERE created_at < ?", (older_than,))
            await self._run("DELETE FROM followups WHERE created_at < ? AND status != ?",
                            (older_than, PENDING))
            updates_before = max(older_than, time.time() - UPDATES_KEPT_FOR)
            await self._run("DELETE FROM updates WHERE at < ?", (updates_before,))
        return deleted


def lead_of(row: Sequence[Any]) -> Lead:
    return Lead(*row[:7], tuple(d for d in row[7].split(",") if d), *row[8:])


def followup_of(row: Sequence[Any]) -> Followup:
    return Followup(int(row[0]), row[1], row[2], row[3], row[4], float(row[5]), row[6],
                    int(row[7]), jsontext.loads(row[8]), row[9], float(row[10]),
                    jsontext.loads(row[11]), row[12])


def outgoing_of(row: Sequence[Any]) -> Outgoing:
    data = jsontext.loads(row[4])
    address, turn, attempts = Address(row[1], row[2]), int(row[3]), int(row[5])
    if "notice" in data:
        notice = notice_from_dict(data["notice"])
        return Outgoing(int(row[0]), address, turn, Message(notice.text), attempts, notice)
    return Outgoing(int(row[0]), address, turn, message_from_dict(data), attempts)


def _to_json(message: Message | StaffNotice) -> str:
    return notice_to_json(message) if isinstance(message, StaffNotice) else message_to_json(message)


@contextlib.asynccontextmanager
async def nothing() -> AsyncIterator[None]:
    """No transaction of its own: the caller's turn already holds one."""
    yield

"""The SQL both stores speak: every query once, with `?` placeholders; SQLite and PostgreSQL
differ only in how a statement runs, how a transaction and its lock are taken, and a few
dialect words (`day_of`).

`Queries` combines the query classes of each idea (turns, funnel, leads, follow-ups, outbox,
staff) and holds what spans them all: what is kept about a person, a forget, retention.

A `Queries` object runs on one connection. Inside a turn (`store.turn(...)`) that connection
holds an open transaction and the person's lock; outside one, each method commits on its own,
its statements all together when it has several (`@atomic`, bot/store/statements.py).
"""

from __future__ import annotations

import time

from bot.core import jsontext
from bot.core.conversation import Conversation
from bot.core.effects import STAFF_PREFIX, about
from bot.core.records import PENDING, EventRecord, KeptText, StoredData
from bot.store.followups import FollowupQueries
from bot.store.funnel import FunnelQueries
from bot.store.leads import LEAD_COLUMNS, LeadQueries, lead_of
from bot.store.outbox import FIRST_SEND_GRACE, OutboxQueries
from bot.store.staff import StaffQueries
from bot.store.statements import atomic
from bot.store.turns import UPDATES_KEPT_FOR, TurnQueries

__all__ = ["FIRST_SEND_GRACE", "PERSON_TABLES", "UPDATES_KEPT_FOR", "Queries"]

# Everything kept about a person, by (channel, user_id): what a forget deletes.
PERSON_TABLES = ("conversations", "events", "leads", "relays", "consents", "updates", "outbox",
                 "booking_refs", "followups", "lead_notes")


class Queries(TurnQueries, FunnelQueries, LeadQueries, FollowupQueries, OutboxQueries,
              StaffQueries):
    """Every query of the store, on one connection (see the module docstring)."""

    # -- a person: what is kept, and forgetting it ----------------------------------------------

    @atomic
    async def delete(self, channel: str, user_id: str) -> None:
        """Forget a person: everything kept about them on this channel, in one transaction."""
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
            replies_kept=tuple(await self.replies_kept(channel, user_id)),
            waiting=tuple(await self.waiting_about(channel, user_id)),
            lead_notes=tuple(KeptText(kind, text, at) for kind, text, _, at
                             in await self.lead_notes(channel, user_id)),
            booking_refs=tuple((flow, float(at)) for flow, at in await self._rows(
                "SELECT flow, created_at FROM booking_refs WHERE channel = ? AND user_id = ?"
                " ORDER BY created_at", where)),
        )

    async def channels_of(self, user_id: str) -> list[str]:
        """The channels on which anything is kept about a user id."""
        rows = await self._rows(
            " UNION ".join(f"SELECT channel FROM {table} WHERE user_id = ?"
                           for table in PERSON_TABLES) + " ORDER BY channel",
            (user_id,) * len(PERSON_TABLES),
        )
        return [row[0] for row in rows]

    # -- retention ----------------------------------------------------------------------------

    async def _purge_unanswered(self, before: float) -> int:
        rows = await self._rows("SELECT channel, user_id, data FROM conversations"
                                " WHERE updated_at < ?", (before,))
        gone = 0
        for channel, user_id, data in rows:
            conv = jsontext.loads(data)
            if conv.get("history") or conv.get("relay") or conv.get("pending"):
                continue
            for table in ("conversations", "updates", "outbox", "booking_refs"):
                await self._run(f"DELETE FROM {table} WHERE channel = ? AND user_id = ?",
                                (channel, user_id))
            gone += 1
        return gone

    async def _close_left_forms(self, before: float, forms: tuple[str, ...]) -> int:
        """Contact forms left half-filled since `before`: closed, what was typed into them
        dropped from the conversation, and the replies kept that repeated it."""
        rows = await self._rows("SELECT channel, user_id, data FROM conversations"
                                " WHERE updated_at < ?", (before,))
        closed = 0
        for channel, user_id, data in rows:
            conv = Conversation.from_json(data)
            if conv.flow not in forms or conv.finished:
                continue
            conv.flow, conv.state = None, ""
            conv.clear_answers()
            await self._run("UPDATE conversations SET data = ? WHERE channel = ? AND user_id = ?",
                            (conv.to_json(), channel, user_id))
            await self.forget_replies(channel, user_id)
            closed += 1
        return closed

    @atomic
    async def purge(self, older_than: float, unanswered_before: float | None = None,
                    forms: tuple[str, ...] = ()) -> dict[str, int]:
        """Delete conversations, events and leads last touched before a time; counts per table.

        Consents go with them and click marks expire too (neither is counted: they only ever
        exist beside the rows that are); updates already applied are kept two days at most.
        A conversation that never got an answer goes sooner, at `unanswered_before` (with its
        replies, queued messages and booking reference; the funnel keeps its "started"), and
        so do the details typed into one of the `forms` (flows that take a lead) left unfinished.
        """
        unanswered = closed = 0
        if unanswered_before is not None:
            unanswered = await self._purge_unanswered(unanswered_before)
            closed = await self._close_left_forms(unanswered_before, forms)
        deleted = {}
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
        if unanswered_before is not None:
            deleted["unanswered conversations"] = unanswered
            deleted["unfinished contact forms"] = closed
        return deleted


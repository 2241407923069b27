"""Conversations and the updates applied: what a turn reads first and writes last."""

from __future__ import annotations

import time

from bot.core.conversation import Conversation
from bot.core.records import KeptText
from bot.core.wire import reply_from_json
from bot.store.base import TurnStart
from bot.store.statements import Statements

UPDATES_KEPT_FOR = 2 * 86400.0  # platforms resend an update for a day at most (Telegram: 24 h)


class TurnQueries(Statements):
    """A person's saved conversation, and the updates applied: exactly once in."""

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

    async def replies_kept(self, channel: str, user_id: str) -> list[KeptText]:
        """The replies kept for a person's applied updates, oldest first (for /mydata)."""
        rows = await self._rows("SELECT reply, at FROM updates WHERE channel = ? AND user_id = ?"
                                " ORDER BY at", (channel, user_id))
        return [KeptText("reply", "\n\n".join(m.text for m in reply_from_json(reply).messages),
                         float(at)) for reply, at in rows]

    async def forget_replies(self, channel: str, user_id: str) -> None:
        """Drop the replies kept for a person's applied updates (they may repeat contact
        details: "Thanks, <name>"); a retried old update is then taken as new."""
        await self._run("DELETE FROM updates WHERE channel = ? AND user_id = ?",
                        (channel, user_id))

    async def remember_update(
        self, channel: str, update_id: str, user_id: str, reply: str, at: float
    ) -> None:
        """Mark an update applied, with the reply it got (in the same turn as its effects)."""
        await self._run(
            "INSERT INTO updates (channel, update_id, user_id, reply, at) VALUES (?, ?, ?, ?, ?)",
            (channel, update_id, user_id, reply, at),
        )

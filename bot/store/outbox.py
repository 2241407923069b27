"""The outbox: messages kept with the turn that made them until a platform took them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.core import jsontext
from bot.core.effects import STAFF_PREFIX, Address, Outgoing, StaffNotice, about
from bot.core.events import Message
from bot.core.records import KeptText
from bot.core.wire import message_from_dict, message_to_json, notice_from_dict, notice_to_json
from bot.store.statements import Statements, atomic

OUTBOX_COLUMNS = "id, channel, user_id, turn, message, attempts"
# Taking an outbox message to send it (parameters: claimed until), when nobody is sending it
# and it is new or due for its retry (parameters: now, now).
CLAIM = "UPDATE outbox SET claimed_until = ?, attempts = attempts + 1"
CLAIMABLE = "claimed_until < ? AND (attempts = 0 OR next_at <= ?)"
# Seconds a new message waits for the background sender: the channel sends it at once, and
# the background sender takes it only if that did not happen (a crash, a failed send).
FIRST_SEND_GRACE = 10.0


class OutboxQueries(Statements):
    """Queueing, claiming, sending and retrying messages, in order per person: at least once out."""

    async def enqueue(
        self, address: Address, turn: int, message: Message | StaffNotice, at: float,
        hold: float = 0.0,
    ) -> int:
        """Keep a message to send with the turn that made it; its id (see `enqueue_all`)."""
        (outgoing_id,), _ = await self.enqueue_all(address, turn, (message,), at, hold=hold)
        return outgoing_id

    @atomic
    async def enqueue_all(
        self, address: Address, turn: int, messages: Sequence[Message | StaffNotice],
        at: float, claim: float = 0.0, hold: float = 0.0, none_waiting: bool = False,
    ) -> tuple[list[int], bool]:
        """Keep a turn's messages to send, in order; their ids, and whether they are claimed
        for the caller for `claim` seconds, which they are when none older waits for the
        person: the caller sends them after the turn without claiming them (safe only inside
        the person's turn). `hold`: seconds they are kept for the caller whatever waits (it
        shows them another way first). Neither: the channel sends them right after the turn,
        the background sender once FIRST_SEND_GRACE has passed. `none_waiting`: the caller
        counted the person's waiting messages under their lock in this turn, and found none."""
        if not messages:
            return [], False
        # A sender looks for the person's next message only when one was queued behind the one
        # it sent (`sent`), so every message queued while others wait marks them, under the
        # person's lock. A sender deleting a marked one gets the mark (on PostgreSQL its DELETE
        # waits for this turn's row lock); one that deleted it first left nothing to mark, and
        # these are first in line for this turn's own flush. Either way someone looks.
        waiting = 0 if none_waiting else await self._run(
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

    async def waiting_by_channel(self) -> dict[str, tuple[int, float]]:
        """Every message not yet taken by its platform, by channel: (how many, when the oldest
        was queued). For the operators' metrics; nobody's id or words."""
        rows = await self._rows(
            "SELECT channel, count(*), min(created_at) FROM outbox GROUP BY channel")
        return {str(row[0]): (int(row[1]), float(row[2])) for row in rows}

    async def drop_undelivered(self, channel: str, user_id: str) -> int:
        """Give up on this person's waiting messages (what they said is shown again instead)."""
        return await self._run("DELETE FROM outbox WHERE channel = ? AND user_id = ?",
                               (channel, user_id))

    async def waiting_about(self, channel: str, user_id: str) -> list[KeptText]:
        """Messages to this person, and notices about them to staff places, not yet sent."""
        rows = await self._rows(
            f"SELECT {OUTBOX_COLUMNS}, created_at FROM outbox WHERE (channel = ? AND user_id = ?)"
            " OR (channel LIKE ? AND user_id = ?) ORDER BY id",
            (channel, user_id, STAFF_PREFIX + "%", about(channel, user_id)))
        return [KeptText("staff" if (out := outgoing_of(row)).notice else "to you",
                         out.message.text, float(row[-1])) for row in rows]

    async def drop_staff_notices(self, channel: str, user_id: str, kind: str) -> int:
        """Give up on the notices of one kind about this person still waiting for a staff
        place (a lead notice after consent was withdrawn); how many."""
        rows = await self._rows("SELECT id, message FROM outbox WHERE channel LIKE ?"
                                " AND user_id = ?", (STAFF_PREFIX + "%", about(channel, user_id)))
        dropped = [row[0] for row in rows
                   if jsontext.loads(row[1]).get("notice", {}).get("kind") == kind]
        for outgoing_id in dropped:
            await self._run("DELETE FROM outbox WHERE id = ?", (outgoing_id,))
        return len(dropped)

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


def outgoing_of(row: Sequence[Any]) -> Outgoing:
    data = jsontext.loads(row[4])
    address, turn, attempts = Address(row[1], row[2]), int(row[3]), int(row[5])
    if "notice" in data:
        notice = notice_from_dict(data["notice"])
        return Outgoing(int(row[0]), address, turn, Message(notice.text), attempts, notice)
    return Outgoing(int(row[0]), address, turn, message_from_dict(data), attempts)


def _to_json(message: Message | StaffNotice) -> str:
    return notice_to_json(message) if isinstance(message, StaffNotice) else message_to_json(message)

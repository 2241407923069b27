"""Follow-ups: durable timers for the check-ins a person asked for."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.core import jsontext
from bot.core.records import CANCELLED, PENDING, Followup
from bot.store.statements import Statements

FOLLOWUP_COLUMNS = ("id, channel, user_id, flow, kind, due_at, status, attempt, baseline, timezone,"
                    " created_at, result, reason")


class FollowupQueries(Statements):
    """Follow-ups scheduled, found due, moved on and cancelled, and what their check-ins found."""

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

    async def due_count_by_channel(self, now: float) -> dict[str, int]:
        """How many pending follow-ups are due by `now`, by channel (the operators' metrics)."""
        rows = await self._rows(
            "SELECT channel, count(*) FROM followups WHERE status = ? AND due_at <= ?"
            " GROUP BY channel", (PENDING, now))
        return {str(row[0]): int(row[1]) for row in rows}

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


def followup_of(row: Sequence[Any]) -> Followup:
    return Followup(int(row[0]), row[1], row[2], row[3], row[4], float(row[5]), row[6],
                    int(row[7]), jsontext.loads(row[8]), row[9], float(row[10]),
                    jsontext.loads(row[11]), row[12])

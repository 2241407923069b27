"""Funnel events, link clicks and booking references: what the practice's numbers count."""

from __future__ import annotations

import time

from bot.core.records import BOOKED, BOOKING_CANCELLED, BOOKING_RESCHEDULED, StatRow
from bot.store.statements import Statements


class FunnelQueries(Statements):
    """Funnel events, clicks counted once, booking references and webhooks applied."""

    day_of = "date(at, 'unixepoch')"  # SQL for the UTC day of the `at` column

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

    async def booking_events(self) -> list[tuple[str, str, str, float]]:
        """Every booked, cancelled and rescheduled call on record, oldest first:
        (channel, user_id, kind, at)."""
        rows = await self._rows(
            "SELECT channel, user_id, kind, at FROM events WHERE kind IN (?, ?, ?) ORDER BY id",
            (BOOKED, BOOKING_CANCELLED, BOOKING_RESCHEDULED),
        )
        return [(str(r[0]), str(r[1]), str(r[2]), float(r[3])) for r in rows]

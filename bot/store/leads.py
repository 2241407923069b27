"""Leads, the consents a person gave, and the staff notices about them (relays)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from bot.core.records import Consent, Lead
from bot.store.statements import Statements, atomic

LEAD_COLUMNS = (
    "channel, user_id, name, email, phone, source, flow, drivers, red_flag, created_at,"
    " flow_version, urgency, consent_version"
)
CONSENT_COLUMNS = "channel, user_id, kind, version, at, withdrawn_at"


class LeadQueries(Statements):
    """Leads and consents kept, withdrawn and deleted; staff notices and whom they are about."""

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

    async def add_lead_note(self, channel: str, user_id: str, kind: str, text: str,
                            staff: str, at: float) -> None:
        """Keep a staff member's status change (`kind` "status") or note about a lead."""
        await self._run(
            "INSERT INTO lead_notes (channel, user_id, kind, text, staff, at)"
            " VALUES (?, ?, ?, ?, ?, ?)", (channel, user_id, kind, text, staff, at))

    async def lead_notes(self, channel: str, user_id: str) -> list[tuple[str, str, str, float]]:
        """A lead's status changes and notes, oldest first: (kind, text, staff, at)."""
        rows = await self._rows(
            "SELECT kind, text, staff, at FROM lead_notes WHERE channel = ? AND user_id = ?"
            " ORDER BY id", (channel, user_id))
        return [(str(r[0]), str(r[1]), str(r[2]), float(r[3])) for r in rows]

    async def lead_statuses(self) -> dict[tuple[str, str], str]:
        """Each lead's latest status, by (channel, user_id); a lead without one is new."""
        rows = await self._rows(
            "SELECT channel, user_id, text FROM lead_notes WHERE kind = 'status' ORDER BY id")
        return {(str(r[0]), str(r[1])): str(r[2]) for r in rows}

    @atomic
    async def delete_leads(self, channel: str, user_id: str) -> int:
        """Delete one person's leads (their consent to be stored was withdrawn), and staff's
        notes about them; how many leads."""
        await self._run("DELETE FROM lead_notes WHERE channel = ? AND user_id = ?",
                        (channel, user_id))
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


def lead_of(row: Sequence[Any]) -> Lead:
    return Lead(*row[:7], tuple(d for d in row[7].split(",") if d), *row[8:])

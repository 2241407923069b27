"""Leads as the dashboard lists them: each with whether a call was booked, and as CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from bot.core.records import BOOKED, BOOKING_CANCELLED, BOOKING_RESCHEDULED, Lead
from bot.engine.followups import progress_words
from bot.handoff.reports import export_leads, safe_cell

# What the latest booking event of a person says about their call.
BOOKING_STATUS = {BOOKED: "booked", BOOKING_RESCHEDULED: "booked (rescheduled)",
                  BOOKING_CANCELLED: "cancelled"}


@dataclass(frozen=True)
class LeadRow:
    lead: Lead
    booking: str  # "", "booked", "booked (rescheduled)", "cancelled"
    progress: dict[str, Any] = field(default_factory=dict)  # the latest check-in's result

    @property
    def progress_words(self) -> str:
        """The latest check-in in one line (`pain 6 -> 3; hip_squat: better`), or ""."""
        return progress_words(self.progress) if self.progress else ""


def booking_status(events: list[tuple[str, str, str, float]]) -> dict[tuple[str, str], str]:
    """Each person's latest booking news, by (channel, user_id), from the booking events."""
    status: dict[tuple[str, str], str] = {}
    for channel, user_id, kind, _ in events:  # oldest first: the latest wins
        status[(channel, user_id)] = BOOKING_STATUS.get(kind, "")
    return status


def lead_rows(
    leads: list[Lead], events: list[tuple[str, str, str, float]],
    progress: dict[tuple[str, str], dict[str, Any]] | None = None,
) -> list[LeadRow]:
    """Newest lead first, each with its booking status and latest check-in."""
    status, found = booking_status(events), progress or {}
    return [LeadRow(lead, status.get((lead.channel, lead.user_id), ""),
                    found.get((lead.channel, lead.user_id), {}))
            for lead in sorted(leads, key=lambda lead: lead.created_at, reverse=True)]


def leads_csv(rows: list[LeadRow]) -> str:
    """The same columns as `python -m bot leads export`, plus `booking`; every cell safe."""
    leads = [row.lead for row in rows]
    progress = {(row.lead.channel, row.lead.user_id): row.progress for row in rows}
    exported = list(csv.DictReader(io.StringIO(export_leads(leads, "csv", progress))))
    buffer = io.StringIO()
    fields = [*(csv.DictReader(io.StringIO(export_leads([], "csv"))).fieldnames or []), "booking"]
    writer = csv.DictWriter(buffer, fieldnames=fields)
    writer.writeheader()
    for cells, row in zip(exported, rows, strict=True):
        writer.writerow({name: safe_cell(value or "")
                         for name, value in {**cells, "booking": row.booking}.items()})
    return buffer.getvalue()

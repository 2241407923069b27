"""Leads as the dashboard lists them: each with whether a call was booked, and as CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.core.records import BOOKED, BOOKING_CANCELLED, BOOKING_RESCHEDULED, Lead
from bot.engine.flow import Flow
from bot.engine.followups import progress_words
from bot.handoff.reports import export_leads, safe_cell

URGENCY_WORDS = {"emergency": "emergency care now", "same_day": "a doctor today",
                 "within_days": "a doctor within a day or two",
                 "within_week": "a doctor within a week"}
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


def leads_csv(rows: list[LeadRow], flows: Mapping[str, Flow] | None = None,
              statuses: Mapping[tuple[str, str], str] | None = None) -> str:
    """The same columns as `python -m bot leads export`, plus `booking` and `status`, in words
    staff read (titles, not ids); every cell safe."""
    leads = [row.lead for row in rows]
    progress = {(row.lead.channel, row.lead.user_id): row.progress for row in rows}
    exported = list(csv.DictReader(io.StringIO(export_leads(leads, "csv", progress))))
    buffer = io.StringIO()
    fields = [*(csv.DictReader(io.StringIO(export_leads([], "csv"))).fieldnames or []),
              "booking", "status"]
    writer = csv.DictWriter(buffer, fieldnames=fields)
    writer.writeheader()
    for cells, row in zip(exported, rows, strict=True):
        key = (row.lead.channel, row.lead.user_id)
        readable = {**cells, **_in_words(row.lead, (flows or {}).get(row.lead.flow)),
                    "booking": row.booking, "status": (statuses or {}).get(key, "new")}
        writer.writerow({name: safe_cell(value or "") for name, value in readable.items()})
    return buffer.getvalue()


def _in_words(lead: Lead, flow: Flow | None) -> dict[str, str]:
    """A lead's ids as staff read them. A phone number (always +country...) as a `tel:`
    address: a spreadsheet keeps it whole, as text, never as a number or a formula."""
    drivers = flow.driver_specs if flow else {}
    flags = flow.red_flags if flow else {}
    words = {
        "flow": flow.title if flow else lead.flow,
        "drivers": ", ".join(drivers[d].title if d in drivers else d for d in lead.drivers),
        "red_flag": flags[lead.red_flag].title if lead.red_flag in flags else
        (lead.red_flag or ""),
        "urgency": URGENCY_WORDS.get(lead.urgency or "", lead.urgency or ""),
    }
    if lead.phone:
        words["phone"] = "tel:" + lead.phone
    return words

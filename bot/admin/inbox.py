"""The lead inbox: the leads list searched and filtered by status, and each lead's page (the
screening in plain words, check-ins, the booking and where it came from) where staff set its
status and add notes, each kept with who and when (docs/dashboard.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.admin.auth import STAFF, Staff
from bot.admin.dashboard import DASHBOARD, PREFIX
from bot.admin.leads import URGENCY_WORDS, LeadRow, lead_rows
from bot.core.records import BOOKED, BOOKING_CANCELLED, BOOKING_RESCHEDULED
from bot.engine.followups import progress_words
from bot.engine.privacy import describe

# What staff mark a lead as, in the order the work goes; a lead without a mark is new.
STATUSES = {"new": "New", "contacted": "Contacted", "booked": "Booked", "not_a_fit": "Not a fit"}
NOTE_LIMIT = 4000  # characters of one note
BOOKING_WORDS = {BOOKED: "Booked a call", BOOKING_RESCHEDULED: "Moved their call",
                 BOOKING_CANCELLED: "Cancelled their call"}


def lead_path(channel: str, user_id: str) -> str:
    """The lead page's address in the dashboard (alerts link to it too)."""
    return f"{PREFIX}/leads/{quote(channel, safe='')}/{quote(user_id, safe='')}"


def local_time(timestamp: float, zone: str) -> str:
    """A stored time in the practice's time zone: `2027-01-15 05:00 EST`."""
    return datetime.fromtimestamp(timestamp, ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")


@dataclass(frozen=True)
class InboxRow:
    row: LeadRow
    status: str
    path: str


def matches(row: LeadRow, status: str, query: str, wanted_status: str, flow: str) -> bool:
    """A lead shown for this search (name, email, phone, source) and these filters."""
    lead = row.lead
    if wanted_status and status != wanted_status:
        return False
    if flow and lead.flow != flow:
        return False
    words = query.lower().split()
    haystack = " ".join((lead.name, lead.email, lead.phone, lead.source)).lower()
    return all(word in haystack for word in words)


async def inbox(request: web.Request) -> web.StreamResponse:
    """The leads, newest first, with their status; `q`, `status` and `flow` narrow them."""
    dashboard = request.app[DASHBOARD]
    store = dashboard.engine.store
    rows = lead_rows(await store.leads(), await store.booking_events(),
                     await store.latest_progress())
    statuses = await store.lead_statuses()
    query = request.query.get("q", "")[:200]
    wanted = request.query.get("status", "")
    wanted = wanted if wanted in STATUSES else ""
    flow = request.query.get("flow", "")
    flow = flow if flow in dashboard.engine.flows else ""
    shown = []
    for row in rows:
        status = statuses.get((row.lead.channel, row.lead.user_id), "new")
        if matches(row, status, query, wanted, flow):
            shown.append(InboxRow(row, status, lead_path(row.lead.channel, row.lead.user_id)))
    return dashboard.page("leads.html", staff=_staff(request), page="leads", rows=shown,
                          total=len(rows), flows=dashboard.engine.flows, statuses=STATUSES,
                          query=query, wanted=wanted, flow=flow,
                          zone=dashboard.settings.followups.timezone, local=local_time)


async def lead_page(request: web.Request) -> web.StreamResponse:
    """One lead: who, how to reach them, the screening, check-ins, booking, status, notes."""
    dashboard = request.app[DASHBOARD]
    store = dashboard.engine.store
    channel, user_id = request.match_info["channel"], request.match_info["user_id"]
    stored = await store.stored_about(channel, user_id)
    if not stored.leads:
        raise web.HTTPNotFound(text="No lead by that address (it may have been deleted).")
    described = describe(stored, dashboard.engine.flows)
    notes = await store.lead_notes(channel, user_id)
    status = next((text for kind, text, _, _ in reversed(notes) if kind == "status"), "new")
    return dashboard.page(
        "lead.html", staff=_staff(request), page="leads", lead=stored.leads[-1],
        leads=stored.leads, screening=described["last_screening"], notes=notes,
        lead_status=status, statuses=STATUSES, followups=stored.followups,
        bookings=[e for e in stored.events if e.kind in BOOKING_WORDS],
        booking_words=BOOKING_WORDS, flows=dashboard.engine.flows,
        urgency_words=URGENCY_WORDS, progress_words=progress_words,
        zone=dashboard.settings.followups.timezone, local=local_time,
        path=lead_path(channel, user_id), consents=stored.consents,
    )


async def lead_update(request: web.Request) -> web.StreamResponse:
    """A status chosen or a note added (the CSRF token was checked by `staff_only`)."""
    dashboard = request.app[DASHBOARD]
    store = dashboard.engine.store
    channel, user_id = request.match_info["channel"], request.match_info["user_id"]
    if not (await store.stored_about(channel, user_id)).leads:
        raise web.HTTPNotFound(text="No lead by that address (it may have been deleted).")
    form = await request.post()
    staff, now = _staff(request), dashboard.clock()
    status = str(form.get("status", ""))
    note = str(form.get("note", "")).strip()[:NOTE_LIMIT]
    if status in STATUSES:
        await store.add_lead_note(channel, user_id, "status", status, staff.email, now)
    elif note:
        await store.add_lead_note(channel, user_id, "note", note, staff.email, now)
    else:
        raise web.HTTPBadRequest(text="Choose a status or write a note.")
    raise web.HTTPSeeOther(lead_path(channel, user_id))


def _staff(request: web.Request) -> Staff:
    staff = request[STAFF]
    assert isinstance(staff, Staff)
    return staff


def add_inbox_routes(admin: web.Application) -> None:
    admin.router.add_get("/leads", inbox)
    admin.router.add_get("/leads/{channel}/{user_id}", lead_page)
    admin.router.add_post("/leads/{channel}/{user_id}", lead_update)

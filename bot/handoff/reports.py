"""What the practice reads: leads as CSV or JSON, and the funnel as a table."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from datetime import UTC, datetime

from bot.core import records
from bot.core.records import Lead, StatRow

LEAD_FIELDS = ("created_at", "name", "email", "phone", "channel", "source", "flow", "drivers",
               "red_flag", "urgency", "flow_version")
FUNNEL_COLUMNS = (
    ("started", records.STARTED, None),
    ("finished", records.FINISHED, None),
    ("red_flag_exits", records.RED_FLAG, None),
    ("booking_clicks", records.LINK_CLICK, "book"),
    ("other_link_clicks", records.LINK_CLICK, "*other"),
    ("leads", records.LEAD, None),
    ("talk_requests", records.TALK_REQUEST, None),
)


def export_leads(leads: list[Lead], output_format: str) -> str:
    """Leads as CSV (with a header) or as JSON lines."""
    rows = [_lead_row(lead) for lead in leads]
    if output_format == "json":
        return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=LEAD_FIELDS)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _lead_row(lead: Lead) -> dict[str, str]:
    created = datetime.fromtimestamp(lead.created_at, UTC).isoformat(timespec="seconds")
    return {
        "created_at": created,
        "name": _safe_cell(lead.name),
        "email": _safe_cell(lead.email),
        "phone": lead.phone,
        "channel": lead.channel,
        "source": _safe_cell(lead.source),
        "flow": lead.flow,
        "drivers": " ".join(lead.drivers),
        "red_flag": lead.red_flag or "",
        "urgency": lead.urgency or "",
        "flow_version": lead.flow_version,
    }


def _safe_cell(value: str) -> str:
    """Stop a spreadsheet from running what a person typed as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def funnel_table(rows: list[StatRow], by_day: bool = False) -> str:
    """Counts per channel and flow (and day), one aligned text table."""
    totals: dict[tuple[str, ...], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        key = (row.day, row.channel, row.flow) if by_day else (row.channel, row.flow)
        for column, kind, detail in FUNNEL_COLUMNS:
            if row.kind == kind and _detail_matches(row.detail, detail):
                totals[key][column] += row.count
    counts = tuple(column for column, _, _ in FUNNEL_COLUMNS)
    head = (("day",) if by_day else ()) + ("channel", "flow") + counts
    lines = [head]
    for key in sorted(totals):
        lines.append(key + tuple(str(totals[key][c]) for c, _, _ in FUNNEL_COLUMNS))
    if len(lines) == 1:
        return "no events yet\n"
    widths = [max(len(line[i] or "-") for line in lines) for i in range(len(head))]
    return "".join(
        "  ".join((cell or "-").ljust(width) for cell, width in zip(line, widths, strict=True))
        .rstrip() + "\n"
        for line in lines
    )


def _detail_matches(detail: str, wanted: str | None) -> bool:
    if wanted is None:
        return True
    if wanted == "*other":
        return detail != "book"
    return detail == wanted

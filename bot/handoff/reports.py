"""What the practice reads: leads as CSV or JSON, the funnel as a table, and a person's audit."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.core import records
from bot.core.records import Lead, StatRow
from bot.engine.followups import progress_words

# What a spreadsheet would run as a formula at the start of a cell.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
LEAD_FIELDS = ("created_at", "name", "email", "phone", "channel", "source", "flow", "drivers",
               "red_flag", "urgency", "flow_version", "consent_version", "progress")
FUNNEL_COLUMNS = (
    ("started", records.STARTED, None),
    ("finished", records.FINISHED, None),
    ("red_flag_exits", records.RED_FLAG, None),
    ("booking_clicks", records.LINK_CLICK, "book"),
    ("other_link_clicks", records.LINK_CLICK, "*other"),
    ("leads", records.LEAD, None),
    ("talk_requests", records.TALK_REQUEST, None),
    ("booked", records.BOOKED, None),
    ("booking_cancelled", records.BOOKING_CANCELLED, None),
    ("booking_rescheduled", records.BOOKING_RESCHEDULED, None),
    ("checkins_asked", records.FOLLOWUP_SCHEDULED, None),
    ("checkins_sent", records.FOLLOWUP_SENT, None),
    ("checkins_done", records.CHECKIN_FINISHED, None),
)


# Each step's conversion, from the step before it in the funnel (stats and the dashboard).
CONVERSION_FROM = (
    ("finished", "started"),
    ("red_flag_exits", "started"),
    ("booking_clicks", "finished"),
    ("booked", "booking_clicks"),
    ("leads", "finished"),
    ("checkins_done", "checkins_asked"),
)
RATE_OF = dict(CONVERSION_FROM)


def conversion(counts: Mapping[str, int], column: str) -> str:
    """A step's count as a share of the step before it ("75%"); "-" when nothing reached the
    step before, "" for a step with none before it."""
    before = RATE_OF.get(column)
    if before is None:
        return ""
    base = counts.get(before, 0)
    return f"{round(100 * counts.get(column, 0) / base)}%" if base else "-"


def export_leads(
    leads: list[Lead], output_format: str,
    progress: Mapping[tuple[str, str], dict[str, Any]] | None = None,
) -> str:
    """Leads as CSV (with a header) or as JSON lines; `progress` is each person's latest
    check-in (`Queries.latest_progress`), shown as one line."""
    found = progress or {}
    rows = [_lead_row(lead, found.get((lead.channel, lead.user_id))) for lead in leads]
    if output_format == "json":
        return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=LEAD_FIELDS)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _lead_row(lead: Lead, progress: dict[str, Any] | None = None) -> dict[str, str]:
    created = datetime.fromtimestamp(lead.created_at, UTC).isoformat(timespec="seconds")
    return {
        "created_at": created,
        "name": safe_cell(lead.name),
        "email": safe_cell(lead.email),
        "phone": lead.phone,
        "channel": lead.channel,
        "source": safe_cell(lead.source),
        "flow": lead.flow,
        "drivers": " ".join(lead.drivers),
        "red_flag": lead.red_flag or "",
        "urgency": lead.urgency or "",
        "flow_version": lead.flow_version,
        "consent_version": lead.consent_version,
        "progress": progress_words(progress) if progress else "",
    }


def safe_cell(value: str) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula (OWASP's CSV injection
    advice: a leading quote before = + - @ tab and line breaks)."""
    if value.startswith("'"):
        return value  # made safe already (the dashboard's export quotes this one's cells again)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def funnel_table(rows: list[StatRow], by_day: bool = False) -> str:
    """Counts per channel and flow (and day), one aligned text table."""
    totals: dict[tuple[str, ...], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        key = (row.day, row.channel, row.flow) if by_day else (row.channel, row.flow)
        for column, kind, detail in FUNNEL_COLUMNS:
            if row.kind == kind and detail_matches(row.detail, detail):
                totals[key][column] += row.count
    counts = tuple(column for column, _, _ in FUNNEL_COLUMNS)
    rates = tuple(f"{column}_%" for column, _ in CONVERSION_FROM)  # of the step before
    head = (("day",) if by_day else ()) + ("channel", "flow") + counts + rates
    lines = [head]
    for key in sorted(totals):
        lines.append(key + tuple(str(totals[key][c]) for c, _, _ in FUNNEL_COLUMNS)
                     + tuple(conversion(totals[key], c) for c, _ in CONVERSION_FROM))
    if len(lines) == 1:
        return "no events yet\n"
    widths = [max(len(line[i] or "-") for line in lines) for i in range(len(head))]
    return "".join(
        "  ".join((cell or "-").ljust(width) for cell, width in zip(line, widths, strict=True))
        .rstrip() + "\n"
        for line in lines
    )


def detail_matches(detail: str, wanted: str | None) -> bool:
    if wanted is None:
        return True
    if wanted == "*other":
        return detail != "book"
    return detail == wanted


def audit_text(described: dict[str, Any]) -> str:
    """What the bot asked one person and what it concluded, for a clinician's review.

    `described` is bot/engine/privacy.py's `describe`: answers by question (ids and words), the
    latest finished screening with its flow version, and every stored event with its version.
    """
    lines = [f"Audit of {described['user_id']} on {described['channel']}"]
    screening = described["last_screening"]
    if screening:
        lines += ["", f"Latest finished screening: {screening['flow']} "
                  f"v{screening['flow_version'] or '?'} ({screening['flow_title']})"]
        if screening["red_flag"]:
            lines.append(f"  concluded: red flag {screening['red_flag']} "
                         f"({screening['red_flag_title']}), urgency {screening['urgency']}")
        else:
            named = ", ".join(screening["drivers"]) or "no area named"
            lines.append(f"  concluded: {screening['result']}: {named}")
        if screening["unsure_flags"]:
            lines.append(f"  still unsure on: {', '.join(screening['unsure_flags'])}")
        lines += _answer_lines(screening["answers"])
    conversation = described["conversation"]
    if conversation and conversation["answers"]:
        state = "finished" if conversation["finished"] else "in progress"
        lines += ["", f"Current conversation: {conversation['flow']} ({state}, at "
                  f"{conversation['question']})"]
        lines += _answer_lines(conversation["answers"])
    if described["events"]:
        lines += ["", "Events:"]
        for event in described["events"]:
            version = f" v{event['flow_version']}" if event["flow_version"] else ""
            detail = f" {event['detail']}" if event["detail"] else ""
            lines.append(f"  {event['at']}  {event['kind']} {event['flow']}{detail}{version}")
    for consent in described["consents"]:
        withdrawn = f", withdrawn {consent['withdrawn_at']}" if consent["withdrawn_at"] else ""
        lines.append(f"Consent {consent['kind']}: text {consent['text_version']}, given "
                     f"{consent['given_at']}{withdrawn}")
    if described["leads"]:
        lines.append(f"Leads: {len(described['leads'])}")
    if len(lines) == 1:
        lines.append("nothing stored")
    return "\n".join(lines) + "\n"


def _answer_lines(answers: list[dict[str, Any]]) -> list[str]:
    if not answers:
        return ["  (no answers on record)"]
    width = max(len(a["question_id"]) for a in answers)
    return ["  asked and answered:"] + [
        f"    {a['question_id'].ljust(width)}  {_answer_id(a['answer_id'])} "
        f"({a['answer']})" + ("  [typed]" if a["typed"] else "")
        for a in answers
    ]


def _answer_id(value: object) -> str:
    if isinstance(value, list):
        return "+".join(str(v) for v in value)
    if isinstance(value, dict):
        return "typed"
    return str(value)

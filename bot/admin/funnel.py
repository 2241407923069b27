"""The funnel by week, channel and flow, and its chart: SVG bars drawn here, in Python.

The counting rules are the `stats` command's own (bot/handoff/reports.py `FUNNEL_COLUMNS`), so
the dashboard and `python -m bot stats` never disagree. The chart is plain SVG built on the
server: no script, nothing fetched from elsewhere, readable with scripts off, and a data table
beside it says the same in words (docs/dashboard.md says why).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from bot.core.records import StatRow
from bot.handoff.reports import FUNNEL_COLUMNS, detail_matches  # the stats' own rules

# What the chart shows, in funnel order, with the words staff read.
SHOWN = (
    ("started", "Started"),
    ("finished", "Finished"),
    ("red_flag_exits", "Red-flag exits"),
    ("booking_clicks", "Booking clicks"),
    ("booked", "Booked calls"),
    ("leads", "Leads"),
)
CHART_HEIGHT = 260
BAR_WIDTH = 14
BAR_GAP = 2
GROUP_GAP = 24
LEFT = 48  # room for the axis numbers
BOTTOM = 40  # room for the week labels
TOP = 16


def week_of(day: str) -> str:
    """The Monday (ISO date) of the week a day (YYYY-MM-DD) falls in."""
    when = date.fromisoformat(day)
    return (when - timedelta(days=when.weekday())).isoformat()


@dataclass
class Funnel:
    """Counts by (week, channel, flow); the channels and flows seen, for the filters."""

    counts: dict[tuple[str, str, str], dict[str, int]] = field(default_factory=dict)
    channels: list[str] = field(default_factory=list)
    flows: list[str] = field(default_factory=list)

    def rows(self) -> list[tuple[str, str, str, dict[str, int]]]:
        """(week, channel, flow, counts) in order, newest week last."""
        return [(*key, self.counts[key]) for key in sorted(self.counts)]

    def by_week(self) -> list[tuple[str, dict[str, int]]]:
        """Counts per week, channels and flows added up."""
        weeks: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for (week, _, _), counts in self.counts.items():
            for column, count in counts.items():
                weeks[week][column] += count
        return [(week, dict(weeks[week])) for week in sorted(weeks)]

    def totals(self) -> dict[str, int]:
        """Every count added up."""
        total: dict[str, int] = defaultdict(int)
        for counts in self.counts.values():
            for column, count in counts.items():
                total[column] += count
        return dict(total)


def funnel(rows: list[StatRow], channel: str = "", flow: str = "") -> Funnel:
    """The stats rows counted by week, channel and flow (only `channel`/`flow` when given)."""
    result = Funnel(channels=sorted({r.channel for r in rows}),
                    flows=sorted({r.flow for r in rows}))
    counts: dict[tuple[str, str, str], dict[str, int]] = defaultdict(
        lambda: {column: 0 for column, _, _ in FUNNEL_COLUMNS})
    for row in rows:
        if (channel and row.channel != channel) or (flow and row.flow != flow):
            continue
        entry = counts[(week_of(row.day), row.channel, row.flow)]  # every row's week shows
        for column, kind, detail in FUNNEL_COLUMNS:
            if row.kind == kind and detail_matches(row.detail, detail):
                entry[column] += row.count
    result.counts = dict(counts)
    return result


def axis(value: int) -> tuple[int, int]:
    """(top, step) of an axis for counts up to `value`: at most about five steps, each 1, 2 or
    5 x 10^n, the top the first step at or above the value (a count of 0 still gets 1)."""
    step = 1
    while True:
        for nice in (step, 2 * step, 5 * step):
            if nice * 5 >= value:
                return max(1, -(-value // nice)) * nice, nice
        step *= 10


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    height: float
    column: str
    label: str  # "Week of 2026-11-23: Started 12"


@dataclass(frozen=True)
class Chart:
    """A grouped bar chart, ready for the SVG template: bars, axis ticks, week labels."""

    width: float
    height: float
    bars: list[Bar]
    ticks: list[tuple[float, int]]  # (y, value)
    weeks: list[tuple[float, str]]  # (x of the group's centre, week)
    baseline: float
    left: float
    right: float
    bar_width: float = BAR_WIDTH


def chart(weeks: list[tuple[str, dict[str, int]]]) -> Chart:
    """Bars for each week's counts, one colour per funnel step, on one shared scale."""
    group = len(SHOWN) * (BAR_WIDTH + BAR_GAP) - BAR_GAP
    width = LEFT + max(1, len(weeks)) * (group + GROUP_GAP) + GROUP_GAP
    top, step = axis(max([c.get(col, 0) for _, c in weeks for col, _ in SHOWN] + [1]))
    baseline = TOP + CHART_HEIGHT
    scale = CHART_HEIGHT / top
    bars, labels = [], []
    for index, (week, counts) in enumerate(weeks):
        x0 = LEFT + GROUP_GAP + index * (group + GROUP_GAP)
        labels.append((x0 + group / 2, week))
        for position, (column, words) in enumerate(SHOWN):
            value = counts.get(column, 0)
            height = value * scale
            bars.append(Bar(x0 + position * (BAR_WIDTH + BAR_GAP), baseline - height, height,
                            column, f"Week of {week}: {words} {value}"))
    ticks = [(baseline - value * scale, value) for value in range(0, top + 1, step)]
    return Chart(width, baseline + BOTTOM, bars, ticks, labels, baseline, LEFT, width - 8)

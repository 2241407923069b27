"""Follow-ups a person asked for: when they may arrive and what a check-in compares (the timer
that fires them is the turn runner's, bot/turns/checkins.py).

A follow-up is a row in the store (due time, person, kind, attempt). Every process that runs a
channel polls for due rows; firing one is a turn under the person's lock that reads the row
again and moves it on (sent, postponed or stopped) in the same transaction as the message it
queues, so two processes or replicas never send it twice and a restart never loses it. A small
polled table was chosen over a scheduler library: APScheduler 3 keeps no per-person lock and
its job store would need the same row check; procrastinate runs on PostgreSQL only, and the
bot must keep working on SQLite.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.core.conversation import Conversation
from bot.engine.flow import Flow, FollowupSpec

# A follow-up due while the person is in the middle of something is put off this long, and
# given up after this many tries (it would interrupt them otherwise).
BUSY_DELAY = 6 * 3600.0
BUSY_TRIES = 4


def known_timezone(name: str) -> bool:
    """An IANA time zone name this machine knows (what a channel says is never trusted)."""
    if len(name) > 64 or not name.replace("/", "").replace("_", "").replace("-", "").replace(
            "+", "").isalnum():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def quiet_until(at: float, timezone: str, window: tuple[int, int] | None) -> float:
    """`at` itself when it is outside the quiet hours in that time zone, else the time they
    end (local wall-clock time, so daylight-saving changes are respected)."""
    if window is None:
        return at
    start, end = window
    local = datetime.fromtimestamp(at, ZoneInfo(timezone))
    minute = local.hour * 60 + local.minute
    wraps = start > end  # e.g. 20:00-09:00
    quiet = (minute >= start or minute < end) if wraps else start <= minute < end
    if not quiet:
        return at
    day = local.date() if not (wraps and minute >= start) else local.date() + timedelta(days=1)
    ends = datetime(day.year, day.month, day.day, end // 60, end % 60, tzinfo=local.tzinfo)
    return ends.timestamp()


def pointing_check(flow: Flow, conv: Conversation, driver: str) -> str:
    """The self-check whose answer scored the likely contributor named first (the one to try
    again at the check-in); "" when none did."""
    spec = flow.driver_specs.get(driver)
    if spec is None:
        return ""
    for answer in conv.history:
        state = flow.states.get(answer.state)
        if state is None or answer.typed or state.id not in spec.checks:
            continue
        picked = answer.value if isinstance(answer.value, tuple) else (answer.value,)
        for option_id in picked:
            option = state.option(option_id)
            if option is not None and option.scores.get(driver, 0) > 0:
                return state.id
    return ""


def baseline_of(flow: Flow, spec: FollowupSpec, conv: Conversation) -> dict[str, Any]:
    """What the check-in starts from: the facts the flow carries over, and the first likely
    contributor with the self-check that pointed to it; for a check-in asked for at a
    check-in, the screening's own (progress is always against the first screening)."""
    if "baseline_at" in conv.facts:  # asked for again at a check-in: the same starting point
        return {key: value for key, value in conv.facts.items() if key.startswith("baseline_")}
    outcome = conv.last_outcome or {}
    baseline: dict[str, Any] = {
        fact: conv.facts.get(source) for fact, source in spec.carry.items()
        if conv.facts.get(source) is not None
    }
    drivers = list(outcome.get("drivers") or ())
    if drivers:
        baseline["baseline_driver"] = drivers[0]
        check = pointing_check(flow, conv, drivers[0])
        if check:
            baseline["baseline_check"] = check
    return baseline


def progress_of(spec: FollowupSpec, facts: dict[str, Any]) -> dict[str, Any]:
    """The change since the screening: score before and after, and the self-check's change."""
    before = facts.get(spec.progress.get("before", ""))
    after = facts.get(spec.progress.get("after", ""))
    progress: dict[str, Any] = {"before": before, "after": after}
    if isinstance(before, int | float) and isinstance(after, int | float):
        progress["difference"] = after - before
    change = facts.get(spec.progress.get("change", ""))
    if change is not None:
        progress["check"] = facts.get("baseline_check", "")
        progress["check_change"] = change
    return progress


def progress_words(progress: dict[str, Any]) -> str:
    """A one-line summary of a check-in (leads export, the dashboard): `pain 6 -> 4; ...`."""
    parts = []
    if progress.get("before") is not None or progress.get("after") is not None:
        before = "?" if progress.get("before") is None else progress["before"]
        after = "?" if progress.get("after") is None else progress["after"]
        parts.append(f"pain {before} -> {after}")
    if progress.get("check"):
        parts.append(f"{progress['check']}: {progress.get('check_change', '')}")
    return "; ".join(parts)

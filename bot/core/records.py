"""What the store keeps besides conversations: funnel events and leads."""

from __future__ import annotations

from dataclasses import dataclass

# Funnel event kinds, stored one row per happening so stats survive restarts.
STARTED = "started"
FINISHED = "finished"
RED_FLAG = "red_flag"
LINK_CLICK = "link_click"
LEAD = "lead"
TALK_REQUEST = "talk_request"
EVENT_KINDS = (STARTED, FINISHED, RED_FLAG, LINK_CLICK, LEAD, TALK_REQUEST)


@dataclass(frozen=True, slots=True)
class Lead:
    """A person who asked to be contacted and consented to it."""

    channel: str
    user_id: str
    name: str
    email: str
    phone: str
    source: str
    flow: str
    drivers: tuple[str, ...]
    red_flag: str | None
    created_at: float
    flow_version: str = ""
    urgency: str | None = None


@dataclass(frozen=True, slots=True)
class StatRow:
    """How many events of one kind happened on one day, channel and flow."""

    day: str
    channel: str
    flow: str
    kind: str
    detail: str
    count: int

"""One person's conversation on one channel: where they are and what they answered."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from bot.core import jsontext

_FIELDS = (
    "channel", "user_id", "flow", "state", "facts", "scores", "turn", "source", "pending",
    "finished", "last_choice", "relay", "last_outcome", "started_at", "updated_at", "selection",
    "last_sequence", "booking_ref", "timezone", "screening", "counted_start",
)


def new_booking_ref() -> str:
    """An opaque, random reference for a screening: nothing about the person can be read from
    it; only the store knows whose it is."""
    return secrets.token_urlsafe(12)


@dataclass(slots=True, frozen=True)
class Answer:
    """One answer, in order: the state it answered, and an option id or a typed value."""

    state: str
    value: Any
    typed: bool = False


@dataclass(slots=True)
class Conversation:
    """Saved after every turn, keyed by (channel, user_id). Also the `transitions` model.

    `history` is the source of truth for answers; `facts` and `scores` follow from it and are
    kept for speed (the engine replays history after `back`).
    """

    channel: str
    user_id: str
    flow: str | None = None
    state: str = ""
    history: list[Answer] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, int] = field(default_factory=dict)
    turn: int = 0
    source: str = ""
    pending: str = ""
    finished: bool = False
    last_choice: str = ""
    relay: bool = False  # staff are talking with this person; their texts go to staff
    last_outcome: dict[str, Any] | None = None  # the latest finished screening, for leads
    started_at: float = 0.0
    updated_at: float = 0.0
    selection: list[str] = field(default_factory=list)  # picks so far in a multi-select
    last_sequence: int = 0  # the platform's number of the latest update applied (Telegram's)
    booking_ref: str = ""  # the screening's opaque reference in booking links (a random token)
    timezone: str = ""  # the person's IANA time zone, when a channel told (for quiet hours)
    # The screening flow this conversation last began: leads, talk requests, clicks and
    # bookings are credited to it (a contact form is not a screening of its own).
    screening: str = ""
    counted_start: bool = False  # the screening's first answer was counted as its start

    @property
    def credited_flow(self) -> str:
        """The flow a lead, click or booking from this conversation counts for."""
        return self.screening or self.flow or ""

    @property
    def answers(self) -> dict[str, Any]:
        """The latest answer given in each state."""
        return {answer.state: answer.value for answer in self.history}

    def begin(self, flow: str, state: str, now: float | None = None,
              screening: bool = True) -> None:
        """Start a flow from its first state, keeping the turn counter and the source; a
        screening gets a new booking reference, another flow (the contact form) keeps the
        screening's."""
        self.flow, self.state = flow, state
        if screening or not self.booking_ref:
            self.booking_ref = new_booking_ref()  # a booking from this screening's link names it
        if screening:
            self.screening, self.counted_start = flow, False
        self.clear_answers()
        self.started_at = now if now is not None else time.time()

    def clear_answers(self) -> None:
        self.history, self.facts, self.scores = [], {}, {}
        self.pending, self.finished, self.last_choice = "", False, ""
        self.selection = []

    def to_json(self) -> str:
        data = {name: getattr(self, name) for name in _FIELDS}
        data["history"] = [[a.state, a.value, a.typed] for a in self.history]
        return jsontext.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> Conversation:
        data = jsontext.loads(text)
        history = [Answer(*entry) for entry in data.pop("history", [])]
        history = [
            Answer(a.state, tuple(a.value), a.typed) if isinstance(a.value, list) else a
            for a in history
        ]
        known = {name: data[name] for name in _FIELDS if name in data}
        return cls(history=history, **known)

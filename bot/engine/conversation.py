"""One person's conversation on one channel: where they are and what they answered."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(slots=True)
class Step:
    """What a conversation looked like before one answer, so `back` can undo it."""

    state: str
    answers: dict[str, Any]
    facts: dict[str, Any]
    scores: dict[str, int]


@dataclass(slots=True)
class Conversation:
    """Saved after every turn, keyed by (channel, user_id). Also the `transitions` model."""

    channel: str
    user_id: str
    flow: str | None = None
    state: str = ""
    answers: dict[str, Any] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, int] = field(default_factory=dict)
    history: list[Step] = field(default_factory=list)
    turn: int = 0
    source: str = ""
    pending: str = ""
    finished: bool = False
    last_choice: str = ""
    started_at: float = 0.0
    updated_at: float = 0.0

    @property
    def key(self) -> tuple[str, str]:
        return self.channel, self.user_id

    def begin(self, flow: str, state: str, now: float | None = None) -> None:
        """Start a flow from its first state, keeping the turn counter and the source."""
        self.flow, self.state = flow, state
        self.answers, self.facts, self.scores, self.history = {}, {}, {}, []
        self.pending, self.finished, self.last_choice = "", False, ""
        self.started_at = now if now is not None else time.time()

    def snapshot(self) -> None:
        self.history.append(
            Step(self.state, dict(self.answers), dict(self.facts), dict(self.scores))
        )

    def undo(self) -> bool:
        """Go back one answer; False when there is nothing to undo."""
        if not self.history:
            return False
        step = self.history.pop()
        self.state, self.answers, self.facts, self.scores = (
            step.state,
            step.answers,
            step.facts,
            step.scores,
        )
        self.finished = False
        return True

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, data: str) -> Conversation:
        raw = json.loads(data)
        raw["history"] = [Step(**step) for step in raw.get("history", [])]
        known = {name for name in cls.__dataclass_fields__}
        return cls(**{key: value for key, value in raw.items() if key in known})

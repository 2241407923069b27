"""A test client for the engine, shaped like a person: `send(text)` and `click(choice)`.

Used by transcripts (`python -m bot test-dialogs`), the unit tests and the benchmark.
"""

from __future__ import annotations

from bot.core.events import Event, EventKind, Reply
from bot.core.markup import plain
from bot.turns.runner import TurnRunner


class DialogClient:
    """One person talking to an engine on one channel; remembers every reply."""

    def __init__(self, engine: TurnRunner, user_id: str = "person", channel: str = "test") -> None:
        self.engine = engine
        self.user_id = user_id
        self.channel = channel
        self.replies: list[Reply] = []

    @property
    def last(self) -> Reply:
        return self.replies[-1]

    @property
    def text(self) -> str:
        """The latest reply as plain text."""
        return "\n".join(plain(message.text) for message in self.last.messages)

    @property
    def choice_ids(self) -> list[str]:
        """Ids of the buttons on the latest reply's messages."""
        return [choice.id for message in self.last.messages for choice in message.choices]

    async def send(self, text: str) -> Reply:
        """Type a message (a `/command` is sent as a command)."""
        return await self._handle(Event.from_text(self.channel, self.user_id, text))

    async def click(self, choice_id: str, replies_ago: int = 0) -> Reply:
        """Press a button shown on the latest reply, or on one `replies_ago` replies back."""
        shown = self.replies[-1 - replies_ago].turn if self.replies else 0
        event = Event(self.channel, self.user_id, EventKind.PRESS, choice_id=choice_id,
                      turn=shown)
        return await self._handle(event)

    async def send_unsupported(self) -> Reply:
        """Send something that is not text: a sticker, a photo, a voice note."""
        return await self._handle(Event(self.channel, self.user_id, EventKind.UNSUPPORTED))

    async def _handle(self, event: Event) -> Reply:
        reply = await self.engine.handle(event)
        self.replies.append(reply)
        return reply

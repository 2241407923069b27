"""A simulated person chatting with the bot through the fake Bot API, and the hook that tells
when the bot has finished an update, so no test sleeps to wait."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.conftest import SAFETY_QUESTIONS_NO_INJURY
from tests.fakes.telegram.server import FakeTelegram, SentMessage, Update

if TYPE_CHECKING:
    from bot.channels.telegram import TelegramChannel

# The knee screening pressed through after /start, by button label: for oneself, no recent
# injury, "No" to every safety question, two things that make it worse picked one by one (each
# pick edits the question in place) then "Done"; several likely contributors in the result.
SCREENING_BY_BUTTONS = [
    "Let's start",
    "Me",
    "18 to 54",
    "No",
    "No swelling",
    "No",
    *["No"] * len(SAFETY_QUESTIONS_NO_INJURY),
    "Inside of the knee",
    "Stairs",
    "Running",
    "Done",
    "More than 3 months",
    "Skip this one",
    "No scans",
    "Yes",
    "No",
    "Running",
    "Done",
    "Yes",
    "No",
    "No",
    "Do the checks now",
    "Arch flattens, knee follows it in",
    "No, I had to move closer",
    "Deep and comfortable",
    "No",
    "Steady and level",
]

WaitHandled = Callable[[int], Awaitable[None]]


@dataclass
class Person:
    """Someone chatting with the bot through the fake; each action returns what the bot sent."""

    telegram: FakeTelegram
    wait_handled: WaitHandled
    user_id: int
    first_name: str = "Alex"
    chat: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.chat = self.chat or {
            "id": self.user_id,
            "type": "private",
            "first_name": self.first_name,
        }
        self.telegram.register_chat(self.chat)

    @property
    def user(self) -> dict[str, Any]:
        return {"id": self.user_id, "is_bot": False, "first_name": self.first_name}

    @property
    def received(self) -> list[SentMessage]:
        return self.telegram.messages_to(self.chat["id"])

    @property
    def question(self) -> SentMessage:
        """The newest message with choice buttons."""
        for message in reversed(self.received):
            if any("callback_data" in button for button in message.buttons):
                return message
        raise AssertionError("the bot has not asked anything with buttons")

    async def send(self, text: str) -> list[SentMessage]:
        return await self.act(self.telegram.message_update(self.user, self.chat, text=text))

    async def send_content(self, **content: Any) -> list[SentMessage]:
        """A sticker, photo, voice note or file (`sticker={...}`)."""
        return await self.act(self.telegram.message_update(self.user, self.chat, **content))

    async def reply(self, text: str, to: SentMessage) -> list[SentMessage]:
        """Reply to one of the bot's messages (Telegram's reply_to_message)."""
        original = self.telegram.message_json(to)
        update = self.telegram.message_update(self.user, self.chat, text=text,
                                              reply_to_message=original)
        return await self.act(update)

    async def edit(self, text: str) -> list[SentMessage]:
        update = self.telegram.message_update(self.user, self.chat, text=text)
        update["message"]["edit_date"] = int(time.time())
        return await self.act({"edited_message": update["message"]})

    async def press(self, label: str, on: SentMessage | None = None) -> list[SentMessage]:
        """Press the button with this label on a message (the newest question by default)."""
        message = on or self.question
        data = message.button(label)["callback_data"]
        return await self.act(self.telegram.press_update(self.user, message, data))

    async def choose(self, choice_id: str, on: SentMessage | None = None) -> list[SentMessage]:
        """Press the button for a choice id (`no`, `done`), whatever its label says."""
        message = on or self.question
        data = [b["callback_data"] for b in message.buttons if "callback_data" in b]
        found = [d for d in data if d.split("|", 1)[1] == choice_id]
        assert found, f"no button for {choice_id!r} among {message.labels}"
        return await self.act(self.telegram.press_update(self.user, message, found[0]))

    async def act(self, update: Update) -> list[SentMessage]:
        """Push any update as this person; what the bot sent to their chat in answer."""
        seen = len(self.received)
        update_id = await self.telegram.push(update)
        await self.wait_handled(update_id)
        return self.received[seen:]


class HandledUpdates:
    """Knows when the bot has finished an update: the channel's dispatcher tells it each id
    handled (or failed), whichever handler took it."""

    def __init__(self) -> None:
        self.ids: set[int] = set()
        self._changed = asyncio.Event()

    def attach(self, channel: TelegramChannel) -> None:
        channel.dispatcher.after.append(self._record)

    def _record(self, update_id: int) -> None:
        self.ids.add(update_id)
        self._changed.set()

    async def wait(self, update_id: int, timeout: float = 10.0) -> None:
        """Return once the update was handled; fail the test after `timeout` seconds."""
        async with asyncio.timeout(timeout):
            while update_id not in self.ids:
                self._changed.clear()
                await self._changed.wait()

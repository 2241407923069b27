"""A simulated person who screens as people do: they answer a question only once it reached
their chat, and remember exactly which questions they were shown and which they answered.

Used where the bot runs as separate processes (kill -9, replicas), so nothing waits on the
bot's internals: only on what arrives at the fake Telegram.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.fakes.telegram.person import Person
from tests.fakes.telegram.server import FakeTelegram, SentMessage

SHOWN_AGAIN = "may not have reached you"  # the bot's words when it shows a question again


@dataclass
class Screening:
    """One person's way through a script of choice ids, pressing each on the newest question
    that offers it (and was shown after their previous answer); a step `text@choice` types
    the text instead, once a question offering that choice has arrived."""

    person: Person
    telegram: FakeTelegram
    script: tuple[str, ...]
    think: tuple[float, float] = (0.0, 0.02)  # seconds between seeing a question and answering
    pressed: list[tuple[int, str]] = field(default_factory=list)  # (turn shown, choice id)
    rng: random.Random = field(default_factory=random.Random)
    seen_before_last: int = 0  # messages in the chat when the last answer was sent
    _typed: str = ""
    _typed_at: int = 0
    _shown_again: bool = False

    async def run(self, start: str = "/start", timeout: float = 60.0) -> None:
        """From the first message to the last press of the script."""
        await self.telegram.push(self.telegram.message_update(self.person.user, self.person.chat,
                                                              text=start))
        last_turn = -1
        for step in self.script:
            typed, _, choice_id = step.rpartition("@")  # "5@skip": type 5 where skip is offered
            question = await self._question_offering(choice_id, after=last_turn, timeout=timeout)
            await asyncio.sleep(self.rng.uniform(*self.think))
            self.seen_before_last = len(self.person.received)
            if typed:
                last_turn = question.turn or 0
                self.pressed.append((last_turn, step))
                self._typed = typed
                await self._type(typed)
                continue
            data = next(b["callback_data"] for b in question.buttons
                        if b.get("callback_data", "").split("|", 1)[-1] == choice_id)
            last_turn = int(data.split("|", 1)[0])
            self.pressed.append((last_turn, choice_id))
            await self.telegram.push(self.telegram.press_update(self.person.user, question, data))

    async def finished(self, timeout: float = 60.0) -> None:
        """Until the reply to the last answer (the result) reached the person."""
        await self.telegram.wait_until(
            self.person.user_id, lambda: len(self.person.received) > self.seen_before_last,
            timeout)

    async def _type(self, text: str) -> None:
        self._typed_at = len(self.person.received)
        await self.telegram.push(self.telegram.message_update(self.person.user, self.person.chat,
                                                              text=text))

    async def _question_offering(self, choice_id: str, after: int, timeout: float) -> SentMessage:
        """The newest question offering the choice, shown after turn `after`. A person whose
        typed answer came back with "may not have reached you" (the bot had not yet seen the
        question delivered) types it again, as anyone would."""
        found: list[SentMessage] = []
        while True:
            self._shown_again = False
            await self.telegram.wait_until(self.person.user_id, self._arrived(choice_id, after,
                                                                              found), timeout)
            if not self._shown_again:
                return found[0]
            await self._type(self._typed)

    def _arrived(self, choice_id: str, after: int, found: list[SentMessage]) -> Callable[[], bool]:
        def arrived() -> bool:
            if self._typed and any(SHOWN_AGAIN in m.text
                                   for m in self.person.received[self._typed_at:]):
                self._shown_again = True
                return True
            for message in reversed(self.person.received):
                turn = message.turn
                if turn is not None and turn > after and _offers(message, choice_id):
                    found[:] = [message]
                    self._typed = ""
                    return True
            return False

        return arrived


def _offers(message: SentMessage, choice_id: str) -> bool:
    return any(b.get("callback_data", "").split("|", 1)[-1] == choice_id for b in message.buttons)

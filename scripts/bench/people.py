"""The simulated people and the fake Bot API, in a process of their own (see bench_telegram.py).

Each person sends /start, then presses through the knee screening like a person: every press
waits for the bot's next question, or for its question edited with the pick ticked. For an echo
bot the same number of updates: /start, then presses, each waiting for the echo.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection

from tests.fakes.telegram import SCREENING_BY_BUTTONS, TOKEN, FakeTelegram, Person

PRESSES = SCREENING_BY_BUTTONS
UPDATES_PER_PERSON = 1 + len(PRESSES)
FIRST_USER_ID = 10_000
WAIT = 120  # seconds a person waits for an answer before the run fails


async def screening_person(telegram: FakeTelegram, user_id: int) -> None:
    """/start, then press through the whole screening, each press on the newest question."""
    person = Person(telegram, _no_wait, user_id)
    await _act_and_wait(person, lambda: person.send("/start"))
    for label in PRESSES:
        shown = _newest_turn(person)
        await person.press(label)
        await telegram.wait_until(
            user_id, lambda shown=shown: _newest_turn(person) > shown, timeout=WAIT
        )


async def echo_person(telegram: FakeTelegram, user_id: int) -> None:
    """The same number of updates for an echo bot: a text, then presses, one at a time."""
    person = Person(telegram, _no_wait, user_id)
    await _act_and_wait(person, lambda: person.send("/start"))
    for _ in PRESSES:
        update = telegram.press_update(person.user, person.received[-1], "1|press")
        await _act_and_wait(person, lambda update=update: telegram.push(update))


async def _no_wait(update_id: int) -> None:
    """Completion is the bot's answer arriving (see _act_and_wait), not a hook in the bot."""


async def _act_and_wait(person: Person, act: Callable[[], Awaitable[object]]) -> None:
    expected = len(person.received) + 1
    await act()
    await person.telegram.wait_for_messages(person.user_id, expected, timeout=WAIT)


def _newest_turn(person: Person) -> int:
    return max((m.turn for m in person.received if m.turn is not None), default=-1)


async def drive(screening: bool, people: int, conn: Connection) -> None:
    """Serve the fake API; on "go", run everybody at once; report the seconds it took."""
    async with FakeTelegram() as telegram:
        # No flood control in the fake (Telegram's 30 messages/s, 1/s per chat after a burst):
        # this measures the bots, not those limits.
        telegram.flood.overall_per_second = telegram.flood.chat_per_second = 0
        telegram.flood.group_per_minute = 0
        conn.send((telegram.base_url, TOKEN))
        await asyncio.to_thread(conn.recv)  # go
        person = screening_person if screening else echo_person
        began = time.perf_counter()
        await asyncio.gather(*(person(telegram, FIRST_USER_ID + n) for n in range(people)))
        conn.send((time.perf_counter() - began, people * UPDATES_PER_PERSON))
        await asyncio.to_thread(conn.recv)  # stop: the bot has stopped


def main(screening: bool, people: int, conn: Connection) -> None:
    asyncio.run(drive(screening, people, conn))

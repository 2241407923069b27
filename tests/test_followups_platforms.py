"""Check-ins on the real platform libraries against the local fakes: asked for on Telegram or
Discord, the bot stopped and started again, the due time passed on a clock the test moves;
delivered once, with a second process running, and never after `/stop reminders`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from bot.core.records import CANCELLED, PENDING, SENT
from bot.run import Runner
from bot.settings import Settings
from tests.conftest import HIP_MOBILITY_RUN
from tests.fakes.telegram import FakeTelegram, Person
from tests.fakes.telegram.person import HandledUpdates
from tests.harness.discord import (  # noqa: F401  (the Discord fixtures: person, server)
    THROUGH_THE_CHECK,
    Server,
    person,
    server,
)
from tests.harness.telegram import start_to_pain_questions, telegram_settings

DAY = 86400.0
STAFF_CHAT = {"id": -100555, "type": "supergroup", "title": "Practice staff"}
TIMERS = {"quiet_hours": "", "poll_seconds": 0.05}  # quiet hours: tests/test_followups.py
INTRO = "You asked me to check in two weeks after your knee check"
RETRY_INTRO = "a good time to try the self-checks again"


class MovableClock:
    """Real time plus an offset the test moves forward (days pass in a moment)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@asynccontextmanager
async def process(settings: Settings, clock: Callable[[], float], only: list[str],
                  handled: HandledUpdates | None = None,
                  discord: Server | None = None) -> AsyncIterator[Runner]:
    """One bot process (the runner as `python -m bot run` starts it) on a movable clock."""
    runner = Runner(settings, only=only, clock=clock)
    if handled is not None:
        (channel,) = runner.channels
        handled.attach(channel)  # type: ignore[attr-defined]
    if discord is not None:
        discord.listen(runner)
    try:
        await runner.start()
        yield runner
    finally:
        await runner.stop()


async def followup_statuses(runner: Runner, channel: str, user_id: str) -> list[str]:
    return [f.status for f in await runner.engine.store.followups(channel, user_id)]


async def until(condition: Callable[[], object], timeout: float = 15.0) -> None:
    """Wait until `condition()` (or the coroutine it returns) is true."""
    async with asyncio.timeout(timeout):
        while True:
            result = condition()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return
            await asyncio.sleep(0.02)


async def screen_on_telegram(alex: Person) -> None:
    """The knee check to a result naming hip mobility, the pain typed as 6."""
    await start_to_pain_questions(alex)
    for choice in HIP_MOBILITY_RUN:
        await (alex.send("6") if choice == "skip" else alex.choose(choice))
    assert "likely contributor" in alex.received[-1].text


def texts(alex: Person) -> list[str]:
    return [message.text for message in alex.received]


async def test_a_telegram_check_in_arrives_once_after_a_restart_with_two_processes_running(
    telegram: FakeTelegram, tmp_path: Path
) -> None:
    clock = MovableClock()
    settings = telegram_settings(tmp_path, telegram, staff_telegram_chat_id=STAFF_CHAT["id"],
                                 followups=TIMERS)
    handled = HandledUpdates()
    alex = Person(telegram, handled.wait, 501)
    Person(telegram, handled.wait, 900, "Dana", STAFF_CHAT)  # the staff group exists
    async with process(settings, clock, ["telegram"], handled) as bot:
        await screen_on_telegram(alex)
        await alex.press("Remind me to check in")
        await alex.press("In 2 weeks: check in on my knee")
        assert "I'll message you here on" in alex.received[-1].text
        clock.offset = 13 * DAY  # not yet due
        bot.engine.followups.wake()
        await asyncio.sleep(0.3)
        assert await followup_statuses(bot, "telegram", "501") == [PENDING]
    seen = len(alex.received)

    clock.offset = 14 * DAY + 60  # the bot was down when it fell due
    async with process(settings, clock, []) as web_only:  # a process without Telegram
        await until(lambda: _sent(web_only))
        assert len(alex.received) == seen  # it cannot send to Telegram; the row waits
        clock.offset += 11  # past the outbox's first-send grace
        handled = HandledUpdates()
        alex = Person(telegram, handled.wait, 501)
        async with process(settings, clock, ["telegram"], handled) as bot:
            await telegram.wait_until(501, lambda: any(INTRO in t for t in texts(alex)))
            await asyncio.sleep(0.5)  # both processes keep polling: nothing comes twice
            arrived = texts(alex)[seen:]
            assert sum(INTRO in t for t in arrived) == 1 and len(arrived) == 2
            assert "has anything new happened" in arrived[1]

            await alex.press("No, nothing new")
            await alex.send("3")
            answer = await alex.press("Better")

            assert "6 then, 3 now (out of 10), 3 points lower" in answer[-1].text
            await telegram.wait_until(STAFF_CHAT["id"], lambda: any(
                "Check-in" in m.text for m in telegram.messages_to(STAFF_CHAT["id"])))
            (notice,) = [m for m in telegram.messages_to(STAFF_CHAT["id"])
                         if "Check-in" in m.text]
            assert "6 at the screening, 3 now" in notice.text
            assert await followup_statuses(bot, "telegram", "501") == [SENT]


async def _sent(runner: Runner) -> bool:
    return await followup_statuses(runner, "telegram", "501") == [SENT]


async def test_after_stop_reminders_on_telegram_nothing_arrives(
    telegram: FakeTelegram, tmp_path: Path
) -> None:
    clock = MovableClock()
    settings = telegram_settings(tmp_path, telegram, followups=TIMERS)
    handled = HandledUpdates()
    alex = Person(telegram, handled.wait, 502)
    async with process(settings, clock, ["telegram"], handled) as bot:
        await screen_on_telegram(alex)
        await alex.press("Remind me to check in")
        await alex.press("In 3 days: retry the self-checks")
        answer = await alex.send("/stop reminders")
        assert "cancelled" in answer[0].text
        clock.offset = 30 * DAY
        bot.engine.followups.wake()
        await asyncio.sleep(0.5)
        assert not any(RETRY_INTRO in t for t in texts(alex))
        assert await followup_statuses(bot, "telegram", "502") == [CANCELLED]


async def test_a_discord_check_in_arrives_once_in_the_dm_after_a_restart(
    server: Server, person
) -> None:
    clock = MovableClock()
    settings = server.settings(followups=TIMERS)
    anna = person(101, "anna")
    async with process(settings, clock, ["discord"], discord=server) as bot:
        await anna.runs("kneecheck", in_dm=True)
        for label in THROUGH_THE_CHECK:
            await anna.presses(label)
        await anna.presses("Remind me to check in")
        await anna.presses("In 3 days: retry the self-checks")
        assert "I'll message you here on" in anna.last_message().content
        assert await followup_statuses(bot, "discord", "101") == [PENDING]
    seen = len(anna.dm())

    clock.offset = 3 * DAY + 60
    async with process(settings, clock, ["discord"], discord=server) as bot, \
            process(settings, clock, []):  # a second process, without Discord
        await until(lambda: sum(RETRY_INTRO in m.content for m in anna.dm()) >= 1)
        await asyncio.sleep(0.5)
        arrived = anna.dm()[seen:]
        assert sum(RETRY_INTRO in m.content for m in arrived) == 1
        assert arrived[-1].button("No, nothing new") is not None

        await anna.presses("No, nothing new")
        await anna.types("2")
        await anna.presses("Better")
        assert "nothing to compare yet" in anna.last_message().content  # pain skipped before
        assert await followup_statuses(bot, "discord", "101") == [SENT]


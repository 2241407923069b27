"""A pressed button's spinner stops even when Telegram fails the answer to its callback query
(429, 5xx, a timeout): the answer is tried again, within the press's window, and never holds
the turn's reply up (bot/channels/telegram/callbacks.py)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from bot.channels.telegram.callbacks import ANSWER_WITHIN
from tests.fakes.telegram import FakeTelegram
from tests.harness.screenings import assert_questions_arrived_in_order, people
from tests.harness.telegram import RunningBot, bot_running, telegram_settings

ANSWER = "answerCallbackQuery"


async def every_press_answered(telegram: FakeTelegram, timeout: float) -> list[str]:
    """Wait up to `timeout` seconds for every press's query to be answered; those still not."""
    deadline = time.monotonic() + timeout
    while True:
        unanswered = [query for query in telegram.pressed_queries
                      if query not in telegram.answered_queries]
        if not unanswered or time.monotonic() > deadline:
            return unanswered
        await asyncio.sleep(0.1)


async def press_first_button(bot: RunningBot) -> tuple[float, float]:
    """Alex starts and presses "Let's start": (when pressed, when the reply arrived)."""
    alex = bot.person()
    await alex.send("/start")
    seen = len(alex.received)
    pressed = time.monotonic()
    data = alex.received[-1].button("Let's start")["callback_data"]
    await bot.telegram.push(bot.telegram.press_update(alex.user, alex.received[-1], data))
    await bot.telegram.wait_until(alex.user_id, lambda: len(alex.received) > seen, 10)
    return pressed, time.monotonic()


async def test_every_spinner_stops_when_telegram_fails_answers_at_random(
    telegram: FakeTelegram, tmp_path: Path
) -> None:
    telegram.fail_at_random(ANSWER, 0.3, statuses=(502, 500, 503, 429), seed=3)
    screenings = people(telegram, 4)
    async with bot_running(telegram_settings(tmp_path, telegram), telegram):
        await asyncio.gather(*(s.run(timeout=60) for s in screenings))
        for screening in screenings:
            await screening.finished()
        unanswered = await every_press_answered(telegram, ANSWER_WITHIN + 1)
    failed = telegram.random_failures[ANSWER]
    assert {502, 500, 503} & set(failed) and len(failed) >= 10, "the run did meet failures"
    presses = len(telegram.pressed_queries)
    assert presses >= 4 * 10
    assert not unanswered, f"{len(unanswered)} of {presses} spinners kept turning"
    assert_questions_arrived_in_order(screenings)


async def test_an_answer_that_times_out_is_tried_again_without_holding_the_reply_up(
    telegram: FakeTelegram, tmp_path: Path
) -> None:
    telegram.stall(ANSWER, 6.0)  # past the bot's 5 s read timeout
    async with bot_running(telegram_settings(tmp_path, telegram), telegram) as bot:
        pressed, replied = await press_first_button(bot)
        assert replied - pressed < 2.0, "the reply did not wait for the answer"
        assert not await every_press_answered(telegram, ANSWER_WITHIN)
    tries = [call for call in telegram.calls if call.method == ANSWER]
    assert len(tries) == 2 and tries[0].status == 0, "the timed-out try was dropped, then again"


@pytest.mark.parametrize("window", [2.0, 3.0, 4.0])
async def test_a_failing_answer_is_tried_again_only_within_the_press_window(
    telegram: FakeTelegram, tmp_path: Path, window: float
) -> None:
    telegram.fail(ANSWER, 502, "Bad Gateway", times=1000)
    async with bot_running(telegram_settings(tmp_path, telegram), telegram) as bot:
        bot.channel.sender.answers.within = window
        pressed, replied = await press_first_button(bot)
        assert replied - pressed < 1.5, "the reply did not wait for the answer"
        await asyncio.sleep(window + 1.0)
    tries = [call.at - pressed for call in telegram.calls if call.method == ANSWER]
    assert len(tries) >= 3 + int(window > 2), "tried again, pausing longer each time"
    assert max(tries) < window, "never after the window (the app has stopped waiting)"
    assert max(tries) > window - 2.5, "nor given up long before it"


@pytest.mark.parametrize(("retry_after", "answered"), [(1, True), (2, True), (4, False)])
async def test_a_flood_limited_answer_waits_only_when_the_wait_ends_within_the_window(
    telegram: FakeTelegram, tmp_path: Path, retry_after: int, answered: bool
) -> None:
    telegram.fail(ANSWER, 429, retry_after=retry_after)
    async with bot_running(telegram_settings(tmp_path, telegram), telegram) as bot:
        bot.channel.sender.answers.within = 3.0
        pressed, _ = await press_first_button(bot)
        unanswered = await every_press_answered(telegram, 4.0)
    tries = [call.at - pressed for call in telegram.calls if call.method == ANSWER]
    assert (not unanswered) is answered
    assert len(tries) == (2 if answered else 1), "a wait past the window is not waited out"

"""Every answer applied exactly once, every reply delivered: Telegram failing sends (502, 429),
a bot killed with SIGKILL mid-screening (polling and webhook), malformed updates.

The bot runs as `python -m bot telegram` does (in this process, or as real processes that are
killed); people are simulated against the fake Bot API and answer only what reached them.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import aiohttp
import pytest

from bot.app import build_engine
from bot.core.events import Event
from bot.run import wiring_of
from bot.turns import outbox
from tests.fakes.telegram import SECRET_HEADER, FakeTelegram
from tests.harness.ports import free_port
from tests.harness.screenings import (
    assert_questions_arrived_in_order,
    assert_screened_exactly_once,
    bot_environment,
    bot_process,
    expected_answers,
    people,
    wait_ready,
)
from tests.harness.telegram import bot_running, local_url, telegram_settings, webhook_settings

# -- failing sends -----------------------------------------------------------------------


async def test_every_reply_arrives_when_telegram_answers_502_and_429_at_random(
    telegram: FakeTelegram, tmp_path: Path
) -> None:
    telegram.fail_at_random("sendMessage", 0.25, statuses=(502, 429, 500, 503), seed=7)
    settings = telegram_settings(tmp_path, telegram)
    screenings = people(telegram, 6)
    async with bot_running(settings, telegram):
        await asyncio.gather(*(s.run(timeout=60) for s in screenings))
        for screening in screenings:
            await screening.finished()
    failed = telegram.random_failures["sendMessage"]
    assert {502, 429} <= set(failed) and len(failed) >= 10, "the run did meet failures"
    assert_questions_arrived_in_order(screenings)
    await assert_screened_exactly_once(settings, [s.person.user_id for s in screenings],
                                       await expected_answers(tmp_path))


async def test_a_typed_answer_to_a_question_that_never_arrived_is_not_applied(
    telegram: FakeTelegram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox, "FIRST_RETRY", 60.0)  # the retry comes after they type
    settings = telegram_settings(tmp_path, telegram)
    async with bot_running(settings, telegram) as bot:
        alex = bot.person()
        await alex.send("/start")
        await alex.choose("begin")
        await alex.choose("me")
        for choice in ("adult", "no", "no"):  # 18 to 54, no recent injury, no swelling
            await alex.choose(choice)
        telegram.fail("sendMessage", 502, "Bad Gateway")
        shown = len(alex.received)
        await alex.choose("no")  # no calf symptom: the first safety question fails to arrive
        assert len(alex.received) == shown
        state = await bot.state_of(alex)
        assert state == "rf_after_procedure"

        reply = await alex.send("no")  # meant for something else: they never saw the question

        assert await bot.state_of(alex) == state, "nothing applied to an unseen question"
        assert "may not have reached you" in reply[0].text
        assert "Safety question 1" in reply[-1].text or "hot" in reply[-1].text.lower()
        assert await bot.engine.store.undelivered("telegram", str(alex.user_id)) == 0
        await alex.send("no")  # now they have seen it
        assert await bot.state_of(alex) != state
    await asyncio.sleep(0)


# -- kill -9 ---------------------------------------------------------------------------------


@pytest.mark.parametrize("webhook", [False, True], ids=["polling", "webhook"])
@pytest.mark.process
async def test_kill_9_mid_screening_loses_no_update_and_applies_none_twice(
    telegram: FakeTelegram, tmp_path: Path, webhook: bool
) -> None:
    settings = (webhook_settings if webhook else telegram_settings)(
        tmp_path, telegram, **({} if webhook else {"web_port": free_port()}))
    telegram.webhook_retries, telegram.webhook_retry_pause = 200, 0.1  # Telegram keeps trying
    telegram.slow_down("sendMessage", 0.02)  # replies in flight when the kill comes
    env = bot_environment(settings, telegram)
    screenings = people(telegram, 8)
    running = [asyncio.create_task(s.run(timeout=90)) for s in screenings]
    async with bot_process(env, webhook) as first:
        await wait_ready(settings.web_port)
        await telegram.wait_for_calls("sendMessage", 60, timeout=60)  # well into the screenings
        first.send_signal(signal.SIGKILL)
        await first.wait()
    async with bot_process(env, webhook) as second:
        await asyncio.wait_for(asyncio.gather(*running), 120)
        for screening in screenings:  # the last answers handled, their results arrived
            await screening.finished(timeout=60)
        second.send_signal(signal.SIGTERM)
        assert await second.wait() == 0
    assert first.returncode == -signal.SIGKILL
    if webhook:
        assert set(telegram.webhook_answers) - {200}, "some posts got no 200: sent again"
    assert_questions_arrived_in_order(screenings, resent=True)
    await assert_screened_exactly_once(settings, [s.person.user_id for s in screenings],
                                       await expected_answers(tmp_path))


# -- malformed updates -------------------------------------------------------------------


@pytest.mark.parametrize("data", ["²|begin", "1" * 5000 + "|begin", "|", "٣|no", "-1|no", "x" * 64])
async def test_button_data_that_is_not_ours_gets_a_quiet_answer(
    telegram: FakeTelegram, tmp_path: Path, data: str
) -> None:
    settings = telegram_settings(tmp_path, telegram)
    async with bot_running(settings, telegram) as bot:
        alex = bot.person()
        await alex.send("/start")
        before = await bot.conversation_of(alex)
        update = telegram.press_update(alex.user, alex.received[-1], data)
        await alex.act(update)
        query_id = update["callback_query"]["id"]
        assert query_id in telegram.answered_queries, "the spinner stops"
        assert await bot.conversation_of(alex) == before
        assert len(alex.received) == 1


@pytest.mark.parametrize("body", [b"[1,2]", b"null", b"{}", b'{"update_id": "7"}', b"{not json",
                                  b'"text"', "\udcff".encode(errors="surrogatepass")])
async def test_a_webhook_body_that_is_not_an_update_gets_400_never_a_traceback(
    telegram: FakeTelegram, tmp_path: Path, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    settings = webhook_settings(tmp_path, telegram)
    async with bot_running(settings, telegram, webhook=True), aiohttp.ClientSession() as client:
        headers = {SECRET_HEADER: "right-webhook-secret-7Qx", "Content-Type": "application/json"}
        async with client.post(local_url(settings, "/telegram"), data=body,
                               headers=headers) as answer:
            assert answer.status == 400
            assert await answer.text() == "not an update"
    assert "Traceback" not in caplog.text and "Error" not in caplog.text.replace(
        "ValueError", "").replace("JSONDecodeError", "").replace("UnicodeDecodeError", "")


async def test_a_handler_failure_answers_the_webhook_500_so_telegram_sends_it_again(
    telegram: FakeTelegram, tmp_path: Path
) -> None:
    settings = webhook_settings(tmp_path, telegram)
    telegram.webhook_retries, telegram.webhook_retry_pause = 3, 0.05
    async with bot_running(settings, telegram, webhook=True) as bot:
        alex = bot.person()
        store = bot.engine.store
        real_turn = store.turn
        broken = {"left": 1}

        def failing_once(channel: str, user_id: str):  # the database drops out once
            if broken["left"]:
                broken["left"] -= 1
                raise ConnectionError("database went away")
            return real_turn(channel, user_id)

        store.turn = failing_once  # type: ignore[method-assign]
        await telegram.push(telegram.message_update(alex.user, alex.chat, text="/start"))
        await telegram.webhook_settled()
        assert telegram.webhook_answers == [500, 200]
        assert "knee-pain check" in alex.received[-1].text and len(alex.received) == 1
        saved = await store.load("telegram", str(alex.user_id))
        assert saved is not None and saved.turn == 1, "applied once"


# -- staff notices ----------------------------------------------------------------------------

STAFF_CHAT = {"id": -100777, "type": "supergroup", "title": "Practice staff"}


async def test_a_notice_from_a_process_without_the_staff_chat_is_posted_by_one_with_it(
    telegram: FakeTelegram, tmp_path: Path
) -> None:
    """A Discord-only process (no Telegram here) queues a lead's notice for the Telegram staff
    chat; the Telegram process posts it, and a staff reply can find whom it is about."""
    settings = telegram_settings(tmp_path, telegram, staff_telegram_chat_id=STAFF_CHAT["id"])
    elsewhere = build_engine(settings, wiring=wiring_of(settings))  # staff chat: not run here
    elsewhere.clock = lambda: time.time() - 60  # queued a minute ago: due for any sender
    await elsewhere.handle(Event.from_text("discord", "4242", "talk to a person"))
    await elsewhere.store.close()
    assert telegram.messages_to(STAFF_CHAT["id"]) == []

    async with bot_running(settings, telegram) as bot:
        staff = bot.person(900, first_name="Dana", chat=STAFF_CHAT)
        await telegram.wait_until(STAFF_CHAT["id"], lambda: bool(staff.received), timeout=10)
        (notice,) = staff.received
        assert "talk" in notice.text.lower()
        place, store = f"telegram:{STAFF_CHAT['id']}", bot.engine.store
        async with asyncio.timeout(10):  # recorded once Telegram answered the post
            while await store.due(["staff:telegram"], time.time() + 60):
                await asyncio.sleep(0.05)
        assert await store.relay_target(place, str(notice.message_id)) == ("discord", "4242")


async def test_a_burst_of_staff_notices_to_a_group_all_arrive_within_telegrams_limits(
    telegram: FakeTelegram, tmp_path: Path
) -> None:
    """25 people ask for a person within a minute: a group takes about 20 messages a minute
    (the fake answers 429 beyond that); every notice still arrives."""
    settings = telegram_settings(tmp_path, telegram, staff_telegram_chat_id=STAFF_CHAT["id"])
    async with bot_running(settings, telegram) as bot:
        staff = bot.person(900, first_name="Dana", chat=STAFF_CHAT)
        for n in range(25):
            await bot.engine.handle(Event.from_text("telegram", str(9100 + n), "talk to a person"))
        await telegram.wait_until(STAFF_CHAT["id"], lambda: len(staff.received) >= 25,
                                  timeout=120)
        async with asyncio.timeout(10):
            while await bot.engine.store.due(["staff:telegram"], time.time() + 60):
                await asyncio.sleep(0.05)
        assert len(staff.received) == 25
        people = {await bot.engine.store.relay_target(f"telegram:{STAFF_CHAT['id']}",
                                                      str(m.message_id)) for m in staff.received}
        assert people == {("telegram", str(9100 + n)) for n in range(25)}


async def test_a_second_process_polling_the_same_bot_says_why_and_keeps_out_of_the_way(
    telegram: FakeTelegram, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Two processes polling one bot (a deploy overlapping, a forgotten terminal): Telegram
    answers 409; each says plainly why, backs off instead of spinning, and people are still
    answered, once."""
    settings = telegram_settings(tmp_path, telegram)
    async with bot_running(settings, telegram) as first, bot_running(settings, telegram):
        alex = first.person()
        await asyncio.sleep(2.5)  # both polling: each new long poll ends the other's with 409
        conflicts = [c for c in telegram.calls if c.method == "getUpdates" and c.status == 409]
        await telegram.push(telegram.message_update(alex.user, alex.chat, text="/start"))
        await telegram.wait_until(alex.user_id, lambda: bool(alex.received), timeout=40)
    assert conflicts, "Telegram told them apart"
    assert len(conflicts) < 10, "backing off, not a crash loop"
    assert "another process is polling this bot (409 Conflict)" in caplog.text
    assert "Traceback" not in caplog.text
    assert len(alex.received) == 1 and "knee-pain check" in alex.received[0].text

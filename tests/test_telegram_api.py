"""The Telegram hot path without python-telegram-bot's objects: calls as JSON (api.py) on both
transports, over real sockets to the fake Bot API, with the library's errors and rate limiter;
updates read from their JSON (updates.py); and the questions' HTML kept for the answer line
(send.py), which must read the same as the library's own reading of the pressed message."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from telegram import Message as TelegramMessage
from telegram.error import (
    RetryAfter,
    TimedOut,
)
from telegram.ext import AIORateLimiter, ExtBot
from telegram.request import BaseRequest, HTTPXRequest

from bot.channels.telegram.api import BotApi, JsonRequestData
from bot.channels.telegram.request import AiohttpRequest
from bot.channels.telegram.send import SentQuestions
from bot.channels.telegram.updates import (
    Press,
    PressedMessage,
    PrivateMessage,
    chat_key,
    read_update,
)
from tests.fakes.telegram import SCREENING_BY_BUTTONS, TOKEN, FakeTelegram, SentMessage
from tests.harness.telegram import ALEX, REFUSALS, bot_running, telegram_settings

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning"),
    pytest.mark.fake_telegram(ALEX),
]

GROUP = {"id": -1001, "type": "supergroup", "title": "Knee club"}
TRANSPORTS = {
    "aiohttp": lambda pool: AiohttpRequest(connection_pool_size=pool, read_timeout=2.0),
    "httpx": lambda pool: HTTPXRequest(connection_pool_size=pool, read_timeout=2.0),
}


@asynccontextmanager
async def api_on(
    telegram: FakeTelegram, transport: str, limiter: AIORateLimiter | None = None
) -> AsyncIterator[BotApi]:
    """BotApi on a started ExtBot, over the transport named."""
    request: BaseRequest = TRANSPORTS[transport](8)
    poll_request: BaseRequest = TRANSPORTS[transport](1)
    bot = ExtBot(TOKEN, base_url=telegram.base_url, base_file_url=telegram.base_file_url,
                 request=request, get_updates_request=poll_request, rate_limiter=limiter)
    async with bot:
        yield BotApi(bot, request, poll_request)


both_transports = pytest.mark.parametrize("transport", list(TRANSPORTS))


# -- calls as JSON ------------------------------------------------------------------------------


@both_transports
async def test_a_message_goes_with_its_keyboard_and_comes_back_as_telegrams_json(
    telegram: FakeTelegram, transport: str
) -> None:
    markup = {"inline_keyboard": [[{"text": "Yes", "callback_data": "3|yes"}]]}
    async with api_on(telegram, transport) as api:
        sent = await api.send_html(ALEX["id"], "<b>Knee</b> &amp; hip", markup)

    assert sent["text"] == "Knee & hip" and sent["chat"]["id"] == ALEX["id"]
    assert sent["entities"] == [{"type": "bold", "offset": 0, "length": 4}]
    assert sent["reply_markup"] == markup
    (call,) = telegram.calls_to("sendMessage")
    assert call == {  # httpx posts a form: its numbers arrive as text
        "chat_id": ALEX["id"] if transport == "aiohttp" else str(ALEX["id"]),
        "text": "<b>Knee</b> &amp; hip", "parse_mode": "HTML",
        "link_preview_options": {"is_disabled": True}, "reply_markup": markup,
    }


@both_transports
async def test_an_edit_without_buttons_takes_them_off(
    telegram: FakeTelegram, transport: str
) -> None:
    markup = {"inline_keyboard": [[{"text": "Yes", "callback_data": "3|yes"}]]}
    async with api_on(telegram, transport) as api:
        sent = await api.send_html(ALEX["id"], "Question?", markup)
        edited = await api.edit_html(ALEX["id"], sent["message_id"], "Question?\n\n<i>Yes</i>")

    assert edited["text"] == "Question?\n\nYes" and "reply_markup" not in edited
    (call,) = telegram.calls_to("editMessageText")
    assert "reply_markup" not in call


@both_transports
@pytest.mark.parametrize(("status", "description", "error"), REFUSALS)
async def test_refusals_are_the_librarys_errors_with_telegrams_words(
    telegram: FakeTelegram, transport: str, status: int, description: str, error: type
) -> None:
    async with api_on(telegram, transport) as api:
        telegram.fail("sendMessage", status, description)
        with pytest.raises(error) as refused:
            await api.send_html(ALEX["id"], "Hello")

    assert type(refused.value) is error
    assert description.split(": ", 1)[-1].lower() in refused.value.message.lower()
    assert TOKEN not in str(refused.value)


@both_transports
async def test_a_flood_limit_without_a_limiter_is_retry_after_with_telegrams_wait(
    telegram: FakeTelegram, transport: str
) -> None:
    async with api_on(telegram, transport) as api:
        telegram.fail("sendMessage", 429, retry_after=7)
        with pytest.raises(RetryAfter) as refused:
            await api.send_html(ALEX["id"], "Hello")

    wait = refused.value.retry_after
    assert (wait.total_seconds() if hasattr(wait, "total_seconds") else wait) == 7


@both_transports
async def test_the_rate_limiter_waits_out_a_flood_limit_and_the_message_arrives(
    telegram: FakeTelegram, transport: str
) -> None:
    limiter = AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=2)
    async with api_on(telegram, transport, limiter) as api:
        telegram.fail("sendMessage", 429, retry_after=1)
        sent = await api.send_html(ALEX["id"], "Hello")

    assert sent["text"] == "Hello"
    assert [c.status for c in telegram.calls if c.method == "sendMessage"] == [429, 200]


async def test_the_rate_limiter_gives_up_after_its_retries(telegram: FakeTelegram) -> None:
    limiter = AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=1)
    async with api_on(telegram, "aiohttp", limiter) as api:
        telegram.fail("sendMessage", 429, retry_after=1, times=2)
        with pytest.raises(RetryAfter):
            await api.send_html(ALEX["id"], "Hello")

    assert len(telegram.calls_to("sendMessage")) == 2


@both_transports
async def test_long_polling_waits_past_the_read_timeout_and_gives_updates_as_json(
    telegram: FakeTelegram, transport: str
) -> None:
    async with api_on(telegram, transport) as api:  # read timeout 2 s, the poll waits 3
        nothing = await api.get_updates(None, 3, ["message"])
        await telegram.push(telegram.message_update(ALEX, ALEX, text="hello"))
        (update,) = await api.get_updates(None, 3, ["message"])

    assert nothing == []
    assert update["message"]["text"] == "hello" and isinstance(update["update_id"], int)
    assert telegram.calls_to("getUpdates")[-1]["allowed_updates"] == ["message"]


async def test_a_call_slower_than_the_read_timeout_is_timed_out(telegram: FakeTelegram) -> None:
    async with api_on(telegram, "aiohttp") as api:
        telegram.slow_down("sendMessage", 3)
        with pytest.raises(TimedOut):
            await api.send_html(ALEX["id"], "Hello")


def test_request_data_leaves_out_nones_and_gives_each_transport_its_form() -> None:
    data = JsonRequestData({"chat_id": 5, "text": "a \"b\"", "reply_markup": None,
                            "link_preview_options": {"is_disabled": True}})

    assert data.parameters == {"chat_id": 5, "text": 'a "b"',
                               "link_preview_options": {"is_disabled": True}}
    assert data.json_parameters == {"chat_id": "5", "text": 'a "b"',
                                    "link_preview_options": '{"is_disabled":true}'}
    assert not data.contains_files and data.multipart_data == {}
    assert json.loads(data.json_payload)["chat_id"] == "5"  # as the library's own


# -- updates read from JSON ---------------------------------------------------------------------


QUESTION = {"message_id": 9, "date": 1, "chat": ALEX, "text": "Q?",
            "reply_markup": {"inline_keyboard": [
                [{"text": "Yes", "callback_data": "3|yes"}],
                [{"text": "Site", "url": "https://example.com"}],
            ]}}


def press(message: object = QUESTION, **query: Any) -> dict[str, Any]:
    return {"update_id": 7, "callback_query": {
        "id": "q1", "from": ALEX, "data": "3|yes", "chat_instance": "1", "message": message,
        **query}}


def test_a_press_in_the_private_chat_is_read_with_its_message() -> None:
    read = read_update(press())

    assert isinstance(read, Press)
    assert (read.update_id, read.user_id, read.query_id, read.data, read.private) == (
        7, 501, "q1", "3|yes", True)
    assert read.message is not None
    assert (read.message.chat_id, read.message.message_id, read.message.text) == (501, 9, "Q?")
    assert read.message.link_rows() == [[{"text": "Site", "url": "https://example.com"}]]


@pytest.mark.parametrize(
    ("message", "private", "has_message"),
    [
        ({**QUESTION, "chat": GROUP}, False, True),  # a press in a group
        ({"message_id": 9, "date": 0, "chat": ALEX}, True, False),  # too old to be sent
        ({"message_id": 9, "date": 0, "chat": GROUP}, False, False),
        (None, True, False),  # an inline message: no chat at all
    ],
)
def test_where_a_press_was_and_whether_its_message_came(
    message: object, private: bool, has_message: bool
) -> None:
    read = read_update(press(message) if message is not None else press(message=None))

    assert isinstance(read, Press)
    assert read.private is private and (read.message is not None) is has_message


def test_a_press_without_data_is_read_with_empty_data() -> None:
    read = read_update(press(data=None))
    assert isinstance(read, Press) and read.data == ""


@pytest.mark.parametrize(
    "update",
    [
        {"update_id": 7, "message": {"message_id": 1, "date": 1, "chat": GROUP, "from": ALEX,
                                     "text": "/start"}},  # a group: the library's handlers
        {"update_id": 7, "edited_message": {"message_id": 1, "date": 1, "chat": ALEX,
                                            "from": ALEX, "text": "x"}},
        {"update_id": 7, "message": "not an object"},
        {"update_id": 7, "message": {"message_id": 1, "chat": ALEX, "text": "no sender"}},
        {"update_id": 7, "callback_query": {"id": "q", "data": "1|a"}},  # no sender
        {"update_id": 7, "callback_query": {"id": 5, "from": ALEX}},  # id not a string
        {"update_id": 7, "callback_query": [1, 2]},
        {"update_id": "7", "message": {"chat": ALEX, "from": ALEX, "text": "x"}},
        {"update_id": True, "message": {"chat": ALEX, "from": ALEX, "text": "x"}},
        {"update_id": 7, "my_chat_member": {}},
        {"update_id": 7},
    ],
)
def test_anything_but_a_press_or_a_private_message_is_left_to_the_library(
    update: dict[str, Any],
) -> None:
    assert read_update(update) is None


@pytest.mark.parametrize(
    ("content", "text"),
    [({"text": "my knee hurts"}, "my knee hurts"), ({"text": "/start knee"}, "/start knee"),
     ({"sticker": {"file_id": "s"}}, None), ({"photo": [{"file_id": "p"}]}, None),
     ({"text": 5}, None)],
)
def test_a_private_message_is_read_with_its_text_or_none(
    content: dict[str, Any], text: str | None
) -> None:
    update = {"update_id": 8, "message": {"message_id": 1, "date": 1, "chat": ALEX,
                                          "from": ALEX, **content}}
    assert read_update(update) == PrivateMessage(8, 501, 501, text)


@pytest.mark.parametrize(
    ("update", "key"),
    [
        (press(), 501),
        (press({**QUESTION, "chat": GROUP}), -1001),
        (press(message=None), 501),  # the person's own
        ({"update_id": 1, "message": {"chat": GROUP, "from": ALEX}}, -1001),
        ({"update_id": 1, "edited_message": {"chat": ALEX, "from": ALEX}}, 501),
        ({"update_id": 1, "poll": {"id": "x"}}, 0),
    ],
)
def test_each_update_is_ordered_within_its_chat(update: dict[str, Any], key: int) -> None:
    assert chat_key(update) == key


# -- the questions' HTML, kept or read back ------------------------------------------------------


def pressed(message_id: int, text: str | None, chat_id: int = 501) -> PressedMessage:
    return PressedMessage(chat_id, message_id, text, {})


def test_a_question_kept_is_used_only_while_it_still_shows_that_text() -> None:
    kept = SentQuestions()
    kept.remember({"message_id": 3, "chat": {"id": 501}, "text": "Knee?"}, "<b>Knee?</b>")

    assert kept.html_of(pressed(3, "Knee?")) == "<b>Knee?</b>"
    assert kept.html_of(pressed(3, "Knee? (edited elsewhere)")) is None
    assert kept.html_of(pressed(3, None)) is None
    assert kept.html_of(pressed(4, "Knee?")) is None
    assert kept.html_of(pressed(3, "Knee?", chat_id=502)) is None


def test_only_each_chats_latest_question_is_kept() -> None:
    kept = SentQuestions()
    kept.remember({"message_id": 3, "chat": {"id": 501}, "text": "Knee?"}, "<b>Knee?</b>")
    kept.remember({"message_id": 5, "chat": {"id": 501}, "text": "Hip?"}, "<b>Hip?</b>")
    kept.remember({"message_id": 4, "chat": {"id": 502}, "text": "Knee?"}, "<i>Knee?</i>")

    assert kept.html_of(pressed(3, "Knee?")) is None  # an older one: the library reads it
    assert kept.html_of(pressed(5, "Hip?")) == "<b>Hip?</b>"
    assert kept.html_of(pressed(4, "Knee?", chat_id=502)) == "<i>Knee?</i>"


def test_only_so_many_chats_are_kept_the_least_recent_forgotten_first() -> None:
    kept = SentQuestions(kept=3)
    for chat in range(1, 4):
        kept.remember({"message_id": 9, "chat": {"id": chat}, "text": f"q{chat}"}, f"h{chat}")
    assert [kept.html_of(pressed(9, f"q{c}", c)) for c in range(1, 4)] == ["h1", "h2", "h3"]

    kept.remember({"message_id": 9, "chat": {"id": 4}, "text": "q4"}, "h4")

    assert kept.html_of(pressed(9, "q1", 1)) is None
    assert [kept.html_of(pressed(9, f"q{c}", c)) for c in range(2, 5)] == ["h2", "h3", "h4"]


def test_an_answer_that_is_not_a_message_is_not_kept() -> None:
    kept = SentQuestions()
    kept.remember(True, "<b>x</b>")  # an inline message's edit answers True
    kept.remember({"message_id": 3, "chat": {"id": 1}}, "<b>x</b>")  # no text: a photo
    assert kept.html_of(pressed(3, None, 1)) is None


async def screened_answer_lines(
    tmp_path: Path, telegram: FakeTelegram, forget_questions: bool
) -> list[tuple[str, list[dict[str, Any]]]]:
    """Press through the screening; every question's text and entities once answered. With
    `forget_questions` the bot keeps none, so the library reads each pressed question."""
    settings = telegram_settings(tmp_path / str(forget_questions), telegram)
    async with bot_running(settings, telegram) as bot:
        if forget_questions:
            bot.channel.sender.questions.kept = 0
        person = bot.person(user_id=700 + forget_questions)
        await person.send("/start")
        for label in SCREENING_BY_BUTTONS:
            await person.press(label)
        return [(m.text, m.entities) for m in telegram.messages_to(person.user_id) if m.edits]


async def test_answer_lines_read_the_same_whether_the_question_was_kept_or_read_back(
    tmp_path: Path, telegram: FakeTelegram
) -> None:
    kept = await screened_answer_lines(tmp_path, telegram, forget_questions=False)
    read_back = await screened_answer_lines(tmp_path, telegram, forget_questions=True)

    assert len(kept) >= len(SCREENING_BY_BUTTONS) - 5  # nearly every question got its line
    assert kept == read_back
    assert any(entity["type"] == "bold" for _, entities in kept for entity in entities)


def test_the_librarys_reading_of_a_sent_question_is_the_html_sent(
    telegram: FakeTelegram,
) -> None:
    """What the fallback relies on: Telegram's entities read back give equivalent HTML."""
    message = SentMessage(501, 1, "Knee & hip: see here", [
        {"type": "bold", "offset": 0, "length": 10},
        {"type": "text_link", "offset": 16, "length": 4, "url": "https://example.com/a?b=1&c"},
    ])
    telegram.register_chat(ALEX)
    read = TelegramMessage.de_json(telegram.message_json(message), None).text_html

    assert read == '<b>Knee &amp; hip</b>: see <a href="https://example.com/a?b=1&c">here</a>'

"""The Bot API transport on aiohttp (bot/channels/telegram/request.py) over real sockets: against
the fake Bot API (tests/fakes/telegram/), a forward proxy, and servers that never answer; with
python-telegram-bot's own `Bot` on top, as the channel uses it. The Telegram stories in
tests/test_telegram.py run on it too: it is the default."""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import time
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.error import (
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import AIORateLimiter, ExtBot
from telegram.request import HTTPXRequest

from bot.channels.telegram.api import JsonRequestData
from bot.channels.telegram.lifecycle import build_application
from bot.channels.telegram.request import (
    POOL_TIMEOUT_MESSAGE,
    UNBLOCKED_WRITE,
    AiohttpRequest,
    body_of,
    environment_proxy,
)
from bot.settings import SettingsError, load_settings
from tests.fakes.telegram import TOKEN, FakeTelegram
from tests.harness.ports import free_port
from tests.harness.telegram import ALEX, REFUSALS, bot_running, telegram_settings, texts

# Seconds a call with a 64 MiB body may take to build and time out: its timeout is under a
# second, and a wrong one would take 20 s or more; the rest is room for building the body on
# a machine busy with other test workers (a bound of 3 s failed there).
BIG_BODY_SECONDS = 10.0


class FakeTelegramWithUploads(FakeTelegram):
    """The fake Bot API, also taking documents (multipart/form-data), as Telegram does."""

    def __init__(self) -> None:
        super().__init__()
        self.documents: list[dict[str, Any]] = []

    async def _api_sendDocument(self, params: dict[str, Any]) -> dict[str, Any]:
        upload = params["document"]  # an uploaded part, with its file name and type
        self.documents.append({
            "filename": upload.filename,
            "content_type": upload.content_type,
            "content": upload.file.read(),
            "caption": params.get("caption"),
            "chat_id": params["chat_id"],
        })
        return {
            "message_id": len(self.documents),
            "date": int(time.time()),
            "chat": self.chats[int(params["chat_id"])],
            "document": {"file_id": "doc", "file_unique_id": "doc", "file_name": upload.filename},
        }


pytestmark = [
    pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning"),
    pytest.mark.fake_telegram(ALEX, fake=FakeTelegramWithUploads),
]


@asynccontextmanager
async def bot_through(
    telegram: FakeTelegram, bot_class: type[Bot] = Bot, **transport: Any
) -> AsyncIterator[Bot]:
    """python-telegram-bot's Bot on the aiohttp transport, started (getMe) and shut down."""
    bot = bot_class(
        TOKEN,
        base_url=telegram.base_url,
        base_file_url=telegram.base_file_url,
        request=AiohttpRequest(**transport),
        get_updates_request=AiohttpRequest(connection_pool_size=1),
    )
    async with bot:
        yield bot


def seconds(period: int | timedelta) -> float:
    return period.total_seconds() if isinstance(period, timedelta) else period


# -- answers from Telegram, as python-telegram-bot's errors -----------------------------------


async def test_a_message_goes_out_as_json_and_its_answer_comes_back(
    telegram: FakeTelegram,
) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="3|yes")]])
    async with bot_through(telegram) as bot:
        sent = await bot.send_message(ALEX["id"], "<b>Hello</b> & welcome", parse_mode="HTML",
                                      reply_markup=keyboard)

    assert sent.text == "Hello & welcome" and sent.chat.id == ALEX["id"]
    assert sent.reply_markup == keyboard
    (call,) = telegram.calls_to("sendMessage")
    assert call == {  # one JSON object: numbers as numbers, objects as objects
        "chat_id": ALEX["id"],
        "text": "<b>Hello</b> & welcome",
        "parse_mode": "HTML",
        "reply_markup": {"inline_keyboard": [[{"text": "Yes", "callback_data": "3|yes"}]]},
    }


async def test_flood_limit_is_retry_after_with_telegrams_wait(telegram: FakeTelegram) -> None:
    async with bot_through(telegram) as bot:
        telegram.fail("sendMessage", 429, retry_after=7)
        with pytest.raises(RetryAfter) as refused:
            await bot.send_message(ALEX["id"], "Hello")

    assert seconds(refused.value.retry_after) == 7


# Telegram's refusals and the library's error for each (tests/test_telegram_api.py too).
@pytest.mark.parametrize(("status", "description", "error"), REFUSALS)
async def test_refusals_are_the_librarys_errors_with_telegrams_words(
    telegram: FakeTelegram, status: int, description: str, error: type[TelegramError]
) -> None:
    async with bot_through(telegram) as bot:
        telegram.fail("sendMessage", status, description)
        with pytest.raises(error) as refused:
            await bot.send_message(ALEX["id"], "Hello")
        assert type(refused.value) is error
        # in the library's words: "Bad Request: chat not found" is "Chat not found"
        assert description.split(": ")[-1].lower() in refused.value.message.lower()

        sent = await bot.send_message(ALEX["id"], "Hello again")  # the transport carries on

    assert sent.text == "Hello again"


async def test_a_wrong_token_is_refused_at_start(telegram: FakeTelegram) -> None:
    bot = Bot("987654:wrong", base_url=telegram.base_url, request=AiohttpRequest(),
              get_updates_request=AiohttpRequest())
    with pytest.raises(InvalidToken):
        await bot.initialize()
    await bot.shutdown()

    assert telegram.unauthorized == ["getMe"]


async def test_a_flood_limit_is_waited_out_by_the_rate_limiter_and_the_message_delivered(
    telegram: FakeTelegram,
) -> None:
    async with bot_through(telegram, ExtBot) as plain:
        limited = ExtBot(TOKEN, base_url=telegram.base_url, request=plain.request,
                         rate_limiter=AIORateLimiter(max_retries=2))
        async with limited:
            telegram.fail("sendMessage", 429, retry_after=1)
            began = time.monotonic()
            sent = await limited.send_message(ALEX["id"], "Hello")

    assert sent.text == "Hello" and time.monotonic() - began >= 1
    assert len(telegram.calls_to("sendMessage")) == 2, "refused once, then sent"


# -- timeouts ---------------------------------------------------------------------------------


async def test_an_answer_slower_than_the_read_timeout_is_timed_out(
    telegram: FakeTelegram,
) -> None:
    async with bot_through(telegram, read_timeout=0.2) as bot:
        telegram.slow_down("sendMessage", 1.0)
        began = time.monotonic()
        with pytest.raises(TimedOut):
            await bot.send_message(ALEX["id"], "Hello")
        assert time.monotonic() - began < 0.9
        with pytest.raises(TimedOut):  # a timeout given with the call wins
            await bot.send_message(ALEX["id"], "Hello", read_timeout=0.1)

        sent = await bot.send_message(ALEX["id"], "Patient", read_timeout=3)

    assert sent.text == "Patient"


async def test_long_polling_waits_past_the_read_timeout(telegram: FakeTelegram) -> None:
    async with bot_through(telegram, read_timeout=0.2) as bot:
        began = time.monotonic()
        updates = await bot.get_updates(timeout=1)  # the library adds the poll to the timeout

    assert updates == () and time.monotonic() - began >= 1


async def test_a_call_waiting_longer_than_the_pool_timeout_is_not_sent(
    telegram: FakeTelegram,
) -> None:
    async with bot_through(telegram, connection_pool_size=1, pool_timeout=0.1) as bot:
        telegram.slow_down("sendMessage", 0.5)
        first, second = await asyncio.gather(
            bot.send_message(ALEX["id"], "first"),
            bot.send_message(ALEX["id"], "second"),
            return_exceptions=True,
        )

    assert not isinstance(first, BaseException) and first.text == "first"
    assert isinstance(second, TimedOut) and second.message == POOL_TIMEOUT_MESSAGE
    assert [call["text"] for call in telegram.calls_to("sendMessage")] == ["first"]


async def test_calls_beyond_the_pool_wait_their_turn_without_a_pool_timeout(
    telegram: FakeTelegram,
) -> None:
    async with bot_through(telegram, connection_pool_size=2, pool_timeout=None) as bot:
        telegram.slow_down("sendMessage", 0.1)
        sent = await asyncio.gather(*(bot.send_message(ALEX["id"], str(n)) for n in range(6)))

    assert sorted(message.text for message in sent) == [str(n) for n in range(6)]


@contextmanager
def server_that_never_accepts() -> Iterator[str]:
    """A listening socket whose queue of connections is full: new connections never open."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = server.getsockname()[1]
        fillers = []
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            with suppress(BlockingIOError):  # it connects in the background
                filler.connect(("127.0.0.1", port))
            fillers.append(filler)
        try:
            yield f"http://127.0.0.1:{port}/bot"
        finally:
            for filler in fillers:
                filler.close()


async def test_a_connection_that_cannot_be_opened_in_time_is_timed_out() -> None:
    with server_that_never_accepts() as base_url:
        bot = Bot(TOKEN, base_url=base_url, request=AiohttpRequest(connect_timeout=0.3))
        await bot.request.initialize()
        began = time.monotonic()
        with pytest.raises(TimedOut):
            await bot.get_me()
        await bot.request.shutdown()

    assert time.monotonic() - began < 2


@asynccontextmanager
async def server_that_never_reads() -> AsyncIterator[str]:
    """Takes connections, and never reads what is sent on them."""
    held: list[asyncio.StreamWriter] = []
    server = await asyncio.start_server(lambda _, writer: held.append(writer), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/bot"
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_an_upload_the_server_does_not_take_in_time_is_timed_out() -> None:
    big = InputFile(b"x" * 64 * 1024 * 1024, filename="scan.pdf")  # more than sockets buffer
    async with server_that_never_reads() as base_url:
        request = AiohttpRequest(media_write_timeout=0.5)
        bot = Bot(TOKEN, base_url=base_url, request=request)
        await request.initialize()
        began = time.monotonic()
        with pytest.raises(TimedOut):
            await bot.send_document(ALEX["id"], big)
        with pytest.raises(TimedOut):  # the write timeout given with the call wins
            await bot.send_document(ALEX["id"], big, write_timeout=0.2)
        await request.shutdown()

    assert time.monotonic() - began < BIG_BODY_SECONDS  # not the 20 s media write default


async def test_a_json_call_too_big_to_hand_over_at_once_is_written_within_the_timeout() -> None:
    huge = JsonRequestData({"chat_id": ALEX["id"], "text": "x" * 64 * 1024 * 1024})
    async with server_that_never_reads() as base_url:
        request = AiohttpRequest(write_timeout=0.3, read_timeout=30)
        await request.initialize()
        began = time.monotonic()
        with pytest.raises(TimedOut):
            await request.post(f"{base_url}{TOKEN}/sendMessage", request_data=huge)
        await request.shutdown()

    assert time.monotonic() - began < BIG_BODY_SECONDS  # the write timeout, not the read one


async def test_a_small_json_call_to_a_server_that_never_reads_ends_at_the_read_timeout() -> None:
    small = JsonRequestData({"chat_id": ALEX["id"], "text": "Hello"})
    async with server_that_never_reads() as base_url:
        request = AiohttpRequest(write_timeout=30, read_timeout=0.3)
        await request.initialize()
        began = time.monotonic()
        with pytest.raises(TimedOut):  # handed to the socket at once, then no answer
            await request.post(f"{base_url}{TOKEN}/sendMessage", request_data=small)
        await request.shutdown()

    assert time.monotonic() - began < 3


@pytest.mark.parametrize(("size", "timed"), [
    (UNBLOCKED_WRITE - 1, False), (UNBLOCKED_WRITE, False), (UNBLOCKED_WRITE + 1, True),
])
def test_only_a_json_body_over_the_unblocked_size_gets_a_write_timer(
    size: int, timed: bool
) -> None:
    overhead = len(b'{"text":""}')
    data = JsonRequestData({"text": "x" * (size - overhead)})

    body = body_of(data, write_timeout=1.0)

    assert body.size == size
    assert hasattr(body, "write_timeout") is timed


def test_telegram_answers_are_read_as_the_library_reads_them() -> None:
    read = AiohttpRequest.parse_json_payload

    assert read(b'{"ok":true,"result":{"text":"Zo\\u00eb \xf0\x9f\xa6\xb5"}}') == {
        "ok": True, "result": {"text": "Zo\u00eb \U0001f9b5"}}
    # invalid UTF-8 replaced, as the library's bytes.decode(errors="replace")
    assert read(b'{"ok":true,"result":"\xff"}') == {"ok": True, "result": "\ufffd"}
    with pytest.raises(TelegramError, match="Invalid server response"):
        read(b"<html>Bad Gateway</html>")


async def test_an_unreachable_api_is_a_network_error_without_the_token() -> None:
    port = free_port()  # nothing listens there
    request = AiohttpRequest()
    bot = Bot(TOKEN, base_url=f"http://127.0.0.1:{port}/bot", request=request)
    await request.initialize()
    with pytest.raises(NetworkError) as failed:
        await bot.get_me()
    await request.shutdown()

    assert not isinstance(failed.value, TimedOut)
    assert "aiohttp.ClientConnectorError" in failed.value.message
    assert TOKEN not in failed.value.message and TOKEN.split(":")[1] not in failed.value.message


# -- uploads ----------------------------------------------------------------------------------


async def test_a_document_is_uploaded_as_multipart_with_its_name_type_and_caption(
    telegram: FakeTelegramWithUploads, tmp_path: Path
) -> None:
    summary = tmp_path / "summary.txt"
    summary.write_text("Knee check: hips tight.\n")
    async with bot_through(telegram) as bot:
        from_bytes = await bot.send_document(ALEX["id"], b"%PDF-1.4 fake", filename="scan.pdf",
                                             caption="Your <b>scan</b>", parse_mode="HTML")
        with summary.open("rb") as handle:
            await bot.send_document(ALEX["id"], handle)

    assert from_bytes.document is not None and from_bytes.document.file_name == "scan.pdf"
    first, second = telegram.documents
    assert first == {"filename": "scan.pdf", "content_type": "application/pdf",
                     "content": b"%PDF-1.4 fake", "caption": "Your <b>scan</b>",
                     "chat_id": str(ALEX["id"])}
    assert second["filename"] == "summary.txt" and second["content_type"] == "text/plain"
    assert second["content"] == b"Knee check: hips tight.\n"


# -- proxies ----------------------------------------------------------------------------------


@asynccontextmanager
async def forward_proxy() -> AsyncIterator[tuple[str, list[str]]]:
    """An HTTP forward proxy on 127.0.0.1 that passes each request on and notes its method."""
    relayed: list[str] = []

    async def relay(request: web.Request) -> web.Response:
        relayed.append(request.url.path.rsplit("/", 1)[-1])
        async with aiohttp.ClientSession() as client, client.request(
            request.method, request.url, data=await request.read(),
            headers={"Content-Type": request.content_type},
        ) as answer:
            return web.Response(status=answer.status, body=await answer.read(),
                                content_type=answer.content_type)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", relay)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", relayed
    finally:
        await runner.cleanup()


async def test_calls_go_through_the_proxy_given(telegram: FakeTelegram) -> None:
    async with forward_proxy() as (proxy, relayed), bot_through(telegram, proxy=proxy) as bot:
        await bot.send_message(ALEX["id"], "Hello")

    assert relayed == ["getMe", "sendMessage"]


async def test_calls_go_through_the_proxy_in_the_environment_unless_no_proxy_says_not(
    telegram: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    async with forward_proxy() as (proxy, relayed):
        monkeypatch.setenv("HTTP_PROXY", proxy)
        async with bot_through(telegram) as bot:
            await bot.send_message(ALEX["id"], "Hello")
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        async with bot_through(telegram) as bot:
            await bot.send_message(ALEX["id"], "Hello")

    assert relayed == ["getMe", "sendMessage"], "the second bot went straight to Telegram"


def test_proxy_from_the_environment_is_read_as_httpx_reads_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    api = "https://api.telegram.org/bot1:x/getMe"
    assert environment_proxy(api) is None
    monkeypatch.setenv("ALL_PROXY", "proxy.clinic.lan:3128")
    assert environment_proxy(api) == "http://proxy.clinic.lan:3128"
    monkeypatch.setenv("HTTPS_PROXY", "http://secure.clinic.lan:8080")
    assert environment_proxy(api) == "http://secure.clinic.lan:8080"
    monkeypatch.setenv("NO_PROXY", "api.telegram.org")
    assert environment_proxy(api) is None
    monkeypatch.delenv("NO_PROXY")
    monkeypatch.setenv("HTTPS_PROXY", "socks5://127.0.0.1:1080")  # aiohttp speaks no SOCKS
    assert environment_proxy(api) is None


def test_a_socks_proxy_given_is_refused_plainly() -> None:
    with pytest.raises(ValueError, match="http:// or https://"):
        AiohttpRequest(proxy="socks5://127.0.0.1:1080")


# -- start and shutdown -----------------------------------------------------------------------


async def test_shutdown_closes_the_session_and_a_new_start_opens_another(
    telegram: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    request = AiohttpRequest()
    bot = Bot(TOKEN, base_url=telegram.base_url, request=request)
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        async with bot:
            session = request._session
            assert session is not None and not session.closed
            await bot.send_message(ALEX["id"], "Hello")
        assert session.closed and request._session is None
        await request.shutdown()  # again: nothing to do

        with pytest.raises(NetworkError, match="not initialized"):
            await bot.send_message(ALEX["id"], "Hello")
        async with bot:  # started again, on a new session
            await bot.send_message(ALEX["id"], "Hello again")
        del session
        gc.collect()

    assert not [w for w in warned if issubclass(w.category, ResourceWarning)]
    assert "Unclosed" not in caplog.text


async def test_the_bot_stopping_leaves_no_session_or_connection_open(
    tmp_path: Path, telegram: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = telegram_settings(tmp_path, telegram)
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        async with bot_running(settings, telegram) as bot:
            request = bot.channel.application.bot.request
            assert isinstance(request, AiohttpRequest)
            alex = bot.person()
            await alex.send("/start")
        gc.collect()

    assert request._session is None
    assert not [w for w in warned if issubclass(w.category, ResourceWarning)]
    assert "Unclosed" not in caplog.text


# -- httpx stays selectable --------------------------------------------------------------------


def test_the_transport_is_aiohttp_unless_the_settings_choose_httpx(
    tmp_path: Path, telegram: FakeTelegram
) -> None:
    default = build_application(telegram_settings(tmp_path, telegram))
    httpx = build_application(telegram_settings(tmp_path, telegram, telegram_transport="httpx"))

    assert isinstance(default.bot.request, AiohttpRequest)
    assert isinstance(httpx.bot.request, HTTPXRequest)


def test_an_unknown_transport_is_a_one_line_settings_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BOT_TELEGRAM_TRANSPORT", "curl")
    with pytest.raises(SettingsError) as wrong:
        load_settings(data_dir=tmp_path)

    (line,) = wrong.value.lines
    assert "BOT_TELEGRAM_TRANSPORT" in line and "aiohttp" in line and "httpx" in line


async def test_person_screened_on_the_httpx_transport_gets_the_same_questions(
    tmp_path: Path, telegram: FakeTelegram
) -> None:
    settings = telegram_settings(tmp_path, telegram, telegram_transport="httpx")
    async with bot_running(settings, telegram) as bot:
        assert isinstance(bot.channel.application.bot.request, HTTPXRequest)
        alex = bot.person()
        await alex.send("/start")
        await alex.press("Let's start")
        await alex.press("Me")
        reply = await alex.press("18 to 54")

    assert "start with an injury" in texts(reply)

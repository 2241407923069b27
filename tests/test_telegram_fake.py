"""The fake Telegram's own rules (tests/fakes/telegram/), each tried over HTTP as a bot would:
at, below and above its limit, with the status and the description Telegram answers.

Where each rule comes from is written next to it in the fake (entities.py, limits.py,
server.py) and in docs/telegram.md, "What the fake enforces".
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from telegram import Bot
from telegram.error import RetryAfter

from tests.fakes.telegram import TOKEN, FakeTelegram

ALEX = {"id": 4242, "type": "private", "first_name": "Alex"}
SAM = {"id": 4343, "type": "private", "first_name": "Sam"}
GROUP = {"id": -1001, "type": "supergroup", "title": "Runners"}
USER = {"id": 4242, "is_bot": False, "first_name": "Alex"}
PARSE = "Bad Request: can't parse entities: "
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"

pytestmark = pytest.mark.fake_telegram(ALEX, SAM, GROUP)


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


class Api:
    """Calls as a bot makes them: (status, the answer's JSON)."""

    def __init__(self, telegram: FakeTelegram, client: aiohttp.ClientSession) -> None:
        self.telegram, self.client = telegram, client

    async def __call__(self, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
        url = f"{self.telegram.base_url}{TOKEN}/{method}"
        async with self.client.post(url, json=params) as answer:
            return answer.status, await answer.json()

    async def ok(self, method: str, **params: Any) -> Any:
        status, body = await self(method, **params)
        assert (status, body["ok"]) == (200, True), body
        return body["result"]

    async def refused(self, method: str, **params: Any) -> tuple[int, str]:
        status, body = await self(method, **params)
        assert not body["ok"] and body["error_code"] == status, body
        return status, body["description"]

    async def send(self, text: str, chat: dict[str, Any] = ALEX, **params: Any) -> Any:
        return await self.ok("sendMessage", chat_id=chat["id"], text=text, parse_mode="HTML",
                             **params)

    async def send_refused(self, text: str, **params: Any) -> tuple[int, str]:
        params.setdefault("parse_mode", "HTML")
        return await self.refused("sendMessage", chat_id=ALEX["id"], text=text, **params)


@pytest.fixture
def api(telegram: FakeTelegram, client: aiohttp.ClientSession) -> Api:
    return Api(telegram, client)


class Clock:
    """The fake's clock, stopped: time moves only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(telegram: FakeTelegram) -> Clock:
    telegram.clock = stopped = Clock()
    return stopped


# -- HTML: tdlib's parse_html ------------------------------------------------------------------


async def test_every_tag_telegram_supports_gives_its_entity(api: Api) -> None:
    html = ('<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins><s>s</s>'
            '<strike>k</strike><del>d</del><span class="tg-spoiler">p</span>'
            '<tg-spoiler>q</tg-spoiler><a href="https://x.example/a">a</a><code>c</code>'
            '<pre>p</pre> <pre><code class="language-python">py</code></pre>'
            '<blockquote>q</blockquote><blockquote expandable>x</blockquote>'
            '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>')
    message = await api.send(html)
    kinds = [entity["type"] for entity in message["entities"]]
    assert kinds == ["bold", "bold", "italic", "italic", "underline", "underline",
                     "strikethrough", "strikethrough", "strikethrough", "spoiler", "spoiler",
                     "text_link", "code", "pre", "pre", "blockquote", "expandable_blockquote",
                     "custom_emoji"]
    assert {"type": "pre", "offset": 15, "length": 2, "language": "python"} in message["entities"]
    assert (await api.send("<B>Loud</B>"))["entities"] == [
        {"type": "bold", "offset": 0, "length": 4}], "tag names in any case"


@pytest.mark.parametrize(("html", "description"), [
    ("<x>hi</x>", 'Unsupported start tag "x" at byte offset 0'),
    ("é <br>", 'Unsupported start tag "br" at byte offset 3'),  # offsets in UTF-8 bytes
    ("a < b", 'Unsupported start tag "" at byte offset 2'),  # a bare <
    ("<!-- note -->hi", 'Unsupported start tag "!--" at byte offset 0'),
    ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
    ("<b>bold</i>", 'Unmatched end tag at byte offset 7, expected "</b>", found "</i>"'),
    ("bold</b>", "Unexpected end tag at byte offset 4"),
    ("<b", "Unclosed start tag at byte offset 0"),
    ('<a href="https://x.example>link', "Unclosed start tag at byte offset 0"),
    ("<span>s</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
    ('<tg-emoji emoji-id="x">y</tg-emoji>', "Invalid custom emoji identifier specified"),
    ("<a href=https://x.example>x</a>", "Unexpected end of name token at byte offset 8"),
])
async def test_html_telegram_cannot_parse_is_refused_with_its_words(
    api: Api, html: str, description: str
) -> None:
    assert await api.send_refused(html) == (400, PARSE + description)


async def test_only_four_named_entities_and_numeric_ones_are_decoded(api: Api) -> None:
    message = await api.send("&lt;b&gt; &amp; &quot;q&quot; &#65;&#x42; &copy; AT&T & co")
    assert message["text"] == '<b> & "q" AB &copy; AT&T & co', "&copy; stays as it is"
    assert "entities" not in message


async def test_the_text_is_trimmed_and_an_empty_one_refused(api: Api) -> None:
    message = await api.send("\n  <b> hi </b> there \n\n")
    assert (message["text"], message["entities"]) == (" hi  there", [
        {"type": "bold", "offset": 0, "length": 4}]), "blanks before an entity stay"
    assert (await api.send("a\r\nb\tc"))["text"] == "a\nb c", "\\r dropped, a tab is a space"
    assert await api.send_refused("") == (400, "Bad Request: message text is empty")
    for blank in (" \n ", "<b> </b>", "\u200b\u00a0"):
        assert await api.send_refused(blank) == (400, "Bad Request: text must be non-empty")


async def test_the_length_limit_counts_characters_after_entity_parsing(api: Api) -> None:
    assert await api.send("x" * 4095)
    assert await api.send("x" * 4096)
    assert await api.send_refused("x" * 4097) == (400, "Bad Request: message is too long")
    assert await api.send("<b>" + "x" * 4096 + "</b>"), "tags do not count"
    assert await api.send("&amp;" * 4096), "an entity is one character"
    assert await api.send("😀" * 4096), "4096 characters, 8192 UTF-16 code units: accepted"
    assert await api.send_refused("😀" * 4097) == (400, "Bad Request: message is too long")
    assert await api.send_refused("<b></b>" * 4700) == (400, "Bad Request: text is too long"), (
        "over 32768 bytes before parsing")


async def test_a_link_telegram_refuses_is_dropped_and_its_text_kept(api: Api) -> None:
    message = await api.send('<a href="http://localhost:8080/x">local</a> and '
                             '<a href="https://Practice.EXAMPLE">site</a> <a href="ftp://x.y">f</a>')
    assert message["text"] == "local and site f"
    assert message["entities"] == [{"type": "text_link", "offset": 10, "length": 4,
                                    "url": "https://practice.example/"}], "kept as Telegram does"


async def test_entities_past_the_hundredth_are_dropped_links_first_kept(api: Api) -> None:
    links = "".join(f'<a href="https://x.example/{n}">l</a> ' for n in range(60))
    assert len((await api.send("<b>x</b> " * 99))["entities"]) == 99
    assert len((await api.send("<b>x</b> " * 100))["entities"]) == 100
    kept = (await api.send(links + "<b>x</b> " * 41))["entities"]
    assert len(kept) == 100, "the 101st is dropped, silently"
    assert sum(entity["type"] == "text_link" for entity in kept) == 60, "bold gives way first"


async def test_plain_text_is_not_parsed_and_an_unknown_parse_mode_refused(api: Api) -> None:
    plain = await api.ok("sendMessage", chat_id=ALEX["id"], text="<b>as typed</b> <3")
    assert (plain["text"], "entities" in plain) == ("<b>as typed</b> <3", False)
    assert await api.send_refused("x", parse_mode="XML") == (
        400, "Bad Request: unsupported parse_mode")


# -- inline keyboards --------------------------------------------------------------------------


def keyboard(*buttons: dict[str, Any]) -> dict[str, Any]:
    return {"inline_keyboard": [list(buttons)]}


@pytest.mark.parametrize("url", ["https://practice.example", "http://x.example:8080/a?b=c",
                                 "tg://resolve?domain=ScreeningTestBot", "t.me/ScreeningTestBot"])
async def test_url_buttons_telegram_accepts(api: Api, url: str) -> None:
    assert await api.send("pick", reply_markup=keyboard({"text": "Go", "url": url}))


@pytest.mark.parametrize(("url", "reason"), [
    ("http://localhost:8080", "Wrong HTTP URL"),
    ("https://bot", "Wrong HTTP URL"),
    ("ftp://files.example/a", "Unsupported URL protocol"),
    ("https://x.example:99999/", "Wrong port number specified in the URL"),
    ("https://bad host.example/", "Disallowed character in URL host"),
])
async def test_url_buttons_telegram_refuses(api: Api, url: str, reason: str) -> None:
    assert await api.send_refused("pick", reply_markup=keyboard({"text": "Go", "url": url})) == (
        400, f"Bad Request: inline keyboard button URL '{url}' is invalid: {reason}")


async def test_callback_data_takes_one_to_sixty_four_bytes(api: Api) -> None:
    for data in ("x", "x" * 63, "x" * 64, "é" * 32):
        assert await api.send("pick", reply_markup=keyboard({"text": "A", "callback_data": data}))
    for data in ("x" * 65, "é" * 33):
        assert await api.send_refused("pick", reply_markup=keyboard(
            {"text": "A", "callback_data": data})) == (400, "Bad Request: BUTTON_DATA_INVALID")


async def test_a_button_needs_a_text_and_a_kind(api: Api) -> None:
    unallowed = "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in " \
                "the inline keyboard"
    for button in ({"text": "A"}, {"text": "A", "url": ""}, {"text": "A", "callback_data": ""}):
        assert await api.send_refused("pick", reply_markup=keyboard(button)) == (400, unallowed)
    assert await api.send_refused("pick", reply_markup=keyboard({"callback_data": "1"})) == (
        400, "Bad Request: can't parse inline keyboard button: Can't find field \"text\"")
    assert await api.send_refused("pick", reply_markup=keyboard(
        {"text": "", "callback_data": "1"})) == (
        400, "Bad Request: inline keyboard button text must be non-empty")
    both = await api.send("pick", reply_markup=keyboard(
        {"text": "A", "url": "https://x.example/", "callback_data": "1"}))
    assert both["reply_markup"] == keyboard({"text": "A", "url": "https://x.example/"}), (
        "a url wins: it is a URL button")


async def test_edits_check_their_keyboard_too(api: Api) -> None:
    message = await api.send("pick", reply_markup=keyboard({"text": "A", "callback_data": "1"}))
    ids = {"chat_id": ALEX["id"], "message_id": message["message_id"]}
    local = keyboard({"text": "Go", "url": "http://localhost:8080"})
    invalid = "Bad Request: inline keyboard button URL 'http://localhost:8080' is invalid: " \
              "Wrong HTTP URL"
    assert await api.refused("editMessageReplyMarkup", **ids, reply_markup=local) == (
        400, invalid)
    assert await api.refused("editMessageText", **ids, text="x", reply_markup=local) == (
        400, invalid)
    assert await api.refused("editMessageReplyMarkup", **ids, reply_markup=keyboard(
        {"text": "A", "callback_data": "1"})) == (
        400, "Bad Request: message is not modified: specified new message content and reply "
             "markup are exactly the same as a current content and reply markup of the message")
    assert await api.ok("editMessageReplyMarkup", **ids), "no keyboard: it goes"


# -- command menus -----------------------------------------------------------------------------


def commands(count: int, name: str = "c{}", description: str = "Does it") -> list[dict[str, str]]:
    return [{"command": name.format(n), "description": description} for n in range(count)]


async def test_a_menu_takes_up_to_a_hundred_commands(api: Api) -> None:
    assert await api.ok("setMyCommands", commands=commands(99))
    assert await api.ok("setMyCommands", commands=commands(100))
    assert await api.refused("setMyCommands", commands=commands(101)) == (
        400, "Bad Request: BOT_COMMANDS_TOO_MUCH")


async def test_a_command_is_one_to_thirty_two_lowercase_letters_digits_or_underscores(
    api: Api, telegram: FakeTelegram
) -> None:
    for name in ("a", "x" * 31, "x" * 32, "knee_check_2", "/start"):
        assert await api.ok("setMyCommands", commands=[{"command": name, "description": "D"}])
    assert telegram.command_scopes["default"] == [{"command": "start", "description": "D"}], (
        "the slash dropped")
    for name, description in [
        ("x" * 33, "Bad Request: command length must not exceed 32"),
        ("", "Bad Request: command must be non-empty"),
        ("Start", "Bad Request: BOT_COMMAND_INVALID"),
        ("knee-check", "Bad Request: BOT_COMMAND_INVALID"),
    ]:
        assert await api.refused("setMyCommands", commands=[
            {"command": name, "description": "D"}]) == (400, description), name


async def test_a_command_description_is_one_to_256_characters(api: Api) -> None:
    for text in ("D", "é" * 255, "é" * 256):
        assert await api.ok("setMyCommands", commands=[{"command": "a", "description": text}])
    assert await api.refused("setMyCommands", commands=[
        {"command": "a", "description": "é" * 257}]) == (
        400, "Bad Request: command description length must not exceed 256")
    assert await api.refused("setMyCommands", commands=[{"command": "a", "description": " "}]) == (
        400, "Bad Request: command description must be non-empty")


# -- callback queries --------------------------------------------------------------------------


async def press(telegram: FakeTelegram, api: Api) -> str:
    message = await api.send("pick", reply_markup=keyboard({"text": "A", "callback_data": "1"}))
    update = telegram.press_update(USER, telegram.sent[-1], "1")
    assert message
    await telegram.push(update)
    return str(update["callback_query"]["id"])


async def test_a_callback_query_is_answered_once_within_fifteen_seconds(
    telegram: FakeTelegram, api: Api, clock: Clock
) -> None:
    assert telegram.callback_answer_window == 15.0, "Telegram's, measured"
    query = await press(telegram, api)
    clock.now += 14.5
    assert await api.ok("answerCallbackQuery", callback_query_id=query) is True
    assert await api.refused("answerCallbackQuery", callback_query_id=query) == (
        400, QUERY_TOO_OLD), "answered twice"
    at_the_limit, late = await press(telegram, api), await press(telegram, api)
    clock.now += 15.0
    assert await api.ok("answerCallbackQuery", callback_query_id=at_the_limit)
    clock.now += 0.125
    assert await api.refused("answerCallbackQuery", callback_query_id=late) == (400, QUERY_TOO_OLD)
    assert await api.refused("answerCallbackQuery", callback_query_id="999") == (400, QUERY_TOO_OLD)
    assert telegram.answered_queries == [query, at_the_limit]
    telegram.callback_answer_window = 60.0
    assert await api.ok("answerCallbackQuery", callback_query_id=late), "a test may widen it"


# -- flood control -----------------------------------------------------------------------------


async def test_the_flood_limits_are_telegrams_by_default(telegram: FakeTelegram) -> None:
    flood = telegram.flood
    assert (flood.chat_per_second, flood.group_per_minute, flood.overall_per_second) == (1, 20, 30)


async def test_one_chat_takes_a_burst_then_one_message_a_second(
    api: Api, telegram: FakeTelegram, clock: Clock
) -> None:
    burst = telegram.flood.chat_burst
    telegram.flood.overall_per_second = 0  # all at once, they would also hit the 30 a second
    for n in range(burst - 1):
        assert await api.send(f"message {n}")
    assert await api.send("the last of the burst")
    status, body = await api("sendMessage", chat_id=ALEX["id"], text="one too many")
    assert (status, body) == (429, {"ok": False, "error_code": 429,
                                    "description": "Too Many Requests: retry after 1",
                                    "parameters": {"retry_after": 1}})
    assert await api.send("another chat is not held back", chat=SAM)
    clock.now += 0.99
    assert await api.send_refused("not yet") == (429, "Too Many Requests: retry after 1")
    clock.now += 0.01
    assert await api.send("a second later: one more")
    assert await api.send_refused("and no more") == (429, "Too Many Requests: retry after 1")
    clock.now += 3
    assert await api.send("three seconds later")
    assert await api.send("three")
    assert await api.send("messages")
    assert await api.send_refused("but not four") == (429, "Too Many Requests: retry after 1")
    assert len(telegram.messages_to(ALEX["id"])) == burst + 4, "a refused message is not sent"
    assert telegram.flood.refused == [(ALEX["id"], 1, "chat")] * 4


async def test_a_group_takes_twenty_messages_a_minute(
    api: Api, telegram: FakeTelegram, clock: Clock
) -> None:
    for n in range(20):
        assert await api.send(f"message {n}", chat=GROUP)
    assert await api.refused("sendMessage", chat_id=GROUP["id"], text="21st") == (
        429, "Too Many Requests: retry after 3")
    clock.now += 2.9
    assert await api.refused("sendMessage", chat_id=GROUP["id"], text="21st") == (
        429, "Too Many Requests: retry after 1")
    clock.now += 0.1
    assert await api.send("one every three seconds", chat=GROUP)
    assert await api.send("a private chat is not held back")
    telegram.flood.group_per_minute = 3
    clock.now += 60
    for n in range(3):
        assert await api.send(f"message {n}", chat=GROUP)
    assert await api.refused("sendMessage", chat_id=GROUP["id"], text="x") == (
        429, "Too Many Requests: retry after 20"), "a test may set its own pace"
    assert {limit for *_, limit in telegram.flood.refused} == {"group"}


async def test_all_chats_together_take_thirty_messages_a_second(
    api: Api, telegram: FakeTelegram, clock: Clock
) -> None:
    people = [{"id": 5000 + n, "type": "private", "first_name": "P"} for n in range(32)]
    for person in people:
        telegram.register_chat(person)
    for person in people[:30]:
        assert await api.send("news", chat=person)
    assert await api.refused("sendMessage", chat_id=people[30]["id"], text="news") == (
        429, "Too Many Requests: retry after 1")
    clock.now += 1 / 30
    assert await api.send("news", chat=people[30])
    assert await api.refused("sendMessage", chat_id=people[31]["id"], text="news") == (
        429, "Too Many Requests: retry after 1")
    telegram.flood.overall_per_second = 0  # a rate of 0 lifts the limit
    assert await api.send("news", chat=people[31])
    assert [limit for *_, limit in telegram.flood.refused] == ["overall", "overall"]


async def test_python_telegram_bot_reads_the_fakes_429_as_retry_after(
    telegram: FakeTelegram,
) -> None:
    telegram.flood.chat_burst = 1
    async with Bot(TOKEN, base_url=telegram.base_url) as bot:
        await bot.send_message(ALEX["id"], "first")
        with pytest.raises(RetryAfter) as refused:
            await bot.send_message(ALEX["id"], "second")
    assert refused.value.retry_after in (1, timedelta(seconds=1))


# -- getUpdates --------------------------------------------------------------------------------


async def test_a_second_long_poll_ends_the_first_with_409(
    api: Api, telegram: FakeTelegram
) -> None:
    first = asyncio.create_task(api("getUpdates", timeout=5))
    await telegram.wait_for_calls("getUpdates", 1)
    assert await api.ok("getUpdates", timeout=0) == [], "a poll that does not wait ends nothing"
    assert not first.done()
    second = asyncio.create_task(api("getUpdates", timeout=5))
    status, body = await first
    assert (status, body["description"]) == (409, "Conflict: terminated by other getUpdates "
                                                  "request; make sure that only one bot instance "
                                                  "is running")
    await telegram.wait_for_calls("getUpdates", 3)
    await telegram.push(telegram.message_update(USER, ALEX, text="hi"))
    status, body = await second
    assert status == 200 and body["result"][0]["message"]["text"] == "hi"


async def test_no_polling_while_a_webhook_is_set(api: Api, telegram: FakeTelegram) -> None:
    polling = asyncio.create_task(api("getUpdates", timeout=5))
    await telegram.wait_for_calls("getUpdates", 1)
    assert await api.ok("setWebhook", url="https://bot.practice.test/telegram")
    assert (await polling)[1]["description"] == "Conflict: terminated by setWebhook request"
    assert await api.refused("getUpdates") == (
        409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook "
             "to delete the webhook first")
    assert await api.ok("deleteWebhook")
    assert await api.ok("getUpdates") == []


# -- setWebhook --------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["https://bot.practice.test/telegram",
                                 "https://bot.practice.test:443/t", "https://bot.practice.test:80/t",
                                 "https://bot.practice.test:88/t", "https://bot.practice.test:8443/t",
                                 "bot.practice.test/telegram"])
async def test_webhooks_telegram_accepts(api: Api, url: str) -> None:
    assert await api.ok("setWebhook", url=url) is True
    assert (await api.ok("getWebhookInfo"))["url"] == url


@pytest.mark.parametrize(("url", "description"), [
    ("http://bot.practice.test/telegram", "bad webhook: An HTTPS URL must be provided for webhook"),
    ("https://bot.practice.test:8080/telegram",
     "bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"),
    ("https://bot.practice.test:444/telegram",
     "bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"),
    ("https://127.0.0.1/telegram", "bad webhook: IP address 127.0.0.1 is reserved"),
    ("https://localhost/telegram", "bad webhook: IP address 127.0.0.1 is reserved"),
    ("https://10.0.0.7:8443/telegram", "bad webhook: IP address 10.0.0.7 is reserved"),
    ("https://[::1]/telegram", "bad webhook: IPv6-only addresses are not allowed"),
    ("https://:443/telegram", "invalid webhook URL specified"),
])
async def test_webhooks_telegram_refuses(
    api: Api, telegram: FakeTelegram, url: str, description: str
) -> None:
    assert await api.ok("setWebhook", url="https://bot.practice.test/old")
    telegram.set_webhook_interval = 0
    assert await api.refused("setWebhook", url=url) == (400, f"Bad Request: {description}")
    assert (await api.ok("getWebhookInfo"))["url"] == "", "a refused webhook leaves none set"


async def test_a_secret_token_is_up_to_256_of_letters_digits_underscores_and_hyphens(
    api: Api, telegram: FakeTelegram
) -> None:
    telegram.set_webhook_interval = 0
    url = "https://bot.practice.test/telegram"
    for secret in ("", "a", "A-z_0-9", "s" * 255, "s" * 256):
        assert await api.ok("setWebhook", url=url, secret_token=secret)
        assert telegram.webhook_secret == secret
    assert await api.refused("setWebhook", url=url, secret_token="s" * 257) == (
        400, "Bad Request: secret token is too long")
    for secret in ("right secret", "right.secret", "sécret", "a=b"):
        assert await api.refused("setWebhook", url=url, secret_token=secret) == (
            400, "Bad Request: secret token contains unallowed characters")


async def test_set_webhook_takes_one_change_a_second(
    api: Api, telegram: FakeTelegram, clock: Clock
) -> None:
    url = "https://bot.practice.test/telegram"
    assert await api.ok("setWebhook", url=url)
    clock.now += 0.99
    status, body = await api("setWebhook", url=url)
    assert (status, body["description"], body["parameters"]) == (
        429, "Too Many Requests: retry after 1", {"retry_after": 1})
    assert await api.ok("deleteWebhook"), "deleting is not limited"
    clock.now += 0.01
    assert await api.ok("setWebhook", url=url)


async def test_the_public_https_address_reaches_the_bot_through_its_proxy(
    api: Api, telegram: FakeTelegram
) -> None:
    """The loopback exception: Telegram posts to the public name; the fake hands the post to
    the bot's local address (`reverse_proxy`), as the HTTPS proxy in front of it would."""
    received: list[str] = []

    async def webhook(request: web.Request) -> web.Response:
        received.append(request.path)
        return web.Response()

    app = web.Application()
    app.router.add_post("/telegram", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    telegram.reverse_proxy = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        assert await api.ok("setWebhook", url="https://bot.practice.test/telegram")
        await telegram.push(telegram.message_update(USER, ALEX, text="hi"))
        await telegram.webhook_settled()
    finally:
        await runner.cleanup()
    assert received == ["/telegram"] and telegram.webhook_answers == [200]

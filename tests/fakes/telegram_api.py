"""A fake Telegram Bot API on 127.0.0.1, and people who talk to a bot through it.

The fake speaks the real wire protocol (`POST /bot<token>/<method>`, form fields, JSON answers),
so python-telegram-bot runs unmodified against it. It parses the HTML the bot sends into text
and entities the way Telegram does (and rejects bad HTML with 400), records every call, queues
updates for long polling or posts them to a webhook, and fails on demand (429, 5xx, 400).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import aiohttp
from aiohttp import web

from tests.conftest import SAFETY_QUESTIONS_NO_INJURY

TOKEN = "123456:TEST-token-for-the-fake-api"
BOT_ID = 123456
BOT_USERNAME = "ScreeningTestBot"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
JSON_FIELDS = {"reply_markup", "commands", "allowed_updates", "entities", "scope"}
JSON_FIELDS |= {"link_preview_options", "reply_parameters"}
TAG_ENTITIES = {"b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline"}
TAG_ENTITIES |= {"s": "strikethrough", "code": "code", "pre": "pre", "a": "text_link"}

Update = dict[str, Any]
# The knee screening pressed through after /start, by button label: for oneself, no recent
# injury, "No" to every safety question, two things that make it worse picked one by one (each
# pick edits the question in place) then "Done"; several likely contributors in the result.
SCREENING_BY_BUTTONS = [
    "Let's start",
    "Me",
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
PICK_MARK = "✓ "  # what a picked option's label starts with in a pick-several question


@dataclass
class Call:
    """One Bot API request the bot made."""

    method: str
    params: dict[str, Any]


@dataclass
class Failure:
    """An error the fake answers instead of doing the call."""

    status: int
    description: str
    retry_after: int | None = None


@dataclass
class SentMessage:
    """A message the bot sent, as the fake holds it after parsing its HTML."""

    chat_id: int
    message_id: int
    text: str
    entities: list[dict[str, Any]]
    reply_markup: dict[str, Any] | None = None
    edits: int = 0

    @property
    def buttons(self) -> list[dict[str, str]]:
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [button for row in rows for button in row]

    @property
    def labels(self) -> list[str]:
        return [button["text"] for button in self.buttons]

    @property
    def picked(self) -> list[str]:
        """The labels ticked in a pick-several question, without their tick."""
        marked = [label for label in self.labels if label.startswith(PICK_MARK)]
        return [label.removeprefix(PICK_MARK) for label in marked]

    @property
    def turn(self) -> int | None:
        """The turn the choice buttons were shown on (their callback data is `<turn>|<id>`)."""
        data = [b["callback_data"] for b in self.buttons if "callback_data" in b]
        return int(data[0].split("|", 1)[0]) if data else None

    def button(self, label: str) -> dict[str, str]:
        for button in self.buttons:
            if button["text"] == label:
                return button
        raise AssertionError(f"no button {label!r} among {self.labels}")

    @property
    def rows(self) -> list[list[str]]:
        """The keyboard's labels, row by row."""
        keyboard = (self.reply_markup or {}).get("inline_keyboard", [])
        return [[button["text"] for button in row] for row in keyboard]


class ApiError(Exception):
    """A Bot API error answer."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.failure = Failure(status, description, retry_after)


class _TelegramHtml(HTMLParser):
    """Telegram's HTML parse mode: text plus entities with UTF-16 offsets."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text = ""
        self.entities: list[dict[str, Any]] = []
        self.open: list[tuple[str, int, dict[str, Any]]] = []

    def _offset(self) -> int:
        return len(self.text.encode("utf-16-le")) // 2

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in TAG_ENTITIES:
            raise ApiError(400, f"Bad Request: can't parse entities: Unsupported start tag {tag}")
        extra = {"url": dict(attrs).get("href") or ""} if tag == "a" else {}
        self.open.append((tag, self._offset(), extra))

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1][0] != tag:
            raise ApiError(400, f"Bad Request: can't parse entities: unexpected end tag {tag}")
        _, start, extra = self.open.pop()
        if self._offset() > start:
            entity = {"type": TAG_ENTITIES[tag], "offset": start, "length": self._offset() - start}
            self.entities.append(entity | extra)

    def handle_data(self, data: str) -> None:
        self.text += data


def parse_html(html: str) -> tuple[str, list[dict[str, Any]]]:
    """Text and entities of an HTML message, or ApiError like Telegram's 400."""
    parser = _TelegramHtml()
    parser.feed(html)
    parser.close()
    if parser.open:
        raise ApiError(400, "Bad Request: can't parse entities: unclosed tag")
    if not parser.text.strip():
        raise ApiError(400, "Bad Request: message text is empty")
    if len(parser.text.encode("utf-16-le")) // 2 > 4096:
        raise ApiError(400, "Bad Request: message is too long")
    return parser.text, sorted(parser.entities, key=lambda e: e["offset"])


class FakeTelegram:
    """The fake Bot API server: start it, point the bot's base_url at it, push updates."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.sent: list[SentMessage] = []
        self.chats: dict[int, dict[str, Any]] = {}
        self.webhook_url = ""
        self.webhook_secret = ""
        self.webhook_answers: list[int] = []
        self.answered_queries: list[str] = []
        self.unauthorized: list[str] = []
        self._messages: dict[tuple[int, int], SentMessage] = {}
        self._pending: list[Update] = []
        self._arrived = asyncio.Event()
        self._failures: dict[str, list[Failure]] = {}
        self._by_chat: dict[int, list[SentMessage]] = {}
        self._waiters: dict[int, list[tuple[Callable[[], bool], asyncio.Future[None]]]] = {}
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._query_ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self.port = 0

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> FakeTelegram:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._endpoint)
        app.router.add_get("/bot{token}/{method}", self._endpoint)
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeTelegram:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    # -- what tests control -------------------------------------------------------------------

    def fail(
        self,
        method: str,
        status: int,
        description: str = "",
        *,
        retry_after: int = 0,
        times: int = 1,
    ) -> None:
        """Answer the next `times` calls of `method` with an error instead of doing them."""
        text = description or {429: f"Too Many Requests: retry after {retry_after}"}.get(
            status, "Internal Server Error"
        )
        failure = Failure(status, text, retry_after or None)
        self._failures.setdefault(method, []).extend([failure] * times)

    async def push(self, update: Update) -> int:
        """Deliver an update: queue it for getUpdates, or post it to the webhook."""
        update = {"update_id": next(self._update_ids), **update}
        if self.webhook_url:
            await self._deliver(update)
        else:
            self._pending.append(update)
            self._arrived.set()
        return update["update_id"]

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        return [call.params for call in self.calls if call.method == method]

    def messages_to(self, chat_id: int) -> list[SentMessage]:
        return list(self._by_chat.get(chat_id, []))

    async def wait_for_messages(self, chat_id: int, count: int, timeout: float = 10.0) -> None:
        """Return once the bot has sent `count` messages to the chat in all."""
        await self.wait_until(chat_id, lambda: len(self._by_chat.get(chat_id, [])) >= count,
                              timeout)

    async def wait_until(
        self, chat_id: int, condition: Callable[[], bool], timeout: float = 10.0
    ) -> None:
        """Return once `condition()` holds, checked each time the bot sends a message to the
        chat or edits one there."""
        if condition():
            return
        reached = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(chat_id, []).append((condition, reached))
        await asyncio.wait_for(reached, timeout)

    def _changed(self, chat_id: int) -> None:
        waiters = self._waiters.get(chat_id, [])
        for waiter in [w for w in waiters if w[0]()]:
            waiters.remove(waiter)
            if not waiter[1].done():
                waiter[1].set_result(None)

    # -- updates a person makes ---------------------------------------------------------------

    def register_chat(self, chat: dict[str, Any]) -> None:
        self.chats[chat["id"]] = chat

    def message_update(self, user: dict[str, Any], chat: dict[str, Any], **content: Any) -> Update:
        """A new message; `text` starting with / gets its bot_command entity like Telegram."""
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": user,
            **content,
        }
        text = content.get("text", "")
        if text.startswith("/"):
            length = len(text.split()[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return {"message": message}

    def press_update(self, user: dict[str, Any], message: SentMessage, data: str) -> Update:
        """A press on an inline button of a message the bot sent."""
        return {
            "callback_query": {
                "id": str(next(self._query_ids)),
                "from": user,
                "chat_instance": "1",
                "data": data,
                "message": self._message_json(message),
            }
        }

    # -- the HTTP side ------------------------------------------------------------------------

    async def _endpoint(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            self.unauthorized.append(request.match_info["method"])
            return _error(Failure(401, "Unauthorized"))
        method = request.match_info["method"]
        params = _decode(dict(await request.post()))
        self.calls.append(Call(method, params))
        failures = self._failures.get(method)
        if failures:
            return _error(failures.pop(0))
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return _error(Failure(404, "Not Found"))
        try:
            result = await handler(params)
        except ApiError as error:
            return _error(error.failure)
        return web.json_response({"ok": True, "result": result})

    async def _api_getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "Screening",
            "username": BOT_USERNAME,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _api_getUpdates(self, params: dict[str, Any]) -> list[Update]:
        if self.webhook_url:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(params.get("offset") or 0)
        self._pending = [u for u in self._pending if u["update_id"] >= offset]
        if not self._pending:
            self._arrived.clear()
            timeout = float(params.get("timeout") or 0)
            try:
                await asyncio.wait_for(self._arrived.wait(), timeout)
            except TimeoutError:
                return []
        return self._pending[: int(params.get("limit") or 100)]

    async def _api_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        if chat_id not in self.chats:
            raise ApiError(400, "Bad Request: chat not found")
        text, entities = (
            parse_html(params["text"])
            if params.get("parse_mode") == "HTML"
            else (params["text"], [])
        )
        message = SentMessage(
            chat_id, next(self._message_ids), text, entities, params.get("reply_markup")
        )
        self.sent.append(message)
        self._messages[chat_id, message.message_id] = message
        self._by_chat.setdefault(chat_id, []).append(message)
        self._changed(chat_id)
        return self._message_json(message)

    async def _api_editMessageText(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._find(params)
        text, entities = parse_html(params["text"])
        markup = params.get("reply_markup")
        if (text, entities, markup) == (message.text, message.entities, message.reply_markup):
            raise ApiError(400, "Bad Request: message is not modified")
        message.text, message.entities, message.reply_markup = text, entities, markup
        message.edits += 1
        self._changed(message.chat_id)
        return self._message_json(message)

    async def _api_editMessageReplyMarkup(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._find(params)
        if params.get("reply_markup") == message.reply_markup:
            raise ApiError(400, "Bad Request: message is not modified")
        message.reply_markup = params.get("reply_markup")
        message.edits += 1
        self._changed(message.chat_id)
        return self._message_json(message)

    async def _api_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        self.answered_queries.append(params["callback_query_id"])
        return True

    async def _api_setMyCommands(self, params: dict[str, Any]) -> bool:
        return True

    async def _api_deleteWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook_url = self.webhook_secret = ""
        return True

    async def _api_setWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook_url = params["url"]
        self.webhook_secret = params.get("secret_token", "")
        return True

    async def _api_getWebhookInfo(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }

    def _find(self, params: dict[str, Any]) -> SentMessage:
        key = (int(params["chat_id"]), int(params["message_id"]))
        if key not in self._messages:
            raise ApiError(400, "Bad Request: message to edit not found")
        return self._messages[key]

    def _message_json(self, message: SentMessage) -> dict[str, Any]:
        data = {
            "message_id": message.message_id,
            "date": int(time.time()),
            "chat": self.chats[message.chat_id],
            "text": message.text,
            "from": {
                "id": BOT_ID,
                "is_bot": True,
                "first_name": "Screening",
                "username": BOT_USERNAME,
            },
        }
        if message.entities:
            data["entities"] = message.entities
        if message.reply_markup:
            data["reply_markup"] = message.reply_markup
        return data

    async def _deliver(self, update: Update) -> None:
        self._client = self._client or aiohttp.ClientSession()
        headers = {SECRET_HEADER: self.webhook_secret} if self.webhook_secret else {}
        async with self._client.post(self.webhook_url, json=update, headers=headers) as answer:
            self.webhook_answers.append(answer.status)


def _decode(form: dict[str, Any]) -> dict[str, Any]:
    """Form fields as the Bot API reads them: objects arrive JSON-encoded."""
    return {k: json.loads(v) if k in JSON_FIELDS else v for k, v in form.items()}


def _error(failure: Failure) -> web.Response:
    body: dict[str, Any] = {
        "ok": False,
        "error_code": failure.status,
        "description": failure.description,
    }
    if failure.retry_after is not None:
        body["parameters"] = {"retry_after": failure.retry_after}
    return web.json_response(body, status=failure.status)


# -- people ------------------------------------------------------------------------------------

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
        return await self._act(self.telegram.message_update(self.user, self.chat, text=text))

    async def send_content(self, **content: Any) -> list[SentMessage]:
        """A sticker, photo, voice note or file (`sticker={...}`)."""
        return await self._act(self.telegram.message_update(self.user, self.chat, **content))

    async def reply(self, text: str, to: SentMessage) -> list[SentMessage]:
        """Reply to one of the bot's messages (Telegram's reply_to_message)."""
        original = self.telegram._message_json(to)
        update = self.telegram.message_update(self.user, self.chat, text=text,
                                              reply_to_message=original)
        return await self._act(update)

    async def edit(self, text: str) -> list[SentMessage]:
        update = self.telegram.message_update(self.user, self.chat, text=text)
        update["message"]["edit_date"] = int(time.time())
        return await self._act({"edited_message": update["message"]})

    async def press(self, label: str, on: SentMessage | None = None) -> list[SentMessage]:
        """Press the button with this label on a message (the newest question by default)."""
        message = on or self.question
        data = message.button(label)["callback_data"]
        return await self._act(self.telegram.press_update(self.user, message, data))

    async def choose(self, choice_id: str, on: SentMessage | None = None) -> list[SentMessage]:
        """Press the button for a choice id (`no`, `done`), whatever its label says."""
        message = on or self.question
        data = [b["callback_data"] for b in message.buttons if "callback_data" in b]
        found = [d for d in data if d.split("|", 1)[1] == choice_id]
        assert found, f"no button for {choice_id!r} among {message.labels}"
        return await self._act(self.telegram.press_update(self.user, message, found[0]))

    async def _act(self, update: Update) -> list[SentMessage]:
        seen = len(self.received)
        update_id = await self.telegram.push(update)
        await self.wait_handled(update_id)
        return self.received[seen:]


class HandledUpdates:
    """Knows when the bot has finished an update: a last handler group that records its id."""

    def __init__(self) -> None:
        self.ids: set[int] = set()
        self._changed = asyncio.Event()

    def attach(self, application: Any) -> None:
        from telegram import Update as TelegramUpdate
        from telegram.ext import TypeHandler

        application.add_handler(TypeHandler(TelegramUpdate, self._record), group=99)

    async def _record(self, update: Any, context: Any) -> None:
        self.ids.add(update.update_id)
        self._changed.set()

    async def wait(self, update_id: int, timeout: float = 10.0) -> None:
        """Return once the update was handled; fail the test after `timeout` seconds."""
        async with asyncio.timeout(timeout):
            while update_id not in self.ids:
                self._changed.clear()
                await self._changed.wait()

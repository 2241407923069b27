"""The fake Telegram Bot API on 127.0.0.1, speaking the real wire protocol.

`POST /bot<token>/<method>` with a JSON object or form fields, JSON answers: python-telegram-bot
runs unmodified against it. It keeps the messages the bot sent (their HTML read as Telegram reads
it, see entities.py), records every call, queues updates for long polling or posts them to a webhook
(through the bot's reverse proxy, when one is given), and fails (429, 5xx, 400) or answers
slowly on demand. It keeps the bot's profile as a person sees it: the description in an empty
chat, the short description, and the command menu of each chat type (command scopes).

It is strict by default: what Telegram refuses, it refuses, with Telegram's status and
description (see "What the fake enforces" in docs/telegram.md). Message texts are read by
entities.py (a port of tdlib's HTML parser); keyboards, commands, webhook addresses and flood
control by limits.py; long polls, callback answers and setWebhook's pace here. Each rule names
its source: the Bot API docs (https://core.telegram.org/bots/api), the Bot API server
(github.com/tdlib/telegram-bot-api, telegram-bot-api/Client.cpp) or tdlib (github.com/tdlib/td).
The fake's limits are attributes a test may change: `flood` (FloodControl),
`callback_answer_window`, `set_webhook_interval`, and the `clock` they all read.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from tests.fakes.telegram.entities import RejectedHtml, fix_text, parse_entities
from tests.fakes.telegram.limits import (
    FloodControl,
    Refused,
    bad_request,
    check_button_data,
    check_buttons,
    check_commands,
    check_webhook,
    read_reply_markup,
)

TOKEN = "123456:TEST-token-for-the-fake-api"
BOT_ID = 123456
BOT_USERNAME = "ScreeningTestBot"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
JSON_FIELDS = {"reply_markup", "commands", "allowed_updates", "entities", "scope"}
JSON_FIELDS |= {"link_preview_options", "reply_parameters"}
PICK_MARK = "✓ "  # what a picked option's label starts with in a pick-several question
DESCRIPTION_LIMITS = {"description": 512, "short_description": 120}  # characters
# Telegram does not document how long a callback query may wait for its answer: measured at
# about 15 s, after which answerCallbackQuery fails with QUERY_ID_INVALID
# (gist.github.com/d-Rickyy-b/f789c75228bf00f572eec4450ed0d7c9); Telegram apps stop waiting
# for the answer after about 10 s (Pyrogram's request_callback_answer).
CALLBACK_ANSWER_WINDOW = 15.0
# telegram-bot-api Client.cpp: QUERY_ID_INVALID, as the Bot API words it.
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
# Client.cpp abort_long_poll (the pending long poll gets it) and process_get_updates_query.
TERMINATED_BY_OTHER_POLL = ("Conflict: terminated by other getUpdates request; make sure that "
                            "only one bot instance is running")
TERMINATED_BY_SET_WEBHOOK = "Conflict: terminated by setWebhook request"
WEBHOOK_IS_ACTIVE = ("Conflict: can't use getUpdates method while webhook is active; use "
                     "deleteWebhook to delete the webhook first")
# Client.cpp fail_query_with_error, MESSAGE_NOT_MODIFIED.
NOT_MODIFIED = ("Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message")
# Which command scopes a chat of each type shows, most specific first (chat-specific scopes aside).
SCOPES_SHOWN = {
    "private": ("all_private_chats", "default"),
    "group": ("all_group_chats", "default"),
    "supergroup": ("all_group_chats", "default"),
}

Update = dict[str, Any]


@dataclass
class Call:
    """One Bot API request the bot made."""

    method: str
    params: dict[str, Any]
    status: int = 0  # what the fake answered (0 until it did)
    at: float = field(default_factory=time.monotonic)  # when it arrived


@dataclass
class Failure:
    """An error the fake answers instead of doing the call."""

    status: int
    description: str
    retry_after: int | None = None


class ApiError(Exception):
    """A Bot API error answer."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.failure = Failure(status, description, retry_after)


@dataclass
class SentMessage:
    """A message the bot sent, as the fake holds it after reading its HTML."""

    chat_id: int
    message_id: int
    text: str
    entities: list[dict[str, Any]]
    reply_markup: dict[str, Any] | None = None
    edits: int = 0
    date: int = field(default_factory=lambda: int(time.time()))
    edit_date: int | None = None

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
        self.reverse_proxy = ""  # where webhook posts really go: the bot behind its HTTPS proxy
        # Several bot processes behind one load balancer: each post (and each retry) goes to
        # one of these base URLs at random, instead of `reverse_proxy`.
        self.replicas: list[str] = []
        self.chooser = random.Random(0)
        self.answered_queries: list[str] = []  # callback queries answered (accepted answers)
        # The rules a test may loosen or tighten (Telegram's values by default).
        self.flood = FloodControl()
        self.callback_answer_window = CALLBACK_ANSWER_WINDOW
        self.set_webhook_interval = 1.0  # Client.cpp process_set_webhook_query: 1 s between
        self.clock: Callable[[], float] = time.monotonic  # seconds, for all of the above
        self.parameters_read: dict[str, set[str]] = {}  # method -> parameters the fake read
        self.descriptions = {"description": "", "short_description": ""}
        self.command_scopes: dict[str, list[dict[str, str]]] = {}  # scope type -> commands
        self.unauthorized: list[str] = []
        self._messages: dict[tuple[int, int], SentMessage] = {}
        self._pending: list[Update] = []
        self._long_poll: asyncio.Future[str] | None = None  # the getUpdates waiting for updates
        self._queries: dict[str, float] = {}  # callback query id -> when it was delivered
        self._answered: set[str] = set()
        self._last_set_webhook = -math.inf
        self._called = asyncio.Event()
        self._failures: dict[str, list[Failure]] = {}
        self._flaky: dict[str, tuple[float, tuple[int, ...], random.Random]] = {}
        self.random_failures: dict[str, list[int]] = {}  # method -> statuses answered at random
        self._delays: dict[str, float] = {}
        self._stalls: dict[str, list[float]] = {}  # method -> delays of its next calls
        self._by_chat: dict[int, list[SentMessage]] = {}
        self._waiters: dict[int, list[tuple[Callable[[], bool], asyncio.Future[None]]]] = {}
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._query_ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self._posting: set[asyncio.Task[None]] = set()
        # Like Telegram, post an update again when the webhook gave no 2xx (a 5xx, a refused
        # or dropped connection): this many more times, this many seconds apart.
        self.webhook_retries = 0
        self.webhook_retry_pause = 0.2
        self.webhook_duplicates = 0.0  # share of updates posted once more after their 2xx
        self.duplicated: list[int] = []  # update ids posted twice
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

    async def webhook_settled(self, timeout: float = 30.0) -> None:
        """Return once every update pushed to the webhook got its final answer."""
        async with asyncio.timeout(timeout):
            while self._posting:
                await asyncio.gather(*self._posting, return_exceptions=True)

    async def close(self) -> None:
        for task in self._posting:
            task.cancel()
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

    def fail_at_random(
        self, method: str, rate: float, statuses: tuple[int, ...] = (502, 429), seed: int = 0
    ) -> None:
        """From now on, answer that share of `method` calls with one of these errors (a 429
        asks to retry after 1 s, as Telegram's flood control does)."""
        self._flaky[method] = (rate, statuses, random.Random(seed))
        self.random_failures.setdefault(method, [])

    def slow_down(self, method: str, seconds: float) -> None:
        """Take `seconds` over every call of `method` from now on (0 for full speed)."""
        self._delays[method] = seconds

    def stall(self, method: str, seconds: float, *, times: int = 1) -> None:
        """Take `seconds` over the next `times` calls of `method` only (longer than the bot
        waits: its call times out, and the fake drops it when the bot hangs up)."""
        self._stalls.setdefault(method, []).extend([seconds] * times)

    @property
    def pressed_queries(self) -> list[str]:
        """The id of every callback query delivered to the bot (each press), in order."""
        return list(self._queries)

    async def push(self, update: Update) -> int:
        """Deliver an update: queue it for getUpdates, or post it to the webhook."""
        update = {"update_id": next(self._update_ids), **update}
        if "callback_query" in update:  # its answer is awaited from now on
            self._queries.setdefault(str(update["callback_query"]["id"]), self.clock())
        if self.webhook_url:
            self._post_in_background(update)
            await asyncio.sleep(0)  # the post is on its way, as Telegram's would be
        else:
            self._pending.append(update)
            self._wake_long_poll("")
        return update["update_id"]

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        return [call.params for call in self.calls if call.method == method]

    async def wait_for_calls(self, method: str, count: int, timeout: float = 10.0) -> None:
        """Return once the bot has made `count` calls of `method` in all (answered or not)."""
        async with asyncio.timeout(timeout):
            while len(self.calls_to(method)) < count:
                self._called.clear()
                await self._called.wait()

    def menu_in(self, chat_type: str) -> list[str]:
        """The commands a person sees in the menu of a chat of this type ("private",
        "group"), as Telegram picks the scope: the most specific one that is set."""
        for scope in SCOPES_SHOWN[chat_type]:
            if scope in self.command_scopes:
                return [command["command"] for command in self.command_scopes[scope]]
        return []

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
                "message": self.message_json(message),
            }
        }

    def message_json(self, message: SentMessage) -> dict[str, Any]:
        """A message the bot sent, as the Bot API shows it (in a press, or a reply to it)."""
        data = {
            "message_id": message.message_id,
            "date": message.date,
            "chat": self.chats[message.chat_id],
            "text": message.text,
            "from": {
                "id": BOT_ID,
                "is_bot": True,
                "first_name": "Screening",
                "username": BOT_USERNAME,
            },
        }
        if message.edit_date is not None:
            data["edit_date"] = message.edit_date
        if message.entities:
            data["entities"] = message.entities
        if message.reply_markup:
            data["reply_markup"] = message.reply_markup
        return data

    # -- the HTTP side ------------------------------------------------------------------------

    async def _endpoint(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            self.unauthorized.append(request.match_info["method"])
            return _error(Failure(401, "Unauthorized"))
        method = request.match_info["method"]
        params = await _parameters(request)
        call = Call(method, params)
        self.calls.append(call)
        self._called.set()
        response = await self._answer(method, params)
        call.status = response.status
        return response

    async def _answer(self, method: str, params: dict[str, Any]) -> web.Response:
        if self._delays.get(method):
            await asyncio.sleep(self._delays[method])
        if self._stalls.get(method):
            await asyncio.sleep(self._stalls[method].pop(0))
        failures = self._failures.get(method)
        if failures:
            return _error(failures.pop(0))
        if method in self._flaky:
            rate, statuses, rng = self._flaky[method]
            if rng.random() < rate:
                status = rng.choice(statuses)
                self.random_failures[method].append(status)
                retry_after = 1 if status == 429 else None
                text = {429: "Too Many Requests: retry after 1", 502: "Bad Gateway"}.get(
                    status, "Internal Server Error")
                return _error(Failure(status, text, retry_after))
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return _error(Failure(404, "Not Found"))
        try:
            result = await handler(_Params(params, self.parameters_read.setdefault(method, set())))
        except ApiError as error:
            return _error(error.failure)
        except Refused as error:
            return _error(Failure(error.status, error.description, error.retry_after))
        except RejectedHtml as error:
            return _error(Failure(400, str(error)))
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
        """Long polling (Client.cpp process_get_updates_query, do_get_updates): refused while a
        webhook is set; a long poll that has to wait ends the one already waiting, which gets
        409 (only one bot instance may poll); a poll that need not wait leaves it alone."""
        if self.webhook_url:
            raise ApiError(409, WEBHOOK_IS_ACTIVE)
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = float(params.get("timeout") or 0)
        if offset > 0:  # confirms every update before it
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        if self._pending or not timeout:
            return self._pending[:limit]
        self._wake_long_poll(TERMINATED_BY_OTHER_POLL)
        poll: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._long_poll = poll
        try:
            conflict = await asyncio.wait_for(poll, timeout)
        except TimeoutError:
            return []
        finally:
            if self._long_poll is poll:
                self._long_poll = None
        if conflict:
            raise ApiError(409, conflict)
        return self._pending[:limit]

    def _wake_long_poll(self, conflict: str) -> None:
        """Answer the waiting long poll: with the updates that arrived (""), or a 409."""
        poll, self._long_poll = self._long_poll, None
        if poll is not None and not poll.done():
            poll.set_result(conflict)

    async def _api_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        """In Telegram's order: the text read by the Bot API (entities.py), the keyboard's JSON
        (Client.cpp do_send_message), the chat, then tdlib's checks of the keyboard and of the
        text (trimmed, not empty, at most 4096 characters), then Telegram's servers: callback
        data and flood control (limits.py)."""
        text, entities = self._text(params)
        markup = read_reply_markup(params.get("reply_markup"))
        chat_id = self._chat_id(params)
        markup = check_buttons(markup)
        text, entities = fix_text(text, entities)
        check_button_data(markup)
        group = self.chats[chat_id].get("type") != "private"
        self.flood.admit(chat_id, group, self.clock())
        message = SentMessage(chat_id, next(self._message_ids), text, entities, markup)
        self.sent.append(message)
        self._messages[chat_id, message.message_id] = message
        self._by_chat.setdefault(chat_id, []).append(message)
        self._changed(chat_id)
        return self.message_json(message)

    async def _api_editMessageText(self, params: dict[str, Any]) -> dict[str, Any]:
        """Client.cpp process_edit_message_text_query: the text, the keyboard, the message;
        then as sendMessage. No reply_markup removes the keyboard, as in Telegram."""
        text, entities = self._text(params)
        markup = read_reply_markup(params.get("reply_markup"))
        message = self._find(params)
        markup = check_buttons(markup)
        text, entities = fix_text(text, entities)
        check_button_data(markup)
        if (text, entities, markup) == (message.text, message.entities, message.reply_markup):
            raise ApiError(400, NOT_MODIFIED)
        message.text, message.entities, message.reply_markup = text, entities, markup
        self._edited(message)
        return self.message_json(message)

    async def _api_editMessageReplyMarkup(self, params: dict[str, Any]) -> dict[str, Any]:
        markup = read_reply_markup(params.get("reply_markup"))
        message = self._find(params)
        markup = check_buttons(markup)
        check_button_data(markup)
        if markup == message.reply_markup:
            raise ApiError(400, NOT_MODIFIED)
        message.reply_markup = markup
        self._edited(message)
        return self.message_json(message)

    def _edited(self, message: SentMessage) -> None:
        message.edits += 1
        message.edit_date = int(time.time())
        self._changed(message.chat_id)

    async def _api_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        """Telegram's servers answer QUERY_ID_INVALID to a query they do not know, to one
        answered already, and to one older than `callback_answer_window` seconds."""
        query_id = str(params.get("callback_query_id") or "")
        delivered = self._queries.get(query_id)
        if delivered is None or query_id in self._answered or (
                self.clock() - delivered > self.callback_answer_window):
            raise ApiError(400, QUERY_TOO_OLD)
        self._answered.add(query_id)
        self.answered_queries.append(query_id)
        return True

    async def _api_setMyCommands(self, params: dict[str, Any]) -> bool:
        self.command_scopes[_scope(params)] = check_commands(params.get("commands"))
        return True

    async def _api_getMyCommands(self, params: dict[str, Any]) -> list[dict[str, str]]:
        return self.command_scopes.get(_scope(params), [])

    async def _api_deleteMyCommands(self, params: dict[str, Any]) -> bool:
        self.command_scopes.pop(_scope(params), None)
        return True

    async def _api_setMyDescription(self, params: dict[str, Any]) -> bool:
        return self._set_description("description", params.get("description") or "")

    async def _api_getMyDescription(self, params: dict[str, Any]) -> dict[str, str]:
        return {"description": self.descriptions["description"]}

    async def _api_setMyShortDescription(self, params: dict[str, Any]) -> bool:
        return self._set_description("short_description", params.get("short_description") or "")

    async def _api_getMyShortDescription(self, params: dict[str, Any]) -> dict[str, str]:
        return {"short_description": self.descriptions["short_description"]}

    def _set_description(self, kind: str, text: str) -> bool:
        if len(text) > DESCRIPTION_LIMITS[kind]:
            raise ApiError(400, f"Bad Request: {kind} is too long")
        self.descriptions[kind] = text
        return True

    async def _api_deleteWebhook(self, params: dict[str, Any]) -> bool:
        if _true(params.get("drop_pending_updates")):
            self._pending.clear()
        self.webhook_url = self.webhook_secret = ""
        return True

    async def _api_setWebhook(self, params: dict[str, Any]) -> bool:
        """Client.cpp process_set_webhook_query and do_set_webhook, WebhookActor.cpp: at most
        one change a second (429, retry after 1); the same webhook again changes nothing;
        otherwise the waiting long poll ends (409), the old webhook goes, and the new one is
        checked (limits.py check_webhook): a refused one leaves no webhook set."""
        url = str(params.get("url") or "")
        secret = str(params.get("secret_token") or "") if url else ""
        drop = _true(params.get("drop_pending_updates"))
        if url:
            now = self.clock()
            if now < self._last_set_webhook + self.set_webhook_interval:
                raise ApiError(429, "Too Many Requests: retry after 1", 1)
            self._last_set_webhook = now
        if (url, secret) == (self.webhook_url, self.webhook_secret) and not drop:
            return True
        if url:
            self._wake_long_poll(TERMINATED_BY_SET_WEBHOOK)
        self.webhook_url = self.webhook_secret = ""
        if drop:
            self._pending.clear()
        if not url:
            return True
        check_webhook(url, secret)
        self.webhook_url, self.webhook_secret = url, secret
        waiting, self._pending = self._pending, []
        for update in waiting:  # what arrived meanwhile goes to the webhook, as Telegram does
            self._post_in_background(update)
        return True

    async def _api_getWebhookInfo(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }

    def _text(self, params: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        """`text` and `parse_mode` as the Bot API reads them (entities.py parse_entities)."""
        return parse_entities(str(params.get("text") or ""), str(params.get("parse_mode") or ""))

    def _chat_id(self, params: dict[str, Any]) -> int:
        """Client.cpp: "chat_id is empty"; a chat the bot does not know is "chat not found"."""
        value = params.get("chat_id")
        if value is None or value == "":
            raise bad_request("chat_id is empty")
        try:
            chat_id = int(value)
        except (TypeError, ValueError):
            raise bad_request("chat not found") from None
        if chat_id not in self.chats:
            raise bad_request("chat not found")
        return chat_id

    def _find(self, params: dict[str, Any]) -> SentMessage:
        chat_id = self._chat_id(params)
        try:
            key = (chat_id, int(params.get("message_id") or 0))
        except (TypeError, ValueError):
            key = (chat_id, 0)
        if key not in self._messages:
            raise ApiError(400, "Bad Request: message to edit not found")
        return self._messages[key]

    async def _maybe_again(self, update: Update) -> None:
        """Telegram may deliver an update twice (it saw no answer in time): now and then, post
        it once more, a moment later, to any replica."""
        if not self.webhook_duplicates or self.chooser.random() >= self.webhook_duplicates:
            return
        self.duplicated.append(update["update_id"])
        await asyncio.sleep(self.chooser.uniform(0, 0.2))
        await self._post_to_webhook(update, duplicate=True)

    def _post_in_background(self, update: Update) -> None:
        task = asyncio.create_task(self._post_to_webhook(update))
        self._posting.add(task)
        task.add_done_callback(self._posting.discard)

    async def _post_to_webhook(self, update: Update, duplicate: bool = False) -> None:
        """Post until a 2xx, or until the retries run out (Telegram gives up after a while)."""
        self._client = self._client or aiohttp.ClientSession()
        headers = {SECRET_HEADER: self.webhook_secret} if self.webhook_secret else {}
        for attempt in range(self.webhook_retries + 1):
            if attempt:
                await asyncio.sleep(self.webhook_retry_pause)
            url = self.webhook_url
            proxy = self.chooser.choice(self.replicas) if self.replicas else self.reverse_proxy
            if proxy:  # the public https:// address, as the proxy forwards it
                url = proxy.rstrip("/") + urlsplit(url).path
            try:
                async with self._client.post(url, json=update, headers=headers) as answer:
                    self.webhook_answers.append(answer.status)
                    if answer.status < 300:
                        if not duplicate:
                            await self._maybe_again(update)
                        return
            except (aiohttp.ClientError, OSError):
                self.webhook_answers.append(0)  # no answer at all: the process died or is gone


class _Params(dict[str, Any]):
    """A call's parameters, noting each one the fake reads (tests/test_telegram_contract.py
    checks them against the Bot API's parameters of the method)."""

    def __init__(self, params: dict[str, Any], read: set[str]) -> None:
        super().__init__(params)
        self._read = read

    def __getitem__(self, key: str) -> Any:
        self._read.add(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self._read.add(key)
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self._read.add(str(key))
        return super().__contains__(key)


def _true(value: Any) -> bool:
    """A Boolean parameter, sent as JSON or as a form field (Client.cpp to_bool)."""
    return value is True or str(value).lower() in ("true", "1")


def _scope(params: dict[str, Any]) -> str:
    """The type of command scope a call names; none given is the default scope."""
    return str((params.get("scope") or {}).get("type", "default"))


async def _parameters(request: web.Request) -> dict[str, Any]:
    """A call's parameters, sent as the Bot API takes them: a JSON object, or form fields
    (URL-encoded, or multipart with files)."""
    if request.content_type == "application/json":
        parameters = await request.json()
        if not isinstance(parameters, dict):
            raise web.HTTPBadRequest(text="Bad Request: parameters must be a JSON object")
        return parameters
    return _decode(dict(await request.post()))


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

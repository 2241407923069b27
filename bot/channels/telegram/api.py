"""Bot API calls as plain JSON, on the hot path of a person's private chat.

A press costs three calls (answer the press, edit the pressed question, send the next one) and
arrives as one update. python-telegram-bot reads every update into objects and builds every
call from objects (`RequestParameter`, `InlineKeyboardButton`, defaults inserted per call):
about a third of the bot's CPU per press in a profile of scripts/bench_telegram.py. Here the
calls go as the dicts they are, through the same parts of the library that give them their
meaning: the bot's own transport (`BaseRequest.post`: timeouts, the proxy, and every error
mapped to `RetryAfter`, `Forbidden`, `BadRequest`, `InvalidToken`, `TimedOut` or
`NetworkError`) and its rate limiter (Telegram's flood limits, 429s waited out and retried).
"""

from __future__ import annotations

import warnings
from typing import Any

from telegram.error import RetryAfter, TelegramError
from telegram.ext import ExtBot
from telegram.request import BaseRequest, RequestData
from telegram.warnings import PTBDeprecationWarning

from bot.core import jsontext

JSONDict = dict[str, Any]
NO_PREVIEW: JSONDict = {"is_disabled": True}
NOT_RATE_LIMITED = ("getUpdates",)  # as python-telegram-bot: polling waits for nobody


class JsonRequestData(RequestData):
    """A call's parameters as a dict of JSON values (no files), for either transport: the
    aiohttp one sends `parameters` as one JSON object, httpx `json_parameters` as a form."""

    def __init__(self, payload: JSONDict) -> None:
        super().__init__()
        self._payload = {name: value for name, value in payload.items() if value is not None}

    @property
    def parameters(self) -> JSONDict:
        return self._payload

    @property
    def json_parameters(self) -> dict[str, str]:
        return {
            name: value if isinstance(value, str) else jsontext.dumps(value)
            for name, value in self._payload.items()
        }


class BotApi:
    """Calls to the Bot API by method name, their answers as Telegram's JSON."""

    def __init__(self, bot: ExtBot[Any], request: BaseRequest, poll_request: BaseRequest) -> None:
        self.bot = bot
        self.request = request
        self.poll_request = poll_request

    async def call(self, method: str, **payload: Any) -> Any:
        """One call; what Telegram answered (its `result`). Raises python-telegram-bot's
        `TelegramError`s, as the library's own methods do."""
        url = f"{self.bot.base_url}/{method}"
        data = JsonRequestData(payload)
        limiter = self.bot.rate_limiter
        if limiter is None or method in NOT_RATE_LIMITED:
            return await self.request.post(url, request_data=data)
        return await limiter.process_request(
            callback=self.request.post, args=(url,), kwargs={"request_data": data},
            endpoint=method, data=data.parameters, rate_limit_args=None,
        )

    async def get_updates(
        self, offset: int | None, timeout: int, allowed_updates: list[str]
    ) -> list[JSONDict]:
        """The next updates as JSON, waiting up to `timeout` seconds for some (long polling,
        on its own connection, with the wait added to the read timeout as the library does)."""
        data = JsonRequestData(
            {"offset": offset, "timeout": timeout, "allowed_updates": allowed_updates}
        )
        read_timeout = (self.poll_request.read_timeout or 0) + timeout
        url = f"{self.bot.base_url}/getUpdates"
        result = await self.poll_request.post(url, request_data=data, read_timeout=read_timeout)
        return [update for update in result if isinstance(update, dict)]  # type: ignore[union-attr]

    async def send_html(self, chat_id: int, html: str, markup: JSONDict | None = None) -> JSONDict:
        """A message in Telegram HTML without link previews; the message Telegram made."""
        return await self.call(  # type: ignore[no-any-return]
            "sendMessage", chat_id=chat_id, text=html, parse_mode="HTML",
            link_preview_options=NO_PREVIEW, reply_markup=markup,
        )

    async def edit_html(
        self, chat_id: int, message_id: int, html: str, markup: JSONDict | None = None
    ) -> Any:
        """Replace a message's text (and its buttons: none unless given); the edited message."""
        return await self.call(
            "editMessageText", chat_id=chat_id, message_id=message_id, text=html,
            parse_mode="HTML", link_preview_options=NO_PREVIEW, reply_markup=markup,
        )


def describe(error: BaseException) -> str:
    """An error in one line for the operator, without anything secret."""
    if isinstance(error, TelegramError):
        return f"{type(error).__name__}: {error.message}"
    return f"{type(error).__name__}: {error}"


def retry_after(error: RetryAfter) -> float:
    """The seconds a 429 asks to wait (python-telegram-bot gives an int or a timedelta, and
    warns that its type will change)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        wait = error.retry_after
    total = getattr(wait, "total_seconds", None)
    return float(total()) if callable(total) else float(wait)

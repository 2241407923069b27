"""`TelegramChannel`: the Telegram bot's lifecycle (start, stop), its webhook route, its staff
chat, and its outbox (`deliver`), as the one runner (bot/run.py) drives every channel."""

from __future__ import annotations

import logging

from aiohttp import web
from telegram import LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, RetryAfter, TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, BaseRateLimiter, Defaults
from telegram.request import BaseRequest, HTTPXRequest

from bot.channels.telegram.api import BotApi, describe, retry_after
from bot.channels.telegram.dispatch import Dispatcher
from bot.channels.telegram.failures import failure_kind
from bot.channels.telegram.handlers import CHANNEL, Handlers, add_handlers
from bot.channels.telegram.ordering import PerChatUpdateProcessor
from bot.channels.telegram.polling import Poller
from bot.channels.telegram.profile import set_profile
from bot.channels.telegram.request import AiohttpRequest
from bot.channels.telegram.send import Sender
from bot.channels.telegram.staff import TelegramStaffChat, add_staff_replies
from bot.channels.telegram.webhook import Webhook
from bot.core.channel import ChannelError
from bot.core.effects import Address, DeliveryFailed, StaffNotifier
from bot.core.events import Reply
from bot.settings import Settings
from bot.turns.runner import TurnRunner

RATE_LIMIT_RETRIES = 5

log = logging.getLogger(__name__)


class CouldNotStart(ChannelError):
    """Telegram refused or could not be reached at start; the message says why, in one line,
    without the token."""


class TelegramChannel:
    """The bot on Telegram: long polling or a webhook, handlers, staff chat, outbox."""

    name = CHANNEL

    @staticmethod
    def configured(settings: Settings) -> bool:
        """True when a bot token is set."""
        return bool(token_of(settings))

    def __init__(
        self,
        engine: TurnRunner,
        settings: Settings,
        *,
        webhook: bool = False,
        rate_limiter: BaseRateLimiter | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.webhook = webhook
        hide_in_logs(token_of(settings))  # before the library logs its URLs, which carry it
        library = logging.getLogger("telegram")  # its DEBUG lines carry every update and call
        library.setLevel(max(logging.INFO, library.getEffectiveLevel()))
        request, poll_request = requests_for(settings)
        self.application = build_application(
            settings, rate_limiter=rate_limiter, requests=(request, poll_request)
        )
        self.api = BotApi(self.application.bot, request, poll_request)
        self.sender = Sender(self.api)
        self.handlers = Handlers(engine, self.sender)
        self.dispatcher = Dispatcher(self.application, self.handlers)
        add_handlers(self.application, self.handlers, settings.staff_telegram_chat_id)
        if settings.staff_telegram_chat_id is not None:
            add_staff_replies(self.application, engine, settings.staff_telegram_chat_id)
        self._route: Webhook | None = None
        self._poller: Poller | None = None
        self._staff: TelegramStaffChat | None = None

    def mount(self, app: web.Application) -> None:
        """In webhook mode, the route Telegram posts updates to."""
        if self.webhook:
            self._route = Webhook(self.settings, self.engine.metrics)
            self._route.mount(app)

    async def start(self) -> None:
        """Connect, set the descriptions and command menus, and take updates (polling, or the
        webhook mounted before); raises CouldNotStart, in one line and without the token, when
        that fails."""
        try:
            await self._start()
        except InvalidToken:
            await self._close()
            raise CouldNotStart(
                "Telegram rejected BOT_TELEGRAM_TOKEN; check it with @BotFather."
            ) from None
        except (TelegramError, OSError, ValueError) as error:
            await self._close()
            why = describe(error).replace(token_of(self.settings), "<token>")
            raise CouldNotStart(f"the Telegram bot could not start: {why}") from None

    async def stop(self) -> None:
        """Stop taking updates, let those taken be handled and answered, then disconnect."""
        await self._close()

    async def deliver(self, address: Address, reply: Reply) -> None:
        """Send a reply to a person's private chat (its id is their user id). Raises
        DeliveryFailed: to retry later after a network error, a 5xx or a 429 (with its
        retry_after); for good when Telegram refuses the message or the person blocked the bot."""
        if not address.user_id.isascii() or not address.user_id.lstrip("-").isdigit():
            raise DeliveryFailed("not a Telegram chat id", permanent=True)
        try:
            await self.sender.reply(int(address.user_id), reply)
        except RetryAfter as error:
            raise DeliveryFailed("rate limited (429)", retry_after=retry_after(error)) from None
        except (Forbidden, BadRequest, InvalidToken) as error:  # BadRequest is a NetworkError
            raise DeliveryFailed(describe(error), permanent=True) from None
        except TelegramError as error:  # NetworkError, TimedOut, 5xx: worth another try
            raise DeliveryFailed(describe(error), kind=failure_kind(error)) from None

    def staff_place(self) -> StaffNotifier | None:
        """The staff chat, once started, when BOT_STAFF_TELEGRAM_CHAT_ID is set."""
        return self._staff

    async def _start(self) -> None:
        if self.webhook and self._route is None:
            raise ValueError("webhook mode: mount(app) on the web server before start()")
        try:
            await self.application.initialize()
        except BaseException:
            await self.application.bot.shutdown()  # getMe failed: close the clients it opened
            raise
        await set_profile(self.application.bot, self.engine)
        await self.application.start()
        if self._route is not None:
            await self._route.open(self.api, self.dispatcher)
        else:
            self._poller = Poller(self.api, self.dispatcher)
            await self._poller.start()
        chat_id = self.settings.staff_telegram_chat_id
        if chat_id is not None:
            self._staff = TelegramStaffChat(self.sender, chat_id, self.engine)
        log.info("telegram: @%s is taking updates by %s", self.application.bot.username,
                 "webhook" if self._route is not None else "polling")

    async def _close(self) -> None:
        """Whatever was started, stopped in order: the route, polling, handling, connections."""
        if self._route is not None:
            await self._route.close()
        if self._poller is not None:
            await self._poller.stop()  # the batch in hand is handled first
        if self.application.running:
            await self.application.stop()  # handles every update already taken
        await self.sender.answers.close()  # before the connections go
        await self.application.shutdown()


def requests_for(settings: Settings) -> tuple[BaseRequest, BaseRequest]:
    """The transport chosen (BOT_TELEGRAM_TRANSPORT) for calls, and for long polling (one
    poll at a time, as python-telegram-bot's own)."""
    if settings.telegram_transport == "aiohttp":
        return AiohttpRequest(), AiohttpRequest(connection_pool_size=1)
    return HTTPXRequest(connection_pool_size=256), HTTPXRequest(connection_pool_size=1)


def build_application(
    settings: Settings,
    *,
    rate_limiter: BaseRateLimiter | None = None,
    requests: tuple[BaseRequest, BaseRequest] | None = None,
) -> Application:
    """The python-telegram-bot Application: HTML replies without link previews, flood limits
    waited out, each chat's updates in order, the Bot API over the transport chosen
    (BOT_TELEGRAM_TRANSPORT) or given (for calls, for polling); no updater (see polling.py)."""
    request, poll_request = requests or requests_for(settings)
    builder = (
        ApplicationBuilder()
        .token(token_of(settings))
        .base_url(settings.telegram_base_url)
        .base_file_url(settings.telegram_base_file_url)
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)
            )
        )
        .rate_limiter(rate_limiter or AIORateLimiter(max_retries=RATE_LIMIT_RETRIES))
        .concurrent_updates(PerChatUpdateProcessor())
        .updater(None)  # updates come from our Poller or Webhook, confirmed once handled
    )
    return builder.request(request).get_updates_request(poll_request).build()


def token_of(settings: Settings) -> str:
    token = settings.telegram_token
    return token.get_secret_value().strip() if token is not None else ""


class _HideToken(logging.Filter):
    """Replace the token in every log line (library messages may quote URLs or errors)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = message.replace(self.token, "<token>"), None
        if record.exc_info and not record.exc_text:
            trace = logging.Formatter().formatException(record.exc_info)
            record.exc_text = trace.replace(self.token, "<token>")
        return True


def hide_in_logs(token: str) -> None:
    """Keep the token out of every log line: httpx's request lines (which carry it in the URL)
    stay below INFO, and a filter on each root handler replaces it anywhere else."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, _HideToken) and f.token == token for f in handler.filters):
            handler.addFilter(_HideToken(token))

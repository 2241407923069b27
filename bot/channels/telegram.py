"""The Telegram channel: python-telegram-bot updates in, engine Events through, HTML replies out.

No dialog logic lives here. A handler turns what the person did into an `Event`, the engine
answers with a `Reply`, and the reply becomes Telegram messages: light markup rendered to HTML,
choices as an inline keyboard whose callback data carries the turn, links as URL buttons.
"""

from __future__ import annotations

import asyncio
import html
import logging
import secrets
import signal
import sys
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager, suppress
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from telegram import (
    BotCommand,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Update,
)
from telegram import Message as TelegramMessage
from telegram.constants import ChatType, MessageLimit, ParseMode
from telegram.error import InvalidToken, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    BaseRateLimiter,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    filters,
)
from telegram.helpers import create_deep_linked_url

from bot.core.events import (
    Choice,
    Event,
    EventKind,
    Message,
    Reply,
    decode_choice,
    encode_choice,
    parse_command,
)
from bot.core.markup import Span, plain, render, split_text
from bot.engine.engine import Engine
from bot.engine.flow import DONE_CHOICE
from bot.handoff.redirect import add_redirects
from bot.settings import Settings
from bot.web import add_telegram_webhook, create_web_app, serve

CHANNEL = "telegram"
# Split the light-markup source below Telegram's 4096: rendering only removes characters, and
# the headroom covers characters Telegram counts twice (UTF-16 surrogate pairs).
SPLIT_AT = MessageLimit.MAX_TEXT_LENGTH - 96
CALLBACK_DATA_LIMIT = 64
ALLOWED_UPDATES = [Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY]
POLL_TIMEOUT = 10.0
RATE_LIMIT_RETRIES = 5
CONCURRENT_UPDATES = 256
WEBHOOK_PATH = "/telegram"
OLD_QUERY_ERRORS = ("query is too old", "query id is invalid")
# Choices share a keyboard row when every label is this short (as long as it can become once
# picked, in a pick-several question): three across ("Yes", "No", "Not sure"), or two.
THREE_ACROSS, TWO_ACROSS = 10, 14
PICK_MARK = 2  # what a picked option's label gains: "✓ "

log = logging.getLogger(__name__)
Context = ContextTypes.DEFAULT_TYPE


# -- rendering --------------------------------------------------------------------------------


def html_span(span: Span) -> str:
    """One span of light markup as Telegram HTML; all text is escaped here."""
    text = html.escape(span.text, quote=False)
    if span.kind == "bold":
        return f"<b>{text}</b>"
    if span.kind == "italic":
        return f"<i>{text}</i>"
    if span.kind == "link":
        return f'<a href="{html.escape(span.url)}">{text}</a>'
    return text


def to_html(text: str) -> str:
    """Light markup rendered as Telegram HTML."""
    return render(text, html_span)


def html_chunks(text: str) -> list[str]:
    """HTML messages under Telegram's limit; the source is split first so no tag is cut."""
    return [to_html(chunk) for chunk in split_text(text, SPLIT_AT) if chunk.strip()]


def callback_data(turn: int, choice_id: str) -> str:
    """Button payload with the turn it was shown on; Telegram allows 64 bytes."""
    data = encode_choice(turn, choice_id)
    if len(data.encode()) > CALLBACK_DATA_LIMIT:
        raise ValueError(f"choice id {choice_id!r} is too long for a Telegram button")
    return data


def keyboard(message: Message, turn: int) -> InlineKeyboardMarkup | None:
    """Choices as callback buttons (short ones share a row), then links, one per row."""
    rows = choice_rows(message, turn)
    rows += [[InlineKeyboardButton(link.label, url=link.url)] for link in message.links]
    return InlineKeyboardMarkup(rows) if rows else None


def choice_rows(message: Message, turn: int) -> list[list[InlineKeyboardButton]]:
    """Rows of choice buttons; in a pick-several question "Done" gets the last row to itself.

    How many share a row depends on the longest label counted as if picked, so the layout
    stays put while the person picks and unpicks.
    """
    choices = [choice for choice in message.choices if choice.id != DONE_CHOICE]
    finish = [choice for choice in message.choices if choice.id == DONE_CHOICE]
    mark = PICK_MARK if finish else 0
    widest = max((len(c.label) + (0 if c.selected else mark) for c in choices), default=0)
    across = 3 if widest <= THREE_ACROSS else 2 if widest <= TWO_ACROSS else 1
    buttons = [choice_button(choice, turn) for choice in choices]
    rows = [buttons[start : start + across] for start in range(0, len(buttons), across)]
    return rows + [[choice_button(choice, turn)] for choice in finish]


def choice_button(choice: Choice, turn: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(choice.label, callback_data=callback_data(turn, choice.id))


# -- updates to events ------------------------------------------------------------------------


def event_from_press(user_id: str, data: str) -> Event | None:
    """A button press; None when the button is not one of ours."""
    decoded = decode_choice(data)
    if decoded is None:
        return None
    turn, choice_id = decoded
    return Event(CHANNEL, user_id, EventKind.PRESS, choice_id=choice_id, turn=turn)


def deep_link_payload(command: str, engine: Engine) -> str | None:
    """What a group command becomes in the private chat (`?start=<payload>`)."""
    found = engine.commands.get(command)
    if found is not None and found.deep_link:
        return found.name
    if found is not None and found.action in ("start", "restart"):
        entry = engine.commands.entry_of(engine.settings.default_flow)
        return entry.name if entry is not None else None
    return None  # back, stop, forget...: just open the private chat


def addressed_elsewhere(text: str, bot_username: str) -> bool:
    """True for `/cmd@OtherBot`: a command in a group meant for another bot."""
    head = text.split(maxsplit=1)[0] if text.strip() else ""
    _, at, name = head.partition("@")
    return bool(at) and name.lower() != bot_username.lower()


# -- the channel ------------------------------------------------------------------------------


class TelegramChannel:
    """Handlers named for what the person did; each hands an Event to the engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def notice(self, template: str, **extra: Any) -> str:
        return self.engine.notice(f"telegram/{template}.j2", channel=CHANNEL, **extra)

    async def typed_message(self, update: Update, context: Context) -> None:
        """A text or a /command in the private chat."""
        assert update.message is not None and update.effective_user is not None
        user_id = str(update.effective_user.id)
        event = Event.from_text(CHANNEL, user_id, update.message.text or "")
        await self._handle(update, context, event)

    async def sent_something_unreadable(self, update: Update, context: Context) -> None:
        """A sticker, photo, voice note, file...: the engine answers kindly."""
        assert update.effective_user is not None
        event = Event(CHANNEL, str(update.effective_user.id), EventKind.UNSUPPORTED)
        await self._handle(update, context, event)

    async def pressed_button(self, update: Update, context: Context) -> None:
        """A press on a choice button: answer the query, apply it, show the answer chosen.

        A pick in a pick-several question changes the question itself: the pressed message is
        edited in place (ticks, and buttons for the new turn) instead of a new message.
        """
        query = update.callback_query
        assert query is not None
        event = event_from_press(str(query.from_user.id), query.data or "")
        if event is None or not is_private(update):  # not ours, or not where health is discussed
            await answer_quietly(query)
            return
        reply = await self.engine.handle(event)
        if reply.edit:
            _, edited = await asyncio.gather(answer_quietly(query), edit_in_place(query, reply))
            if not edited:  # the message is gone or too old to edit: send the question anew
                await send_reply(context, chat_id_of(update), reply)
            return
        await asyncio.gather(answer_quietly(query), self._tidy_pressed_message(query, reply))
        await send_reply(context, chat_id_of(update), reply)

    async def _tidy_pressed_message(self, query: CallbackQuery, reply: Reply) -> None:
        """Show the answer on the question, or take the keyboard off an old one."""
        if reply.extras.get("answered"):
            await self._show_answer(query, reply.extras["answered"])
        elif reply.messages:  # an old button: it no longer applies, so it goes
            await drop_keyboard(query)

    async def edited_message(self, update: Update, context: Context) -> None:
        """An edit of an earlier message: answers are not changed behind the person's back."""
        assert update.effective_chat is not None
        await send_text(context, update.effective_chat.id, self.notice("edited"))

    async def used_command_in_group(self, update: Update, context: Context) -> None:
        """A command in a group: move to the private chat, where health details belong."""
        message = update.message
        assert message is not None and message.text is not None
        parsed = parse_command(message.text)
        if parsed is None or addressed_elsewhere(message.text, context.bot.username):
            return
        command = parsed[0]
        if self.engine.commands.get(command) is None:
            return
        payload = deep_link_payload(command, self.engine)
        url = create_deep_linked_url(context.bot.username, payload)
        button = InlineKeyboardButton(plain(self.notice("private_button")), url=url)
        text = self.notice("group", command=command, carried=payload is not None)
        await send_text(context, message.chat_id, text, InlineKeyboardMarkup([[button]]))

    async def set_command_menu(self, application: Application) -> None:
        """The command menu: the registry's Telegram commands, described from templates."""
        described = self.engine.compose.render_names("common/commands.j2")
        commands = [
            BotCommand(c.name, c.description or getattr(described, c.name))
            for c in self.engine.commands.for_menu(CHANNEL)
        ]
        await application.bot.set_my_commands(commands)

    async def failed(self, update: object, context: Context) -> None:
        """Log the error's type and place, never what the person wrote."""
        error = context.error
        log.error("telegram handler failed: %s", type(error).__name__, exc_info=error)

    async def _handle(self, update: Update, context: Context, event: Event) -> None:
        reply = await self.engine.handle(event)
        await send_reply(context, chat_id_of(update), reply)

    async def _show_answer(self, query: CallbackQuery, answered: str) -> None:
        """Edit the question to show the answer and drop its keyboard: a clean transcript."""
        question = query.message
        if not isinstance(question, TelegramMessage) or not question.text:
            return
        line = self.notice("answered", answer=answered)
        if len(question.text) + len(plain(line)) + 2 > SPLIT_AT:
            await drop_keyboard(query)
            return
        try:
            await query.edit_message_text(
                f"{question.text_html}\n\n{to_html(line)}", reply_markup=links_only(question)
            )
        except TelegramError as error:  # deleted meanwhile, or already shows it
            log.debug("could not show the answer: %s", describe(error))


def is_private(update: Update) -> bool:
    """True in a one-to-one chat (or when Telegram no longer says which chat it was)."""
    chat = update.effective_chat
    return chat is None or chat.type == ChatType.PRIVATE


def chat_id_of(update: Update) -> int:
    """Where to answer: the update's chat, else the person's private chat."""
    if update.effective_chat is not None:
        return update.effective_chat.id
    assert update.effective_user is not None
    return update.effective_user.id


async def answer_quietly(query: CallbackQuery) -> None:
    """Stop the button's spinner; a query too old to answer is fine."""
    try:
        await query.answer()
    except TelegramError as error:  # the reply still goes out; only the spinner lingers
        if any(phrase in str(error).lower() for phrase in OLD_QUERY_ERRORS):
            log.debug("callback query was too old to answer")
        else:
            log.warning("could not answer a callback query: %s", describe(error))


def links_only(message: object) -> InlineKeyboardMarkup | None:
    """The URL buttons of a message's keyboard (a pressed message keeps its links)."""
    markup = getattr(message, "reply_markup", None)
    rows = [
        [button] for row in (markup.inline_keyboard if markup else ()) for button in row
        if button.url
    ]
    return InlineKeyboardMarkup(rows) if rows else None


async def drop_keyboard(query: CallbackQuery) -> None:
    """Take the choice buttons off the pressed message; a message gone or unchanged is fine."""
    if not isinstance(query.message, TelegramMessage):  # too old: Telegram no longer shows it
        return
    try:
        await query.edit_message_reply_markup(links_only(query.message))
    except TelegramError as error:
        log.debug("could not drop a keyboard: %s", describe(error))


async def edit_in_place(query: CallbackQuery, reply: Reply) -> bool:
    """Replace the pressed message with the reply's one message (a pick in a pick-several
    question); False when Telegram refuses, so the caller sends it instead."""
    if not isinstance(query.message, TelegramMessage) or len(reply.messages) != 1:
        return False
    (message,) = reply.messages
    chunks = html_chunks(message.text)
    if not chunks:
        return False
    try:  # a long question was sent in parts, the buttons under the last: that is the one pressed
        await query.edit_message_text(chunks[-1], reply_markup=keyboard(message, reply.turn))
    except TelegramError as error:
        if "not modified" in str(error).lower():
            return True
        log.debug("could not edit the pressed message: %s", describe(error))
        return False
    return True


async def send_reply(context: Context, chat_id: int, reply: Reply) -> None:
    """Every message of a reply, in order, each split under the length limit."""
    for message in reply.messages:
        await send_text(context, chat_id, message.text, keyboard(message, reply.turn))


async def send_text(
    context: Context, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None
) -> None:
    """Light markup as one or more HTML messages; the buttons go under the last one."""
    chunks = html_chunks(text)
    for number, chunk in enumerate(chunks, 1):
        last = number == len(chunks)
        await context.bot.send_message(chat_id, chunk, reply_markup=markup if last else None)


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Many chats at once, each chat's updates one after another so replies stay in order."""

    def __init__(self, max_concurrent_updates: int = CONCURRENT_UPDATES) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = _chat_key(update)
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with self._locks.setdefault(key, asyncio.Lock()):
                await coroutine
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:
                del self._waiting[key], self._locks[key]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""


def _chat_key(update: object) -> int:
    if isinstance(update, Update):
        if update.effective_chat is not None:
            return update.effective_chat.id
        if update.effective_user is not None:
            return update.effective_user.id
    return 0


# -- building and running ---------------------------------------------------------------------


def build_application(
    settings: Settings,
    engine: Engine,
    *,
    webhook: bool = False,
    rate_limiter: BaseRateLimiter | None = None,
) -> Application:
    """The python-telegram-bot Application with the channel's handlers registered."""
    assert settings.telegram_token is not None
    channel = TelegramChannel(engine)
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_token.get_secret_value().strip())
        .base_url(settings.telegram_base_url)
        .base_file_url(settings.telegram_base_file_url)
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)
            )
        )
        .rate_limiter(rate_limiter or AIORateLimiter(max_retries=RATE_LIMIT_RETRIES))
        .concurrent_updates(PerChatUpdateProcessor())
        .post_init(channel.set_command_menu)
    )
    if webhook:
        builder = builder.updater(None)
    application = builder.build()
    add_handlers(application, channel)
    if settings.staff_telegram_chat_id is not None:
        from bot.channels.telegram_staff import add_staff_chat  # it builds on this module

        add_staff_chat(application, engine, settings.staff_telegram_chat_id)
    return application


def add_handlers(application: Application, channel: TelegramChannel) -> None:
    """Route each kind of update to the handler for what the person did."""
    private = filters.ChatType.PRIVATE
    new_message = filters.UpdateType.MESSAGE
    groups = filters.ChatType.GROUPS
    staff_chat = channel.engine.settings.staff_telegram_chat_id
    if staff_chat is not None:  # staff talk there; only their replies to notices are for us
        groups = groups & ~filters.Chat(staff_chat)
    application.add_handlers(
        [
            CallbackQueryHandler(channel.pressed_button),
            MessageHandler(private & filters.UpdateType.EDITED_MESSAGE, channel.edited_message),
            MessageHandler(private & new_message & filters.TEXT, channel.typed_message),
            MessageHandler(private & new_message, channel.sent_something_unreadable),
            MessageHandler(groups & filters.COMMAND, channel.used_command_in_group),
        ]
    )
    application.add_error_handler(channel.failed)


@asynccontextmanager
async def started(
    application: Application,
    settings: Settings,
    *,
    webhook: bool = False,
    poll_timeout: float = POLL_TIMEOUT,
    engine: Engine | None = None,
) -> AsyncIterator[web.AppRunner | None]:
    """Run the bot (polling, or webhook on the bot's web server) until the block ends.

    With an engine, the web server also counts link clicks (`/go/...`), and in polling mode
    it runs when `public_url` is set. Raises InvalidToken when Telegram rejects the token;
    yields the web runner when one runs.
    """
    try:
        await application.initialize()
    except BaseException:
        await application.bot.shutdown()  # getMe failed: close the HTTP clients it opened
        raise
    runner: web.AppRunner | None = None
    try:
        if application.post_init is not None:
            await application.post_init(application)
        await application.start()
        if webhook:
            runner = await start_webhook(application, settings, engine)
        else:
            assert application.updater is not None
            await application.updater.start_polling(
                timeout=poll_timeout, allowed_updates=ALLOWED_UPDATES
            )
            if engine is not None and settings.public_url:
                runner = await start_link_server(settings, engine)
        yield runner
    finally:
        if application.updater is not None and application.updater.running:
            await application.updater.stop()
        if runner is not None:
            await runner.cleanup()
        if application.running:
            await application.stop()
        await application.shutdown()


def webhook_address(settings: Settings) -> str:
    """The public URL Telegram posts to: the setting, else `<public_url>/telegram`."""
    if settings.telegram_webhook_url:
        return settings.telegram_webhook_url
    if settings.public_url:
        return settings.public_url.rstrip("/") + WEBHOOK_PATH
    raise ValueError("webhook mode needs BOT_TELEGRAM_WEBHOOK_URL or BOT_PUBLIC_URL")


async def start_webhook(
    application: Application, settings: Settings, engine: Engine | None = None
) -> web.AppRunner:
    """Serve the webhook route on the bot's web server and tell Telegram where it is."""
    url = webhook_address(settings)
    configured = settings.telegram_webhook_secret
    secret = configured.get_secret_value() if configured else secrets.token_urlsafe(32)
    web_app = create_web_app()
    add_telegram_webhook(web_app, application, secret, urlsplit(url).path or WEBHOOK_PATH)
    if engine is not None:
        add_redirects(web_app, engine)
    runner = await serve(web_app, settings.web_host, settings.web_port)
    try:
        await application.bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)
    except BaseException:
        await runner.cleanup()
        raise
    return runner


async def start_link_server(settings: Settings, engine: Engine) -> web.AppRunner:
    """The bot's web server without the webhook route: health check and link redirects."""
    web_app = create_web_app()
    add_redirects(web_app, engine)
    return await serve(web_app, settings.web_host, settings.web_port)


def run(settings: Settings, webhook: bool) -> int:
    """`python -m bot telegram`: run until Ctrl-C or SIGTERM; returns the exit code."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines carry the token
    token = settings.telegram_token.get_secret_value().strip() if settings.telegram_token else ""
    if not token:
        print("error: BOT_TELEGRAM_TOKEN is not set; get a token from @BotFather.", file=sys.stderr)
        return 2
    hide_in_logs(token)
    try:
        return asyncio.run(_serve(settings, webhook))
    except KeyboardInterrupt:
        return 0


async def _serve(settings: Settings, webhook: bool) -> int:
    from bot.app import build_engine, purging_daily

    engine = build_engine(settings)
    application = build_application(settings, engine, webhook=webhook)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
    from bot.channels.telegram_staff import attach_staff_places  # it builds on this module

    try:
        async with started(application, settings, webhook=webhook, engine=engine):
            close_staff_places = await attach_staff_places(engine, settings, application.bot)
            mode = "webhook" if webhook else "polling"
            log.warning("Telegram bot @%s is running (%s)", application.bot.username, mode)
            async with purging_daily(engine):
                await stop.wait()
            await close_staff_places()
    except InvalidToken:
        print(
            "error: Telegram rejected BOT_TELEGRAM_TOKEN; check it with @BotFather.",
            file=sys.stderr,
        )
        return 1
    except (TelegramError, OSError, ValueError) as error:
        print(f"error: the Telegram bot could not start: {describe(error)}", file=sys.stderr)
        return 1
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            with suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signum)
        await engine.store.close()
    return 0


def describe(error: BaseException) -> str:
    """An error in one line for the operator, without anything secret."""
    if isinstance(error, TelegramError):
        return f"{type(error).__name__}: {error.message}"
    return f"{type(error).__name__}: {error}"


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
    """Install the token filter on every handler of the root logger."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(_HideToken(token))

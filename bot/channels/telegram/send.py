"""Messages out: a reply sent to a chat, a pressed message edited or tidied, a spinner stopped.

Every call here goes to Telegram through the bot given; problems editing are logged and
swallowed (the message may be gone), problems sending are the caller's to handle.

Sends and edits go through `Bot.do_api_request`: the same request, rate limiter, transport and
error mapping as `bot.send_message`, but Telegram's answer (the bot's own message, echoed back)
is kept as the JSON it is instead of being read into a `Message` with its entities and buttons;
that reading was a fifth of the bot's CPU per press (profile of scripts/bench_telegram.py).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Any

from telegram import Bot, CallbackQuery, InlineKeyboardMarkup, LinkPreviewOptions
from telegram import Message as TelegramMessage
from telegram.error import TelegramError
from telegram.warnings import PTBUserWarning

from bot.channels.telegram.render import SPLIT_AT, html_chunks, keyboard, links_only, to_html
from bot.core.events import Reply
from bot.core.markup import plain

OLD_QUERY_ERRORS = ("query is too old", "query id is invalid")
# What the application's Defaults add to python-telegram-bot's own methods; `do_api_request`
# takes none of them, so every call here names them.
HTML_NO_PREVIEW: dict[str, Any] = {
    "parse_mode": "HTML", "link_preview_options": LinkPreviewOptions(is_disabled=True),
}

log = logging.getLogger(__name__)
# do_api_request suggests the named method for a known endpoint; here the raw answer is the point.
warnings.filterwarnings("ignore", message=r"Please use 'Bot\.", category=PTBUserWarning,
                        module=__name__)


@dataclass(frozen=True)
class AnswerLine:
    """The line shown under an answered question: its HTML, and how many characters it shows."""

    html: str
    length: int

    @classmethod
    def of(cls, line: str) -> AnswerLine:
        """From light markup, read once."""
        return cls(to_html(line), len(plain(line)))


async def send_reply(bot: Bot, chat_id: int, reply: Reply) -> None:
    """Every message of a reply, in order, each split under the length limit."""
    for message in reply.messages:
        await send_text(bot, chat_id, message.text, keyboard(message, reply.turn))


async def send_text(
    bot: Bot, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None
) -> list[int]:
    """Light markup as one or more HTML messages, the buttons under the last; their ids."""
    chunks = html_chunks(text)
    sent = []
    for number, chunk in enumerate(chunks, 1):
        last = number == len(chunks)
        answer = await call(bot, "sendMessage", chat_id=chat_id, text=chunk,
                            reply_markup=markup if last else None)
        sent.append(int(answer["message_id"]))
    return sent


async def edit_text(
    bot: Bot, chat_id: int, message_id: int, html: str,
    markup: InlineKeyboardMarkup | None = None,
) -> None:
    """Replace a message's HTML text (and its buttons: none unless given)."""
    await call(bot, "editMessageText", chat_id=chat_id, message_id=message_id, text=html,
               reply_markup=markup)


async def call(bot: Bot, method: str, **fields: Any) -> Any:
    """One Bot API call with HTML and no link previews, its answer as Telegram's JSON."""
    arguments = {**HTML_NO_PREVIEW, **{k: v for k, v in fields.items() if v is not None}}
    if method not in ("sendMessage", "editMessageText"):
        del arguments["parse_mode"], arguments["link_preview_options"]
    return await bot.do_api_request(method, api_kwargs=arguments)


async def answer_quietly(query: CallbackQuery) -> None:
    """Stop the button's spinner; a query too old to answer is fine."""
    try:
        await query.answer()
    except TelegramError as error:  # the reply still goes out; only the spinner lingers
        if any(phrase in str(error).lower() for phrase in OLD_QUERY_ERRORS):
            log.debug("callback query was too old to answer")
        else:
            log.warning("could not answer a callback query: %s", describe(error))


async def show_answer(query: CallbackQuery, line: AnswerLine) -> None:
    """Add the answer line under the pressed question and drop its choice buttons, so the chat
    reads as a clean transcript; a question too long gets no line."""
    question = query.message
    if not isinstance(question, TelegramMessage) or not question.text:
        return
    if len(question.text) + line.length + 2 > SPLIT_AT:
        await drop_keyboard(query)
        return
    try:
        await edit_text(query.get_bot(), question.chat_id, question.message_id,
                        f"{question.text_html}\n\n{line.html}", links_only(question))
    except TelegramError as error:  # deleted meanwhile, or already shows it
        log.debug("could not show the answer: %s", describe(error))


async def drop_keyboard(query: CallbackQuery) -> None:
    """Take the choice buttons off the pressed message; a message gone or unchanged is fine."""
    if not isinstance(query.message, TelegramMessage):  # too old: Telegram no longer shows it
        return
    message = query.message
    try:
        await call(query.get_bot(), "editMessageReplyMarkup", chat_id=message.chat_id,
                   message_id=message.message_id, reply_markup=links_only(message))
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
    pressed = query.message
    try:  # a long question was sent in parts, the buttons under the last: that is the one pressed
        await edit_text(query.get_bot(), pressed.chat_id, pressed.message_id, chunks[-1],
                        keyboard(message, reply.turn))
    except TelegramError as error:
        if "not modified" in str(error).lower():
            return True
        log.debug("could not edit the pressed message: %s", describe(error))
        return False
    return True


def describe(error: BaseException) -> str:
    """An error in one line for the operator, without anything secret."""
    if isinstance(error, TelegramError):
        return f"{type(error).__name__}: {error.message}"
    return f"{type(error).__name__}: {error}"

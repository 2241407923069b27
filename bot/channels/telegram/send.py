"""Messages out: a reply sent to a chat, a pressed message edited or tidied, a spinner stopped.

Every call goes to Telegram as JSON through `BotApi` (api.py). Problems editing are logged and
swallowed (the message may be gone); problems sending are the caller's to handle.

A press shows its answer under the pressed question, which needs that question's HTML. The
press carries the question as Telegram shows it (text and entities); reading it back into HTML
takes python-telegram-bot's `Message`, a fifth of a press's CPU. So the HTML of each chat's
latest question this process sent is kept, and used when the pressed message is that one and
still shows the text Telegram gave back for it; otherwise (an older message, one sent by
another replica or before a restart, edited since) the library reads it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from telegram import Message as TelegramMessage
from telegram.error import TelegramError

from bot.channels.telegram.api import BotApi, JSONDict, describe
from bot.channels.telegram.callbacks import CallbackAnswers
from bot.channels.telegram.render import SPLIT_AT, html_chunks, keyboard, to_html
from bot.channels.telegram.updates import PressedMessage
from bot.core.events import Reply
from bot.core.markup import plain

CHATS_KEPT = 4096  # chats whose latest question's HTML is kept, for the answer line

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnswerLine:
    """The line shown under an answered question: its HTML, and how many characters it shows."""

    html: str
    length: int

    @classmethod
    def of(cls, line: str) -> AnswerLine:
        """From light markup, read once."""
        return cls(to_html(line), len(plain(line)))


class SentQuestions:
    """The HTML of the latest message with buttons this process sent or edited in each chat
    (the one a person presses, nearly always), with the text Telegram made of it; the chats
    least recently written to are forgotten first."""

    def __init__(self, kept: int = CHATS_KEPT) -> None:
        self.kept = kept
        self._latest: OrderedDict[int, tuple[int, str, str]] = OrderedDict()

    def remember(self, message: Any, html: str) -> None:
        """Telegram's answer to a send or edit (the message as it now is) and the HTML sent."""
        if not isinstance(message, dict) or not isinstance(message.get("text"), str):
            return
        chat_id = (message.get("chat") or {}).get("id")
        self._latest[chat_id] = (message.get("message_id"), message["text"], html)  # type: ignore[index]
        self._latest.move_to_end(chat_id)  # type: ignore[arg-type]
        while len(self._latest) > self.kept:
            self._latest.popitem(last=False)

    def __contains__(self, chat_id: object) -> bool:
        return chat_id in self._latest

    def forget(self, chat_id: int) -> None:
        """Let go of the chat's kept question (its person was forgotten)."""
        self._latest.pop(chat_id, None)

    def html_of(self, pressed: PressedMessage) -> str | None:
        """The HTML sent, if the pressed message is the one kept and still shows its text."""
        known = self._latest.get(pressed.chat_id)
        if known is None or known[:2] != (pressed.message_id, pressed.text):
            return None
        return known[2]


class Sender:
    """Sends and edits messages through the Bot API, keeping the questions' HTML."""

    def __init__(self, api: BotApi, questions: SentQuestions | None = None) -> None:
        self.api = api
        self.questions = questions or SentQuestions()
        self.answers = CallbackAnswers(api)

    async def reply(self, chat_id: int, reply: Reply) -> None:
        """Every message of a reply, in order, each split under the length limit."""
        for message in reply.messages:
            await self.text(chat_id, message.text, keyboard(message, reply.turn))

    async def text(self, chat_id: int, text: str, markup: JSONDict | None = None) -> list[int]:
        """Light markup as one or more HTML messages, the buttons under the last; their ids."""
        chunks = html_chunks(text)
        sent = []
        for number, chunk in enumerate(chunks, 1):
            buttons = markup if number == len(chunks) else None
            message = await self.api.send_html(chat_id, chunk, buttons)
            if buttons is not None:
                self.questions.remember(message, chunk)
            sent.append(int(message["message_id"]))
        return sent

    async def edit(
        self, chat_id: int, message_id: int, html: str, markup: JSONDict | None = None
    ) -> None:
        """Replace a message's HTML text (and its buttons: none unless given)."""
        edited = await self.api.edit_html(chat_id, message_id, html, markup)
        if markup is not None:
            self.questions.remember(edited, html)

    def answer_press(self, query_id: str, pressed_at: float | None = None) -> asyncio.Task[None]:
        """Start stopping the button's spinner (callbacks.py: beside the reply, and tried
        again briefly when that fails); `answered` waits for it, briefly."""
        return self.answers.answer(query_id, pressed_at)

    async def answered(self, answering: asyncio.Task[None]) -> None:
        await self.answers.answered(answering)

    async def show_answer(self, pressed: PressedMessage, line: AnswerLine) -> None:
        """Add the answer line under the pressed question and drop its choice buttons, so the
        chat reads as a clean transcript; a question too long gets no line."""
        if not pressed.text:
            return
        if len(pressed.text) + line.length + 2 > SPLIT_AT:
            await self.drop_keyboard(pressed)
            return
        html = self.questions.html_of(pressed) or self._read_html(pressed)
        try:
            await self.edit(pressed.chat_id, pressed.message_id, f"{html}\n\n{line.html}",
                            links_only(pressed))
        except TelegramError as error:  # deleted meanwhile, or already shows it
            log.debug("could not show the answer: %s", describe(error))

    async def drop_keyboard(self, pressed: PressedMessage) -> None:
        """Take the choice buttons off the pressed message; one gone or unchanged is fine."""
        try:
            await self.api.call("editMessageReplyMarkup", chat_id=pressed.chat_id,
                                message_id=pressed.message_id, reply_markup=links_only(pressed))
        except TelegramError as error:
            log.debug("could not drop a keyboard: %s", describe(error))

    async def edit_in_place(self, pressed: PressedMessage, reply: Reply) -> bool:
        """Replace the pressed message with the reply's one message (a pick in a pick-several
        question); False when Telegram refuses, so the caller sends it instead."""
        if len(reply.messages) != 1:
            return False
        (message,) = reply.messages
        chunks = html_chunks(message.text)
        if not chunks:
            return False
        try:  # a long question went in parts, the buttons under the last: the one pressed
            await self.edit(pressed.chat_id, pressed.message_id, chunks[-1],
                            keyboard(message, reply.turn))
        except TelegramError as error:
            if "not modified" in str(error).lower():
                return True
            log.debug("could not edit the pressed message: %s", describe(error))
            return False
        return True

    def _read_html(self, pressed: PressedMessage) -> str:
        """The pressed message's HTML, read by python-telegram-bot from its entities."""
        return TelegramMessage.de_json(pressed.data, self.api.bot).text_html


def links_only(pressed: PressedMessage) -> JSONDict | None:
    """The pressed message's URL buttons as its new keyboard; None when it has none."""
    rows = pressed.link_rows()
    return {"inline_keyboard": rows} if rows else None


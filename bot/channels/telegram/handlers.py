"""What the person did, as the engine hears it: each handler turns a Telegram update into an
`Event`, hands it to the engine, and sends the `Reply` back.

No dialog logic lives here: which commands exist and what a deep link carries come from the
engine's command registry; what to say comes from the engine and the templates.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from functools import lru_cache
from typing import Any

from telegram import Update
from telegram.ext import (
    Application,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.helpers import create_deep_linked_url

from bot.channels.telegram.render import html_chunks
from bot.channels.telegram.send import AnswerLine, Sender
from bot.channels.telegram.updates import PersonUpdate, Press, PressedMessage, PrivateMessage
from bot.core.channels import TELEGRAM
from bot.core.effects import Address
from bot.core.events import Event, EventKind, Reply, decode_choice, parse_command
from bot.core.markup import plain
from bot.engine.commands import Command, Commands
from bot.turns.runner import FORGOTTEN, TurnRunner

CHANNEL = TELEGRAM.name
ANSWER_LINES = 512  # answer lines kept rendered: labels, and the picks of pick-several questions

log = logging.getLogger(__name__)
Context = ContextTypes.DEFAULT_TYPE


class Handlers:
    """Handlers named for what the person did; each hands an Event to the engine.

    A person's presses and private messages come as records read from Telegram's JSON
    (updates.py); the rarer updates (edits, groups) as python-telegram-bot's objects.
    """

    def __init__(self, engine: TurnRunner, sender: Sender) -> None:
        self.engine = engine
        self.sender = sender
        # Updates whose handling raised: the webhook answers them 500 and polling fetches them
        # again, so Telegram (or the next poll) brings them back; applied ones are not redone.
        self.failed_updates: set[int] = set()
        # A press shows its answer under the question: the same label, the same line, so it
        # is rendered and read once, not on every press.
        self.answer_line = lru_cache(maxsize=ANSWER_LINES)(self._answer_line)

    def notice(self, template: str, **extra: Any) -> str:
        """A Telegram-only line (templates/telegram/<template>.j2) as light markup."""
        return self.engine.notice(f"telegram/{template}.j2", channel=CHANNEL, **extra)

    async def person_did(self, update: PersonUpdate) -> None:
        """A press, or a message in the private chat: to the handler for what it is."""
        if isinstance(update, Press):
            await self.pressed_button(update)
        elif update.text is not None:
            await self.typed_message(update)
        else:
            await self.sent_something_unreadable(update)

    async def typed_message(self, message: PrivateMessage) -> None:
        """A text or a /command in the private chat."""
        event = Event.from_text(CHANNEL, str(message.user_id), message.text or "")
        await self._answer(numbered(event, message.update_id))

    async def sent_something_unreadable(self, message: PrivateMessage) -> None:
        """A sticker, photo, voice note, file...: the engine answers kindly."""
        event = Event(CHANNEL, str(message.user_id), EventKind.UNSUPPORTED)
        await self._answer(numbered(event, message.update_id))

    async def pressed_button(self, press: Press) -> None:
        """A press on a choice button: answer the query, apply it, show the answer chosen.

        The query is answered while the reply goes out, so a failing answer (tried again for
        a while, callbacks.py) never holds the reply up.
        """
        pressed_at = asyncio.get_running_loop().time()
        event = event_from_press(str(press.user_id), press.data)
        if event is None or not press.private:  # not ours, or not where health is discussed
            await self.sender.answered(self.sender.answer_press(press.query_id, pressed_at))
            return
        reply = await self.engine.handle(numbered(event, press.update_id))
        answering = self.sender.answer_press(press.query_id, pressed_at)
        await self._reply_to_press(press, reply)
        await self.sender.answered(answering)
        self._let_go_if_forgotten(reply, press.user_id)

    async def edited_message(self, update: Update, context: Context) -> None:
        """An edit of an earlier message: answers are not changed behind the person's back."""
        assert update.effective_chat is not None
        await self.sender.text(update.effective_chat.id, self.notice("edited"))

    async def used_command_in_group(self, update: Update, context: Context) -> None:
        """A command in a group: move to the private chat, where health details belong."""
        message = update.message
        assert message is not None and message.text is not None
        parsed = parse_command(message.text)
        if parsed is None or addressed_elsewhere(message.text, context.bot.username):
            return
        command = self.engine.commands.get(parsed[0])
        if command is None:
            return
        payload = deep_link_payload(command, self.engine.commands)
        url = create_deep_linked_url(context.bot.username, payload)
        button = {"text": plain(self.notice("private_button")), "url": url}
        text = self.notice("group", command=parsed[0], carried=payload is not None)
        await self.sender.text(message.chat_id, text, {"inline_keyboard": [[button]]})

    async def failed(self, update: object, context: Context) -> None:
        """Log the error's type and place, never what the person wrote."""
        if isinstance(update, Update):
            self.failed_updates.add(update.update_id)
        error = context.error
        log.error("telegram handler failed: %s", type(error).__name__, exc_info=error)

    async def _answer(self, event: Event) -> None:
        """Apply the event; its reply, saved in the outbox with the turn, is sent from there."""
        reply = await self.engine.handle(event)
        await self.engine.flush(Address(event.channel, event.user_id))
        self._let_go_if_forgotten(reply, int(event.user_id))

    def _let_go_if_forgotten(self, reply: Reply, chat_id: int) -> None:
        """Once a person is forgotten, nothing rendered from what they said stays in this
        process either: their chat's kept question, and the rendered texts and answer lines
        (kept for everyone, so all are let go; they are rendered again when next needed)."""
        if reply.state != FORGOTTEN:
            return
        self.sender.questions.forget(chat_id)
        self.answer_line.cache_clear()
        html_chunks.cache_clear()

    async def _reply_to_press(self, press: Press, reply: Reply) -> None:
        """The pressed question tidied and the reply sent. A pick in a pick-several question
        changes the question itself: the pressed message is edited in place (ticks, and
        buttons for the new turn) instead of a new message."""
        address = Address(CHANNEL, str(press.user_id))
        if reply.repeated:  # handled before: its messages are sent, or waiting in the outbox
            await self.engine.flush(address)
        elif reply.edit:
            if await self._edit_in_place(press.message, reply):
                await self.engine.delivered(address, reply)
            else:  # the message is gone or too old to edit: the question is sent anew
                await self.engine.send_instead(address, reply)
        else:
            await self._tidy_pressed_message(press.message, reply)
            await self.engine.flush(address)

    async def _edit_in_place(self, pressed: PressedMessage | None, reply: Reply) -> bool:
        return pressed is not None and await self.sender.edit_in_place(pressed, reply)

    async def _tidy_pressed_message(self, pressed: PressedMessage | None, reply: Reply) -> None:
        """Show the answer on the question, or take the keyboard off an old one."""
        if pressed is None:  # too old: Telegram no longer shows it
            return
        if reply.extras.get("answered"):
            await self.sender.show_answer(pressed, self.answer_line(reply.extras["answered"]))
        elif reply.messages:  # an old button: it no longer applies, so it goes
            await self.sender.drop_keyboard(pressed)

    def _answer_line(self, answer: str) -> AnswerLine:
        return AnswerLine.of(self.notice("answered", answer=answer))


def add_handlers(application: Application, handlers: Handlers, staff_chat: int | None) -> None:
    """Route the updates python-telegram-bot reads (all but a person's presses and private
    messages, see dispatch.py) to the handler for what happened."""
    private = filters.ChatType.PRIVATE
    groups = filters.ChatType.GROUPS
    if staff_chat is not None:  # staff talk there; only their replies to notices are for us
        groups = groups & ~filters.Chat(staff_chat)
    application.add_handlers(
        [
            MessageHandler(private & filters.UpdateType.EDITED_MESSAGE, handlers.edited_message),
            MessageHandler(groups & filters.COMMAND, handlers.used_command_in_group),
        ]
    )
    application.add_error_handler(handlers.failed)


def event_from_press(user_id: str, data: str) -> Event | None:
    """A button press; None when the button is not one of ours."""
    decoded = decode_choice(data)
    if decoded is None:
        return None
    turn, choice_id = decoded
    return Event(CHANNEL, user_id, EventKind.PRESS, choice_id=choice_id, turn=turn)


def numbered(event: Event, update_id: int) -> Event:
    """The event, carrying its update's id: applied once, in the order Telegram numbered it."""
    return replace(event, update_id=str(update_id), sequence=update_id)


def deep_link_payload(command: Command, commands: Commands) -> str | None:
    """What a group command becomes in the private chat (`?start=<payload>`): itself when the
    registry lets it arrive as a deep link; for start and restart, the default flow's entry."""
    if command.name in commands.deep_links():
        return command.name
    if command.action in ("start", "restart"):
        entry = commands.entry_of(commands.default_flow)
        return entry.name if entry is not None else None
    return None  # back, stop, forget...: just open the private chat


def addressed_elsewhere(text: str, bot_username: str) -> bool:
    """True for `/cmd@OtherBot`: a command in a group meant for another bot."""
    head = text.split(maxsplit=1)[0] if text.strip() else ""
    _, at, name = head.partition("@")
    return bool(at) and name.lower() != bot_username.lower()

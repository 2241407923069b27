"""Telegram updates as the person's private chat needs them, read straight from the JSON.

Nearly every update is a press or a message in a person's private chat: those are read here,
field by field, into small records (python-telegram-bot's `Update.de_json` builds a dozen
objects per press, the pressed message with its entities and keyboard among them). Anything
else (an edit, a group, the staff chat, a kind the bot does not handle) is None here and goes
through python-telegram-bot's objects and handlers instead (see dispatch.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

JSONDict = dict[str, Any]
PRIVATE = "private"


@dataclass(frozen=True, slots=True)
class PressedMessage:
    """The message a pressed button is on, as Telegram shows it now."""

    chat_id: int
    message_id: int
    text: str | None  # None: not a text message, or too old for Telegram to say
    data: JSONDict  # the whole message, for what only the library reads (its HTML)

    def link_rows(self) -> list[list[JSONDict]]:
        """Its URL buttons, one per row (a pressed message keeps its links)."""
        markup = self.data.get("reply_markup")
        rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
        return [
            [{"text": button["text"], "url": button["url"]}]
            for row in (rows if isinstance(rows, list) else ())
            if isinstance(row, list)
            for button in row
            if isinstance(button, dict) and button.get("url") and "text" in button
        ]


@dataclass(frozen=True, slots=True)
class Press:
    """A button pressed: in a private chat, or (`private` False) anywhere else."""

    update_id: int
    user_id: int
    query_id: str
    data: str
    private: bool
    message: PressedMessage | None  # None when Telegram no longer sends it


@dataclass(frozen=True, slots=True)
class PrivateMessage:
    """A new message in a person's private chat: `text` None for a sticker, photo, voice..."""

    update_id: int
    user_id: int
    chat_id: int
    text: str | None


PersonUpdate = Press | PrivateMessage


def read_update(data: JSONDict) -> PersonUpdate | None:
    """The press or private message an update carries; None for anything else, or for a
    press or message missing what Telegram always sends (left to the library)."""
    update_id = data.get("update_id")
    if not is_int(update_id):
        return None
    if "callback_query" in data:
        return _press(update_id, data["callback_query"])
    if "message" in data:
        return _private_message(update_id, data["message"])
    return None


def chat_key(data: JSONDict) -> int:
    """The chat an update belongs to (the person's, for a press on a message Telegram no
    longer sends); updates of one chat are handled one after another."""
    for kind in ("message", "edited_message", "callback_query"):
        part = data.get(kind)
        if not isinstance(part, dict):
            continue
        message = part.get("message") if kind == "callback_query" else part
        chat = message.get("chat") if isinstance(message, dict) else None
        if isinstance(chat, dict) and is_int(chat.get("id")):
            return int(chat["id"])
        sender = part.get("from")
        if isinstance(sender, dict) and is_int(sender.get("id")):
            return int(sender["id"])
    return 0


def _press(update_id: int, query: object) -> Press | None:
    if not isinstance(query, dict):
        return None
    user_id, query_id = _id_of(query.get("from")), query.get("id")
    if user_id is None or not isinstance(query_id, str):
        return None
    data = query.get("data")
    message = _pressed_message(query.get("message"))
    chat_type = _chat_of(query.get("message")).get("type")
    return Press(
        update_id=update_id, user_id=user_id, query_id=query_id,
        data=data if isinstance(data, str) else "",
        private=chat_type in (None, PRIVATE),  # Telegram no longer says: the person's own
        message=message,
    )


def _pressed_message(message: object) -> PressedMessage | None:
    """The pressed message; None when it is too old for Telegram to send (date 0)."""
    if not isinstance(message, dict) or not message.get("date"):
        return None
    chat_id, message_id = _id_of(message.get("chat")), message.get("message_id")
    if chat_id is None or not is_int(message_id):
        return None
    text = message.get("text")
    return PressedMessage(chat_id, message_id, text if isinstance(text, str) else None, message)


def _private_message(update_id: int, message: object) -> PrivateMessage | None:
    if not isinstance(message, dict) or _chat_of(message).get("type") != PRIVATE:
        return None
    user_id, chat_id = _id_of(message.get("from")), _id_of(message.get("chat"))
    if user_id is None or chat_id is None:
        return None
    text = message.get("text")
    return PrivateMessage(update_id, user_id, chat_id, text if isinstance(text, str) else None)


def _chat_of(message: object) -> JSONDict:
    chat = message.get("chat") if isinstance(message, dict) else None
    return chat if isinstance(chat, dict) else {}


def _id_of(part: object) -> int | None:
    identifier = part.get("id") if isinstance(part, dict) else None
    return identifier if is_int(identifier) else None


def is_int(value: object) -> bool:
    """A JSON integer (not a bool, which Python counts as one)."""
    return isinstance(value, int) and not isinstance(value, bool)

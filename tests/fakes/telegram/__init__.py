"""A fake Telegram Bot API and the people who talk to a bot through it.

- server.py: the wire server (the Bot API over HTTP on 127.0.0.1), what it keeps and records;
- entities.py: Telegram's HTML parse mode, text and entities, and what it refuses;
- limits.py: what else Telegram refuses (keyboards, commands, webhooks) and its flood control;
- person.py: a person pushing updates and reading replies, and the handled-update hook.
"""

from tests.fakes.telegram.entities import (
    LinkError,
    RejectedHtml,
    check_link,
    fix_text,
    parse_entities,
    parse_html,
)
from tests.fakes.telegram.limits import FloodControl, Refused
from tests.fakes.telegram.person import SCREENING_BY_BUTTONS, HandledUpdates, Person
from tests.fakes.telegram.server import (
    BOT_ID,
    BOT_USERNAME,
    PICK_MARK,
    SECRET_HEADER,
    TOKEN,
    ApiError,
    Call,
    Failure,
    FakeTelegram,
    SentMessage,
)

__all__ = [
    "BOT_ID",
    "BOT_USERNAME",
    "PICK_MARK",
    "SCREENING_BY_BUTTONS",
    "SECRET_HEADER",
    "TOKEN",
    "ApiError",
    "Call",
    "Failure",
    "FakeTelegram",
    "FloodControl",
    "HandledUpdates",
    "LinkError",
    "Person",
    "Refused",
    "RejectedHtml",
    "SentMessage",
    "check_link",
    "fix_text",
    "parse_entities",
    "parse_html",
]

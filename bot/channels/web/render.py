"""What a reply looks like in the web chat: the answer to one request, its messages as
structured JSON (bot/core/message_json.py) the page builds with `textContent`, never HTML."""

from __future__ import annotations

from bot.core.events import FORGOTTEN, Reply
from bot.core.message_json import Json, message_json


def reply_json(reply: Reply) -> Json:
    """The answer to one request: the messages and what the page does with them."""
    return {
        "messages": [message_json(m, reply.turn) for m in reply.messages],
        "turn": reply.turn,
        "state": reply.state,
        "stale": reply.stale,
        "edit": reply.edit and len(reply.messages) == 1,
        "expects_text": reply.expects_text,
        "answered": reply.extras.get("answered", ""),
        "forgotten": reply.state == FORGOTTEN,
        "repeated": reply.repeated,
    }

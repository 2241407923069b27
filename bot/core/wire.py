"""Replies and messages as JSON, for what the store keeps: outgoing messages waiting to be sent,
and the reply to an update already applied (answered again, never applied twice).

Outcomes are not carried: they are kept on the conversation and the funnel events, and no
channel needs them to send a message.
"""

from __future__ import annotations

from typing import Any

from bot.core import jsontext
from bot.core.effects import StaffNotice
from bot.core.events import Choice, Link, Message, Reply


def message_to_dict(message: Message) -> dict[str, Any]:
    """A message as plain data (text, choices and links)."""
    data: dict[str, Any] = {"text": message.text}
    if message.choices:
        data["choices"] = [[c.id, c.label, c.selected, c.style] for c in message.choices]
    if message.links:
        data["links"] = [[link.label, link.url] for link in message.links]
    if not message.numbered:
        data["numbered"] = False
    return data


def message_from_dict(data: dict[str, Any]) -> Message:
    """Inverse of `message_to_dict`."""
    choices = tuple(Choice(*entry) for entry in data.get("choices", ()))
    links = tuple(Link(*entry) for entry in data.get("links", ()))
    return Message(str(data["text"]), choices, links, numbered=data.get("numbered", True))


def message_to_json(message: Message) -> str:
    return jsontext.dumps(message_to_dict(message))


def reply_to_json(reply: Reply) -> str:
    """What a repeated update is answered with: the reply it got the first time."""
    data = {
        "messages": [message_to_dict(m) for m in reply.messages],
        "turn": reply.turn,
        "state": reply.state,
        "flow": reply.flow,
        "stale": reply.stale,
        "applied": reply.applied,
        "extras": reply.extras,
        "expects_text": reply.expects_text,
        "edit": reply.edit,
        "relay": reply.relay,
    }
    return jsontext.dumps(data)


def reply_from_json(text: str) -> Reply:
    """Inverse of `reply_to_json`, marked as repeated (already applied, already sent)."""
    data = jsontext.loads(text)
    messages = tuple(message_from_dict(m) for m in data.pop("messages"))
    return Reply(messages=messages, repeated=True, **data)


def notice_to_json(notice: StaffNotice) -> str:
    """A staff notice waiting in the outbox."""
    data = {"kind": notice.kind, "channel": notice.channel, "user_id": notice.user_id,
            "text": notice.text, "redact": [list(pair) for pair in notice.redact],
            "brief": notice.brief, "contact": [list(pair) for pair in notice.contact],
            "at": notice.at}
    return jsontext.dumps({"notice": data})


def notice_from_dict(data: dict[str, Any]) -> StaffNotice:
    """Inverse of `notice_to_json`, from its "notice" object."""
    redact = tuple((str(place), str(message)) for place, message in data.get("redact", ()))
    contact = tuple((str(name), str(value)) for name, value in data.get("contact", ()))
    return StaffNotice(data["kind"], data["channel"], data["user_id"], data["text"], redact,
                       brief=data.get("brief", ""), contact=contact,
                       at=float(data.get("at", 0.0)))

"""Platform-neutral dialog engine: Event in, Reply out."""

from bot.engine.events import (
    Choice,
    Event,
    EventKind,
    Link,
    Message,
    Outcome,
    Reply,
    decode_choice,
    encode_choice,
    parse_command,
)

__all__ = [
    "Choice",
    "Event",
    "EventKind",
    "Link",
    "Message",
    "Outcome",
    "Reply",
    "decode_choice",
    "encode_choice",
    "parse_command",
]

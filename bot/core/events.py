"""Typed, platform-neutral events (what a person did) and replies (what the bot answers)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class EventKind(StrEnum):
    """What a person did."""

    TEXT = "text"  # typed a message
    PRESS = "press"  # pressed a choice button
    COMMAND = "command"  # /start, /book, ...
    UNSUPPORTED = "unsupported"  # sticker, photo, voice, file: nothing the bot can read
    STAFF = "staff"  # a staff member's reply relayed to this person (`/done` ends the relay)


@dataclass(frozen=True, slots=True)
class Event:
    """One thing a person did, in one conversation keyed by (channel, user_id)."""

    channel: str
    user_id: str
    kind: EventKind
    text: str = ""
    choice_id: str = ""
    turn: int | None = None
    command: str = ""
    argument: str = ""
    # The platform's id for the update that carried it ("" when there is none, e.g. the
    # console): an update already applied is answered from the stored reply, never again.
    update_id: str = ""
    # Where the platform numbers updates in the order they happened (Telegram's update_id),
    # that number: an update older than one already applied for the person is not applied.
    sequence: int = 0
    # The person's time zone where the channel knows it (the web chat: the browser's), an
    # IANA name; check-ins respect quiet hours in it. "" when unknown.
    timezone: str = ""

    @classmethod
    def from_text(cls, channel: str, user_id: str, text: str) -> Event:
        """A typed message: a `/command` (with its argument, e.g. a deep-link payload) or text."""
        command = parse_command(text)
        if command is None:
            return cls(channel, user_id, EventKind.TEXT, text=text)
        return cls(channel, user_id, EventKind.COMMAND, text=text, command=command[0],
                   argument=command[1])


# How a choice stands out, where a channel can show it (Discord's button colours): the expected
# answer, the one that deletes something, or neither ("").
PRIMARY, DANGER = "primary", "danger"
STYLES = (PRIMARY, DANGER)
# The id of the Done button that ends a pick-several question: the dialog adds it, and each
# channel's renderer puts it on a row of its own.
DONE_CHOICE = "done"


@dataclass(frozen=True, slots=True)
class Choice:
    """A button that answers the current question."""

    id: str
    label: str
    selected: bool = False  # picked, in a multi-select question not yet done
    style: str = ""  # PRIMARY, DANGER or "" (see STYLES)


@dataclass(frozen=True, slots=True)
class Link:
    """A button that opens a web page; `style` PRIMARY for the one a message leads with (the
    booking), which each channel shows first and emphasised."""

    label: str
    url: str
    style: str = ""  # PRIMARY or ""


@dataclass(frozen=True, slots=True)
class Outcome:
    """The structured result of a finished flow, and the flow version it came from.

    `drivers` are the areas the result names and explains, best first; `red_flag` is the flag
    whose advice was given (the highest urgency answered "yes"); `unsure_flags` are safety
    questions still "not sure" after the follow-up.
    """

    flow: str
    drivers: tuple[str, ...] = ()
    scores: tuple[tuple[str, int], ...] = ()
    red_flag: str | None = None
    urgency: str | None = None
    mostly_unsure: bool = False
    version: str = ""
    unsure_flags: tuple[str, ...] = ()
    red_flag_title: str = ""
    driver_titles: tuple[str, ...] = ()
    state: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "flow": self.flow,
            "version": self.version,
            "state": self.state,
            "drivers": list(self.drivers),
            "driver_titles": list(self.driver_titles),
            "scores": dict(self.scores),
            "red_flag": self.red_flag,
            "red_flag_title": self.red_flag_title,
            "urgency": self.urgency,
            "unsure_flags": list(self.unsure_flags),
            "mostly_unsure": self.mostly_unsure,
        }


@dataclass(frozen=True, slots=True)
class Message:
    """One bot message: light-markup text, choice buttons, link buttons, maybe an outcome.

    The light markup is `**bold**`, `_italic_`, `[label](url)` and lines starting with `- `;
    each channel renders it once (see bot/engine/markup.py).
    """

    text: str
    choices: tuple[Choice, ...] = ()
    links: tuple[Link, ...] = ()
    outcome: Outcome | None = None
    # Typing a choice's place in the list picks it; False where a typed number is the answer
    # itself (a pain score), so a text channel lists the choices without numbers.
    numbered: bool = True


# The state a reply carries when the person's conversation was just deleted (/forget).
FORGOTTEN = "forgotten"


@dataclass(frozen=True, slots=True)
class Reply:
    """Everything the bot answers to one event."""

    messages: tuple[Message, ...]
    turn: int
    state: str
    flow: str | None = None
    stale: bool = False
    applied: bool = True
    extras: dict[str, str] = field(default_factory=dict)
    expects_text: bool = False  # the current question wants a typed answer (a name, a number)
    relay: bool = False  # the person is talking with staff: what they type goes to them
    edit: bool = False  # the one message replaces the message that was pressed (a pick)
    repeated: bool = False  # the update was applied before: this is the reply it got then
    queued: tuple[int, ...] = ()  # ids of its messages in the store's outbox, sent from there

    @property
    def outcome(self) -> Outcome | None:
        for message in reversed(self.messages):
            if message.outcome is not None:
                return message.outcome
        return None


CHOICE_SEPARATOR = "|"
MAX_TURN_DIGITS = 9  # a turn in button data longer than this is not one the bot ever showed


def encode_choice(turn: int, choice_id: str) -> str:
    """Button payload carrying the turn it was shown on: `12|yes`."""
    return f"{turn}{CHOICE_SEPARATOR}{choice_id}"


def decode_choice(payload: str) -> tuple[int, str] | None:
    """Inverse of encode_choice; None when the payload is not one of ours."""
    turn, sep, choice_id = payload.partition(CHOICE_SEPARATOR)
    if not sep or not choice_id or not _plain_number(turn):
        return None
    return int(turn), choice_id


def _plain_number(text: str) -> bool:
    """ASCII digits only, and not absurdly many (`str.isdigit` also takes "²" and "٣")."""
    return 0 < len(text) <= MAX_TURN_DIGITS and text.isascii() and text.isdigit()


def parse_command(text: str) -> tuple[str, str] | None:
    """`/start knee` -> ("start", "knee"); `/book@MyBot` -> ("book", ""); else None."""
    stripped = text.strip()
    if not stripped.startswith("/") or len(stripped) < 2:
        return None
    head, _, argument = stripped[1:].partition(" ")
    name = head.split("@", 1)[0].lower()
    if not name.replace("_", "").replace("-", "").isalnum():
        return None
    return name, argument.strip()

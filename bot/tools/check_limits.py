"""What fits every channel, read from the channel registry (bot/core/channels.py): a button's
payload and label, a command's menu description, a message."""

from __future__ import annotations

from bot.core.channels import CHANNELS, ChannelSpec
from bot.core.events import encode_choice

CHANNEL_PREFIX_ROOM = 8  # channels may prefix payloads, e.g. "choice:"
LARGEST_TURN = 10**9
# The tightest limit any channel sets, so what `check` passes fits everywhere.
LABEL_LIMIT = min(spec.label_limit for spec in CHANNELS.values() if spec.label_limit)
_TIGHTEST_MENU = min((spec for spec in CHANNELS.values() if spec.menu_description_limit),
                     key=lambda spec: spec.menu_description_limit)
MENU_DESCRIPTION_LIMIT = _TIGHTEST_MENU.menu_description_limit
MENU_DESCRIPTION_SET_BY = _TIGHTEST_MENU.name.capitalize()  # whose limit it is (Discord's)
# A message longer than the longest a channel sends in one piece is too long to read.
MESSAGE_LIMIT = max(spec.message_limit for spec in CHANNELS.values() if spec.message_limit)


def payload_problems(option_id: str) -> list[str]:
    """Each channel whose button payload an option's id, once encoded, would not fit."""
    payload = encode_choice(LARGEST_TURN, option_id)
    return [_payload_problem(spec) for spec in CHANNELS.values()
            if spec.buttons and spec.payload_limit
            and _size(spec, payload) + CHANNEL_PREFIX_ROOM > spec.payload_limit]


def _size(spec: ChannelSpec, payload: str) -> int:
    return len(payload.encode()) if spec.payload_in_bytes else len(payload)


def _payload_problem(spec: ChannelSpec) -> str:
    unit = "byte" if spec.payload_in_bytes else "character"
    return (f"id too long for {spec.name.capitalize()}'s {spec.payload_limit}-{unit} "
            f"{spec.payload_name or 'button payload'} once encoded")


def label_problems(label: str) -> list[str]:
    """What is wrong with a button's label: empty, or longer than a channel shows."""
    if not label.strip():
        return ["empty label"]
    if len(label) > LABEL_LIMIT:
        return [f"label is {len(label)} characters, over {LABEL_LIMIT}"]
    return []

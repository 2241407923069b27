"""Replies as Discord messages: light markup to Discord Markdown, chunks, buttons.

Every button that answers carries a custom id the channel reads itself when it is pressed
(`choice:12|yes`, `start:<entry command>`), so buttons keep working after a restart and
nothing is kept in memory per message.
"""

from __future__ import annotations

import re
from typing import Any

import discord
from discord.utils import escape_markdown, escape_mentions

from bot.core.channels import DISCORD
from bot.core.events import (
    DANGER,
    DONE_CHOICE,
    PRIMARY,
    Choice,
    Link,
    Message,
    Reply,
    decode_choice,
    encode_choice,
)
from bot.core.markup import Span, render, split_text
from bot.turns.runner import TurnRunner

CHANNEL = DISCORD.name
CHOICE_PREFIX = "choice:"  # a choice button: `choice:<turn>|<choice id>`
START_PREFIX = "start:"  # a public start button: `start:<entry command>`
CUSTOM_ID_LIMIT = DISCORD.payload_limit
LABEL_LIMIT = DISCORD.label_limit
ROWS, PER_ROW = 5, 5  # a message holds at most 5 rows of 5 buttons
MESSAGE_LIMIT = DISCORD.message_limit
ROOM_FOR_ANSWER = 200  # a question gains a "Your answer" line when it is answered
NO_MENTIONS = discord.AllowedMentions.none()
# A choice's colour: blue for the answer the question expects (the flow's `style: primary`,
# "Done"), red for one that deletes, grey for the rest, green once picked in a pick-several
# question. Which answer is expected is the flow's to say, never this file's.
STYLES = {PRIMARY: discord.ButtonStyle.primary, DANGER: discord.ButtonStyle.danger}

Part = tuple[str, discord.ui.View | None]


# -- text -----------------------------------------------------------------------------------------


def markdown(text: str) -> str:
    """Discord Markdown from light markup; every span's text is escaped (markdown, mentions)."""
    return render(text, _markdown_span)


def _markdown_span(span: Span) -> str:
    text = _escape(span.text)
    if span.kind == "bold":
        return f"**{text}**"
    if span.kind == "italic":
        return f"_{text}_"
    if span.kind == "link":
        url = span.url.replace(" ", "%20").replace(")", "%29").replace(">", "%3E")
        return f"<{url}>" if span.text == span.url else f"[{text}](<{url}>)"
    return text


def _escape(text: str) -> str:
    escaped = escape_mentions(escape_markdown(text))
    return re.sub(r"(?m)^\\- ", "- ", escaped)  # keep the light markup's `- ` list lines


def markdown_chunks(text: str, limit: int = MESSAGE_LIMIT - ROOM_FOR_ANSWER) -> list[str]:
    """Split the light-markup source, then render each chunk; every chunk fits `limit`."""
    chunks: list[str] = []
    for piece in split_text(text, limit):
        rendered = markdown(piece)
        if len(rendered) > limit and len(piece) > 1:  # escaping made it grow: split finer
            chunks += markdown_chunks(piece, limit // 2)
        elif rendered.strip():
            chunks.append(rendered)
    return chunks


def notice(engine: TurnRunner, template: str, **extra: Any) -> str:
    """A Discord-only note (templates/discord/) as Discord Markdown."""
    return markdown(engine.notice(template, channel=CHANNEL, **extra))


# -- custom ids -----------------------------------------------------------------------------------


def choice_custom_id(turn: int, choice_id: str) -> str:
    """`choice:12|yes`: the turn travels with the press, so old buttons are recognised."""
    custom_id = CHOICE_PREFIX + encode_choice(turn, choice_id)
    if len(custom_id) > CUSTOM_ID_LIMIT:
        raise ValueError(f"choice id {choice_id!r} is too long for a Discord button")
    return custom_id


def start_custom_id(command: str) -> str:
    """`start:<entry command>`: a public button that opens that command's flow."""
    return START_PREFIX + command


def read_choice(custom_id: str) -> tuple[int, str] | None:
    """(turn, choice id) of a choice button; None for any other button."""
    if not custom_id.startswith(CHOICE_PREFIX):
        return None
    return decode_choice(custom_id.removeprefix(CHOICE_PREFIX))


def read_start(custom_id: str) -> str | None:
    """The entry command of a start button; None for any other button."""
    command = custom_id.removeprefix(START_PREFIX)
    return command if custom_id.startswith(START_PREFIX) and command else None


# -- buttons --------------------------------------------------------------------------------------


class Buttons(discord.ui.View):
    """Components only. Presses are read by custom id when they arrive (see interactions.py),
    so discord.py keeps no view per sent message."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    def is_dispatchable(self) -> bool:
        return False


def choice_button(turn: int, choice: Choice, row: int | None = None) -> discord.ui.Button[Buttons]:
    """A choice, coloured by its style (see STYLES)."""
    style = STYLES.get(choice.style, discord.ButtonStyle.secondary)
    return discord.ui.Button(
        label=(choice.label or choice.id)[:LABEL_LIMIT],
        style=discord.ButtonStyle.success if choice.selected else style,
        custom_id=choice_custom_id(turn, choice.id),
        row=row,
    )


def start_view(command: str, label: str) -> Buttons:
    """The public start button of a flow's entry command (green)."""
    view = Buttons()
    view.add_item(discord.ui.Button(label=label[:LABEL_LIMIT], style=discord.ButtonStyle.success,
                                    custom_id=start_custom_id(command)))
    return view


def buttons(message: Message, turn: int) -> Buttons | None:
    """The leading link (the booking) on a row of its own first, then choice buttons
    (coloured by style, picked ones green), then the other link buttons.

    Discord draws every link button grey (a URL button takes no colour), so the booking
    stands out by its place: first, alone on the top row. In a pick-several question "Done"
    gets a row of its own under the options. Rows are set only when they fit Discord's five;
    otherwise Discord packs the buttons in the same order.
    """
    if not message.choices and not message.links:
        return None
    lead = [link for link in message.links if link.style == PRIMARY]
    rest = [link for link in message.links if link.style != PRIMARY]
    choices = [choice for choice in message.choices if choice.id != DONE_CHOICE]
    finish = [choice for choice in message.choices if choice.id == DONE_CHOICE]
    rows: list[list[discord.ui.Button[Buttons]]] = []
    rows += _rows([_link_button(link) for link in lead])
    rows += _rows([choice_button(turn, choice) for choice in choices])
    rows += [[choice_button(turn, choice)] for choice in finish]
    rows += _rows([_link_button(link) for link in rest])
    fits = len(rows) <= ROWS
    view = Buttons()
    for number, row in enumerate(rows):
        for button in row:
            button.row = number if fits else None
            view.add_item(button)
    return view


def _rows(items: list[discord.ui.Button[Buttons]]) -> list[list[discord.ui.Button[Buttons]]]:
    return [items[start : start + PER_ROW] for start in range(0, len(items), PER_ROW)]


def _link_button(link: Link) -> discord.ui.Button[Buttons]:
    return discord.ui.Button(label=link.label[:LABEL_LIMIT], url=link.url)


def links_only(message: discord.Message | None) -> Buttons | None:
    """The link buttons of a message (a pressed message keeps its links, loses its choices)."""
    links = [
        discord.ui.Button(label=component.label, url=component.url)
        for row in (message.components if message else ())
        for component in getattr(row, "children", ())
        if isinstance(component, discord.components.Button) and component.url
    ]
    if not links:
        return None
    view = Buttons()
    for button in links:
        view.add_item(button)
    return view


# -- messages -------------------------------------------------------------------------------------


def message_parts(message: Message, turn: int) -> list[Part]:
    """Discord messages for one engine message: text chunks, buttons on the last one."""
    chunks = markdown_chunks(message.text)
    view = buttons(message, turn)
    if not chunks:
        return [("", view)] if view else []
    parts: list[Part] = [(chunk, None) for chunk in chunks]
    parts[-1] = (chunks[-1], view)
    return parts


def reply_parts(reply: Reply) -> list[Part]:
    """Every Discord message for one reply, in order."""
    return [part for message in reply.messages for part in message_parts(message, reply.turn)]


def with_view(view: discord.ui.View | None) -> dict[str, Any]:
    """`view=` only when there are buttons (a follow-up takes no `view=None`)."""
    return {"view": view} if view is not None else {}

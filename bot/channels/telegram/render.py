"""What a reply looks like on Telegram: light markup as HTML, split under the length limit,
choices as an inline keyboard whose buttons carry the turn, links as URL buttons."""

from __future__ import annotations

import functools
import html
from typing import Any

from bot.core.channels import TELEGRAM
from bot.core.events import DONE_CHOICE, PRIMARY, Choice, Message, encode_choice
from bot.core.markup import Span, render, split_text

# Split the light-markup source below Telegram's 4096: rendering only removes characters, and
# the headroom covers characters Telegram counts twice (UTF-16 surrogate pairs).
SPLIT_AT = TELEGRAM.message_limit - 96
CALLBACK_DATA_LIMIT = TELEGRAM.payload_limit
# Choices share a keyboard row when every label is this short (as long as it can become once
# picked, in a pick-several question): three across ("Yes", "No", "Not sure"), or two.
THREE_ACROSS, TWO_ACROSS = 10, 14
# Messages whose HTML is kept: most are a flow's questions, the same for everyone who reaches
# them, so each is read and rendered once rather than for every person (a flow has dozens).
RENDERED_KEPT = 256
PICK_MARK = 2  # what a picked option's label gains: "✓ "


def html_span(span: Span) -> str:
    """One span of light markup as Telegram HTML; all text is escaped here."""
    text = html.escape(span.text, quote=False)
    if span.kind == "bold":
        return f"<b>{text}</b>"
    if span.kind == "italic":
        return f"<i>{text}</i>"
    if span.kind == "link":
        return f'<a href="{html.escape(span.url)}">{text}</a>'
    return text


def to_html(text: str) -> str:
    """Light markup rendered as Telegram HTML."""
    return render(text, html_span)


@functools.lru_cache(maxsize=RENDERED_KEPT)
def html_chunks(text: str) -> tuple[str, ...]:
    """HTML messages under Telegram's limit; the source is split first so no tag is cut."""
    return tuple(to_html(chunk) for chunk in split_text(text, SPLIT_AT) if chunk.strip())


def callback_data(turn: int, choice_id: str) -> str:
    """Button payload with the turn it was shown on; Telegram allows 64 bytes."""
    data = encode_choice(turn, choice_id)
    if len(data.encode()) > CALLBACK_DATA_LIMIT:
        raise ValueError(f"choice id {choice_id!r} is too long for a Telegram button")
    return data


Button = dict[str, Any]  # an InlineKeyboardButton as the Bot API takes it


def keyboard(message: Message, turn: int) -> dict[str, list[list[Button]]] | None:
    """The leading link (the booking) on the first row, then choices as callback buttons
    (short ones share a row), then the other links, one per row, as the Bot API's
    `InlineKeyboardMarkup` JSON."""
    lead = [link for link in message.links if link.style == PRIMARY]
    rest = [link for link in message.links if link.style != PRIMARY]
    rows = [[{"text": link.label, "url": link.url}] for link in lead]
    rows += choice_rows(message, turn)
    rows += [[{"text": link.label, "url": link.url}] for link in rest]
    return {"inline_keyboard": rows} if rows else None


def choice_rows(message: Message, turn: int) -> list[list[Button]]:
    """Rows of choice buttons; in a pick-several question "Done" gets the last row to itself.

    How many share a row depends on the longest label counted as if picked, so the layout
    stays put while the person picks and unpicks.
    """
    choices = [choice for choice in message.choices if choice.id != DONE_CHOICE]
    finish = [choice for choice in message.choices if choice.id == DONE_CHOICE]
    mark = PICK_MARK if finish else 0
    widest = max((len(c.label) + (0 if c.selected else mark) for c in choices), default=0)
    across = 3 if widest <= THREE_ACROSS else 2 if widest <= TWO_ACROSS else 1
    buttons = [choice_button(choice, turn) for choice in choices]
    rows = [buttons[start : start + across] for start in range(0, len(buttons), across)]
    return rows + [[choice_button(choice, turn)] for choice in finish]


def choice_button(choice: Choice, turn: int) -> Button:
    return {"text": choice.label, "callback_data": callback_data(turn, choice.id)}

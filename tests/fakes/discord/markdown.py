"""Discord Markdown as a person reads it: what the bot's messages look like on screen.

Just the subset the bot writes: `**bold**`, `_italic_`, `[label](<url>)`, `<url>`, `<@id>`
mentions and backslash escapes (escaped mentions carry a zero-width space after the `@`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LINK = re.compile(
    r"\[(?P<label>(?:\\.|[^\\\]])+)\]\(<(?P<url>[^>]+)>\)|<(?P<bare>https?://[^>]+)>"
)
_STYLE = re.compile(
    r"(?<!\\)\*\*(?P<bold>.+?)(?<!\\)\*\*|(?<![\\\w])_(?P<italic>.+?)(?<!\\)_(?!\w)"
)
_ESCAPE = re.compile(r"\\([\\*_\[\]()~`>|#-])")
_MENTION = re.compile(r"<@!?(\d+)>")
_NO_PING = "@\u200b"


@dataclass(frozen=True, slots=True)
class Shown:
    """A message as shown: its text, its links, the bold parts and whom it mentions."""

    text: str
    links: tuple[tuple[str, str], ...]
    bold: tuple[str, ...]
    mentions: tuple[int, ...]


def read(content: str) -> Shown:
    """Render Discord Markdown the way the Discord client shows it."""
    links: list[tuple[str, str]] = []
    bold: list[str] = []

    def link(match: re.Match[str]) -> str:
        label = match["label"] if match["label"] is not None else match["bare"]
        url = match["url"] or match["bare"]
        links.append((_unescape(label), url))
        return label

    def style(match: re.Match[str]) -> str:
        if match["bold"] is not None:
            bold.append(_unescape(match["bold"]))
            return match["bold"]
        return match["italic"]

    mentions = tuple(int(user_id) for user_id in _MENTION.findall(content))
    text = _STYLE.sub(style, _LINK.sub(link, content))
    return Shown(_unescape(text), tuple(links), tuple(bold), mentions)


def _unescape(text: str) -> str:
    return _ESCAPE.sub(r"\1", text).replace(_NO_PING, "@")


def pings_anyone(content: str) -> bool:
    """An unescaped @everyone or @here (a mention of a user is shown, not pinged, when the
    message allows no mentions)."""
    return bool(re.search(r"(?<!\\)@(everyone|here)", content))

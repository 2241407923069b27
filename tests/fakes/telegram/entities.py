"""Telegram's HTML parse mode as the fake reads it: text plus entities with UTF-16 offsets.

What Telegram would refuse (a tag it does not know, a tag left open, an empty or too long text)
raises `RejectedHtml` with Telegram's own description; the wire server answers it with 400.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

MAX_TEXT_LENGTH = 4096  # in UTF-16 code units, as Telegram counts
TAG_ENTITIES = {"b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline"}
TAG_ENTITIES |= {"s": "strikethrough", "code": "code", "pre": "pre", "a": "text_link"}

Entity = dict[str, Any]


class RejectedHtml(ValueError):
    """HTML Telegram would answer with 400 Bad Request; the message is Telegram's description."""


def parse_html(html: str) -> tuple[str, list[Entity]]:
    """Text and entities of an HTML message, or RejectedHtml like Telegram's 400."""
    parser = _TelegramHtml()
    parser.feed(html)
    parser.close()
    if parser.open:
        raise RejectedHtml("Bad Request: can't parse entities: unclosed tag")
    if not parser.text.strip():
        raise RejectedHtml("Bad Request: message text is empty")
    if utf16_length(parser.text) > MAX_TEXT_LENGTH:
        raise RejectedHtml("Bad Request: message is too long")
    return parser.text, sorted(parser.entities, key=lambda e: e["offset"])


def utf16_length(text: str) -> int:
    """Length as Telegram counts it: characters outside the BMP count twice."""
    return len(text.encode("utf-16-le")) // 2


class _TelegramHtml(HTMLParser):
    """The tags Telegram supports, nested properly; anything else is refused."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text = ""
        self.entities: list[Entity] = []
        self.open: list[tuple[str, int, Entity]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in TAG_ENTITIES:
            raise RejectedHtml(f"Bad Request: can't parse entities: Unsupported start tag {tag}")
        extra = {"url": dict(attrs).get("href") or ""} if tag == "a" else {}
        self.open.append((tag, utf16_length(self.text), extra))

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1][0] != tag:
            raise RejectedHtml(f"Bad Request: can't parse entities: unexpected end tag {tag}")
        _, start, extra = self.open.pop()
        end = utf16_length(self.text)
        if end > start:
            self.entities.append({"type": TAG_ENTITIES[tag], "offset": start,
                                  "length": end - start} | extra)

    def handle_data(self, data: str) -> None:
        self.text += data

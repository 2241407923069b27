"""The engine's light markup: parse once into spans, render per channel.

Templates write `**bold**`, `_italic_`, `[label](url)` and `- ` list lines. Every value a
template prints (settings, what a person typed) passes through `escape`, so a `*` or `_` in a
practice name or an answer is text, never markup.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

SpanKind = Literal["text", "bold", "italic", "link"]

_SPECIALS = re.compile(r"([\\*_\[\]()])")
_TOKEN = re.compile(
    r"\*\*(?P<bold>(?:\\.|[^\\*])+?)\*\*"
    r"|(?<![\w\\])_(?P<italic>(?:\\.|[^\\_])+?)_(?!\w)"
    r"|\[(?P<label>(?:\\.|[^\\\]])+)\]\((?P<url>(?:\\.|[^\\)\s])+)\)"
)
_UNESCAPE = re.compile(r"\\(.)")


@dataclass(frozen=True, slots=True)
class Span:
    """A run of text with one style."""

    kind: SpanKind
    text: str
    url: str = ""


class TemplateText(str):
    """Text a template itself wrote (a macro's output): markup already, never escaped again.

    Templates mark it with the `markup` filter: `{{ rf.question(flag) | markup }}`.
    """

    __slots__ = ()


def escape(value: object) -> str:
    """Make any printed value literal text in the light markup."""
    if isinstance(value, TemplateText):
        return str(value)
    return _SPECIALS.sub(r"\\\1", str(value))


def unescape(text: str) -> str:
    return _UNESCAPE.sub(r"\1", text)


def parse(text: str) -> list[Span]:
    """Split light markup into styled spans (escapes resolved)."""
    spans: list[Span] = []
    position = 0
    for match in _TOKEN.finditer(text):
        if match.start() > position:
            spans.append(Span("text", unescape(text[position : match.start()])))
        if match["bold"] is not None:
            spans.append(Span("bold", unescape(match["bold"])))
        elif match["italic"] is not None:
            spans.append(Span("italic", unescape(match["italic"])))
        else:
            spans.append(Span("link", unescape(match["label"]), unescape(match["url"])))
        position = match.end()
    if position < len(text):
        spans.append(Span("text", unescape(text[position:])))
    return spans


def render(text: str, style: Callable[[Span], str]) -> str:
    """Render light markup with one function per span (the channel's dialect)."""
    return "".join(style(span) for span in parse(text))


def split_text(text: str, limit: int) -> list[str]:
    """Split text into chunks under `limit`, at paragraph, line, then word boundaries."""
    chunks: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = _best_cut(rest, limit)
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not chunks:
        chunks.append(rest)
    return chunks


def _best_cut(text: str, limit: int) -> int:
    for separator in ("\n\n", "\n", " "):
        cut = text.rfind(separator, 0, limit)
        if cut > limit // 4:
            return cut
    return limit


def plain(text: str) -> str:
    """Render as plain text: links become `label (url)`."""
    return render(text, plain_span)


def plain_span(span: Span) -> str:
    """One span as plain text: a link becomes `label (url)`."""
    if span.kind == "link":
        return span.text if span.text == span.url else f"{span.text} ({span.url})"
    return span.text

"""A message as structured JSON a browser builds DOM from with `textContent` (never HTML), so
nothing a template or a person wrote can become markup: the web chat's page and the dashboard's
preview of a flow both show messages this way.

A message's text becomes blocks: a paragraph (lines of spans), a list (`- ` lines), or a
heading (a paragraph that is one bold line). A span is text, bold, italic or a link; a link
only when its address is http(s), mailto or tel, else its label as text.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from bot.core.events import DONE_CHOICE, Message
from bot.core.markup import Span, parse

SAFE_SCHEMES = ("http", "https", "mailto", "tel")
LIST_MARK = "- "

Json = dict[str, Any]


def safe_url(url: str) -> bool:
    """True for an address a link may open: http(s) with a host, mailto or tel."""
    parts = urlsplit(url.strip())
    if parts.scheme in ("http", "https"):
        return bool(parts.netloc)
    return parts.scheme in SAFE_SCHEMES and bool(parts.path)


def span_json(span: Span) -> Json:
    if span.kind == "link" and safe_url(span.url):
        return {"kind": "link", "text": span.text, "url": span.url.strip()}
    return {"kind": "text" if span.kind == "link" else span.kind, "text": span.text}


def blocks(text: str) -> list[Json]:
    """Light markup as paragraphs, lists and headings (see the module docstring)."""
    result: list[Json] = []
    for paragraph in text.strip().split("\n\n"):
        lines = [line for line in paragraph.split("\n") if line.strip()]
        if not lines:
            continue
        pending: list[list[Json]] = []
        items: list[list[Json]] = []
        for line in lines:
            if line.lstrip().startswith(LIST_MARK):
                if pending:
                    result.append(_paragraph(pending))
                    pending = []
                items.append([span_json(s) for s in parse(line.lstrip()[len(LIST_MARK):])])
            else:
                if items:
                    result.append({"type": "list", "items": items})
                    items = []
                pending.append([span_json(s) for s in parse(line)])
        if pending:
            result.append(_paragraph(pending))
        if items:
            result.append({"type": "list", "items": items})
    return result


def _paragraph(lines: list[list[Json]]) -> Json:
    shown = [[span for span in line if span["text"].strip()] for line in lines]
    if len(lines) == 1 and [span["kind"] for span in shown[0]] == ["bold"]:
        return {"type": "heading", "spans": lines[0]}
    return {"type": "paragraph", "lines": lines}


def message_json(message: Message, turn: int) -> Json:
    """One bot message: its blocks, its choice buttons (with the turn they answer), its link
    buttons (the page shows a `primary` one, the booking, first and filled); `multi` when it
    is a pick-several question (choices toggle until "done"); `urgency` when it is the advice
    of a red flag (emergency, same_day, ...), else null."""
    multi = any(choice.id == DONE_CHOICE for choice in message.choices)
    outcome = message.outcome
    return {
        "blocks": blocks(message.text),
        "choices": [
            {"id": c.id, "label": c.label, "selected": c.selected, "style": c.style}
            for c in message.choices
        ],
        "links": [{"label": link.label, "url": link.url, "style": link.style}
                  for link in message.links if safe_url(link.url)],
        "multi": multi,
        "urgency": (outcome.urgency or "urgent") if outcome and outcome.red_flag else None,
        "turn": turn,
    }

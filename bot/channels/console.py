"""The console channel: an interactive chat and a one-turn scripting command."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import textwrap
from typing import TextIO

from bot.core.channels import CONSOLE
from bot.core.events import PRIMARY, Event, Link, Message, Reply
from bot.core.markup import Span, parse, plain, plain_span
from bot.turns.runner import TurnRunner

CHANNEL = CONSOLE.name
BOLD, NORMAL = "\033[1m", "\033[22m"  # ANSI: bold on, bold off
LONG_URL = 60  # a link longer than this goes last, on a line of its own, so it stays whole


def format_message(message: Message, styled: bool = False) -> str:
    """Terminal text (see `terminal_text`), the leading link (the booking) first, buttons as a
    numbered list (unnumbered where a typed number is the answer itself), the other links as
    `-> label: url`; a long link's address on a line of its own, and among the other links a
    long one last."""
    parts = [terminal_text(message.text, styled)]
    lead = [link for link in message.links if link.style == PRIMARY]
    parts.append("\n".join(_link_line(link) for link in lead))
    if message.choices:
        parts.append("\n".join(f"  {f'{n}.' if message.numbered else '-'} {c.label}"
                               for n, c in enumerate(message.choices, 1)))
    rest = [link for link in message.links if link.style != PRIMARY]
    rest.sort(key=lambda link: len(link.url) > LONG_URL)
    parts.append("\n".join(_link_line(link) for link in rest))
    return "\n\n".join(part for part in parts if part)


def _link_line(link: Link) -> str:
    if len(link.url) > LONG_URL:
        return f"  -> {link.label}:\n{link.url}"
    return f"  -> {link.label}: {link.url}"


def terminal_text(text: str, styled: bool) -> str:
    """Light markup for a terminal: bold as ANSI bold where `styled`; elsewhere a heading (a
    line that is all bold) in upper case, other bold as plain words; links as `label (url)`."""
    lines = []
    for line in text.split("\n"):
        spans = parse(line)
        if styled:
            lines.append("".join(_styled(span) for span in spans))
        elif [span.kind for span in spans if span.text.strip()] == ["bold"]:
            lines.append(plain(line).upper())
        else:
            lines.append(plain(line))
    return "\n".join(lines)


def _styled(span: Span) -> str:
    if span.kind == "bold":
        return f"{BOLD}{span.text}{NORMAL}"
    return plain_span(span)


def shows_bold(out: TextIO) -> bool:
    """True for a terminal that shows ANSI bold: not a pipe or file, not TERM=dumb, and not
    turned off with NO_COLOR (no-color.org)."""
    return (out.isatty() and os.environ.get("TERM", "") != "dumb"
            and not os.environ.get("NO_COLOR"))


def reply_as_json_lines(reply: Reply) -> list[str]:
    """One JSON object per bot message, for scripts (`say --json`)."""
    lines = []
    for message in reply.messages:
        lead = [link for link in message.links if link.style == PRIMARY]  # the booking first
        rest = [link for link in message.links if link.style != PRIMARY]
        buttons: list[dict[str, str]] = [{"label": link.label, "url": link.url} for link in lead]
        buttons += [{"id": c.id, "label": c.label} for c in message.choices]
        buttons += [{"label": link.label, "url": link.url} for link in rest]
        record: dict[str, object] = {
            "text": plain(message.text),
            "buttons": buttons,
            "state": reply.state,
            "turn": reply.turn,
        }
        if message.outcome is not None:
            record["outcome"] = message.outcome.as_dict()
        lines.append(json.dumps(record, ensure_ascii=False))
    return lines


async def say(
    engine: TurnRunner, user_id: str, text: str, as_json: bool, out: TextIO, width: int = 0
) -> Reply:
    """Run one turn and print the reply (wrapped to `width` columns when given; bold where
    `out` is a terminal that shows it)."""
    reply = await engine.handle(Event.from_text(CHANNEL, user_id, text))
    if as_json:
        out.write("".join(line + "\n" for line in reply_as_json_lines(reply)))
    else:
        styled = shows_bold(out)
        shown = "\n\n".join(format_message(m, styled) for m in reply.messages)
        out.write((_wrap(shown, width) if width else shown) + "\n")
    return reply


def _wrap(text: str, width: int) -> str:
    return "\n".join(
        textwrap.fill(line, width, subsequent_indent=_indent(line))
        if line and "://" not in line  # a wrapped URL can no longer be clicked
        else line
        for line in text.splitlines()
    )


def _indent(line: str) -> str:
    stripped = line.lstrip(" ")
    marker = stripped.split(" ", 1)[0] if stripped[:1] in "-0123456789" else ""
    return " " * (len(line) - len(stripped) + len(marker) + (1 if marker else 0))


async def chat(engine: TurnRunner, user_id: str, out: TextIO = sys.stdout) -> None:
    """Interactive chat in the terminal until end of input or /quit."""
    out.write("Console chat. Type a number or an answer; /help for commands, /quit to leave.\n\n")
    width = min(shutil.get_terminal_size().columns, 100) - 1
    opening = "/start" if await _is_new(engine, user_id) else "/help"
    await say(engine, user_id, opening, as_json=False, out=out, width=width)
    while True:
        out.write("\n> ")
        out.flush()
        line = await asyncio.to_thread(sys.stdin.readline)
        if not line or line.strip() in ("/quit", "/exit"):
            out.write(
                "\nBye! Your place is saved; run the chat again to pick up where you left off.\n"
            )
            return
        if not line.strip():
            continue
        out.write("\n")
        await say(engine, user_id, line.rstrip("\n"), as_json=False, out=out, width=width)


async def _is_new(engine: TurnRunner, user_id: str) -> bool:
    return await engine.current(CHANNEL, user_id) is None

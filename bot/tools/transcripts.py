"""`python -m bot test-dialogs`: run YAML transcripts of whole conversations against the engine.

A transcript is a list of turns; each turn sends one thing and checks the reply:

    name: a person with hip stability problems
    turns:
      - send: /start            # typed text or a /command
        expect: {state: welcome, text: ["knee-pain check"], buttons: [begin, what, later]}
      - press: begin            # a button of the latest reply
      - press_stale: "no"       # a button from the reply before the latest one
      - restart_process: true   # the bot restarts: a fresh engine on the same store file
      - send: sticker           # `sticker` as kind: something that is not text
        kind: unsupported
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.app import build_engine
from bot.core.events import Reply
from bot.core.markup import plain
from bot.settings import Settings
from bot.store.sqlite import SQLiteStore
from bot.tools.client import DialogClient

CHANNEL = "transcript"


@dataclass
class TranscriptResult:
    """How one transcript went."""

    path: Path
    name: str
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


def transcript_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        files += sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    return files


async def run_transcript(path: Path, settings: Settings) -> TranscriptResult:
    """Play one transcript against a fresh engine and store; collect every failed expectation."""
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    result = TranscriptResult(path, spec.get("name", path.stem))
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "transcript.sqlite3"
        user = str(spec.get("user", "person"))
        client = DialogClient(build_engine(settings, SQLiteStore(database)), user, CHANNEL)
        for number, turn in enumerate(spec.get("turns", []), 1):
            if turn.get("restart_process"):
                await client.engine.store.close()
                client.engine = build_engine(settings, SQLiteStore(database))
                continue
            reply = await _play(client, turn)
            expect = turn.get("expect", {})
            failures = _compare(expect, reply) + await _compare_stored(expect, client)
            result.failures += [f"turn {number}: {failure}" for failure in failures]
        await client.engine.store.close()
    return result


async def _play(client: DialogClient, turn: dict[str, Any]) -> Reply:
    if "press" in turn:
        return await client.click(str(turn["press"]))
    if "press_stale" in turn:
        return await client.click(str(turn["press_stale"]), replies_ago=1)
    if turn.get("kind") == "unsupported":
        return await client.send_unsupported()
    return await client.send(str(turn.get("send", "")))


def _compare(expect: dict[str, Any], reply: Reply) -> list[str]:
    failures = []
    text = "\n".join(plain(message.text) for message in reply.messages)
    if "state" in expect and reply.state != expect["state"]:
        failures.append(f"state is {reply.state!r}, expected {expect['state']!r}")
    for fragment in expect.get("text", []):
        if fragment.lower() not in text.lower():
            failures.append(f"text lacks {fragment!r}; got: {text[:200]!r}")
    for fragment in expect.get("not_text", []):
        if fragment.lower() in text.lower():
            failures.append(f"text should not contain {fragment!r}")
    if "buttons" in expect:
        shown = [c.id for m in reply.messages for c in m.choices]
        if shown[-len(expect["buttons"]) :] != [str(b) for b in expect["buttons"]]:
            failures.append(f"buttons are {shown}, expected {expect['buttons']}")
    if "links" in expect:
        shown_links = [link.label for m in reply.messages for link in m.links]
        for label in expect["links"]:
            if not any(label.lower() in shown.lower() for shown in shown_links):
                failures.append(f"no link {label!r} among {shown_links}")
    if "messages" in expect and len(reply.messages) != expect["messages"]:
        failures.append(f"{len(reply.messages)} messages, expected {expect['messages']}")
    if "stale" in expect and reply.stale != expect["stale"]:
        failures.append(f"stale is {reply.stale}, expected {expect['stale']}")
    if "outcome" in expect:
        failures += _compare_outcome(expect["outcome"], reply)
    return failures


async def _compare_stored(expect: dict[str, Any], client: DialogClient) -> list[str]:
    """What the turn left in the store: funnel events, facts, the booking summary."""
    failures: list[str] = []
    store, engine = client.engine.store, client.engine
    if "events" in expect:
        rows = await store.events(client.channel, client.user_id)
        shown = [f"{kind}:{detail}" if detail else kind for kind, _, detail, _ in rows]
        if shown != expect["events"]:
            failures.append(f"stored events are {shown}, expected {expect['events']}")
    saved = await store.load(client.channel, client.user_id)
    for name, value in (expect.get("facts") or {}).items():
        actual = saved.facts.get(name) if saved else None
        if actual != value:
            failures.append(f"stored fact {name} is {actual!r}, expected {value!r}")
    for fragment in expect.get("summary", []):
        summary = engine.compose.summary(saved) if saved else ""
        if fragment.lower() not in summary.lower():
            failures.append(f"booking summary lacks {fragment!r}; got: {summary!r}")
    return failures


def _compare_outcome(expected: dict[str, Any] | None, reply: Reply) -> list[str]:
    outcome = reply.outcome
    if expected is None:
        return [] if outcome is None else [f"unexpected outcome {outcome}"]
    if outcome is None:
        return ["no outcome, expected one"]
    failures = []
    actual = outcome.as_dict()
    for key, value in expected.items():
        if key == "first_driver":
            first = (outcome.drivers[:1] or [None])[0]
            if first != value:
                failures.append(f"first driver is {first!r}, expected {value!r}")
        elif key not in actual:
            failures.append(f"unknown outcome field {key!r}")
        elif actual[key] != value:
            failures.append(f"outcome {key} is {actual[key]!r}, expected {value!r}")
    return failures


async def run_all(paths: list[Path], settings: Settings) -> list[TranscriptResult]:
    """Every transcript under the given files and folders."""
    return [await run_transcript(path, settings) for path in transcript_files(paths)]

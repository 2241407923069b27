"""The typed-reply corpus (tests/typed/*.yaml) run through the dialog's reading of typed
replies, and counted: understood, confirmed ("Did you mean ...?"), refused, misread.

A corpus file names a flow and, per question (state id), replies as people type them with
what each means: an option id, a list of ids (several picks), a number, `{value: ...}` (a
typed name or address), `confirm` (only a confirmation is right) or `nothing`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.core.conversation import Conversation
from bot.engine.dialog import Dialog
from bot.engine.flow import NO, YES, State
from bot.engine.understand import CONFIRM, NOTHING, OPTION, SEVERAL, VALUE, Reading

UNDERSTOOD, CONFIRMED, REFUSED, MISREAD = "understood", "confirmed", "refused", "misread"
CLASSES = (UNDERSTOOD, CONFIRMED, REFUSED, MISREAD)
CHANNEL = "console"


@dataclass(frozen=True)
class Judged:
    """One corpus reply, how it was read, and whether that was right."""

    file: str
    flow: str
    state: str
    kind: str
    safety: bool
    text: str
    expected: Any
    reading: Reading
    verdict: str

    def describe(self) -> str:
        got = _shown(self.reading)
        return (f"{self.verdict}: {self.flow}/{self.state} {self.text!r}: expected "
                f"{self.expected!r}, got {got}")


def corpus_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.yaml"))


def judge_all(dialog: Dialog, folder: Path) -> list[Judged]:
    """Every reply of every corpus file, read and judged."""
    judged: list[Judged] = []
    for path in corpus_files(folder):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        flow_id = str(data["flow"])
        flow = dialog.flows[flow_id]
        for state_id, replies in (data.get("replies") or {}).items():
            state = flow.states[str(state_id)]
            conv = Conversation(CHANNEL, "corpus", flow=flow_id, state=state.id)
            for text, expected in replies:
                reading = dialog.read(conv, state, str(text))
                conv.pending = ""
                judged.append(Judged(path.name, flow_id, state.id, question_kind(state),
                                     bool(state.safety), str(text), expected, reading,
                                     verdict(reading, expected)))
    return judged


def question_kind(state: State) -> str:
    """The kind of question, for the report's per-kind lines."""
    if state.safety:
        return "safety"
    if state.final:
        return "result actions"
    if state.input is not None:
        return "number" if state.input.type == "number" else "typed details"
    if state.multi:
        return "pick several"
    ids = {o.id for o in state.options}
    labels = [o.label.lower() for o in state.options]
    if {YES, NO} <= ids or any(label.startswith(("yes", "no,")) for label in labels):
        return "yes/no"
    return "choice"


def verdict(reading: Reading, expected: Any) -> str:
    """understood, confirmed, refused or misread, for one reading of one reply."""
    ids = [o.id for o in reading.options]
    if reading.kind == NOTHING:
        return UNDERSTOOD if expected == "nothing" else REFUSED
    if reading.kind == CONFIRM:
        wanted = set(expected) if isinstance(expected, list) else {expected}
        return CONFIRMED if expected == "confirm" or wanted & set(ids) else MISREAD
    if expected in ("confirm", "nothing"):
        return MISREAD  # a guess where only asking was right
    if reading.kind == VALUE:
        wanted = expected.get("value") if isinstance(expected, dict) else expected
        return UNDERSTOOD if reading.value == wanted else MISREAD
    if reading.kind == SEVERAL:
        return UNDERSTOOD if isinstance(expected, list) and set(ids) == set(expected) \
            else MISREAD
    if reading.kind == OPTION:
        right = ids[0] == expected or (isinstance(expected, list) and expected == ids)
        return UNDERSTOOD if right else MISREAD
    return MISREAD  # "done" is never a corpus answer


def report(judged: list[Judged]) -> list[str]:
    """The report's lines; the last one is the summary the tests and the issue read."""
    lines = [j.describe() for j in judged if j.verdict in (MISREAD, REFUSED)]
    kinds = sorted({j.kind for j in judged})
    lines.append("")
    lines.append(f"{'kind':<16}{'replies':>8}" + "".join(f"{c:>12}" for c in CLASSES))
    for kind in [*kinds, "all"]:
        group = [j for j in judged if kind in ("all", j.kind)]
        counts = Counter(j.verdict for j in group)
        lines.append(f"{kind:<16}{len(group):>8}" + "".join(
            f"{_percent(counts[c], len(group)):>11}%" for c in CLASSES))
    total = len(judged)
    counts = Counter(j.verdict for j in judged)
    safety_misread = sum(j.safety and j.verdict == MISREAD for j in judged)
    lines.append(
        f"typed replies: {total}; understood {_percent(counts[UNDERSTOOD], total)}%; "
        f"confirmed {_percent(counts[CONFIRMED], total)}%; "
        f"refused {_percent(counts[REFUSED], total)}%; "
        f"misread {_percent(counts[MISREAD], total)}%; safety misread {safety_misread}")
    return lines


def _percent(count: int, total: int) -> str:
    return f"{100 * count / total:.1f}" if total else "0.0"


def _shown(reading: Reading) -> str:
    if reading.kind == VALUE:
        return f"value {reading.value!r}"
    ids = ", ".join(o.id for o in reading.options)
    return f"{reading.kind} {ids}".strip() + (f" ({reading.problem})" if reading.problem else "")

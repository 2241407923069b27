"""The typed-reply corpus (tests/typed): people's own words, read by the dialog, measured."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import build_engine
from bot.cli import main
from bot.settings import Settings
from bot.store.sqlite import SQLiteStore
from bot.tools.understanding import MISREAD, judge_all, report

CORPUS = Path(__file__).resolve().parent / "typed"
SUMMARY = ("typed replies: {n}; understood {u}%; confirmed {c}%; refused {r}%; misread {m}%; "
           "safety misread {s}")


def test_the_corpus_covers_every_question_of_every_flow_with_400_replies(
        settings: Settings) -> None:
    dialog = build_engine(settings, SQLiteStore(":memory:")).dialog
    judged = judge_all(dialog, CORPUS)
    assert len(judged) >= 400
    asked = {(j.flow, j.state) for j in judged}
    for flow in dialog.flows.values():
        questions = {s.id for s in flow.states.values()
                     if (s.options or s.input or s.commands) and s.id not in ("not_now",)}
        missing = {q for q in questions if (flow.id, q) not in asked}
        assert not missing, f"{flow.id}: no typed replies for {sorted(missing)}"


def test_typed_replies_are_understood_or_confirmed_and_safety_is_never_misread(
        settings: Settings) -> None:
    judged = judge_all(build_engine(settings, SQLiteStore(":memory:")).dialog, CORPUS)
    misread = [j.describe() for j in judged if j.verdict == MISREAD]
    n = len(judged)
    understood_or_confirmed = sum(j.verdict in ("understood", "confirmed") for j in judged)
    assert understood_or_confirmed / n >= 0.95
    assert len(misread) / n <= 0.01, misread
    assert not [j for j in judged if j.safety and j.verdict == MISREAD], misread
    assert report(judged)[-1].startswith(f"typed replies: {n}; understood ")


def test_understand_report_prints_the_summary_last(capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    settings: Settings) -> None:
    monkeypatch.chdir(CORPUS.parent.parent)
    assert main(["understand", "--report"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    numbers = [part.split()[-1].rstrip("%") for part in last.split("; ")]
    assert last == SUMMARY.format(n=numbers[0], u=numbers[1], c=numbers[2], r=numbers[3],
                                  m=numbers[4], s=numbers[5])

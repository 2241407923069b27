"""`python -m bot say` from several processes at once, on one person in one SQLite data folder:
each turn applied whole and one after the other, none lost, and a database that stays busy
reported in one line."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import sys
from pathlib import Path

import pytest

from bot import cli
from bot.app import build_engine
from bot.channels.console import CHANNEL
from bot.core.conversation import Answer
from bot.settings import ROOT, load_settings
from bot.store.sqlite import SQLiteStore
from bot.tools.client import DialogClient
from tests.conftest import SAFETY_QUESTIONS_NO_INJURY

# Each a "no" the safety questions take: wherever a process's turn falls among them, it applies.
pytestmark = pytest.mark.process  # `python -m bot say` in processes of its own
NOES = ("no", "No", "nope", "n", "no.", "No!", "NO", "nah")


def environment(data_dir: Path) -> dict[str, str]:
    """This environment without any BOT_* setting, on the test's data folder."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("BOT_")}
    return {**env, "BOT_DATA_DIR": str(data_dir), "BOT_SETTINGS_FILE": os.devnull}


async def say(data_dir: Path, text: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "say", "--user", "pat", "--json", text, cwd=ROOT,
        env=environment(data_dir), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_says_at_once_for_one_person_are_each_applied_once_in_turn(tmp_path):
    data = tmp_path / "data"
    engine = build_engine(load_settings(data_dir=data))
    person = DialogClient(engine, "pat", channel=CHANNEL)
    await person.send("/start")
    await person.click("begin")
    await person.click("me")
    await person.click("adult")  # now at the injury question, then the rest: all "no"
    before = await engine.store.load(CHANNEL, "pat")
    assert before is not None and before.state == "injury"
    await engine.store.close()

    results = await asyncio.gather(*(say(data, text) for text in NOES))

    turns, states = [], []
    for code, out, err in results:
        if code == 0:
            replies = [json.loads(line) for line in out.splitlines()]
            assert replies and {reply["turn"] for reply in replies} == {replies[0]["turn"]}
            turns.append(replies[0]["turn"])
            states.append(replies[0]["state"])
        else:  # the database stayed busy: said in one line, nothing applied
            assert "Traceback" not in err and err.count("\n") == 1, err
            assert err.startswith("error: ") and "busy" in err, err
    succeeded = len(turns)
    assert succeeded >= 2, results  # otherwise nothing ran side by side
    # Each success applied one answer on top of the one before: no two saw the same turn.
    assert sorted(turns) == list(range(before.turn + 1, before.turn + 1 + succeeded))
    questions = ("injury", "swelling", "calf", *SAFETY_QUESTIONS_NO_INJURY)
    assert sorted(states, key=questions.index) == list(questions[1:succeeded + 1])

    engine = build_engine(load_settings(data_dir=data))
    after = await engine.store.load(CHANNEL, "pat")
    assert after is not None
    assert after.turn == before.turn + succeeded, "an applied turn was lost or made up"
    assert after.history[len(before.history):] == [
        Answer(state, "no") for state in questions[:succeeded]]
    assert after.state == questions[succeeded]
    assert [kind for kind, *_ in await engine.store.events(CHANNEL, "pat")] == ["started"]
    await engine.store.close()


def test_say_while_another_process_holds_the_database_says_so_in_one_line(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    data = tmp_path / "data"
    monkeypatch.setenv("BOT_DATA_DIR", str(data))
    assert cli.main(["say", "--user", "pat", "/start"]) == 0
    capsys.readouterr()
    # The default wait is 5 s; a short one here, as if the other process wrote for longer.
    monkeypatch.setattr(cli, "_engine", lambda settings: build_engine(
        settings, SQLiteStore(settings.database_path, busy_timeout=0.05)))
    database = load_settings().database_path
    with contextlib.closing(sqlite3.connect(database, isolation_level=None)) as db:
        db.execute("BEGIN IMMEDIATE")  # another process in the middle of a write
        assert cli.main(["say", "--user", "pat", "Let's start"]) == 1
        db.execute("ROLLBACK")
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "error: the database is busy with another process; try again\n"
    assert cli.main(["say", "--user", "pat", "--json", "1"]) == 0  # free again: applied
    assert json.loads(capsys.readouterr().out.splitlines()[0])["state"] == "who"

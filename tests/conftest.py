"""Shared fixtures: settings on a temporary data folder, an engine on real SQLite, a person."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import build_engine
from bot.engine.client import DialogClient
from bot.engine.engine import Engine
from bot.settings import Settings, load_settings

RED_FLAG_STATES = (
    "rf_injury", "rf_pop", "rf_locked", "rf_infection", "rf_clot", "rf_nerve", "rf_serious",
    "rf_child",
)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's settings file or BOT_* variables."""
    import os

    for name in list(os.environ):
        if name.startswith("BOT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("BOT_SETTINGS_FILE", str(tmp_path / "no-settings.yaml"))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data")


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[Engine]:
    engine = build_engine(settings)
    yield engine
    await engine.store.close()


@pytest.fixture
def person(engine: Engine) -> DialogClient:
    return DialogClient(engine, "alex")


async def answer_safety_questions_no(person: DialogClient) -> None:
    """Start the knee check and say no to every red flag."""
    await person.send("/start")
    await person.click("begin")
    for _ in RED_FLAG_STATES:
        await person.click("no")
    assert person.last.state == "pain_where"

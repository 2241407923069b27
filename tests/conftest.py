"""Shared fixtures: settings on a temporary data folder, an engine on each real store (SQLite,
and PostgreSQL on a server these tests start), a person."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_engine
from bot.settings import Settings, load_settings
from bot.tools.client import DialogClient
from bot.turns.runner import TurnRunner
from bot.turns.wiring import Wiring
from tests.browser import BROWSER_TEST_SETTINGS, WebServer
from tests.postgres import PostgresServer

STORES = ("sqlite", "postgres")

# The safety questions an adult whose pain did not start with a recent injury, with no swelling
# and no calf symptom, is asked (v3: swelling and the calf are asked first, and decide whether
# their own safety questions follow).
SAFETY_QUESTIONS_NO_INJURY = (
    "rf_after_procedure", "rf_cauda_equina", "rf_worsening_weakness", "rf_locked",
    "rf_numbness", "rf_unwell", "rf_cancer_history", "rf_night_pain", "rf_weight_loss",
)
# Before the safety questions: age band (18 to 54), no injury, no swelling, no calf symptom.
BEFORE_SAFETY = ("adult", "no", "no", "no")
# Presses from the welcome to the hot-knee question (a knee that swelled up recently).
TO_HOT_SWOLLEN = ("begin", "me", "adult", "no", "new", "no")
# Presses from the welcome to the first pain question: for me, no recent injury, all "No".
TO_PAIN_QUESTIONS = ("begin", "me", *BEFORE_SAFETY, *["no"] * len(SAFETY_QUESTIONS_NO_INJURY))
# Presses from the first pain question to a result that names hip mobility alone.
HIP_MOBILITY_RUN = (
    "behind", "unsure", "long", "skip", "none", "no", "no", "everyday", "done", "no", "no",
    "yes", "now", "steady", "pass", "hips_tight", "done", "yes", "steady",
)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's settings file or BOT_* variables."""
    import os

    for name in list(os.environ):
        if name.startswith("BOT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("BOT_SETTINGS_FILE", os.devnull)  # an empty settings file


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the whole run, on 127.0.0.1, in a temporary folder."""
    with PostgresServer() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty database on the test server (a schema of its own, see `schema`)."""
    return postgres_server.schema()


@pytest.fixture(params=STORES)
def store_kind(request: pytest.FixtureRequest) -> str:
    """Each test that asks for it runs once on SQLite and once on PostgreSQL."""
    return str(request.param)


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Settings on a temporary data folder; on PostgreSQL for tests on `store_kind` postgres."""
    if "store_kind" in request.fixturenames and request.getfixturevalue("store_kind") == "postgres":
        url = request.getfixturevalue("postgres_url")
        return load_settings(data_dir=tmp_path / "data", database_url=url)
    return load_settings(data_dir=tmp_path / "data")


@pytest.fixture
async def engine(settings: Settings, store_kind: str) -> AsyncIterator[TurnRunner]:
    """An engine on the settings' store: every test using it runs on both stores."""
    engine = build_engine(settings)
    await engine.store.open()
    yield engine
    await engine.store.close()


def wired(engine: TurnRunner, *, queued: tuple[str, ...] = (), delivered: tuple[str, ...] = (),
          pulled: tuple[str, ...] = (), staff_places: tuple[str, ...] = ()) -> TurnRunner:
    """A runner on the same settings, store and clock, wired for the channels and staff places
    named, as bot/run.py wires a process (wiring is fixed once built)."""
    wiring = Wiring(frozenset(queued), frozenset(delivered), frozenset(pulled),
                    frozenset(staff_places))
    return build_engine(engine.settings, engine.store, engine.clock, wiring)


@pytest.fixture
def person(engine: TurnRunner) -> DialogClient:
    return DialogClient(engine, "alex")


async def answer_safety_questions_no(person: DialogClient) -> None:
    """Start the knee check for oneself, no recent injury, and say no to every red flag."""
    await person.send("/start")
    for choice in TO_PAIN_QUESTIONS:
        await person.click(choice)
    assert person.last.state == "pain_where"


async def finish_with_hip_mobility(person: DialogClient) -> None:
    """From the first pain question to a result naming hip mobility."""
    for choice in HIP_MOBILITY_RUN:
        await person.click(choice)
    assert person.last.state == "result"


# -- browser tests: Debian's Chromium and the real bot server (see tests/browser.py) ----------

@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium (a Playwright `Browser`) for the tests of one module. Not for the
    whole run: while Playwright's sync API is open, pytest-asyncio cannot run a test's event
    loop, so a module that uses it has no async tests, and it is closed before the next one."""
    from playwright.sync_api import sync_playwright

    from tests.browser import launch_browser

    with sync_playwright() as playwright:
        chromium = launch_browser(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    """`python -m bot run` on 127.0.0.1 (SQLite in a temporary folder, no platform tokens),
    shared by the tests of one module; `.url`, `.data_dir`, `.env`, `.cli(...)`."""
    folder = tmp_path_factory.mktemp("web_server")
    with WebServer.started(folder, **BROWSER_TEST_SETTINGS) as server:
        yield server

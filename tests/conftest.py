"""Shared fixtures come from the harness plugins under tests/harness (one module per thing a
test stands up, one definition per fixture name); here: every test's isolated environment, and
the presses of a screening that many stories share."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import build_engine
from bot.tools.client import DialogClient
from bot.turns.runner import TurnRunner
from bot.turns.wiring import Wiring

pytest_plugins = [
    "tests.harness.markers",
    "tests.harness.stores",
    "tests.harness.passwords",
    "tests.harness.browsers",
    "tests.harness.telegram",
]

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


def wired(engine: TurnRunner, *, queued: tuple[str, ...] = (), delivered: tuple[str, ...] = (),
          pulled: tuple[str, ...] = (), staff_places: tuple[str, ...] = (),
          alert_places: tuple[str, ...] = ()) -> TurnRunner:
    """A runner on the same settings, store and clock, wired for the channels and staff places
    named, as bot/run.py wires a process (wiring is fixed once built)."""
    wiring = Wiring(frozenset(queued), frozenset(delivered), frozenset(pulled),
                    frozenset(staff_places), frozenset(alert_places))
    return build_engine(engine.settings, engine.store, engine.clock, wiring)


async def start_knee_check(person: DialogClient, *, who: str = "me", age: str = "adult",
                           injury: str = "no", swelling: str = "no", calf: str = "no") -> None:
    """Start the knee check up to the first red flag: who it is for, the age band (not asked
    for a child), a recent injury, then swelling and the calf."""
    await person.send("/start")
    for choice in ("begin", who):
        await person.click(choice)
    if person.last.state == "age":
        await person.click(age)
    for choice in (injury, swelling, calf):
        await person.click(choice)


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

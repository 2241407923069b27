"""The console channel as `python -m bot chat` and `say` print it, and `make chat` setting it up.
"""

from __future__ import annotations

import io
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from bot.channels.console import BOLD, CHANNEL, NORMAL, format_message, say
from bot.tools.client import DialogClient
from bot.turns.runner import TurnRunner
from tests.conftest import HIP_MOBILITY_RUN, TO_PAIN_QUESTIONS

ROOT = Path(__file__).resolve().parent.parent


class Terminal(io.StringIO):
    """What a person's terminal receives: a TTY, unlike a pipe or a file."""

    def isatty(self) -> bool:
        return True


async def typed(engine: TurnRunner, *texts: str, terminal: bool = False) -> str:
    """What the console printed for the last of these lines, typed one after another (to a
    terminal, or to a pipe)."""
    out: io.StringIO = io.StringIO()
    for text in texts:
        out = Terminal() if terminal else io.StringIO()
        await say(engine, "sam", text, as_json=False, out=out)
    return out.getvalue()


async def test_person_at_a_terminal_sees_headings_in_bold_and_a_pipe_gets_capitals(
    engine: TurnRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("NO_COLOR", raising=False)

    terminal = await typed(engine, "/help", terminal=True)
    piped = await typed(engine, "/help")
    monkeypatch.setenv("NO_COLOR", "1")
    no_color = await typed(engine, "/help", terminal=True)

    assert terminal.startswith(f"{BOLD}Here's what I can do{NORMAL}\n")
    assert f"- {BOLD}stop{NORMAL}: stop the check" in terminal
    assert piped.startswith("HERE'S WHAT I CAN DO\n"), "a heading stands out without styles"
    assert "- stop: stop the check" in piped, "words in bold inside a line stay as they are"
    assert "\033[" not in piped and no_color == piped


async def test_person_on_the_console_sees_the_booking_first_with_its_long_link_whole(
    engine: TurnRunner,
) -> None:
    practice = replace(engine.settings.practice, booking_prefill="full")
    engine.compose.settings = replace(engine.settings, practice=practice)
    sam = DialogClient(engine, "sam", channel=CHANNEL)
    await sam.send("/start")
    for choice in (*TO_PAIN_QUESTIONS, *HIP_MOBILITY_RUN):
        await sam.click(choice)

    result = format_message(sam.last.messages[-1])

    after_text = result.split("\n\n  -> ", 1)[1].splitlines()
    assert after_text[0] == "Book a complimentary call:", "the booking before anything else"
    assert after_text[1].startswith(engine.settings.practice.booking_url)
    assert len(after_text[1]) > 200 and " " not in after_text[1], "the whole address, unbroken"
    assert after_text[3] == "  1. Ask the practice to contact me", "then the answers"
    assert result.index("  -> Watch on YouTube: https://") > result.index("  1. "), "links last"


async def test_person_on_the_console_who_types_something_unclear_is_told_to_type_a_number(
    engine: TurnRunner,
) -> None:
    reask = await typed(engine, "/start", "purple elephant")

    assert "Please type an answer's number (1 to 3) or its words." in reask
    assert "  1. Let's start" in reask, "the numbered answers come again"


@pytest.mark.process
def test_make_chat_installs_the_runtime_only_quietly_and_make_test_everything(
    tmp_path: Path,
) -> None:
    venv = tmp_path / "venv"

    def planned(target: str) -> list[str]:
        made = subprocess.run(["make", "-n", target, f"VENV={venv}"], cwd=ROOT, check=True,
                              capture_output=True, text=True)
        return made.stdout.splitlines()

    def requirements(lines: list[str]) -> list[str]:
        """The packages the plan's one install takes, from the lock it names."""
        (install,) = [line for line in lines if " install " in line]
        assert "--require-hashes" in install and "--quiet" in install and " -e " not in install
        lock = install.split(" -r ")[1].split()[0]
        pinned = (ROOT / lock).read_text().splitlines()
        return [line.split("==")[0].lower() for line in pinned if "==" in line]

    chat, test = planned("chat"), planned("test")
    assert not [line for line in chat if "requirements/dev" in line or ".[dev]" in line]
    runtime, everything = requirements(chat), requirements(test)
    assert "python-telegram-bot" in runtime
    assert not [r for r in runtime if r in ("pytest", "ruff", "hypothesis")]
    assert set(runtime) < set(everything) and "pytest" in everything


# A person who never presses: every answer typed in their own words, as held-out typists do.
TYPED_SCREENING = (
    ("sure let's go", "who"), ("it's for me", "age"), ("an adult", "injury"),
    ("nah never had one", "swelling"), ("nope", "calf"), ("no", "rf_after_procedure"),
    *[(reply, "") for reply in (
        "no surgery or anything", "not really", "nah", "no", "no numbness", "nope no fever",
        "no never had cancer", "no it eases")],
    ("nope", "pain_where"), ("front kneecap", "pain_worse"), ("stairs and squats", "pain_worse"),
    ("running too", "pain_worse"), ("done", "pain_duration"), ("about 3 months", "pain_level"),
    ("a 6 I guess", "imaging"), ("no scans", "foot_roll"), ("not really", "ankle_sprains"),
    ("yeah a few times", "move_activity"), ("i run and lift weights", "move_activity"),
    ("that's all", "move_caving"), ("no", "move_landing"), ("nah", "move_coached"),
    ("nope", "checks_intro"), ("now is fine", "foot_mirror"), ("pretty steady", "ankle_wall"),
    ("nah, 3 cm short", "hip_squat"), ("my heels come up", "hip_squat"), ("done", "hip_figure4"),
    ("nah hips feel fine", "hip_single_leg"), ("pretty steady", "result"),
)


async def test_person_who_types_every_answer_on_the_console_finishes_and_is_contacted(
    engine: TurnRunner,
) -> None:
    out = io.StringIO()
    reply = await say(engine, "tam", "hi", as_json=False, out=out)
    assert reply.state == "welcome"
    for text, state in TYPED_SCREENING:
        reply = await say(engine, "tam", text, as_json=False, out=out)
        assert not state or reply.state == state, (text, reply.state)
    assert "Ankle mobility" in reply.messages[0].text
    shown = io.StringIO()
    reply = await say(engine, "tam", "1", as_json=False, out=shown)  # "1. Ask the practice..."
    assert reply.flow == "contact" and reply.state == "contact_consent"
    assert "complete" not in shown.getvalue()
    for text, state in (("yes please", "contact_name"), ("Tam", "contact_method"),
                        ("tam@example.com", "contact_saved")):
        reply = await say(engine, "tam", text, as_json=False, out=out)
        assert reply.state == state


async def test_person_who_types_picks_on_the_console_sees_them_add_up_then_done(
    engine: TurnRunner,
) -> None:
    await typed(engine, "/start", *TO_PAIN_QUESTIONS, "front")
    so_far = await typed(engine, "stairs")
    assert "So far: Stairs." in so_far and "done" in so_far
    assert "  1. ✓ Stairs" in so_far, "the running selection, numbered"
    assert "What makes it worse" not in so_far, "a short reply, not the whole question"
    so_far = await typed(engine, "3")
    assert "So far: Stairs, Running." in so_far
    assert "How long" in await typed(engine, "done")


async def test_person_on_the_console_who_types_the_results_actions_gets_them(
    engine: TurnRunner,
) -> None:
    await typed(engine, "/start", *TO_PAIN_QUESTIONS, *HIP_MOBILITY_RUN)
    reminded = await typed(engine, "2")  # "2. Remind me to check in"
    assert "complete" not in reminded and "check-in" in reminded, "the action's own answer"


async def test_person_on_the_console_with_an_unclear_answer_is_asked_did_you_mean(
    engine: TurnRunner,
) -> None:
    await typed(engine, "/start", "begin", "me", "adult", "no", "new", "no")  # swelled up
    asked = await typed(engine, "its a little puffy")  # the hot, swollen knee question
    assert "Did you mean one of these?" in asked
    assert "  1. Yes" in asked and "  3. Not sure" in asked and "  4. Something else" in asked
    reply = await say(engine, "sam", "3", as_json=False, out=io.StringIO())
    assert reply.state == "rf_hot_swollen_clarify", "Not sure, as chosen: the plain follow-up"

"""Stories of where a person stands: "Safety question 3 of 11" honest for their path, /restart
asking before it clears answers, and help naming the flow they are in (issue 26)."""

from __future__ import annotations

import itertools
import re

import pytest

from bot.app import build_engine
from bot.settings import load_settings
from bot.store.sqlite import SQLiteStore
from bot.tools.client import DialogClient
from tests.conftest import answer_safety_questions_no, finish_with_hip_mobility

ENGINE = build_engine(load_settings(data_dir="/nonexistent-unused"), SQLiteStore(":memory:"))
USERS = itertools.count()
HEADING = re.compile(r"Safety question (\d+) of (\d+)")


def person(channel: str = "test") -> DialogClient:
    return DialogClient(ENGINE, f"p{next(USERS)}", channel)


# -- Safety question N of M ------------------------------------------------------------------

async def _safety_headings(before: tuple[str, ...], answer: str = "no") -> tuple[list, str]:
    """Walk through every safety question answering `answer` ("not sure" is followed up and
    then answered no); the (number, of) of each question shown, and where it ended."""
    someone = person()
    await someone.send("/start")
    for press in before:
        await someone.click(press)
    shown = []
    while someone.last.state.startswith("rf_"):
        if someone.last.state.endswith("_clarify"):
            assert not HEADING.search(someone.text), "a follow-up is not a new question"
            await someone.click("no")
            continue
        found = HEADING.search(someone.text)
        assert found, someone.text
        shown.append((int(found[1]), int(found[2])))
        await someone.click(answer)
    return shown, someone.last.state


@pytest.mark.parametrize(("path", "before"), [
    ("an adult without an injury", ("begin", "me", "adult", "no", "no", "no")),
    ("a child (no age question)", ("begin", "child", "no", "no", "no")),
    ("a teenager for themselves", ("begin", "me", "under_18", "no", "no", "no")),
    ("after an injury weeks ago", ("begin", "me", "adult", "weeks", "no", "no")),
    ("with a swollen knee and a sore calf", ("begin", "other", "adult", "no", "longer", "yes")),
])
async def test_person_sees_safety_question_n_of_the_number_they_are_really_asked(path, before):
    shown, ended = await _safety_headings(before)

    total = len(shown)
    assert shown[0] == (1, total), f"{path}: the first question"
    assert shown[total // 2] == (total // 2 + 1, total), f"{path}: a middle question"
    assert shown[-1] == (total, total), f"{path}: the last question says {total} of {total}"
    assert shown == [(n, total) for n in range(1, total + 1)]
    assert not ended.startswith("redflag_")


async def test_injured_person_of_55_is_never_promised_questions_a_raised_flag_cuts_off():
    """55 or over, injured this week: the Ottawa flag is raised by those answers, so the
    questions stop before it; the last one asked already says "N of N"."""
    shown, ended = await _safety_headings(("begin", "me", "over_55", "this_week", "no", "no"))

    assert ended == "redflag_ottawa_age"
    assert shown[-1][0] == shown[-1][1] == len(shown)


async def test_unsure_answers_are_followed_up_without_changing_the_count():
    shown, _ = await _safety_headings(("begin", "me", "adult", "no", "no", "no"), "unsure")

    assert shown == [(n, len(shown)) for n in range(1, len(shown) + 1)]


async def test_child_is_asked_the_child_questions_and_counted_in_full():
    child, _ = await _safety_headings(("begin", "child", "no", "no", "no"))
    adult, _ = await _safety_headings(("begin", "me", "adult", "no", "no", "no"))

    assert child[0][1] != adult[0][1], "age-dependent questions change the count"


# -- /restart ----------------------------------------------------------------------------------

async def _partway() -> DialogClient:
    someone = person()
    await someone.send("/start")
    for press in ("begin", "me", "adult", "no", "no"):
        await someone.click(press)
    assert someone.last.state == "calf"
    return someone


async def test_person_who_types_restart_partway_is_asked_before_answers_are_cleared():
    someone = await _partway()

    asked = await someone.send("restart")

    assert "Start the knee pain check over from the top?" in someone.text
    assert someone.choice_ids == ["restart_yes", "restart_no"]
    assert [c.label for c in asked.messages[-1].choices] == ["Yes, start over", "No, keep going"]
    assert asked.state == "calf", "nothing is cleared yet"


@pytest.mark.parametrize("yes", ["press", "yes", "1", "Yes, start over", "yeah go ahead",
                                 "start over"])
async def test_person_who_confirms_restart_starts_again_from_the_welcome(yes):
    someone = await _partway()
    asked = await someone.send("/restart")
    assert asked.state == "calf", "asked first"

    again = await (someone.click("restart_yes") if yes == "press" else someone.send(yes))

    assert again.state == "welcome" and "about 5 minutes" in someone.text
    await someone.click("begin")
    at_who = await someone.send("/restart")
    assert at_who.state == "welcome", "'Let's start' alone loses nothing: no question"


@pytest.mark.parametrize("no", ["press", "no", "2", "No, keep going", "keep going", "hmm"])
async def test_person_who_declines_restart_keeps_every_answer_and_their_question(no):
    someone = await _partway()
    await someone.send("/restart")

    kept = await (someone.click("restart_no") if no == "press" else someone.send(no))

    assert kept.state == "calf"
    assert "your answers are kept" in someone.text.lower()
    assert "calf" in kept.messages[-1].text, "the question they were on comes back"
    await someone.click("no")
    assert someone.last.state.startswith("rf_"), "and answering it goes on"


async def test_no_confirmation_when_nothing_would_be_lost():
    someone = person()
    await someone.send("/start")
    at_welcome = await someone.send("/restart")
    assert at_welcome.state == "welcome" and "Start the" not in someone.text

    finished = person()
    await answer_safety_questions_no(finished)
    await finish_with_hip_mobility(finished)
    assert finished.last.state == "result"
    restarted = await finished.send("restart")
    assert restarted.state == "welcome", "a finished check loses nothing"

    await finished.click("begin")
    await finished.click("me")  # one answer that says something: now it asks
    assert (await finished.send("restart")).state == "age"


async def test_old_restart_button_pressed_later_is_handled_as_a_stale_press():
    someone = await _partway()
    await someone.send("/restart")
    assert (await someone.click("restart_no")).state == "calf"
    await someone.click("no")  # calf answered: on to the safety questions
    state = someone.last.state

    late = await someone.click("restart_yes", replies_ago=2)

    assert late.stale and late.state == state, "never applied"
    assert "earlier question" in someone.text


async def test_old_question_button_while_restart_is_asked_is_stale_and_clears_nothing():
    someone = await _partway()
    await someone.send("/restart")

    old = await someone.click("no", replies_ago=1)  # the calf question's own button

    assert old.stale and old.state == "calf"
    assert "calf" in old.messages[-1].text


async def test_a_command_instead_of_an_answer_drops_the_restart_question():
    someone = await _partway()
    assert (await someone.send("/restart")).state == "calf"
    await someone.send("/help")

    after = await someone.send("yes")

    assert after.state != "welcome", "a later yes answers the question, not the restart"


async def test_restart_from_the_contact_form_asks_to_start_the_screening():
    someone = person()
    await someone.send("/contact")
    await someone.click("consent")
    await someone.send("Sam")

    await someone.send("restart")

    assert "Start the knee pain check over" in someone.text
    assert (await someone.click("restart_yes")).state == "welcome"


# -- help names the flow -----------------------------------------------------------------------

async def test_help_in_the_knee_check_names_it_and_keeps_the_question():
    someone = await _partway()

    await someone.send("help")

    assert "You're partway through the knee pain check." in someone.text
    assert "restart: begin the knee pain check from the top" in someone.text
    assert "calf" in someone.last.messages[-1].text


async def test_help_in_the_contact_form_names_it_and_never_restarts_the_form():
    someone = person()
    await someone.send("/contact")

    await someone.send("help")

    assert "You're partway through the contact request." in someone.text
    assert "contact request from the top" not in someone.text
    assert "restart: begin the knee pain check from the top" in someone.text
    assert "stop: stop the contact request" in someone.text
    assert "/contact: ask the practice" not in someone.text, "they are already asking"


async def test_help_outside_any_flow_names_no_flow_in_progress():
    someone = person()

    await someone.send("/help")
    assert "partway" not in someone.text
    await someone.send("/contact")
    await someone.send("help")
    assert "partway through the contact request" in someone.text

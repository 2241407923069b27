"""Knee flow v3.1 (issue 25, what v3 still missed): an answer left open ("not sure" about the
age or the swelling) takes the safe path, every safety question can be answered honestly with
one of its options, and which urgencies act at once is the flow's own table. Each test fails
on flow v3.0."""

from __future__ import annotations

import jinja2
import pytest

from bot.engine.flow import load_flow
from bot.settings import ROOT
from bot.tools.client import DialogClient
from tests.conftest import start_knee_check as start

FLOW = load_flow(ROOT / "dialogs" / "knee.yaml")
PARTS = "counts as Yes"  # what a question with several parts says about "only part is true"


async def no_until(person: DialogClient, state: str) -> list[str]:
    """Answer "No" to each safety question until `state`; the questions asked on the way."""
    asked = []
    for _ in range(40):  # bounded: on a flow without the question, fail rather than hang
        if person.last.state == state or not person.last.state.startswith("rf_"):
            break
        asked.append(person.last.state)
        await person.click("no")
    assert person.last.state == state, f"never reached {state}; asked {asked}"
    return asked


def offers_booking(person: DialogClient) -> bool:
    links = [link.label.lower() for m in person.last.messages for link in m.links]
    return any("book" in label for label in links) or "complimentary call" in person.text


# 2. An age nobody knows: possibly under 18 for the safety questions -------------------------

async def test_a_relative_who_does_not_know_the_age_is_asked_the_child_questions(person):
    await start(person, who="other", age="unsure")
    assert person.last.messages and person.last.state != "age"
    asked = await no_until(person, "rf_child_limp")
    assert asked == ["rf_after_procedure", "rf_cauda_equina"]
    assert "Do they have a limp" in person.text and "your child" not in person.text
    await person.click("no")
    asked = await no_until(person, "rf_young_night_pain")
    assert "rf_night_pain" not in asked
    await person.click("no")
    rest = []
    while person.last.state.startswith("rf_"):
        rest.append(person.last.state)
        await person.click("no")
    assert "rf_night_pain" not in rest, "night pain is asked once, at the child's urgency"
    assert person.last.state == "pain_where", "no growing-knee question for an unknown age"


async def test_unknown_age_with_a_limp_is_seen_today(person):
    await start(person, who="other", age="unsure")
    await no_until(person, "rf_child_limp")
    reply = await person.click("yes")
    assert (reply.outcome.red_flag, reply.outcome.urgency) == ("child_limp", "same_day")
    assert not offers_booking(person)


async def test_unknown_age_after_a_fresh_fall_is_asked_whether_55_or_over(person):
    await start(person, who="other", age="unsure", injury="this_week")
    await no_until(person, "rf_ottawa_age")
    assert "Are they 55 or older" in person.text
    reply = await person.click("yes")
    assert (reply.outcome.red_flag, reply.outcome.urgency) == ("ottawa_age", "within_days")


async def test_unknown_age_still_unsure_if_55_after_a_fall_is_unresolved(person):
    await start(person, who="other", age="unsure", injury="this_week")
    await no_until(person, "rf_ottawa_age")
    await person.click("unsure")
    assert person.last.state == "rf_ottawa_age_clarify"
    await person.click("unsure")
    while person.last.state.startswith("rf_"):
        await person.click("no")
    assert person.last.state == "injury_now"
    reply = await person.click("settled")
    assert reply.outcome.unsure_flags == ("ottawa_age",), "unresolved, never taken as no"
    assert "Aged 55 or over" in person.text


async def test_a_known_adult_age_is_never_asked_the_child_or_55_questions(person):
    await start(person, who="other", age="adult", injury="this_week")
    asked = []
    while person.last.state.startswith("rf_"):
        asked.append(person.last.state)
        await person.click("no")
    assert not {"rf_child_limp", "rf_young_night_pain", "rf_ottawa_age"} & set(asked)


async def test_typed_no_idea_how_old_is_not_sure(person):
    await person.send("/start")
    for choice in ("begin", "other"):
        await person.click(choice)
    await person.send("no idea")
    assert person.last.state == "injury"
    for choice in ("no", "no", "no"):
        await person.click(choice)
    await no_until(person, "rf_child_limp")


# 1./3. Not sure whether the knee swelled: the safe path ------------------------------------

async def test_not_sure_it_swelled_without_an_injury_asks_whether_it_swelled_up(person):
    await start(person, swelling="unsure")
    asked = await no_until(person, "rf_new_swelling")
    assert asked == ["rf_hot_swollen", "rf_joint_bleed", "rf_after_procedure",
                     "rf_cauda_equina"]
    assert "swelled up over the last few hours or days" in person.text
    reply = await person.click("yes")
    assert (reply.outcome.red_flag, reply.outcome.urgency) == ("new_swelling", "same_day")
    assert "Nothing you've told me" not in person.text and not offers_booking(person)


async def test_still_not_sure_it_swelled_gives_same_day_advice_at_once_and_no_booking(person):
    await start(person, swelling="unsure")
    await no_until(person, "rf_new_swelling")
    await person.click("unsure")
    assert person.last.state == "rf_new_swelling_clarify" and "dips beside" in person.text
    reply = await person.click("unsure")
    assert "see a doctor today" in reply.messages[0].text.lower()
    assert "without an injury" in reply.messages[0].text
    assert person.last.state.startswith("rf_")  # the safety questions go on
    await person.send("book")
    assert not offers_booking(person) and "/contact" in person.text
    while person.last.state.startswith("rf_"):
        await person.click("no")
        assert not offers_booking(person)
    assert person.last.state == "result_doctor_first"


async def test_not_sure_it_swelled_on_warfarin_is_an_emergency(person):
    await start(person, swelling="unsure")
    await no_until(person, "rf_joint_bleed")
    assert "Either one counts as Yes" in person.text  # a blood thinner alone is enough
    reply = await person.click("yes")
    assert (reply.outcome.red_flag, reply.outcome.urgency) == ("joint_bleed", "emergency")


async def test_it_swelled_without_an_injury_is_raised_not_asked_again(person):
    await start(person, swelling="new")
    asked = await no_until(person, "redflag_new_swelling")
    assert "rf_new_swelling" not in asked
    assert person.last.outcome.urgency == "same_day"


async def test_swollen_for_months_or_after_an_injury_is_not_asked_about_new_swelling(person):
    await start(person, swelling="longer")
    asked = await no_until(person, "pain_where")
    assert "rf_new_swelling" not in asked
    other = DialogClient(person.engine, "after_a_fall")
    await start(other, injury="this_week", swelling="unsure")
    asked = await no_until(other, "rf_rapid_swelling")
    assert "rf_new_swelling" not in asked, "after an injury, swelling is asked as rapid_swelling"


async def test_back_after_the_asked_swelling_question_returns_to_it(person):
    await start(person, swelling="unsure")
    await no_until(person, "rf_new_swelling")
    await person.click("no")
    assert person.last.state == "rf_worsening_weakness"
    await person.send("back")
    assert person.last.state == "rf_new_swelling", "asked, not raised: back returns to it"


# 6. Questions a person can answer honestly --------------------------------------------------

async def test_surgery_healing_well_is_answered_no_and_the_check_goes_on(person):
    await start(person)
    assert person.last.state == "rf_after_procedure"
    assert "steadily settling since: No" in person.text and PARTS in person.text
    await person.click("no")
    assert person.last.state == "rf_cauda_equina"


async def test_an_injection_and_surgery_with_the_knee_hotter_since_is_an_emergency(person):
    await start(person)
    assert "surgery or an injection" in person.text and PARTS in person.text
    reply = await person.click("yes")
    assert (reply.outcome.red_flag, reply.outcome.urgency) == ("after_procedure", "emergency")
    assert "surgical team" in person.text


async def test_years_of_knee_pain_and_a_fall_this_week_is_told_the_fall_counts(person):
    await person.send("/start")
    for choice in ("begin", "me", "adult"):
        await person.click(choice)
    assert person.last.state == "injury"
    assert "A new injury on top of older pain counts as Yes" in person.text
    for choice in ("this_week", "no", "no"):
        await person.click(choice)
    asked = await no_until(person, "rf_ottawa_bone")
    assert "rf_cannot_bear_weight" in asked, "the injury questions follow the fall"


async def test_not_sure_it_is_swollen_is_asked_about_heat_without_presuming_swelling(person):
    await start(person, swelling="unsure")
    assert person.last.state == "rf_hot_swollen"
    assert "Does your knee feel hot" in person.text and "the swollen knee" not in person.text


async def test_night_sweats_alone_are_a_yes_without_feeling_unwell(person):
    await start(person)
    await no_until(person, "rf_unwell")
    assert "night sweats" in person.text and "even if you otherwise feel well" in person.text
    reply = await person.click("yes")
    assert reply.outcome.red_flag == "unwell"


async def test_a_teenager_with_a_tender_bump_worse_on_stairs_can_say_yes(person):
    await start(person, age="under_18")
    while person.last.state.startswith("rf_"):
        await person.click("no")
    assert person.last.state == "growth_bump"
    assert "Yes doesn't need that" in person.text
    await person.click("yes")
    assert person.last.state == "result_growing"


def _question(flag: str, who: str) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(ROOT / "templates"))
    module = env.get_template("knee/red_flags.j2").module
    return str(module.question(flag, FLOW.words({"who": who})))


# Questions with several parts: each must say what to do when only one part is true.
SEVERAL_PARTS = (
    "hot_swollen", "joint_bleed", "clot_lungs", "after_procedure", "cauda_equina",
    "circulation", "extensor", "child_limp", "ottawa_bone", "clot_risk", "young_night_pain",
    "worsening_weakness", "locked", "unwell", "numbness",
)


@pytest.mark.parametrize("who", ["self", "other"])
@pytest.mark.parametrize("flag", SEVERAL_PARTS)
def test_every_question_with_several_parts_says_one_part_is_enough(flag, who):
    text = _question(flag, who)
    assert PARTS in text or "Yes if either is true" in text, text

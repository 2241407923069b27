"""Knee flow v3 (issue 25): the classes held-out patients still slipped through. Each test
failed on flow v2."""

from __future__ import annotations

from bot.tools.client import DialogClient
from tests.conftest import start_knee_check as start

SCREENS = ("swelling", "calf")  # asked before the red flags; they decide which follow


async def asked_all_no(person: DialogClient) -> list[str]:
    asked = []
    while person.last.state.startswith("rf_"):
        asked.append(person.last.state)
        await person.click("no")
    return asked


async def no_until(person: DialogClient, state: str) -> None:
    for _ in range(40):
        if person.last.state == state:
            return
        assert person.last.state.startswith("rf_"), person.last.state
        await person.click("no")
    raise AssertionError(f"never reached {state}")


def links_of(person: DialogClient) -> list[str]:
    return [link.label for m in person.last.messages for link in m.links]


# 1. Swelling without an injury has its own question and urgency; blood thinners after it ----

async def test_fast_swelling_without_injury_on_a_blood_thinner_is_an_emergency(person):
    await start(person, swelling="new")
    assert person.last.state == "rf_hot_swollen"
    await person.click("no")  # swollen, not hot
    assert person.last.state == "rf_joint_bleed" and "blood thinner" in person.text
    reply = await person.click("yes")
    assert (reply.outcome.red_flag, reply.outcome.urgency) == ("joint_bleed", "emergency")
    assert "bleeding into the joint" in person.text and "right away" not in person.text
    assert not links_of(person)


async def test_fast_swelling_without_injury_is_checked_today_not_reassured(person):
    await start(person, swelling="new")
    asked = await asked_all_no(person)
    assert asked == ["rf_hot_swollen", "rf_joint_bleed", "rf_after_procedure",
                     "rf_cauda_equina"], "stops at the first same-day flag it raises"
    reply = person.last
    assert (reply.outcome.red_flag, reply.outcome.urgency) == ("new_swelling", "same_day")
    assert "see a doctor today" in person.text.lower() and "without an injury" in person.text
    assert "Nothing you've told me" not in person.text and "squat" not in person.text.lower()


async def test_blood_thinners_are_asked_only_where_they_change_the_answer(person):
    await start(person, swelling="longer")  # swollen for months: heat matters, a bleed not
    asked = await asked_all_no(person)
    assert "rf_hot_swollen" in asked and "rf_joint_bleed" not in asked
    assert person.last.state == "pain_where"
    other = DialogClient(person.engine, "kim")
    await start(other)
    assert "rf_joint_bleed" not in await asked_all_no(other)


async def test_fast_swelling_after_a_fresh_injury_on_a_blood_thinner_is_an_emergency(person):
    await start(person, injury="this_week", swelling="new")
    await person.click("no")  # not hot
    reply = await person.click("yes")
    assert reply.outcome.red_flag == "joint_bleed" and reply.outcome.urgency == "emergency"


# 2. Clot risk after a calf symptom (Wells / NICE NG158) --------------------------------------

async def test_calf_ache_after_a_long_flight_at_70_is_checked_today(person):
    await start(person, age="over_55", calf="yes")
    asked = []
    for _ in range(40):  # bounded: on a flow without the question, fail, not hang
        if person.last.state == "rf_clot_risk" or not person.last.state.startswith("rf_"):
            break
        asked.append(person.last.state)
        await person.click("no")
    assert person.last.state == "rf_clot_risk"
    assert asked == ["rf_clot_lungs", "rf_after_procedure", "rf_cauda_equina", "rf_calf_clot"]
    assert "journey of 4 hours" in person.text and "pregnant" in person.text
    reply = await person.click("yes")
    assert (reply.outcome.red_flag, reply.outcome.urgency) == ("clot_risk", "same_day")
    assert "blood clot" in person.text and "Don't massage" in person.text


async def test_calf_symptom_with_breathlessness_is_an_emergency(person):
    await start(person, calf="yes")
    assert person.last.state == "rf_clot_lungs"
    reply = await person.click("yes")
    assert reply.outcome.urgency == "emergency" and "emergency number now" in person.text


async def test_no_calf_symptom_asks_no_clot_questions(person):
    await start(person)
    asked = await asked_all_no(person)
    assert not {"rf_clot_lungs", "rf_calf_clot", "rf_clot_risk"} & set(asked)


# 3. An age band for "me" too: a 17-year-old gets the adolescent questions --------------------

async def test_seventeen_answering_for_themselves_is_asked_about_a_limp(person):
    await start(person, age="under_18")
    asked = []
    for _ in range(40):  # bounded: on a flow without the question, fail, not hang
        if person.last.state == "rf_child_limp" or not person.last.state.startswith("rf_"):
            break
        asked.append(person.last.state)
        await person.click("no")
    assert person.last.state == "rf_child_limp"
    assert "Do you have a limp" in person.text and "your child" not in person.text
    reply = await person.click("yes")
    assert (reply.outcome.red_flag, reply.outcome.urgency) == ("child_limp", "same_day")
    assert "growth plate" in person.text


async def test_teenager_night_pain_is_checked_within_days_not_a_week(person):
    await start(person, age="under_18")
    asked = []
    for _ in range(40):  # bounded: on a flow without the question, fail, not hang
        if person.last.state == "rf_young_night_pain" or not person.last.state.startswith("rf_"):
            break
        asked.append(person.last.state)
        await person.click("no")
    assert person.last.state == "rf_young_night_pain"
    assert "rf_night_pain" not in asked
    reply = await person.click("yes")
    assert reply.outcome.urgency == "within_days" and "X-ray" in person.text


async def test_teenager_with_a_tender_bump_below_the_kneecap_gets_growing_knee_advice(person):
    await start(person, age="under_18")
    asked = await asked_all_no(person)
    assert "rf_night_pain" not in asked and person.last.state == "growth_bump"
    reply = await person.click("yes")
    assert reply.state == "result_growing" and reply.outcome.drivers == ()
    assert "growth spurts" in person.text and "not medical advice or a diagnosis" in person.text
    assert "Check 1 of 5" not in person.text


async def test_adults_are_not_asked_the_adolescent_questions(person):
    await start(person)
    asked = await asked_all_no(person)
    assert not {"rf_child_limp", "rf_young_night_pain"} & set(asked)
    assert person.last.state == "pain_where"


# 4. Still "not sure" at emergency or same-day level: that advice at once, and no booking ------

async def test_unsure_emergency_question_gives_the_advice_in_the_very_next_message(person):
    await start(person)
    await no_until(person, "rf_cauda_equina")
    await person.click("unsure")
    reply = await person.click("unsure")
    first = reply.messages[0].text.lower()
    assert "emergency care now" in first and "bladder or bowel" in first
    assert reply.state.startswith("rf_"), "the remaining safety questions are still asked"
    await person.send("book")
    assert "book a" not in person.text.lower() and not links_of(person)
    assert "see a doctor about that first" in person.text
    while person.last.state.startswith("rf_"):
        await person.click("no")
    assert person.last.state == "result_doctor_first", "no pain questions or self-checks"
    assert not [label for label in links_of(person) if "book" in label.lower()]
    await person.send("/help")
    assert "**book**" not in person.last.messages[0].text


async def test_unsure_same_day_question_after_an_injury_offers_no_booking(person):
    await start(person, injury="this_week")
    await no_until(person, "rf_kneecap_dislocation")
    await person.click("unsure")
    reply = await person.click("unsure")
    assert "see a doctor today" in reply.messages[0].text.lower()
    while person.last.state.startswith("rf_"):
        await person.click("no")
    assert person.last.state == "result_doctor_first"
    assert not [label for label in links_of(person) if "book" in label.lower()]
    await person.send("/contact")
    assert person.last.state.startswith("contact") or "contact" in person.text.lower()


async def test_unsure_within_days_question_still_waits_for_the_end(person):
    await start(person)
    await no_until(person, "rf_locked")
    await person.click("unsure")
    reply = await person.click("unsure")
    assert len(reply.messages) == 1 and reply.state == "rf_numbness"


# 5. Injury advice follows the weeks since the injury and what is still there ----------------

async def test_five_weeks_after_a_fall_walking_normally_no_fresh_injury_advice(person):
    await start(person, injury="weeks")
    await asked_all_no(person)
    assert person.last.state == "injury_now"
    reply = await person.click("settled")
    assert reply.state == "result_injury"
    text = person.text
    assert "first few days" in text and "behind" in text and "build strength and balance" in text
    assert "Calm the swelling" not in text and "within 1 to 2 weeks" not in text


async def test_weeks_after_a_twist_still_swollen_and_giving_way_is_checked(person):
    await start(person, injury="weeks")
    await asked_all_no(person)
    for choice in ("swelling", "giving_way", "done"):
        await person.click(choice)
    text = person.text
    assert "still there after a week or more" in text and "gives way" in text
    assert "next week or two" in text and "Protect it" not in text


async def test_a_fresh_injury_still_gets_fresh_injury_advice(person):
    await start(person, injury="this_week")
    await asked_all_no(person)
    for choice in ("swelling", "done"):
        await person.click(choice)
    assert "Protect it" in person.text and "Calm the swelling" in person.text
    assert "within 1 to 2 weeks" in person.text

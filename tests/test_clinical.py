"""The clinical review of knee flow v1, point by point: each test failed on v1 and holds on v2."""

from __future__ import annotations

from bot.core.conversation import Conversation
from bot.tools.client import DialogClient
from bot.turns.runner import TurnRunner
from tests.conftest import (
    SAFETY_QUESTIONS_NO_INJURY,
    TO_PAIN_QUESTIONS,
    answer_safety_questions_no,
    finish_with_hip_mobility,
)
from tests.conftest import start_knee_check as start

ALL_CHECKS_FINE = (
    "now", "steady", "pass", "fine", "no", "steady",
)


async def answer_all_safety(person: DialogClient, answer: str) -> None:
    while person.last.state.startswith("rf_"):
        await person.click(answer)


async def events_of(person: DialogClient) -> list[str]:
    rows = await person.engine.store.events(person.channel, person.user_id)
    return [f"{kind}:{detail}" if detail else kind for kind, _, detail, _ in rows]


# 1. "Not sure" is never "no" --------------------------------------------------------------------

async def test_person_unsure_on_every_safety_question_is_never_reassured(person):
    await start(person)
    asked = []
    while person.last.state.startswith("rf_"):
        asked.append(person.last.state)
        await person.click("unsure")
    assert asked == [q for s in SAFETY_QUESTIONS_NO_INJURY for q in (s, f"{s}_clarify")]
    # v3: unsure at emergency level stops the check after the safety questions
    assert person.last.state == "result_doctor_first"
    assert "needs a doctor right away" not in person.text
    assert "weren't sure" in person.text
    saved = await person.engine.store.load("test", "alex")
    assert len(saved.facts["unsure_flags"]) == len(SAFETY_QUESTIONS_NO_INJURY)


async def test_typed_maybe_possibly_idk_count_as_not_sure(person):
    await start(person)
    for typed in ("maybe", "possibly", "idk"):
        state = person.last.state
        await person.send(typed)
        assert person.last.state == f"{state}_clarify", typed
        await person.click("no")


async def test_unsure_after_the_follow_up_skips_loaded_checks_and_names_the_question(person):
    await start(person)
    for _ in range(SAFETY_QUESTIONS_NO_INJURY.index("rf_locked")):
        await person.click("no")
    # v3: a within-days question (an emergency-level one stops the check: test_clinical_v3)
    await person.click("unsure")  # locks?
    await person.click("unsure")  # still not sure after the plain follow-up
    await answer_all_safety(person, "no")
    for choice in ("front", "unsure", "long", "skip", "none", "no", "no", "unsure", "no", "no",
                   "yes"):
        await person.click(choice)
    assert person.last.state == "checks_intro" and "skip the checks" in person.text
    await person.click("now")
    assert person.last.state == "hip_figure4", "the loaded checks were skipped"
    reply = await person.click("no")
    assert reply.state == "result_doctor_first"
    assert "Knee locks" in person.text and "Book" not in person.text
    assert reply.outcome.unsure_flags == ("locked",) and reply.outcome.red_flag is None


# 2. The highest urgency wins --------------------------------------------------------------------

async def test_questions_are_asked_highest_urgency_first(person):
    await start(person, injury="this_week")
    seen = []
    while person.last.state.startswith("rf_"):
        seen.append(person.engine.flows["knee"].red_flags[person.last.state[3:]].rank)
        await person.click("no")
    assert seen == sorted(seen) and seen[0] == 0 and seen[-1] == 3


async def test_a_lower_urgency_yes_can_never_hide_an_emergency(engine: TurnRunner):
    """Whatever the flow file says, a recorded "yes" of higher urgency takes over."""
    conv = Conversation("test", "lee", flow="knee", state="pain_where", turn=5)
    conv.facts = {"who": "self", "red_flags": ["locked", "hot_swollen"]}
    await engine.store.save(conv)
    person = DialogClient(engine, "lee")
    person.replies.append(type("Shown", (), {"turn": 5})())  # the question they were shown
    reply = await person.click("front")
    assert reply.state == "redflag_hot_swollen" and reply.outcome.urgency == "emergency"
    assert "emergency care now" in person.text.lower()


async def test_yes_to_locked_gives_within_days_advice_when_nothing_higher(person):
    await start(person)
    for _ in range(SAFETY_QUESTIONS_NO_INJURY.index("rf_locked")):
        await person.click("no")
    reply = await person.click("yes")
    assert (reply.outcome.red_flag, reply.outcome.urgency) == ("locked", "within_days")
    assert "within the next day or two" in person.text


# 3. No question needs two things at once --------------------------------------------------------

async def test_rapid_swelling_without_a_pop_is_a_red_flag(person):
    await start(person, injury="weeks")
    while person.last.state != "rf_rapid_swelling":
        await person.click("no")
    assert "pop" not in person.text.lower().replace("with or without a pop", "")
    reply = await person.click("yes")
    assert reply.outcome.urgency == "within_days"


async def test_hot_swollen_knee_without_fever_is_an_emergency(person):
    await start(person, swelling="new")  # v3: asked after "swollen", heat on its own
    assert person.last.state == "rf_hot_swollen" and "even without a fever" in person.text
    reply = await person.click("yes")
    assert reply.outcome.urgency == "emergency" and "even without a fever" in person.text


# 4 and 5. Injuries are time-bounded, and a fresh one has its own path ---------------------------

async def test_a_fall_years_ago_asks_no_injury_questions_and_can_finish(person):
    await start(person, injury="no")
    asked = []
    while person.last.state.startswith("rf_"):
        asked.append(person.last.state)
        await person.click("no")
    assert tuple(asked) == SAFETY_QUESTIONS_NO_INJURY and person.last.state == "pain_where"


async def test_recent_injury_without_red_flags_gets_fresh_injury_advice_not_self_checks(person):
    await start(person, injury="this_week")
    await answer_all_safety(person, "no")
    assert person.last.state == "injury_now"  # v3: what is still there now
    await person.click("swelling")
    reply = await person.click("done")
    assert reply.state == "result_injury"
    text = person.text
    assert "Protect it" in text and "1 to 2 weeks" in text
    assert "not caused by the knee" not in text and "single-leg" not in text.lower()
    assert await events_of(person) == ["started", "finished:result_injury"]


async def test_age_55_after_an_injury_this_week_is_an_ottawa_red_flag(person):
    # v3: the age band is asked up front; 55 or over with a fresh injury raises the flag
    await start(person, injury="this_week", age="over_55")
    await answer_all_safety(person, "no")
    reply = person.last
    assert reply.outcome.red_flag == "ottawa_age" and "X-ray" in person.text


# 6. The missing red flags, and a child's limp asked early and urgently ------------------------

async def test_bladder_or_bowel_change_is_an_emergency(person):
    await start(person)
    while person.last.state != "rf_cauda_equina":
        await person.click("no")
    reply = await person.click("yes")
    assert reply.outcome.urgency == "emergency"


async def test_child_limp_is_asked_in_their_words_and_advised_today(person):
    await start(person, who="child")
    order = []
    while person.last.state != "rf_child_limp":
        order.append(person.last.state)
        await person.click("no")
    # v3: only the emergency questions that apply (no swelling, no calf, no injury) come first
    assert order == ["rf_after_procedure", "rf_cauda_equina"]
    assert "your child" in person.text and "your knee" not in person.text
    reply = await person.click("yes")
    assert reply.outcome.urgency == "same_day" and "today" in person.text


async def test_night_pain_weight_loss_and_cancer_are_asked_separately(person):
    await answer_safety_questions_no(person)
    saved = await person.engine.store.load("test", "alex")
    assert {"rf_cancer_history", "rf_night_pain", "rf_weight_loss"} <= set(saved.answers)


# 7. No over-triage ------------------------------------------------------------------------------

async def test_arthritic_knee_that_cannot_straighten_fully_is_clarified_not_locked(person):
    await start(person)
    while person.last.state != "rf_locked":
        await person.click("no")
    await person.click("unsure")
    assert "arthritis" in person.text and "is not what I mean" in person.text
    reply = await person.click("no")
    assert reply.state == "rf_numbness"


async def test_a_calf_ache_alone_without_swelling_or_risk_factor_is_no_red_flag(person):
    # v3: a calf symptom asks about the lungs, a swollen calf and clot risk factors
    await start(person, calf="yes")
    asked = []
    while person.last.state.startswith("rf_"):
        asked.append(person.last.state)
        await person.click("no")
    assert {"rf_clot_lungs", "rf_calf_clot", "rf_clot_risk"} <= set(asked)
    assert person.last.state == "pain_where" and person.last.outcome is None


# 8 and 9. Results only from evidence, self-checks that tell causes apart ------------------------

async def test_clean_checks_reach_good_news_whatever_hurts(person):
    await answer_safety_questions_no(person)
    for choice in ("inside", "stairs", "running", "done", "long", "7", "findings", "continue",
                   "yes", "yes", "running", "done", "no", "no", "no", *ALL_CHECKS_FINE):
        await (person.send(choice) if choice == "7" else person.click(choice))
    reply = person.last
    assert reply.state == "result_clear" and reply.outcome.drivers == ()
    assert "Good news" in person.text and "keep moving" in person.text.lower()
    assert "likely contributor" not in person.text
    assert "Looked fine in your checks:" in person.text


async def test_knee_drifting_in_with_the_arch_up_points_to_the_hip_not_the_foot(person):
    await answer_safety_questions_no(person)
    for choice in ("inside", "unsure", "long", "skip", "none", "no", "no", "everyday", "done",
                   "no", "no", "yes", "now", "knee_in", "pass", "fine", "no", "drop"):
        await person.click(choice)
    outcome = person.last.outcome
    assert outcome.drivers == ("hip_stability",)
    assert "Foot stability" in person.text.split("Looked fine in your checks:")[1]


async def test_heels_lifting_in_the_squat_point_to_the_ankle(person):
    await answer_safety_questions_no(person)
    for choice in ("front", "squats", "done", "long", "skip", "none", "no", "no", "lifting",
                   "done", "no", "no", "yes", "now", "steady", "one_side", "heels_lift", "done",
                   "no", "steady"):
        await person.click(choice)
    assert person.last.outcome.drivers == ("ankle_mobility",)


async def test_several_answers_to_what_makes_it_worse_by_toggles_or_typed(person):
    await answer_safety_questions_no(person)
    await person.click("front")
    shown = person.last.turn
    reply = await person.click("stairs")
    assert reply.edit and reply.state == "pain_worse" and reply.turn == shown + 1
    assert [c.label for c in reply.messages[0].choices][:2] == ["✓ Stairs", "Squatting"]
    await person.click("running")
    await person.click("stairs")  # changed their mind
    reply = await person.click("done")
    assert reply.state == "pain_duration" and reply.extras["answered"] == "Running"
    await person.send("back")
    await person.send("1, 3")
    assert "So far: Stairs, Running" in person.text, "typed picks add up, shown back"
    await person.send("done")
    saved = await person.engine.store.load("test", "alex")
    assert saved.state == "pain_duration" and saved.facts["worse_with"] == ["stairs", "running"]


async def test_done_with_nothing_picked_asks_for_a_pick(person):
    await answer_safety_questions_no(person)
    await person.click("front")
    reply = await person.click("done")
    assert reply.state == "pain_worse" and "pick at least one" in person.text


async def test_never_coached_alone_names_nothing(person):
    await answer_safety_questions_no(person)
    for choice in ("front", "unsure", "long", "skip", "none", "no", "no", "running", "done",
                   "no", "no", "no", *ALL_CHECKS_FINE):
        await person.click(choice)
    assert person.last.state == "result_clear"


# 10. After a red flag: the advice, every time, and readable titles for staff -------------------

async def test_after_a_red_flag_every_message_repeats_the_advice_and_never_books(person):
    await start(person, swelling="new")
    await person.click("yes")
    for typed in ("ok thanks", "book", "/book", "what now?"):
        reply = await person.send(typed)
        assert "emergency care now" in person.text.lower(), typed
        assert "book" not in person.text.lower(), typed
        assert not [link for m in reply.messages for link in m.links]
    summary = person.engine.compose.summary(await person.engine.store.load("test", "alex"))
    assert "Red flag: Hot, swollen knee" in summary and "(advised emergency care now)" in summary
    assert await events_of(person) == ["started", "red_flag:hot_swollen"]
    rows = await person.engine.store.events("test", "alex")
    assert rows[-1][3] == person.engine.flows["knee"].version


async def test_staff_see_the_flags_title_and_urgency_not_its_id(person):
    await start(person, swelling="new")
    await person.click("yes")
    saved = await person.engine.store.load("test", "alex")
    text = person.engine.compose.render("staff/talk_request.j2", saved,
                                        outcome=saved.last_outcome)
    assert "Hot, swollen knee" in text and "emergency care now" in text
    assert "hot_swollen" not in text


# 11. An honest time, checks later, and a careful imaging note -----------------------------------

async def test_welcome_is_honest_about_time_and_checks_can_wait(person):
    await person.send("/start")
    assert "5 minutes" in person.text and "5 to 10" in person.text
    await answer_safety_questions_no(person)
    for choice in ("front", "unsure", "long", "skip", "findings"):
        await person.click(choice)
    assert "Makes sense" not in str(person.choice_ids) and "many people with no knee pain" in (
        person.text)
    for choice in ("continue", "no", "no", "running", "done", "no", "no", "yes", "later"):
        await person.click(choice)
    assert person.last.state == "checks_later" and "saved" in person.text
    await person.send("/start")
    assert person.last.state == "checks_later"
    await person.click("ready")
    assert person.last.state == "foot_mirror"


async def test_hedged_sentences_on_a_safety_question_are_never_a_no(person):
    await start(person)
    for typed in ("not sure really", "I think so?", "hard to say", "kinda"):
        state = person.last.state
        await person.send(typed)
        assert person.last.state == f"{state}_clarify", typed
        await person.click("no")


async def test_after_a_red_flag_asking_to_be_contacted_never_leads_to_booking(person):
    await start(person, swelling="new")
    await person.click("yes")
    await person.send("/contact")
    await person.click("consent")
    await person.send("Sam")
    reply = await person.send("sam@example.com")
    assert reply.state == "contact_saved"
    assert not [link for m in reply.messages for link in m.links if "book" in link.label.lower()]
    await person.send("/book")
    assert "see a doctor about that first" in person.text and "Hot, swollen knee" in person.text
    (lead,) = await person.engine.store.leads()
    assert lead.red_flag == "hot_swollen" and lead.urgency == "emergency"
    assert lead.flow_version == person.engine.flows["knee"].version
    await person.send("/help")
    assert "**book**" not in person.last.messages[0].text


async def test_a_new_screening_after_a_red_flag_may_offer_booking_again(person):
    await start(person, swelling="new")
    await person.click("yes")
    await person.send("restart")
    for choice in TO_PAIN_QUESTIONS:
        await person.click(choice)
    await finish_with_hip_mobility(person)
    assert any("book" in link.label.lower() for m in person.last.messages for link in m.links)


async def test_not_now_is_no_finished_screening(person):
    await person.send("/start")
    reply = await person.click("later")
    assert reply.state == "not_now" and reply.outcome is None
    assert await events_of(person) == [], "declined at the welcome: not even started"
    await person.send("start")
    assert person.last.state == "welcome"

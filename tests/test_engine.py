"""The engine as a person meets it: buttons, typing, commands, old buttons, restarts."""

from __future__ import annotations

import asyncio

import pytest

from bot.app import build_engine
from bot.core.events import Event, EventKind
from bot.core.markup import parse
from bot.settings import Settings, load_settings
from bot.tools.client import DialogClient
from bot.turns.runner import TurnRunner
from tests.conftest import (
    SAFETY_QUESTIONS_NO_INJURY,
    TO_HOT_SWOLLEN,
    TO_PAIN_QUESTIONS,
    answer_safety_questions_no,
)


async def test_person_who_says_hello_gets_the_welcome_with_a_disclaimer(person):
    reply = await person.send("hello")
    assert reply.state == "welcome"
    assert "not medical advice" in person.text
    assert person.choice_ids == ["begin", "what", "later"]


async def test_red_flags_come_before_any_other_question(person):
    await person.send("/start")
    seen = []
    for choice in TO_PAIN_QUESTIONS:
        await person.click(choice)
        seen.append(person.last.state)
    assert seen == ["who", "age", "injury", "swelling", "calf", *SAFETY_QUESTIONS_NO_INJURY,
                    "pain_where"]


async def test_yes_to_a_red_flag_ends_with_medical_advice_and_no_booking_button(person):
    await person.send("/start")
    for choice in TO_HOT_SWOLLEN:
        await person.click(choice)
    reply = await person.click("yes")
    assert reply.outcome is not None
    assert reply.outcome.red_flag == "hot_swollen" and reply.outcome.urgency == "emergency"
    assert "emergency" in person.text.lower()
    assert not [link for message in reply.messages for link in message.links]


async def test_person_who_presses_an_old_button_sees_current_question(person):
    await person.send("/start")
    await person.click("begin")
    await person.click("no")
    reply = await person.click("yes", replies_ago=1)
    assert reply.stale and reply.state == "who"
    assert "earlier question" in person.text
    assert person.choice_ids == ["me", "child", "other"]


async def test_two_presses_at_once_apply_one_transition(engine: TurnRunner):
    person = DialogClient(engine, "sam")
    await person.send("/start")
    shown = person.last.turn
    press = Event("test", "sam", EventKind.PRESS, choice_id="begin", turn=shown)
    first, second = await asyncio.gather(engine.handle(press), engine.handle(press))
    assert sorted([first.applied, second.applied]) == [False, True]
    assert {first.state, second.state} == {"who"}
    saved = await engine.store.load("test", "sam")
    assert saved is not None and saved.turn == shown + 1 and len(saved.history) == 1


async def test_typed_number_label_typo_and_synonym_all_answer(person):
    await answer_safety_questions_no(person)
    await person.send("2")
    assert person.last.state == "pain_worse"
    await person.send("Squating")  # a typo: a pick, and more may follow
    assert person.last.state == "pain_worse" and "So far: Squatting" in person.text
    await person.send("that's all")
    assert person.last.state == "pain_duration"
    saved = await person.engine.store.load("test", "alex")
    assert saved is not None and saved.facts["worse_with"] == ["squats"]
    await person.send("More than 3 months")
    assert person.last.state == "pain_level"


async def test_keyword_in_a_sentence_gives_the_link_and_keeps_the_place(person):
    await answer_safety_questions_no(person)
    reply = await person.send("could I book an appointment?")
    links = [link for message in reply.messages for link in message.links]
    assert links and "utm_source=test" in links[0].url
    assert reply.state == "pain_where" and person.choice_ids[-1] == "unsure"


async def test_pain_level_is_validated_and_reasked(person):
    await answer_safety_questions_no(person)
    for answer in ("front", "stairs", "done", "weeks"):
        await person.click(answer)
    await person.send("twelve")
    assert person.last.state == "pain_level" and "12 is outside the range" in person.text
    assert "a number from 0 to 10" in person.text
    await person.send("15")
    assert person.last.state == "pain_level"
    await person.send("8")
    assert person.last.state == "imaging"
    saved = await person.engine.store.load("test", "alex")
    assert saved is not None and saved.facts["pain_level"] == 8


async def test_reply_says_when_the_question_wants_typing(person):
    await answer_safety_questions_no(person)
    assert not person.last.expects_text
    for answer in ("front", "stairs", "done", "weeks"):
        await person.click(answer)
    assert person.last.state == "pain_level" and person.last.expects_text


async def test_back_undoes_the_last_answer_and_its_scores(person):
    await answer_safety_questions_no(person)
    await person.click("inside")
    await person.send("back")
    assert person.last.state == "pain_where"
    saved = await person.engine.store.load("test", "alex")
    assert saved is not None and "pain_where" not in saved.facts
    assert "pain_where" not in saved.answers


async def test_back_at_the_first_question_says_there_is_nothing_to_undo(person):
    await person.send("/start")
    await person.send("/back")
    assert "no earlier answer" in person.text and person.last.state == "welcome"


async def test_restart_of_the_process_resumes_where_the_person_was(settings: Settings):
    first = DialogClient(build_engine(settings), "kim")
    await answer_safety_questions_no(first)
    await first.click("outside")
    await first.engine.store.close()

    second = DialogClient(build_engine(settings), "kim")
    await second.send("Running")
    reply = await second.send("done")
    assert reply.state == "pain_duration"
    saved = await second.engine.store.load("test", "kim")
    assert saved is not None and saved.facts == {
        "who": "self", "age": "adult", "injury": "none", "swelling": "none", "calf": "none",
        "pain_where": "outside", "worse_with": ["running"],
    }
    await second.engine.store.close()


async def test_forget_deletes_the_conversation_after_confirmation(person):
    await answer_safety_questions_no(person)
    await person.send("/forget")
    assert person.choice_ids == ["forget_yes", "forget_no"]
    assert await person.engine.store.load("test", "alex") is not None
    await person.click("forget_yes")
    assert person.last.state == "forgotten"
    assert await person.engine.store.load("test", "alex") is None


async def test_forget_can_be_declined_and_nothing_is_lost(person):
    await answer_safety_questions_no(person)
    await person.send("/forget")
    await person.click("forget_no")
    assert person.last.state == "pain_where" and "nothing was deleted" in person.text


async def test_cancel_clears_answers_and_start_begins_again(person):
    await answer_safety_questions_no(person)
    await person.click("front")
    await person.send("/cancel")
    saved = await person.engine.store.load("test", "alex")
    assert saved is not None and saved.flow is None and saved.answers == {}
    await person.send("/start")
    assert person.last.state == "welcome"


async def test_deep_link_payload_is_recorded_as_the_source(person):
    await person.send("/start knee")
    assert person.last.state == "welcome"
    saved = await person.engine.store.load("test", "alex")
    assert saved is not None and saved.source == "knee"


async def test_start_book_payload_answers_with_the_booking_link(person):
    reply = await person.send("/start book")
    links = [link.url for message in reply.messages for link in message.links]
    assert any("utm_medium=chatbot" in url for url in links)


async def test_stickers_and_unknown_commands_keep_the_question(person):
    await answer_safety_questions_no(person)
    reply = await person.send_unsupported()
    assert reply.state == "pain_where" and len(reply.messages) == 2
    reply = await person.send("/teleport")
    assert "/teleport" in person.text and reply.state == "pain_where"


async def test_practice_name_with_markup_characters_is_printed_literally(tmp_path):
    settings = load_settings(data_dir=tmp_path, practice={"name": "*Knees_R_Us* [PT](x)"})
    engine = build_engine(settings)
    reply = await DialogClient(engine, "x").send("/start")
    spans = parse(reply.messages[0].text)
    assert any(span.kind == "bold" and span.text == "*Knees_R_Us* [PT](x)" for span in spans)
    assert not any(span.kind == "link" for span in spans)
    await engine.store.close()


@pytest.mark.parametrize(("typed", "stored"), [
    ("0", 0), ("1", 1), ("2", 2), ("10", 10), ("7/10", 7), ("11", None), ("-1", None),
])
async def test_a_typed_pain_score_is_the_score_never_the_button_of_that_number(
    person, typed: str, stored: int | None
) -> None:
    await answer_safety_questions_no(person)
    for choice in ("behind", "unsure", "long"):
        await person.click(choice)
    assert person.last.state == "pain_level"
    await person.send(typed)
    conversation = await person.engine.store.load(person.channel, person.user_id)
    assert conversation is not None
    if stored is None:  # out of range: asked again, nothing skipped
        assert person.last.state == "pain_level" and "pain_level" not in conversation.facts
    else:
        assert person.last.state == "imaging" and conversation.facts["pain_level"] == stored

"""The Telegram channel end to end: `TelegramChannel` started by the one runner (bot/run.py),
the real python-telegram-bot Application over real HTTP, against a fake Bot API on 127.0.0.1
(tests/fakes/telegram/)."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import astuple, dataclass, field
from pathlib import Path
from subprocess import PIPE
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from bot.channels.telegram.render import RENDERED_KEPT, SPLIT_AT, callback_data, html_chunks
from bot.cli import main
from bot.core.effects import Address, StaffNotice
from bot.core.events import Event, Reply
from bot.core.markup import parse
from bot.engine.personal import FORGET_NO, FORGET_YES
from bot.run import Runner, serve_until_stopped
from bot.settings import Settings
from bot.turns.runner import TurnRunner
from tests.conftest import HIP_MOBILITY_RUN, SAFETY_QUESTIONS_NO_INJURY, TO_PAIN_QUESTIONS
from tests.fakes.telegram import (
    BOT_USERNAME,
    PICK_MARK,
    SCREENING_BY_BUTTONS,
    SECRET_HEADER,
    TOKEN,
    FakeTelegram,
    Person,
    SentMessage,
    parse_html,
)
from tests.harness.flows import project_with_hip_flow
from tests.harness.logs import (
    CONTACT_DETAILS,
    EMAIL,
    LIBRARY_LOGGERS,
    NAME,
    PHONE,
    PHONE_TYPED,
    log_leaks,
)
from tests.harness.ports import free_port
from tests.harness.telegram import (
    RunningBot,
    bot_running,
    local_url,
    start_bot,
    start_to_pain_questions,
    telegram_settings,
    texts,
    webhook_settings,
)

# python-telegram-bot warns about its own RetryAfter internals when a 429 arrives.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")

ROOT = Path(__file__).resolve().parent.parent
MENU = [  # at least these, from dialogs/commands.yaml and the knee flow's entry
    "start", "knee", "contact", "restart", "stop", "help", "about", "book", "youtube", "podcast",
    "forget",
]


# -- harness ----------------------------------------------------------------------------------


@pytest.fixture
def settings(tmp_path: Path, telegram: FakeTelegram) -> Settings:
    return telegram_settings(tmp_path, telegram)


@pytest.fixture
async def bot(settings: Settings, telegram: FakeTelegram) -> AsyncIterator[RunningBot]:
    async with bot_running(settings, telegram) as running:
        yield running


@pytest.fixture
def alex(bot: RunningBot) -> Person:
    return bot.person()


async def start_to_first_safety_question(person: Person) -> list[SentMessage]:
    """/start, for oneself, no recent injury: what the bot sent for the last press."""
    await person.send("/start")
    await person.press("Let's start")
    await person.press("Me")
    await person.press("18 to 54")
    await person.press("No")  # no recent injury
    await person.press("No swelling")
    return await person.press("No")  # no calf symptom: the first safety question


def url_buttons(message: SentMessage) -> dict[str, str]:
    return {b["text"]: b["url"] for b in message.buttons if "url" in b}


def visible(light_markup: str) -> str:
    """The text a person reads, without styles or link addresses."""
    return "".join(span.text for span in parse(light_markup))


@dataclass
class RecordingOutbox:
    """Another channel's outbox, as the engine sees it: it keeps what it was asked to send."""

    delivered: list[tuple[Address, Reply]] = field(default_factory=list)

    async def deliver(self, address: Address, reply: Reply) -> None:
        self.delivered.append((address, reply))

    @property
    def texts(self) -> list[str]:
        return [message.text for _, reply in self.delivered for message in reply.messages]


# -- screenings -------------------------------------------------------------------------------


async def test_person_screened_by_buttons_sees_likely_contributors_and_links(
    telegram: FakeTelegram, alex: Person, bot: RunningBot
) -> None:
    welcome = await alex.send("/start")
    assert "knee-pain check" in texts(welcome)
    assert alex.question.labels == ["Let's start", "What will you ask?", "Not now"]

    for label in SCREENING_BY_BUTTONS:
        question = alex.question
        answer = ", ".join(question.picked) if label == "Done" else label
        new = await alex.press(label)
        if not new:  # a pick in a pick-several question: the same message, ticked
            assert alex.question is question and f"{PICK_MARK}{label}" in question.labels
            continue
        assert question.reply_markup is None, "the answered question keeps no keyboard"
        assert question.text.endswith(f"Your answer: {answer}"), "the question shows the answer"

    result = alex.received[-1]
    assert "likely contributors" in result.text
    assert {"type": "bold", "offset": 0, "length": len("Your knee check is done. Thank you!")} in (
        result.entities
    )
    links = url_buttons(result)
    assert set(links) == {
        "Watch on YouTube",
        "Listen to Highly Functional",
        "Book a complimentary call",
    }
    assert parse_qs(urlsplit(links["Book a complimentary call"]).query)["utm_source"] == [
        "telegram"
    ]
    rows = result.reply_markup["inline_keyboard"]
    assert [b["text"] for b in rows[0]] == ["Book a complimentary call"], "booking: first row"
    assert [b["text"] for row in rows[1:] for b in row][-2:] == [
        "Watch on YouTube", "Listen to Highly Functional"], "the other links follow"
    assert len(telegram.answered_queries) == len(SCREENING_BY_BUTTONS), "every spinner stopped"
    assert await bot.state_of(alex) == "result"


async def test_person_who_types_answers_is_understood(alex: Person, bot: RunningBot) -> None:
    typed = ["hi there", "let's go", "me", "adult", "nope", "no swelling", "no"]
    typed += ["no"] * len(SAFETY_QUESTIONS_NO_INJURY)
    typed += ["kneecap", "squatting", "done", "years", "7/10", "nope", "yeah", "idk"]
    typed += ["spartan and gym", "done", "yep", "nope", "no", "ok", "my arch flattens"]
    typed += ["heel lifted", "1, 3", "done", "y", "wobbly"]
    for text in typed:
        await alex.send(text)

    assert "likely contributors" in alex.received[-1].text
    assert await bot.state_of(alex) == "result"
    facts = (await bot.conversation_of(alex)).facts
    assert facts["worse_with"] == ["squats"] and facts["activity"] == ["ocr", "lifting"]
    assert facts["squat"] == ["hips_tight", "knees_in"], "typed picks add up until done"
    assert all(message.edits == 0 for message in alex.received), "typed answers edit nothing"
    for text in ("ask the practice to contact me", "yes", "Alex", "alex@example.com"):
        await alex.send(text)  # the result's action, typed: where leads are captured
    assert await bot.state_of(alex) == "contact_saved"


async def test_person_with_a_red_flag_is_sent_to_a_doctor_not_a_sales_call(alex: Person) -> None:
    await start_to_first_safety_question(alex)
    advice = await alex.press("Yes")  # a hot, swollen knee

    assert "emergency care now" in texts(advice)
    assert not any(message.buttons for message in advice), "no booking button, no more questions"


# -- pick-several questions ---------------------------------------------------------------------


async def test_person_picks_several_answers_on_one_message_then_presses_done(
    telegram: FakeTelegram, alex: Person, bot: RunningBot
) -> None:
    await start_to_pain_questions(alex)
    assert alex.question.rows[0] == ["Front, around the kneecap"]
    await alex.press("Inside of the knee")
    question = alex.question
    text, turn, seen = question.text, question.turn, len(alex.received)
    assert question.rows[-1] == ["Done"], "Done has the last row to itself"
    assert question.picked == []

    assert await alex.press("Stairs") == [], "a pick sends no new message"
    assert (question.edits, question.picked, question.turn) == (1, ["Stairs"], turn + 1)
    assert await alex.press("Running") == []
    assert (question.edits, question.picked, question.turn) == (2, ["Stairs", "Running"], turn + 2)
    assert question.text == text, "the question itself is unchanged: only its buttons are ticked"
    assert await bot.state_of(alex) == "pain_worse"
    assert (await bot.conversation_of(alex)).selection == ["stairs", "running"]

    (next_question,) = await alex.press("Done")

    assert question.text.endswith("Your answer: Stairs, Running")
    assert question.reply_markup is None
    assert "How long have you had this knee pain?" in next_question.text
    assert len(alex.received) == seen + 1
    assert (await bot.conversation_of(alex)).facts["worse_with"] == ["stairs", "running"]
    assert len(telegram.answered_queries) == len(TO_PAIN_QUESTIONS) + 4, "every spinner stopped"


async def test_person_who_unpicks_an_answer_or_picks_nothing_is_not_answered_for(
    alex: Person, bot: RunningBot
) -> None:
    await start_to_pain_questions(alex)
    await alex.press("Front, around the kneecap")
    question = alex.question

    await alex.press("Kneeling")
    await alex.press(f"{PICK_MARK}Kneeling")
    assert question.picked == [] and question.edits == 2
    labels = question.labels
    nudge, again = await alex.press("Done")

    assert "pick at least one" in nudge.text and again.labels == labels
    assert question.reply_markup is None, "only the newest copy of the question keeps buttons"
    await alex.press("Not sure")  # answers on its own: nothing else can be picked with it
    assert (await bot.conversation_of(alex)).facts["worse_with"] == ["unsure"]
    assert await bot.state_of(alex) == "pain_duration"


async def test_press_on_a_pick_from_before_the_last_edit_changes_nothing(
    telegram: FakeTelegram, alex: Person, bot: RunningBot
) -> None:
    await start_to_pain_questions(alex)
    await alex.press("Inside of the knee")
    question = alex.question
    running_before_the_edit = question.button("Running")["callback_data"]
    await alex.press("Stairs")
    turn = (await bot.conversation_of(alex)).turn

    stale = await alex.act(telegram.press_update(alex.user, question, running_before_the_edit))

    note, again = stale
    assert "earlier question" in note.text
    assert again.picked == ["Stairs"], "the current picks, shown again"
    conversation = await bot.conversation_of(alex)
    assert (conversation.turn, conversation.selection) == (turn, ["stairs"]), "nothing changed"
    assert question.reply_markup is None, "the pressed copy lost its buttons; one copy is live"
    await alex.press("Done")
    assert (await bot.conversation_of(alex)).facts["worse_with"] == ["stairs"]


async def test_double_tap_on_a_pick_picks_it_once(
    telegram: FakeTelegram, alex: Person, bot: RunningBot
) -> None:
    await start_to_pain_questions(alex)
    await alex.press("Inside of the knee")
    question = alex.question
    data = question.button("Squatting")["callback_data"]
    seen = len(alex.received)

    first = await telegram.push(telegram.press_update(alex.user, question, data))
    second = await telegram.push(telegram.press_update(alex.user, question, data))
    await asyncio.gather(bot.handled.wait(first), bot.handled.wait(second))

    assert len(alex.received) == seen and question.edits == 1
    assert question.picked == ["Squatting"], "the second tap did not unpick it"
    assert (await bot.conversation_of(alex)).selection == ["squats"]


async def test_pick_on_a_message_telegram_cannot_edit_comes_as_a_new_message(
    telegram: FakeTelegram, alex: Person, bot: RunningBot
) -> None:
    await start_to_pain_questions(alex)
    await alex.press("Inside of the knee")
    question = alex.question
    telegram.fail("editMessageText", 400, "Bad Request: message to edit not found")

    (again,) = await alex.press("Walking or hiking")

    assert again.picked == ["Walking or hiking"] and again.rows[-1] == ["Done"]
    assert question.edits == 0
    await alex.press("Done")  # on the new message
    assert (await bot.conversation_of(alex)).facts["worse_with"] == ["walking"]


async def test_person_who_types_several_answers_at_once_moves_on(
    alex: Person, bot: RunningBot
) -> None:
    await start_to_pain_questions(alex)
    await alex.send("inside")

    picked = await alex.send("1, 3")
    reply = await alex.send("done")

    assert "So far: Stairs, Running" in texts(picked), "the running selection, shown"
    assert "How long have you had this knee pain?" in texts(reply)
    assert (await bot.conversation_of(alex)).facts["worse_with"] == ["stairs", "running"]


# -- deep links, commands, groups -------------------------------------------------------------


async def test_person_from_a_knee_deep_link_starts_the_screening(
    alex: Person, bot: RunningBot
) -> None:
    welcome = await alex.send("/start knee")

    assert "knee-pain check" in texts(welcome)
    conversation = await bot.engine.store.load("telegram", str(alex.user_id))
    assert conversation is not None and conversation.source == "knee"


async def test_person_from_a_book_deep_link_gets_the_booking_button(
    alex: Person, bot: RunningBot
) -> None:
    booking = await alex.send(f"/start@{BOT_USERNAME} book")

    assert "Book a complimentary call" in texts(booking)
    link = url_buttons(booking[0])["Book a complimentary call"]
    assert link.startswith(bot.engine.settings.practice.booking_url)
    conversation = await bot.engine.store.load("telegram", str(alex.user_id))
    assert conversation is not None and conversation.source == "book"


async def test_private_chats_show_every_command_and_groups_only_those_that_work_there(
    telegram: FakeTelegram, tmp_path: Path
) -> None:
    older = [{"command": "cancel", "description": "Cancel"}]  # what an older version set
    telegram.command_scopes["default"] = older
    async with bot_running(telegram_settings(tmp_path, telegram), telegram) as bot:
        registry = bot.engine.commands
        private, groups = telegram.menu_in("private"), telegram.menu_in("supergroup")
        group = {"id": -1002, "type": "supergroup", "title": "Runners"}
        invitations = {name: await bot.person(503, chat=group).send(f"/{name}")
                       for name in groups}

    assert private == [command.name for command in registry.for_menu("telegram")]
    assert private[:2] == ["start", "knee"] and set(MENU) <= set(private)
    assert groups == [c.name for c in registry.for_menu("telegram", groups=True)]
    assert groups == ["start", "help", "about", "book"], "groups: true in dialogs/commands.yaml"
    assert "default" not in telegram.command_scopes, "the older menu is gone from every chat"
    menu = telegram.command_scopes["all_private_chats"]
    assert all(command["description"] for command in menu)
    for name, (invitation,) in invitations.items():  # each one is carried to the private chat
        (link,) = url_buttons(invitation).values()
        assert "?start=" in link and "again" not in invitation.text, name


async def test_person_opening_the_bot_reads_what_it_does_and_that_it_is_not_medical_advice(
    telegram: FakeTelegram, tmp_path: Path
) -> None:
    settings = telegram_settings(tmp_path, telegram, practice={"name": "Fix & Move <PT>"})
    async with bot_running(settings, telegram):
        pass
    async with bot_running(settings, telegram):  # a restart sets nothing again
        pass

    description = telegram.descriptions["description"]
    short = telegram.descriptions["short_description"]
    assert "knee pain" in description.lower() and "Fix & Move <PT>" in description
    assert "isn't medical advice" in description and "Start" in description
    assert "Fix & Move <PT>" in short and "Not medical advice" in short
    assert len(description) <= 512 and len(short) <= 120
    assert "**" not in description + short, "plain text: no markup shows"
    assert len(telegram.calls_to("setMyDescription")) == 1
    assert len(telegram.calls_to("setMyShortDescription")) == 1
    assert len(telegram.calls_to("setMyCommands")) == 2, "private chats and groups, once"


async def test_a_practice_name_too_long_for_the_profile_is_cut_and_the_bot_still_starts(
    telegram: FakeTelegram, tmp_path: Path
) -> None:
    name = "Physical Therapy " * 30  # over 500 characters
    settings = telegram_settings(tmp_path, telegram, practice={"name": name})
    async with bot_running(settings, telegram) as bot:
        alex = bot.person()
        await alex.send("/start")

    assert 0 < len(telegram.descriptions["description"]) <= 512
    assert 0 < len(telegram.descriptions["short_description"]) <= 120
    assert telegram.descriptions["description"].endswith("…")
    assert alex.question.labels[0] == "Let's start"


async def test_a_refused_profile_leaves_the_bot_answering(
    telegram: FakeTelegram, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    telegram.fail("setMyDescription", 400, "Bad Request: description is too long")
    telegram.fail("setMyCommands", 400, "Bad Request: BOT_COMMAND_INVALID")
    async with bot_running(telegram_settings(tmp_path, telegram), telegram) as bot:
        alex = bot.person()
        welcome = await alex.send("/start")

    assert "knee-pain check" in texts(welcome)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("descriptions were not set" in w for w in warnings)
    assert any("command menus were not set" in w for w in warnings)


async def test_stop_is_one_word_in_the_menu_the_help_and_the_reply_to_cancel(
    telegram: FakeTelegram, alex: Person, bot: RunningBot
) -> None:
    menu = {c["command"]: c["description"] for c in telegram.command_scopes["all_private_chats"]}
    await alex.send("/start")
    help_ = texts(await alex.send("/help"))
    stopped = texts(await alex.send("/cancel"))  # the old word still works

    assert "stop" in menu and "cancel" not in menu and menu["stop"].startswith("Stop")
    assert "stop: stop the check" in help_ and "cancel" not in help_.lower()
    assert "stopped the check" in stopped and "cancel" not in stopped.lower()
    assert {"about", "help"} <= set(menu)


async def test_person_who_types_something_unclear_is_told_to_tap_a_button_or_type(
    alex: Person, bot: RunningBot
) -> None:
    await start_to_first_safety_question(alex)

    (reask,) = await alex.send("purple elephant")
    help_ = texts(await alex.send("/help"))

    assert "tap a button or type your answer" in reask.text
    assert "number" not in reask.text, "Telegram's buttons carry no numbers"
    assert "You can tap a button or type your answer" in help_ and "number" not in help_
    assert "Safety question 1" not in reask.text, "a short re-ask, not the question again"


async def test_short_answers_share_a_row_and_long_ones_have_a_row_each(
    alex: Person, bot: RunningBot
) -> None:
    shown = []
    await alex.send("/start")
    for label in ("Let's start", "Me", "18 to 54", "No", "No swelling", "No"):
        shown.append(alex.question.rows)
        await alex.press(label)
    welcome, who, _age, injury, _swelling, _calf = shown

    assert alex.question.rows == [["Yes", "No", "Not sure"]], "three short ones: one row"
    assert who == [["Me"], ["My child (under 18)"], ["Another adult"]]
    assert welcome == [["Let's start"], ["What will you ask?"], ["Not now"]]
    assert injury == [["Yes, in the last 7 days"], ["Yes, 1 to 6 weeks ago"], ["No"],
                      ["Not sure"]], "one long label puts every answer on a row of its own"


async def test_buttons_and_answer_lines_read_as_words_to_a_screen_reader(
    telegram: FakeTelegram, alex: Person, bot: RunningBot
) -> None:
    await alex.send("/start")
    for choice_id in (*TO_PAIN_QUESTIONS, *HIP_MOBILITY_RUN):
        await alex.choose(choice_id)
    await alex.send("/forget")

    calls = [*telegram.calls_to("sendMessage"), *telegram.calls_to("editMessageText")]
    keyboards = [call["reply_markup"] for call in calls if call.get("reply_markup")]
    labels = [b["text"] for k in keyboards for row in k["inline_keyboard"] for b in row]
    assert "Not sure, or couldn't try it" in labels and "Yes, delete everything" in labels
    assert not [label for label in labels if "/" in label or "»" in label]
    assert not [m.text for m in alex.received if "»" in m.text]
    assert any(m.text.endswith("Your answer: Me") for m in alex.received)


async def test_a_new_flow_from_yaml_gets_its_menu_command_and_runs_in_the_private_chat(
    telegram: FakeTelegram, tmp_path: Path
) -> None:
    project = project_with_hip_flow(tmp_path / "project")
    settings = telegram_settings(tmp_path, telegram, dialogs_dir=project / "dialogs",
                                 templates_dir=project / "templates")
    async with bot_running(settings, telegram) as bot:
        sam = bot.person(user_id=611, first_name="Sam")
        await sam.send("/hipcheck")
        await sam.press("Let's go")
        await sam.press("Stiff in the morning")
        menu = telegram.command_scopes["all_private_chats"]
        described = {c["command"]: c["description"] for c in menu}
        assert described["hipcheck"] == "Start the two-question hip check"
        assert "hip check" in sam.received[0].text
        assert "Morning stiffness" in sam.received[-1].text
        assert "Watch on YouTube" in url_buttons(sam.received[-1])
        assert (await bot.conversation_of(sam)).state == "hip_stiff_result"


async def test_person_in_a_group_is_moved_to_a_private_chat(
    telegram: FakeTelegram, bot: RunningBot
) -> None:
    group = {"id": -1001, "type": "supergroup", "title": "Knee club"}
    sam = bot.person(502, chat=group)

    invitation = await sam.send(f"/knee@{BOT_USERNAME}")
    chatter = await sam.send("my knee hurts when I run")
    other_bot = await sam.send("/start@SomeOtherBot")
    keyboard = {"inline_keyboard": [[{"text": "Let's start", "callback_data": "1|begin"}]]}
    forged = SentMessage(group["id"], 1, "Ready?", [], keyboard)
    press = await sam.press("Let's start", on=forged)

    (message,) = invitation
    assert "private chat" in message.text
    assert url_buttons(message) == {
        "Continue in a private chat": f"https://t.me/{BOT_USERNAME}?start=knee"
    }
    assert chatter == other_bot == press == [], "the bot answers only its own commands in groups"
    assert telegram.answered_queries, "the press in the group still stopped its spinner"
    assert await bot.engine.store.load("telegram", "502") is None, "nothing screened in a group"


async def test_person_who_sends_stickers_photos_voice_or_files_gets_a_friendly_reply(
    alex: Person, bot: RunningBot
) -> None:
    await start_to_first_safety_question(alex)
    file = {"file_id": "f1", "file_unique_id": "u1"}
    contents = [
        {
            "sticker": file
            | {
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "type": "regular",
            }
        },
        {"photo": [file | {"width": 90, "height": 90}]},
        {"voice": file | {"duration": 3}},
        {"document": file},
    ]
    for content in contents:
        reply = await alex.send_content(**content)
        assert "can only read text" in reply[0].text
        assert "Safety question 1" in reply[-1].text, "the question comes back"

    assert await bot.state_of(alex) == "rf_after_procedure"


async def test_person_who_edits_a_message_or_writes_an_essay_loses_nothing(
    alex: Person, bot: RunningBot
) -> None:
    await start_to_first_safety_question(alex)

    edited = await alex.edit("yes")
    essay = await alex.send("It started years ago when I was hiking. " * 100)

    assert "edited a message" in texts(edited)
    assert "short answers" in texts(essay)
    assert await bot.state_of(alex) == "rf_after_procedure", "neither changed an answer"


async def test_person_who_forgets_everything_confirms_with_buttons(
    alex: Person, bot: RunningBot
) -> None:
    await alex.send("/start")
    await alex.send("/forget")

    assert alex.question.buttons[0]["callback_data"].endswith(FORGET_YES)
    assert alex.question.buttons[1]["callback_data"].endswith(FORGET_NO)
    await alex.press("Yes, delete everything")
    assert await bot.engine.store.load("telegram", str(alex.user_id)) is None


@pytest.mark.parametrize("confirm", ["button", "typed"])
async def test_a_forgotten_person_leaves_nothing_rendered_in_the_process(
    alex: Person, bot: RunningBot, confirm: str
) -> None:
    html_chunks.cache_clear()
    await start_to_first_safety_question(alex)
    questions, answer_lines = bot.channel.sender.questions, bot.channel.handlers.answer_line
    assert alex.user_id in questions
    assert html_chunks.cache_info().currsize > 0 and answer_lines.cache_info().currsize > 0

    await alex.send("/forget")
    if confirm == "button":
        await alex.press("Yes, delete everything")
    else:
        await alex.send("Yes, delete everything")

    assert await bot.engine.store.load("telegram", str(alex.user_id)) is None
    assert alex.user_id not in questions
    assert html_chunks.cache_info().currsize == 0
    assert answer_lines.cache_info().currsize == 0


async def test_someone_who_keeps_their_data_keeps_what_was_rendered(
    alex: Person, bot: RunningBot
) -> None:
    await start_to_first_safety_question(alex)
    await alex.send("/forget")
    await alex.press("No, keep going")

    assert alex.user_id in bot.channel.sender.questions
    assert html_chunks.cache_info().currsize > 0


# -- stale and double presses -----------------------------------------------------------------


async def test_person_who_presses_an_old_button_sees_current_question(
    alex: Person, bot: RunningBot
) -> None:
    await start_to_first_safety_question(alex)
    first_safety_question = alex.question
    await alex.send("no")

    reply = await alex.press("Yes", on=first_safety_question)

    assert "earlier question" in reply[0].text
    assert "Safety question 2" in reply[-1].text
    assert first_safety_question.reply_markup is None, "the old keyboard is gone"
    assert await bot.state_of(alex) == "rf_cauda_equina", "the old 'Yes' was not applied"


async def test_person_who_double_taps_a_button_moves_on_once(
    telegram: FakeTelegram, alex: Person, bot: RunningBot
) -> None:
    await start_to_first_safety_question(alex)
    question = alex.question
    assert question.rows == [["Yes", "No", "Not sure"]], "short choices share a row"
    data = question.button("No")["callback_data"]
    seen = len(alex.received)

    first = await telegram.push(telegram.press_update(alex.user, question, data))
    second = await telegram.push(telegram.press_update(alex.user, question, data))
    await asyncio.gather(bot.handled.wait(first), bot.handled.wait(second))

    new = alex.received[seen:]
    assert [m.text.splitlines()[0] for m in new] == ["Safety question 2 of 9"]
    assert await bot.state_of(alex) == "rf_cauda_equina"
    assert len(telegram.answered_queries) == 8, "both taps stopped their spinner"


async def test_press_answered_too_late_for_telegram_still_counts(
    telegram: FakeTelegram, alex: Person, bot: RunningBot
) -> None:
    await alex.send("/start")
    telegram.fail(
        "answerCallbackQuery",
        400,
        "Bad Request: query is too old and response timeout expired or query ID is invalid",
    )

    reply = await alex.press("Let's start")

    assert "who is this knee check for" in texts(reply)
    assert await bot.state_of(alex) == "who"


# -- flood limits, outages, restarts ----------------------------------------------------------


async def test_flood_limit_mid_conversation_is_waited_out_and_no_reply_is_lost(
    telegram: FakeTelegram, alex: Person
) -> None:
    await start_to_first_safety_question(alex)
    telegram.fail("sendMessage", 429, retry_after=1)

    reply = await alex.press("No")

    assert [m.text.splitlines()[0] for m in reply] == ["Safety question 2 of 9"]
    sent = [call["text"] for call in telegram.calls_to("sendMessage")]
    assert sent[-1] == sent[-2], "the refused message was sent again"


async def test_polling_carries_on_after_a_telegram_server_error(
    telegram: FakeTelegram, alex: Person
) -> None:
    await alex.send("/start")
    telegram.fail("getUpdates", 502, "Bad Gateway")
    await alex.press("Let's start")  # fetched by the poll already waiting

    reply = await alex.press("Me")  # needs the poll after the failed one

    assert "How old are you?" in texts(reply)


async def test_person_whose_bot_restarted_mid_screening_carries_on(
    telegram: FakeTelegram, settings: Settings
) -> None:
    async with bot_running(settings, telegram) as first_run:
        alex = first_run.person()
        await start_to_first_safety_question(alex)
        await alex.press("No")
        question_before_restart = alex.question

    async with bot_running(settings, telegram) as second_run:
        alex.wait_handled = second_run.handled.wait
        reply = await alex.press("No", on=question_before_restart)

        assert "Safety question 3" in texts(reply)
        assert await second_run.state_of(alex) == "rf_worsening_weakness"


@pytest.mark.parametrize("webhook", [False, True], ids=["polling", "webhook"])
async def test_stopping_while_updates_are_in_flight_answers_every_one_first(
    telegram: FakeTelegram, tmp_path: Path, webhook: bool
) -> None:
    settings = (webhook_settings if webhook else telegram_settings)(tmp_path, telegram)
    bot = await start_bot(settings, telegram, webhook)
    try:
        people = [bot.person(600 + n) for n in range(4)]
        telegram.slow_down("sendMessage", 0.3)
        pushed = [
            await telegram.push(telegram.message_update(p.user, p.chat, text="/start"))
            for p in people
        ]
        first = people[0]  # a second update from the same person waits behind the first
        pushed.append(await telegram.push(telegram.message_update(first.user, first.chat,
                                                                  text="/help")))
        await telegram.wait_for_calls("sendMessage", len(people))  # every chat mid-reply
        assert not bot.handled.ids, "nothing was finished before the stop"
    finally:
        await bot.runner.stop()

    assert bot.handled.ids == set(pushed), "every update taken was handled before stop returned"
    for person in people:
        assert "knee-pain check" in texts(person.received[:1])
    assert "Here's what I can do" in texts(first.received), "the one waiting behind, too"


@pytest.mark.process
async def test_bot_process_stops_on_sigterm_and_picks_up_after_a_restart(
    telegram: FakeTelegram, tmp_path: Path
) -> None:
    env = os.environ | {
        "BOT_TELEGRAM_TOKEN": TOKEN,
        "BOT_TELEGRAM_BASE_URL": telegram.base_url,
        "BOT_DATA_DIR": str(tmp_path / "data"),
        "BOT_WEB_PORT": "0",
    }
    alex = Person(telegram, wait_handled=lambda update_id: asyncio.sleep(0), user_id=503)

    async def bot_process_says(text: str | None, press: str | None, expected: str) -> int:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "telegram", cwd=ROOT, env=env, stderr=PIPE
        )
        count = len(alex.received) + 1
        await (alex.send(text) if text else alex.press(press or ""))
        await telegram.wait_for_messages(alex.user_id, count, timeout=20)
        assert expected in alex.received[-1].text
        process.send_signal(signal.SIGTERM)
        _, stderr = await process.communicate()
        assert TOKEN not in stderr.decode() and "Traceback" not in stderr.decode()
        return process.returncode

    assert await bot_process_says("/start", None, "knee-pain check") == 0
    assert await bot_process_says(None, "Let's start", "who is this knee check for") == 0


@pytest.mark.process
async def test_sigterm_while_people_wait_for_answers_answers_them_then_exits_0(
    telegram: FakeTelegram, tmp_path: Path
) -> None:
    env = os.environ | {
        "BOT_TELEGRAM_TOKEN": TOKEN,
        "BOT_TELEGRAM_BASE_URL": telegram.base_url,
        "BOT_DATA_DIR": str(tmp_path / "data"),
        "BOT_WEB_PORT": "0",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "telegram", cwd=ROOT, env=env, stderr=PIPE
    )
    try:
        await telegram.wait_for_calls("getUpdates", 1, timeout=20)  # polling: it is running
        people = [Person(telegram, lambda _: asyncio.sleep(0), 700 + n) for n in range(3)]
        telegram.slow_down("sendMessage", 0.5)
        for person in people:
            await telegram.push(telegram.message_update(person.user, person.chat, text="/start"))
        await telegram.wait_for_calls("sendMessage", len(people), timeout=20)
        process.send_signal(signal.SIGTERM)
        _, stderr = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    assert process.returncode == 0, stderr.decode()
    for person in people:
        assert "knee-pain check" in texts(person.received)


# -- webhook mode -----------------------------------------------------------------------------


async def test_webhook_takes_updates_with_the_secret_and_refuses_all_others(
    telegram: FakeTelegram, tmp_path: Path
) -> None:
    settings = webhook_settings(tmp_path, telegram)
    async with bot_running(settings, telegram, webhook=True) as bot:
        assert (telegram.webhook_url, telegram.webhook_secret) == (
            "https://bot.practice.test/telegram", "right-webhook-secret-7Qx"
        )
        alex = bot.person()
        welcome = await alex.send("/start")
        assert "knee-pain check" in texts(welcome)

        update = telegram.message_update(alex.user, alex.chat, text="/start") | {"update_id": 9000}
        webhook = local_url(settings, "/telegram")
        async with aiohttp.ClientSession() as client:
            wrong = await client.post(webhook, json=update, headers={SECRET_HEADER: "guess"})
            missing = await client.post(webhook, json=update)
            health = await client.get(local_url(settings, "/healthz"))

        assert (wrong.status, missing.status, health.status) == (403, 403, 200)
        await telegram.webhook_settled()
        assert telegram.webhook_answers == [200]
        await asyncio.sleep(0.1)
        assert 9000 not in bot.handled.ids and len(alex.received) == 1


async def test_webhook_refuses_updates_once_stopping_so_telegram_sends_them_again(
    telegram: FakeTelegram, tmp_path: Path
) -> None:
    settings = webhook_settings(tmp_path, telegram)
    bot = await start_bot(settings, telegram, webhook=True)
    alex = bot.person()
    await bot.channel.stop()  # the web server still runs: the route answers, but takes nothing
    try:
        await telegram.push(telegram.message_update(alex.user, alex.chat, text="/start"))
        await telegram.webhook_settled()
    finally:
        await bot.runner.stop()

    assert telegram.webhook_answers == [503], "Telegram keeps an update it gets no 200 for"
    assert telegram.webhook_url, "the webhook stays set for the next start"


# -- tokens -----------------------------------------------------------------------------------


def test_missing_token_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BOT_DATA_DIR", str(tmp_path / "data"))

    code = main(["telegram"])

    assert code == 2
    err = capsys.readouterr().err
    assert "BOT_TELEGRAM_TOKEN is not set" in err and "Traceback" not in err


async def test_rejected_token_is_a_clear_error_and_never_logged(
    telegram: FakeTelegram,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong_token = "987654:a-revoked-token-nobody-should-see"
    settings = telegram_settings(tmp_path, telegram, telegram_token=wrong_token)

    code = await serve_until_stopped(Runner(settings, only=["telegram"]))

    captured = capsys.readouterr()
    assert code == 1
    assert "rejected BOT_TELEGRAM_TOKEN" in captured.err and "Traceback" not in captured.err
    assert telegram.unauthorized == ["getMe"], "the token was really tried"
    assert caplog.records, "the library logged at debug level while trying"
    everything = captured.out + captured.err + caplog.text
    assert wrong_token not in everything and wrong_token.split(":")[1] not in everything


async def test_a_started_process_keeps_its_startup_objects_out_of_the_collectors_scans(
    tmp_path: Path, telegram: FakeTelegram
) -> None:
    gc.unfreeze()
    settings = telegram_settings(tmp_path, telegram)
    serving = asyncio.create_task(serve_until_stopped(Runner(settings, only=["telegram"])))
    try:
        async with asyncio.timeout(10):
            while not gc.get_freeze_count() and not serving.done():
                await asyncio.sleep(0.05)
        frozen = gc.get_freeze_count()
    finally:
        if not serving.done():  # its SIGTERM handler is in place until it returns
            os.kill(os.getpid(), signal.SIGTERM)
        code = await serving
        gc.unfreeze()

    assert code == 0
    assert frozen > 10_000  # the libraries, flows and templates loaded at start


# -- rendering --------------------------------------------------------------------------------


def test_long_messages_split_into_valid_html_under_the_limit() -> None:
    paragraph = "**Bold** words with <angle> & ampersands, _italic_ and [a link](https://x.test). "
    text = "\n\n".join(paragraph * 8 for _ in range(40))

    chunks = html_chunks(text)

    assert len(chunks) > 1
    parsed = [parse_html(chunk) for chunk in chunks]
    assert all(len(body) <= SPLIT_AT for body, _ in parsed)
    assert " ".join(" ".join(body.split()) for body, _ in parsed) == " ".join(visible(text).split())
    assert all(any(e["type"] == "text_link" for e in entities) for _, entities in parsed)


def test_a_message_is_rendered_once_and_only_the_latest_messages_are_kept() -> None:
    html_chunks.cache_clear()
    first = html_chunks("**Question** one?")

    assert html_chunks("**Question** one?") is first  # the same text is not read again
    assert first == ("<b>Question</b> one?",)
    for number in range(RENDERED_KEPT):
        html_chunks(f"Question {number}?")
    assert html_chunks.cache_info().currsize == RENDERED_KEPT  # at the limit, not above
    assert html_chunks("**Question** one?") is not first  # the least recent was let go
    html_chunks.cache_clear()


def test_every_choice_fits_telegram_callback_data(engine: TurnRunner) -> None:
    ids = [FORGET_YES, FORGET_NO]
    ids += [o.id for flow in engine.flows.values() for s in flow.states.values() for o in s.options]
    for choice_id in ids:
        assert len(callback_data(10**9, choice_id).encode()) <= 64


async def test_practice_name_with_html_characters_is_shown_literally(
    telegram: FakeTelegram, tmp_path: Path
) -> None:
    settings = telegram_settings(tmp_path, telegram, practice={"name": "Fix & <Move> *PT*"})
    async with bot_running(settings, telegram) as bot:
        welcome = await bot.person().send("/start")

    assert "Fix & <Move> *PT*" in texts(welcome)


# -- the outbox: reaching a person on their own -------------------------------------------------


async def test_a_reply_delivered_on_its_own_reaches_the_private_chat_with_live_buttons(
    bot: RunningBot, alex: Person
) -> None:
    reply = await bot.engine.handle(Event.from_text("telegram", str(alex.user_id), "/start"))

    await bot.channel.deliver(Address("telegram", str(alex.user_id)), reply)

    assert "knee-pain check" in texts(alex.received)
    assert alex.question.labels == ["Let's start", "What will you ask?", "Not now"]
    assert "who is this knee check for" in texts(await alex.press("Let's start"))


async def test_a_reply_to_a_person_who_blocked_the_bot_is_dropped_and_logged_by_kind_only(
    telegram: FakeTelegram, bot: RunningBot, alex: Person, caplog: pytest.LogCaptureFixture
) -> None:
    telegram.fail("sendMessage", 403, "Forbidden: bot was blocked by the user")
    address = Address("telegram", str(alex.user_id))
    reply = await bot.engine.handle(Event.from_text("telegram", str(alex.user_id), "/start"))
    assert reply.queued and await bot.engine.store.undelivered(*astuple(address)) == 1

    assert not await bot.engine.flush(address), "refused for good: not sent"

    assert alex.received == []
    assert await bot.engine.store.undelivered(*astuple(address)) == 0, "not retried forever"
    assert "dropped after 1 attempt(s): Forbidden" in caplog.text
    assert "knee-pain check" not in caplog.text, "never the message text"


# -- leads, staff chat and the relay ------------------------------------------------------------

STAFF_CHAT = {"id": -100777, "type": "supergroup", "title": "Practice staff"}


@pytest.fixture
async def staffed_bot(
    tmp_path: Path, telegram: FakeTelegram
) -> AsyncIterator[tuple[RunningBot, Person]]:
    """The bot with a staff chat, and a staff member in it."""
    settings = telegram_settings(tmp_path, telegram, staff_telegram_chat_id=STAFF_CHAT["id"])
    async with bot_running(settings, telegram) as running:
        staff = running.person(900, first_name="Dana", chat=STAFF_CHAT)
        yield running, staff


async def test_person_who_asks_to_be_contacted_is_a_lead_and_staff_see_it(
    telegram: FakeTelegram, staffed_bot: tuple[RunningBot, Person]
) -> None:
    bot, staff = staffed_bot
    alex = bot.person()
    await alex.send("/start")
    for label in SCREENING_BY_BUTTONS:
        await alex.press(label)
    await alex.press("Ask the practice to contact me")
    await alex.press("Yes, please contact me")
    await alex.send("Alex Kim")
    reasked = await alex.send("alex@")
    assert "email address" in texts(reasked)
    await alex.send("alex@example.com")

    (notice,) = staff.received
    assert "New contact request" in notice.text and "Alex Kim" in notice.text
    assert "alex@example.com" in notice.text and "Likely contributors" in notice.text
    (lead,) = await bot.engine.store.leads()
    assert (lead.channel, lead.email) == ("telegram", "alex@example.com")
    assert not any("alex@example.com" in m.text for m in telegram.sent if m.chat_id < 0
                   and m.chat_id != STAFF_CHAT["id"]), "never in a public place"


async def test_staff_and_person_talk_through_the_bot_until_staff_are_done(
    telegram: FakeTelegram, staffed_bot: tuple[RunningBot, Person]
) -> None:
    bot, staff = staffed_bot
    alex = bot.person()
    await alex.send("/start")
    told = await alex.send("talk to a person")
    assert "let the team" in texts(told)
    request = staff.received[-1]
    assert "talk to a person" in request.text

    assert await alex.send("Is running OK this week?") == []
    assert "Is running OK this week?" in staff.received[-1].text

    answered = await staff.reply("Easy runs are fine, no hills.", to=request)
    assert "Easy runs are fine, no hills." in texts(alex.received[-1:])
    assert answered == [], "nothing is said in the staff chat in reply"
    follow_up = staff.received[-1]
    await staff.reply("Thanks! Anything else, just ask.", to=follow_up)
    assert "Anything else" in alex.received[-1].text

    await staff.reply("/done", to=request)
    assert "closed this chat" in alex.received[-1].text
    assert "has ended" in staff.received[-1].text
    back_with_bot = await alex.send("book")
    assert url_buttons(back_with_bot[0]), "the person is back with the bot"


async def test_staff_reply_reaches_a_person_whose_conversation_is_on_another_channel(
    telegram: FakeTelegram, staffed_bot: tuple[RunningBot, Person]
) -> None:
    bot, staff = staffed_bot
    discord, person = RecordingOutbox(), Address("discord", "42")
    bot.engine.outboxes["discord"] = discord

    async def says(text: str) -> None:  # as the Discord channel does: the turn, then its flush
        await bot.engine.handle(Event.from_text(person.channel, person.user_id, text))
        await bot.engine.flush(person)

    await says("/start")
    await says("talk to a person")
    request = staff.received[-1]
    assert "talk to a person" in request.text
    before = len(discord.delivered)

    await staff.reply("Easy runs are fine, no hills.", to=request)

    ((address, _),) = discord.delivered[before:]
    assert address == person
    assert "Easy runs are fine, no hills." in discord.texts[-1]
    await says("Thanks! And stairs?")
    assert "Thanks! And stairs?" in staff.received[-1].text, "the person's words come back"
    await staff.reply("/done", to=request)
    assert "closed this chat" in discord.texts[-1]
    assert "has ended" in staff.received[-1].text
    assert all(int(call["chat_id"]) != 42 for call in telegram.calls_to("sendMessage")), (
        "nothing went to a Telegram chat of that id"
    )


async def test_staff_notice_shows_the_persons_words_literally(
    telegram: FakeTelegram, staffed_bot: tuple[RunningBot, Person]
) -> None:
    bot, staff = staffed_bot
    place = bot.channel.staff_place()
    assert place is not None

    await place.notify(StaffNotice("lead", "discord", "42", "**New contact request** <b>x"))

    (notice,) = staff.received
    assert notice.text == "New contact request <b>x"  # bold rendered, the person's text escaped
    assert notice.entities[0]["type"] == "bold"
    address = await bot.engine.store.relay_target(f"telegram:{STAFF_CHAT['id']}",
                                                  str(notice.message_id))
    assert address == ("discord", "42"), "staff may reply to it, whatever the person's channel"


async def test_notices_about_a_person_who_is_forgotten_are_blanked_in_the_staff_chat(
    telegram: FakeTelegram, staffed_bot: tuple[RunningBot, Person]
) -> None:
    bot, staff = staffed_bot
    alex = bot.person()
    await alex.send("/start")
    await alex.send("talk to a person")
    await alex.send("My knee hurts on the stairs")
    about_alex = list(staff.received)
    assert len(about_alex) == 2

    await alex.send("/forget")
    await alex.press("Yes, delete everything")

    assert [notice.text for notice in about_alex] == ["[deleted at the person's request]"] * 2
    assert not any("knee hurts" in message.text for message in staff.received)
    assert await bot.engine.store.load("telegram", str(alex.user_id)) is None


async def test_staff_chatter_that_is_not_a_reply_is_left_alone(
    telegram: FakeTelegram, staffed_bot: tuple[RunningBot, Person]
) -> None:
    _, staff = staffed_bot
    assert await staff.send("/help") == [] and await staff.send("morning all") == []


async def test_link_clicks_are_counted_by_the_bots_web_server_in_polling_mode(
    tmp_path: Path, telegram: FakeTelegram
) -> None:
    port = free_port()
    settings = telegram_settings(tmp_path, telegram, public_url=f"http://127.0.0.1:{port}",
                                 web_port=port)
    async with bot_running(settings, telegram) as bot:
        alex = bot.person()
        await alex.send("/start")
        booking, _question_again = await alex.send("book")
        url = url_buttons(booking)["Book a complimentary call"]
        assert url.startswith(f"http://127.0.0.1:{port}/go/book?channel=telegram")
        async with aiohttp.ClientSession() as http, http.get(url, allow_redirects=False) as hop:
            assert hop.status == 302
            assert "utm_source=telegram" in hop.headers["Location"]
        clicks = [row for row in await bot.engine.store.stats() if row.kind == "link_click"]
    assert [(row.channel, row.detail, row.count) for row in clicks] == [("telegram", "book", 1)]


async def test_pressing_the_contact_button_on_the_result_keeps_its_link_buttons(
    alex: Person,
) -> None:
    await alex.send("/start")
    for label in SCREENING_BY_BUTTONS:
        await alex.press(label)
    result = alex.question
    assert "Watch on YouTube" in url_buttons(result)
    await alex.press("Ask the practice to contact me", on=result)
    assert set(url_buttons(result)) == {
        "Watch on YouTube", "Listen to Highly Functional", "Book a complimentary call"
    }
    assert "Ask the practice to contact me" not in result.labels


# -- logs ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
async def test_logs_at_debug_carry_no_answer_state_name_contact_or_token(
    tmp_path: Path, telegram: FakeTelegram, caplog: pytest.LogCaptureFixture, transport: str
) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger and the capturing handler
    for name in LIBRARY_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    settings = telegram_settings(tmp_path, telegram, staff_telegram_chat_id=STAFF_CHAT["id"],
                                 telegram_transport=transport)
    async with bot_running(settings, telegram) as bot:
        staff = bot.person(900, first_name="Dana", chat=STAFF_CHAT)
        person = bot.person(first_name="Zebulon")  # the name on their Telegram profile, too
        seen: set[str] = set()  # every answer id pressed and state id visited

        async def press(label: str) -> None:
            seen.add(person.question.button(label)["callback_data"].split("|", 1)[1])
            await person.press(label)
            seen.add(await bot.state_of(person))

        await person.send("/start")
        for choice_id in (*TO_PAIN_QUESTIONS, *HIP_MOBILITY_RUN):  # a whole screening
            await person.choose(choice_id)
            seen |= {choice_id, await bot.state_of(person)}
        assert "result" in seen and "hips_tight" in seen
        await press("Ask the practice to contact me")
        for contact in (EMAIL, PHONE_TYPED):  # a request with consent, by email then by phone
            if contact == PHONE_TYPED:
                await person.send("/contact")
            await press("Yes, please contact me")
            for text in (NAME, contact):
                await person.send(text)
                seen.add(await bot.state_of(person))
        assert "contact_saved" in seen
        leads = await bot.engine.store.leads()
        assert sorted(lead.email or lead.phone for lead in leads) == sorted([EMAIL, PHONE])

    assert sum(NAME in notice.text for notice in staff.received) == 2, "the library carried it"
    # httpx's stack logs each call at DEBUG; the aiohttp transport logs nothing of its own
    library, level = ("httpcore", logging.DEBUG) if transport == "httpx" else ("telegram", 0)
    assert any(r.name.startswith(library) and r.levelno >= level
               for r in caplog.records), "library lines were captured"
    secrets = (*CONTACT_DETAILS, TOKEN, TOKEN.split(":")[1])
    assert log_leaks(caplog.records, secrets, seen, bot.engine) == {}

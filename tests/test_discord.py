"""The Discord channel end to end: the real discord.py client against a fake Discord.

The fake (tests/fakes/discord/) serves REST and the gateway on 127.0.0.1; the bot runs as the
process does, through `bot.run.Runner(settings, only=["discord"])`. Each test is a person using
the server and their DMs (or a staff member in the staff channel), and checks what they, and
everyone else, can see.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

import pytest

from bot.channels.discord.render import CHANNEL, choice_custom_id, markdown_chunks
from bot.core.effects import Address, StaffNotice
from bot.core.events import Event, EventKind, Reply
from bot.tools.client import DialogClient
from bot.turns.runner import TurnRunner
from tests.conftest import (
    HIP_MOBILITY_RUN,
    SAFETY_QUESTIONS_NO_INJURY,
    answer_safety_questions_no,
)
from tests.fakes.discord import (
    GUILD_ID,
    MANAGE_GUILD,
    STAFF_CHANNEL_ID,
    FakeDiscord,
    Person,
    Sent,
    StaffMember,
    pings_anyone,
    read,
)
from tests.harness.discord import (  # noqa: F401  (the Discord fixtures: person, server)
    THROUGH_THE_CHECK,
    TOKEN,
    Server,
    person,
    server,
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

ROOT = Path(__file__).resolve().parent.parent
ANNA, BEN, MOD, KIM = 101, 102, 103, 201  # Kim works at the practice

PICKS = ["Squatting", "Lifting or gym", "Hips feel tight, can't go deep",
         "Knees drift in toward each other"]
PRIMARY, SECONDARY, SUCCESS, DANGER = 1, 2, 3, 4  # button styles: blue, grey, green, red
GUILDS, GUILD_MESSAGES, DIRECT_MESSAGES = 1 << 0, 1 << 9, 1 << 12  # gateway intents


# -- harness ------------------------------------------------------------------------------------


@pytest.fixture
def staff(server: Server) -> StaffMember:
    server.fake.add_user(KIM, "kim")
    return StaffMember(server.fake, KIM)


class Shown:
    """Stands in for Discord while a person's earlier answers are given straight to the
    engine: what the bot said then counts as delivered then."""

    async def deliver(self, address: Address, reply: Reply) -> None:
        """Nothing to do: it was shown."""


class Earlier(DialogClient):
    """A person's answers from before the test, given straight to the engine on Discord; the
    replies they got then are taken out of the outbox as delivered, not sent to the fake."""

    def __init__(self, engine: TurnRunner, user_id: str) -> None:
        super().__init__(engine, user_id, channel=CHANNEL)

    async def _handle(self, event: Event) -> Reply:
        reply = await super()._handle(event)
        address = Address(CHANNEL, self.user_id)
        if reply.edit:  # held for an edit in place: shown that way
            await self.engine.delivered(address, reply)
            return reply
        outbox, self.engine.outboxes[CHANNEL] = self.engine.outboxes[CHANNEL], Shown()
        try:
            await self.engine.flush(address)
        finally:
            self.engine.outboxes[CHANNEL] = outbox
        return reply


def assert_every_interaction_acknowledged_in_time(fake: FakeDiscord) -> None:
    assert fake.interactions
    for interaction in fake.interactions.values():
        assert interaction.acked_at is not None, f"interaction {interaction.id} never answered"
        assert interaction.acked_at - interaction.sent_at < 3.0


def assert_nothing_public_but(fake: FakeDiscord, allowed: list[Sent]) -> None:
    assert [s.id for s in fake.public()] == [s.id for s in allowed]


# -- stories ------------------------------------------------------------------------------------


async def test_person_screens_privately_in_dm_after_kneecheck(server: Server, person) -> None:
    await server.start_bot()
    anna = person(ANNA, "anna")

    await anna.runs("kneecheck")

    note = [s for s in anna.sees() if s.ephemeral]
    assert len(note) == 1 and "sent you a DM" in note[0].content
    welcome = anna.dm()[0]
    assert "knee-pain check" in welcome.content
    assert f"/channels/@me/{server.fake.dm_channels[ANNA]}/{welcome.id}" in note[0].content

    for label in THROUGH_THE_CHECK:
        await anna.presses(label)

    result = anna.last_message()
    assert "likely contributors" in result.content
    links = {b["label"]: b for b in result.buttons if b["style"] == 5}  # link buttons
    assert {"Watch on YouTube", "Book a complimentary call"} <= set(links)
    assert links["Book a complimentary call"]["url"].startswith("https://calendly.example.com/")
    assert "custom_id" not in links["Watch on YouTube"]  # opens a page, nothing to press
    rows = result.message["components"]
    # Discord draws a URL button grey whatever its style: the booking leads by place, alone
    # on the top row; the contact and reminder choices, then the other links, follow.
    assert [b["label"] for b in rows[0]["components"]] == ["Book a complimentary call"]
    assert result.buttons[-1]["label"] == "Listen to Highly Functional"
    answered = [s for s in anna.dm() if "Your answer:" in s.content]
    assert len(answered) == len(THROUGH_THE_CHECK) - len(PICKS), "a pick sends nothing new"
    assert all(not s.buttons for s in answered)
    assert any(
        s.content.endswith(
            "**Your answer:** Hips feel tight, can't go deep, Knees drift in toward each other"
        )
        for s in answered
    )
    assert_nothing_public_but(server.fake, [])
    assert_every_interaction_acknowledged_in_time(server.fake)
    assert not server.fake.unknown_routes


async def test_person_who_dms_the_bot_screens_by_typing(server: Server, person) -> None:
    await server.start_bot()
    anna = person(ANNA, "anna")
    typed = ["hi", "ok", "me", "adult", "no", "no", "no",
             *["no"] * len(SAFETY_QUESTIONS_NO_INJURY), "kneecap"]
    typed += ["stairs and running", "done", "years", "6", "no", "no", "no", "running", "done"]
    typed += ["no", "no", "no", "now", "steady", "heel lifts", "fine", "no", "wobble"]

    for text in typed:
        await anna.types(text)

    assert "knee-pain check" in anna.dm()[0].content
    result = anna.last_message()
    assert "likely contributors" in result.content
    assert "Ankle" in result.content  # "heel lifts" at the wall test scored the ankle
    assert result.button("Book a complimentary call") is not None
    for text in ("1", "yes please", "Anna", "anna@example.com"):  # "1. Ask the practice..."
        await anna.types(text)
    assert "will be in touch soon" in anna.last_message().content
    assert all(not s.ephemeral for s in anna.sees())
    assert server.fake.interactions == {}  # typing alone, no button ever pressed
    assert_nothing_public_but(server.fake, [])


async def test_person_who_runs_kneecheck_in_the_dm_keeps_it_there(server: Server, person) -> None:
    await server.start_bot()
    anna = person(ANNA, "anna")

    await anna.runs("kneecheck", in_dm=True)
    await anna.presses("Let's start")

    command = next(iter(server.fake.interactions.values()))
    assert command.callback["type"] == 5  # "thinking", not ephemeral
    assert not (command.callback.get("data") or {}).get("flags")
    welcome, question = anna.sees()
    assert (
        "knee-pain check" in welcome.content and "**Your answer:** Let's start" in welcome.content
    )
    assert question.button("Me") is not None
    assert not welcome.ephemeral and not question.ephemeral  # a DM keeps them after a reload


async def test_person_with_a_red_flag_is_sent_to_a_doctor(server: Server, person) -> None:
    await server.start_bot()
    anna = person(ANNA, "anna")
    await anna.runs("kneecheck")

    await anna.presses("Let's start")
    await anna.presses("Me")
    await anna.presses("18 to 54")
    await anna.presses("No")  # no recent injury
    await anna.presses("Yes, it swelled up recently")
    await anna.presses("No")  # no calf symptom
    await anna.presses("Yes")  # a hot, swollen knee

    advice = anna.last_message()
    assert "emergency care now" in advice.content
    assert "stopped the knee check" in advice.content
    assert advice.buttons == []  # no questions after a red flag, and no sales call
    assert_nothing_public_but(server.fake, [])


async def test_start_button_still_works_after_a_restart(server: Server, person) -> None:
    await server.start_bot()
    moderator = person(MOD, "moderator", MANAGE_GUILD)
    anna, ben = person(ANNA, "anna"), person(BEN, "ben")

    await moderator.runs("post-kneecheck")
    await ben.runs("post-kneecheck")  # not a moderator
    (post,) = server.fake.public()
    assert "free knee pain check" in post.content
    assert post.button("Start the knee pain check")["custom_id"] == "start:kneecheck"
    assert "posted" in moderator.last_message().content
    assert "Only moderators" in ben.last_message().content
    await anna.presses("Start the knee pain check", on=post)
    await anna.presses("Let's start")

    await server.stop_bot()
    await server.start_bot()

    await anna.presses("Me")  # on the question she got before the restart
    assert "**Your answer:** Me" in anna.dm()[-2].content
    assert anna.last_message().button("55 or over") is not None  # the age band comes next
    assert await server.turn_of(ANNA) == 3
    await ben.presses("Start the knee pain check", on=post)
    assert "knee-pain check" in ben.dm()[0].content
    assert "sent you a DM" in ben.last_message().content
    assert_nothing_public_but(server.fake, [post])
    assert all(message_id != post.id for message_id, _ in server.fake.edits)
    assert_every_interaction_acknowledged_in_time(server.fake)


async def test_person_who_presses_an_old_button_sees_current_question(
    server: Server, person
) -> None:
    await server.start_bot()
    anna = person(ANNA, "anna")
    await anna.types("hi")
    await anna.types("ok")  # typed, so the welcome keeps its buttons
    welcome = anna.dm()[0]
    turn = await server.turn_of(ANNA)
    seen = len(anna.sees())

    await anna.presses("Not now", on=welcome)

    stale_note, question_again = anna.sees()[seen:]
    assert "from an earlier question" in stale_note.content
    assert question_again.content == anna.sees()[seen - 1].content
    assert question_again.button("Me") is not None
    assert await server.turn_of(ANNA) == turn
    assert server.fake.edits == []  # the old message is left as it was


async def test_two_presses_at_once_move_the_person_on_once(server: Server, person) -> None:
    await server.start_bot()
    anna = person(ANNA, "anna")
    await anna.runs("kneecheck")
    turn = await server.turn_of(ANNA)
    seen = len(anna.sees())

    await anna.double_clicks("Let's start")

    (question,) = anna.sees()[seen:]
    assert question.button("Me") is not None
    assert len(server.fake.edits) == 1
    assert await server.turn_of(ANNA) == turn + 1
    assert len(server.fake.interactions) == 3  # /kneecheck and both presses
    assert_every_interaction_acknowledged_in_time(server.fake)


async def at_what_makes_it_worse(server: Server, anna: Person) -> Sent:
    """Anna answered the safety questions earlier, and types where it hurts in her DM."""
    await answer_safety_questions_no(Earlier(server.engine, str(ANNA)))
    await anna.types("inside")
    question = anna.last_message()
    assert "What makes it worse?" in question.content
    return question


def styles(message: Sent) -> dict[str, int]:
    return {button["label"]: button["style"] for button in message.buttons}


async def test_person_picks_several_answers_on_one_message_then_presses_done(
    server: Server, person
) -> None:
    await server.start_bot()
    anna = person(ANNA, "anna")
    question = await at_what_makes_it_worse(server, anna)
    turn, seen = await server.turn_of(ANNA), len(anna.sees())
    rows = [[b["label"] for b in row["components"]] for row in question.message["components"]]
    assert rows[-1] == ["Done"], "Done has a row to itself"

    await anna.presses("Stairs", on=question)
    await anna.presses("Running", on=question)

    assert len(anna.sees()) == seen, "a pick sends no new message"
    assert [message_id for message_id, _ in server.fake.edits] == [question.id, question.id]
    picked = {label: style for label, style in styles(question).items() if label.startswith("✓")}
    assert picked == {"✓ Stairs": SUCCESS, "✓ Running": SUCCESS}
    rest = {label: style for label, style in styles(question).items() if label not in picked}
    assert rest.pop("Done") == PRIMARY, "the way on is the expected answer"
    assert set(rest.values()) == {SECONDARY}
    assert question.button("Done")["custom_id"] == choice_custom_id(turn + 2, "done")
    assert "What makes it worse?" in question.content and "Your answer" not in question.content

    await anna.presses("Done", on=question)

    assert question.content.endswith("**Your answer:** Stairs, Running")
    assert question.buttons == []
    assert "How long have you had this knee pain?" in anna.last_message().content
    saved = await server.engine.store.load(CHANNEL, str(ANNA))
    assert saved is not None and saved.facts["worse_with"] == ["stairs", "running"]
    assert_nothing_public_but(server.fake, [])
    assert_every_interaction_acknowledged_in_time(server.fake)


async def test_press_on_a_pick_from_before_the_last_edit_changes_nothing(
    server: Server, person
) -> None:
    await server.start_bot()
    anna = person(ANNA, "anna")
    question = await at_what_makes_it_worse(server, anna)
    squatting_before_the_edit = question.button("Squatting")["custom_id"]
    await anna.presses("Stairs", on=question)
    turn, seen, edits = await server.turn_of(ANNA), len(anna.sees()), len(server.fake.edits)

    await server.fake.click(ANNA, question, squatting_before_the_edit)
    await server.fake.settle()

    note, again = anna.sees()[seen:]
    assert "from an earlier question" in note.content
    assert_every_interaction_acknowledged_in_time(server.fake)  # never "interaction failed"
    assert styles(again)["✓ Stairs"] == SUCCESS and styles(again)["Squatting"] == SECONDARY
    assert len(server.fake.edits) == edits, "the pressed message is left as it was"
    saved = await server.engine.store.load(CHANNEL, str(ANNA))
    assert saved is not None and (saved.turn, saved.selection) == (turn, ["stairs"])
    await anna.presses("Done", on=again)
    assert "**Your answer:** Stairs" in again.content
    saved = await server.engine.store.load(CHANNEL, str(ANNA))
    assert saved is not None and saved.facts["worse_with"] == ["stairs"]


async def test_pick_on_a_deleted_message_comes_as_a_new_message(server: Server, person) -> None:
    await server.start_bot()
    anna = person(ANNA, "anna")
    question = await at_what_makes_it_worse(server, anna)
    seen = len(anna.sees())
    del server.fake.sent[question.id]  # she deleted the DM meanwhile

    await anna.presses("Kneeling", on=question)

    (again,) = anna.sees()[seen - 1 :]
    assert "What makes it worse?" in again.content and styles(again)["✓ Kneeling"] == SUCCESS
    assert_every_interaction_acknowledged_in_time(server.fake)


async def test_person_with_closed_dms_screens_in_private_replies(server: Server, person) -> None:
    await server.start_bot()
    ben = person(BEN, "ben")
    server.fake.closed_dms.add(BEN)

    await ben.runs("kneecheck")
    await ben.presses("Let's start")

    welcome, note, question = ben.sees()  # the note once the DM was refused
    assert "couldn't send you a DM" in note.content
    assert "**Your answer:** Let's start" in welcome.content
    assert question.button("Me") is not None
    assert all(s.ephemeral for s in ben.sees())
    assert_nothing_public_but(server.fake, [])


async def test_commands_sync_to_the_guild_at_once_and_globally_for_dms(server: Server) -> None:
    await server.start_bot(guild_id=GUILD_ID)
    in_server, in_dm = (server.fake.commands_shown(in_guild=p) for p in (True, False))
    await server.stop_bot()
    await server.start_bot()

    menu = {c.name for c in server.engine.commands.for_menu(CHANNEL)}  # the registry's
    assert {"kneecheck", "contact", "help", "about", "book", "forget"} <= menu

    (guild, own), (dms, for_dms), (everywhere, global_commands) = server.fake.command_syncs
    assert (guild, dms, everywhere) == (GUILD_ID, None, None)
    assert sorted(in_server) == sorted(menu | {"post-kneecheck"}), "each once in the server"
    assert set(in_dm) == menu, "the screening's commands in DMs too, the moderators' not"
    assert all(c["contexts"] == [1] for c in for_dms) and "contexts" not in own[0]
    for commands in (own, global_commands):
        by_name = {c["name"]: c for c in commands}
        assert set(by_name) == menu | {"post-kneecheck"}
        assert int(by_name["post-kneecheck"]["default_member_permissions"]) == MANAGE_GUILD
        assert by_name["kneecheck"]["default_member_permissions"] is None
        assert by_name["kneecheck"]["description"] == "Start the free knee pain check"
        assert by_name["help"]["description"] == "What I can do"  # common/commands.j2
        assert all(0 < len(c["description"]) <= 100 for c in commands)
    assert by_name["kneecheck"]["contexts"] == [0, 1], "without a guild: servers and DMs"
    assert by_name["post-kneecheck"]["contexts"] == [0]
    intents = server.fake.identifies[0]["intents"]
    assert intents == GUILDS | DIRECT_MESSAGES  # nothing privileged, no server messages
    assert not server.fake.unknown_routes


async def test_person_in_a_dm_finds_help_and_about_and_starts_the_check_there(
    server: Server, person
) -> None:
    await server.start_bot(guild_id=GUILD_ID)  # synced to the practice's server for speed
    anna = person(ANNA, "anna")

    await anna.runs("help", in_dm=True)
    help_ = anna.last_message()
    await anna.runs("about", in_dm=True)
    about = anna.last_message()
    await anna.runs("kneecheck", in_dm=True)

    assert "Here's what I can do" in help_.content and not help_.ephemeral
    assert "press a button or type your answer" in read(help_.content).text
    assert "About" in about.content and "isn't medical advice" in read(about.content).text
    assert "knee-pain check" in anna.dm()[-1].content
    assert_nothing_public_but(server.fake, [])


async def test_commands_synced_to_one_server_only_are_not_in_a_dms_picker(
    server: Server, person
) -> None:
    await server.start_bot(guild_id=GUILD_ID)
    anna = person(ANNA, "anna")
    del server.fake.command_syncs[1:]  # as an older version left it: the server's own only

    await anna.runs("help")  # in the server, still there
    with pytest.raises(AssertionError, match="not in the command picker in a DM"):
        await anna.runs("help", in_dm=True)
    assert "Here's what I can do" in anna.last_message().content


async def test_buttons_are_blue_for_the_expected_answer_grey_for_the_rest_red_for_forget(
    server: Server, person
) -> None:
    await server.start_bot()
    anna = person(ANNA, "anna")

    await anna.runs("kneecheck", in_dm=True)
    welcome = styles(anna.last_message())
    await anna.presses("Let's start")
    who = styles(anna.last_message())
    for label in ("Me", "18 to 54", "No", "No swelling", "No"):
        await anna.presses(label)
    safety = styles(anna.last_message())
    await anna.runs("forget", in_dm=True)
    forget = styles(anna.last_message())

    assert welcome == {"Let's start": PRIMARY, "What will you ask?": SECONDARY,
                       "Not now": SECONDARY}, "style: primary in dialogs/knee.yaml"
    assert set(who.values()) == {SECONDARY}, "no answer about a person is expected"
    assert safety == {"Yes": SECONDARY, "No": SECONDARY, "Not sure": SECONDARY}
    assert forget == {"Yes, delete everything": DANGER, "No, keep going": SECONDARY}


async def test_what_the_practice_writes_is_shown_literally(server: Server, person) -> None:
    name = "Fix_It *Physio* @everyone"
    await server.start_bot(practice={"name": name})
    anna = person(ANNA, "anna")

    await anna.runs("about")

    about = anna.last_message()
    assert about.ephemeral
    assert "**About Fix\\_It \\*Physio\\* @\u200beveryone**" in about.content
    assert read(about.content).bold[0] == f"About {name}" and not pings_anyone(about.content)


def test_long_messages_are_split_under_discords_limit() -> None:
    text = "**Long** " + "word " * 1200 + "_end_"

    chunks = markdown_chunks(text)

    assert len(chunks) >= 3
    assert all(len(chunk) <= 2000 for chunk in chunks)
    assert chunks[0].startswith("**Long**") and chunks[-1].endswith("_end_")
    assert sum(chunk.count("word") for chunk in chunks) == 1200


def test_button_ids_carry_the_turn_and_fit_discords_limit() -> None:
    assert choice_custom_id(12, "yes") == "choice:12|yes"
    assert len(choice_custom_id(10**9, "x" * 82)) == 100
    with pytest.raises(ValueError, match="too long"):
        choice_custom_id(12, "x" * 100)


# -- the process: python -m bot discord ----------------------------------------------------------


def _cli_env(tmp_path: Path, fake_url: str, token: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
    env |= {
        "BOT_SETTINGS_FILE": os.devnull,  # an empty settings file
        "BOT_DATA_DIR": str(tmp_path),
        "BOT_DISCORD_API_URL": fake_url,
        "BOT_WEB_PORT": "0",
    }
    if token is not None:
        env["BOT_DISCORD_TOKEN"] = token
    return env


async def _start_cli(
    tmp_path: Path, fake_url: str, token: str | None
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "discord",  # INFO, as a server logs by default
        cwd=ROOT,
        env=_cli_env(tmp_path, fake_url, token),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def _bot_cli(tmp_path: Path, fake_url: str, token: str | None) -> tuple[int, str]:
    process = await _start_cli(tmp_path, fake_url, token)
    output, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    return process.returncode or 0, output.decode()


async def test_owner_without_a_token_gets_a_clear_error(server: Server, tmp_path: Path) -> None:
    code, output = await _bot_cli(tmp_path, server.fake.url, None)

    assert code == 2
    assert "BOT_DISCORD_TOKEN is not set" in output
    assert "Traceback" not in output


async def test_owner_with_a_rejected_token_gets_a_clear_error_without_the_token(
    server: Server, tmp_path: Path
) -> None:
    wrong = "MTIzNDU2Nzg5.wrong.token-value-7c1e"

    code, output = await _bot_cli(tmp_path, server.fake.url, wrong)

    assert code == 1
    assert "Discord rejected BOT_DISCORD_TOKEN" in output
    assert wrong not in output and "wrong.token" not in output
    assert "Traceback" not in output
    assert ("GET", "/api/v10/users/@me") in server.fake.requests  # it really asked Discord


async def test_sigterm_while_a_person_waits_answers_them_then_exits_cleanly(
    server: Server, person, tmp_path: Path
) -> None:
    anna = person(ANNA, "anna")
    process = await _start_cli(tmp_path, server.fake.url, TOKEN)
    try:
        await server.fake.wait_identified(1, timeout=30)
        await server.fake.until(lambda: server.fake.command_syncs, 10, "no command sync")
        server.fake.slow_sends = 1.0  # her answer is still on its way when SIGTERM comes
        interaction = await server.fake.slash(ANNA, "kneecheck")
        await server.fake.until(lambda: interaction.acked_at is not None, 10, "not deferred")

        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    assert process.returncode == 0, output.decode()
    assert "knee-pain check" in anna.dm()[0].content  # answered before the process ended
    assert "sent you a DM" in anna.last_message().content
    assert "Traceback" not in output.decode()


# -- leads, staff channel, talking to a person ---------------------------------------------------


async def answered_all_but_the_last_question(engine: TurnRunner, user_id: int) -> None:
    """Someone who answered the knee check earlier (the first story presses every button)."""
    earlier = Earlier(engine, str(user_id))
    await answer_safety_questions_no(earlier)
    for choice in HIP_MOBILITY_RUN[:-1]:
        await earlier.click(choice)
    assert earlier.last.state != "result"


async def test_person_who_asks_to_be_contacted_from_the_result_becomes_a_lead_staff_see(
    server: Server, person
) -> None:
    await server.start_bot(staff_discord_channel_id=STAFF_CHANNEL_ID)
    anna = person(ANNA, "anna")
    await answered_all_but_the_last_question(server.engine, ANNA)
    await anna.types("steady")
    assert "**likely contributor** to your knee pain" in anna.last_message().content

    result = anna.latest_with("Ask the practice to contact me")
    await anna.presses("Ask the practice to contact me")
    assert "may Get Your Fix Physical Therapy store" in anna.last_message().content
    kept = {button["label"] for button in result.buttons}
    assert kept == {"Watch on YouTube", "Listen to Highly Functional", "Book a complimentary call"}
    await anna.presses("Yes, please contact me")
    assert "What name should we use?" in anna.last_message().content
    await anna.types("Anna Lee")
    await anna.types("anna@example")
    reask = anna.sees()[-1]
    assert "Please type an email address" in reask.content
    assert "email address or phone number" not in reask.content, "short, not the question"
    await anna.types("Anna.Lee@Example.com")

    assert "will be in touch soon" in anna.last_message().content
    (lead,) = await server.engine.store.leads()
    assert (lead.channel, lead.user_id, lead.name) == (CHANNEL, str(ANNA), "Anna Lee")
    assert lead.email == "Anna.Lee@example.com" and lead.drivers == ("hip_mobility",)
    (notice,) = server.fake.staff_posts()
    assert notice.content.startswith("**New contact request** via discord")
    assert "Name: Anna Lee" in notice.content and "Email: Anna.Lee@example.com" in notice.content
    assert "Likely contributors: Hip mobility" in notice.content
    assert notice.content.endswith(f"From: <@{ANNA}>")  # staff can open her profile
    assert notice.body["allowed_mentions"] == {"parse": []}  # ...and nobody is pinged
    assert not any("New contact request" in s.content for s in anna.sees())
    assert_nothing_public_but(server.fake, [])
    assert_every_interaction_acknowledged_in_time(server.fake)


async def test_person_who_does_not_consent_leaves_nothing_for_staff(server: Server, person) -> None:
    await server.start_bot(staff_discord_channel_id=STAFF_CHANNEL_ID)
    ben = person(BEN, "ben")

    await ben.runs("contact", in_dm=True)  # consent first: no detail is asked before it
    assert "Physical Therapy store the" in ben.last_message().content
    await ben.types("Ben")  # typed before any "yes": not taken
    await ben.types("(415) 555-2671")
    await ben.presses("No, don't store it")

    assert "won't ask for or store any contact details" in ben.last_message().content
    assert server.fake.staff_posts() == []
    assert await server.engine.store.leads() == []
    saved = await server.engine.store.load(CHANNEL, str(BEN))
    assert saved is not None and "name" not in saved.facts and "contact" not in saved.facts
    assert "+1415" not in saved.to_json() and "(415)" not in saved.to_json()
    assert_nothing_public_but(server.fake, [])


async def test_person_with_closed_dms_is_told_typing_needs_a_dm(server: Server, person) -> None:
    await server.start_bot(staff_discord_channel_id=STAFF_CHANNEL_ID)
    ben = person(BEN, "ben")
    server.fake.closed_dms.add(BEN)

    await ben.runs("contact")
    await ben.presses("Yes, please contact me")  # consent first; then the typed questions

    question, note = ben.sees()[-2:]
    assert "What name should we use?" in question.content
    assert "only read what you type in a DM" in note.content
    assert "Privacy Settings" in note.content
    assert all(s.ephemeral for s in ben.sees())
    await ben.presses("Never mind")
    assert "nothing was stored" in ben.last_message().content
    assert await server.engine.store.leads() == [] and server.fake.staff_posts() == []
    assert_nothing_public_but(server.fake, [])


async def test_person_who_asks_for_a_person_in_a_dm_reaches_the_staff_channel(
    server: Server, person
) -> None:
    await server.start_bot(staff_discord_channel_id=STAFF_CHANNEL_ID)
    anna = person(ANNA, "anna")

    await anna.types("talk to a person")
    assert "let the team" in anna.last_message().content
    (request,) = server.fake.staff_posts()
    assert "Someone would like to talk to a person" in request.content
    assert f"From: <@{ANNA}>" in request.content
    seen = len(anna.sees())

    await anna.types("Is it OK to keep *running*?")

    assert len(anna.sees()) == seen  # it went to the team; the bot does not answer it
    relayed = server.fake.staff_posts()[-1]
    assert "Is it OK to keep \\*running\\*?" in relayed.content  # shown as she typed it
    assert f"From: <@{ANNA}>" in relayed.content
    assert_nothing_public_but(server.fake, [])


async def test_person_who_forgets_after_leaving_details_has_no_lead_left(
    server: Server, person
) -> None:
    await server.start_bot(staff_discord_channel_id=STAFF_CHANNEL_ID)
    ben = person(BEN, "ben")
    await ben.runs("contact", in_dm=True)
    await ben.presses("Yes, please contact me")
    await ben.types("Ben")
    await ben.types("ben@example.com")
    assert len(await server.engine.store.leads()) == 1

    await ben.runs("forget")
    await ben.presses("Yes, delete everything")

    assert "deleted everything stored about you" in ben.last_message().content
    assert await server.engine.store.leads() == []
    assert await server.engine.store.load(CHANNEL, str(BEN)) is None
    (lead,) = server.fake.staff_posts()  # the notice staff got is blanked, not left behind
    assert read(lead.content).text == "[deleted at the person's request]"
    assert "ben@example.com" not in str(lead.message)


async def test_staff_channel_the_bot_cannot_post_in_never_costs_the_person_an_answer(
    server: Server, person, caplog: pytest.LogCaptureFixture
) -> None:
    await server.start_bot(staff_discord_channel_id=STAFF_CHANNEL_ID)
    server.fake.forbidden_channels.add(STAFF_CHANNEL_ID)
    anna = person(ANNA, "anna")

    await anna.types("talk to a person")
    await anna.types("My knee hurts on stairs")

    assert "let the team" in anna.sees()[0].content
    assert server.fake.staff_posts() == []
    assert "a talk_request notice on staff:discord was dropped after 1 attempt(s): Forbidden 403" \
        in caplog.text
    assert "stairs" not in caplog.text and TOKEN not in caplog.text


# -- staff replies, from the Discord staff channel or any other staff place ---------------------


async def test_staff_member_who_replies_to_a_request_reaches_the_person_in_their_dm(
    server: Server, person, staff: StaffMember
) -> None:
    await server.start_bot(staff_discord_channel_id=STAFF_CHANNEL_ID)
    anna = person(ANNA, "anna")
    await anna.types("talk to a person")
    (request,) = staff.notices()
    assert "Reply to this message to answer them" in read(request.content).text

    await staff.replies(request, "Hi Anna, Kim here. Does it hurt on *stairs*?")

    answer = anna.last_message()
    assert not answer.ephemeral and answer.channel_id == server.fake.dm_channels[ANNA]
    assert read(answer.content).text == (
        "Get Your Fix Physical Therapy: Hi Anna, Kim here. Does it hurt on *stairs*?"
    )
    await anna.types("Yes, going down mostly")
    relayed = staff.notices()[-1]
    assert "Yes, going down mostly" in read(relayed.content).text
    assert read(relayed.content).mentions == (ANNA,)

    await staff.replies(relayed, "/done")  # a reply to any of her messages works too

    assert "has closed this chat" in anna.reads()
    assert "has ended" in read(staff.notices()[-1].content).text
    posted = len(staff.notices())
    await anna.types("book")
    assert len(staff.notices()) == posted, "she is back with the bot"
    assert "Book a complimentary call" in {b["label"] for b in anna.last_message().buttons}
    assert_nothing_public_but(server.fake, [])


async def test_staff_reply_without_its_mention_is_not_lost_silently(
    server: Server, person, staff: StaffMember
) -> None:
    await server.start_bot(staff_discord_channel_id=STAFF_CHANNEL_ID)
    anna = person(ANNA, "anna")
    await anna.types("talk to a person")
    (request,) = staff.notices()
    seen = len(anna.sees())

    await staff.replies(request, "Hello!", mention=False)  # Discord shows the bot no text
    await staff.replies(staff.notices()[-1], "Thanks, noted")  # a reply to the bot's hint

    assert len(anna.sees()) == seen
    hint = staff.notices()[-1]
    assert "couldn't read that reply" in read(hint.content).text
    assert len(staff.notices()) == 2, "replies to anything but a notice are left alone"
    assert server.fake.identifies[0]["intents"] == GUILDS | GUILD_MESSAGES | DIRECT_MESSAGES


async def test_staff_reply_from_another_staff_place_reaches_the_person_on_discord(
    server: Server, person, caplog: pytest.LogCaptureFixture
) -> None:
    # A Telegram staff chat is configured, run by this process but not by Telegram's library
    await server.start_bot(telegram_token="123:staff-only", staff_telegram_chat_id=-100777)
    telegram_staff_chat = Inbox()  # what the Telegram staff chat is to the engine
    server.engine.outboxes["staff:telegram"] = telegram_staff_chat
    anna = person(ANNA, "anna")
    person(BEN, "ben")
    server.fake.closed_dms.add(BEN)  # Ben's privacy settings refuse DMs
    await anna.types("talk to a person")
    assert [n.kind for n in telegram_staff_chat.notices] == ["talk_request"]
    seen = len(anna.sees())

    await server.engine.from_staff(Address(CHANNEL, str(ANNA)), "We can see you on Tuesday")
    await server.engine.from_staff(Address(CHANNEL, str(BEN)), "Hi Ben, about your knee")

    (answer,) = anna.sees()[seen:]
    assert read(answer.content).text.endswith("We can see you on Tuesday")
    assert answer.channel_id == server.fake.dm_channels[ANNA] and not answer.ephemeral
    assert server.fake.interactions == {}  # nothing Anna did: the bot wrote first
    assert "a message to a person on discord was dropped after 1 attempt(s): Forbidden 403" \
        in caplog.text
    assert "knee" not in caplog.text and "Tuesday" not in caplog.text


async def test_a_reply_delivered_later_comes_with_buttons_that_work(
    server: Server, person
) -> None:
    await server.start_bot()
    anna = person(ANNA, "anna")
    reply = await server.engine.handle(Event(CHANNEL, str(ANNA), EventKind.COMMAND,
                                             command="kneecheck"))

    assert reply.queued  # e.g. a reminder: saved, then sent from the outbox by the channel
    await server.engine.flush(Address(CHANNEL, str(ANNA)))
    await anna.presses("Let's start")

    assert "**Your answer:** Let's start" in anna.dm()[0].content
    assert anna.last_message().button("Me") is not None


class Inbox:
    """A staff place that keeps what it is told (stands in for the Telegram staff chat)."""

    def __init__(self) -> None:
        self.notices: list[StaffNotice] = []

    async def notify(self, notice: StaffNotice) -> None:
        self.notices.append(notice)


# -- stopping -----------------------------------------------------------------------------------


async def test_stopping_answers_every_interaction_and_dm_in_flight_first(
    server: Server, person
) -> None:
    await server.start_bot()
    people = [person(ANNA + n, f"person{n}") for n in range(3)]
    typist = person(BEN + 10, "typist")
    server.fake.slow_sends = 0.5  # every answer takes a while to go out
    pending = [await server.fake.slash(p.user_id, "kneecheck") for p in people]
    await server.fake.dm(typist.user_id, "hi")
    await server.fake.until(lambda: all(i.acked_at for i in pending), 5, "not deferred")

    await server.stop_bot()  # what SIGTERM does, through the runner

    for someone in people:
        assert "knee-pain check" in someone.dm()[0].content
        assert "sent you a DM" in someone.last_message().content
    assert "knee-pain check" in typist.dm()[0].content
    assert_every_interaction_acknowledged_in_time(server.fake)
    requests = len(server.fake.requests)
    await server.fake.slash(ANNA, "about")  # after the stop: nobody is listening any more
    await asyncio.sleep(0.3)
    assert len(server.fake.requests) == requests


# -- flows and buttons from data ----------------------------------------------------------------


async def test_a_new_flow_from_yaml_gets_its_slash_command_and_runs_in_dms(
    server: Server, person, tmp_path: Path
) -> None:
    project = project_with_hip_flow(tmp_path / "project")
    await server.start_bot(dialogs_dir=project / "dialogs", templates_dir=project / "templates")
    sam = person(ANNA, "sam")

    await sam.runs("hipcheck")
    await sam.presses("Let's go")
    await sam.presses("Stiff in the morning")

    ((_, commands),) = server.fake.command_syncs
    hipcheck = next(c for c in commands if c["name"] == "hipcheck")
    assert hipcheck["description"] == "Start the two-question hip check"
    assert "hip check" in sam.dm()[0].content
    assert "Morning stiffness" in sam.last_message().content
    assert sam.last_message().button("Watch on YouTube") is not None
    assert_nothing_public_but(server.fake, [])


async def test_person_who_presses_a_button_from_an_older_version_is_told_how_to_start(
    server: Server, person
) -> None:
    await server.start_bot()
    moderator, anna = person(MOD, "moderator", MANAGE_GUILD), person(ANNA, "anna")
    await moderator.runs("post-kneecheck")
    (post,) = server.fake.public()

    await server.fake.click(ANNA, post, "kc:start")  # the id buttons had before
    await server.fake.settle()

    note = anna.last_message()
    assert note.ephemeral and "/kneecheck" in read(note.content).text
    assert_every_interaction_acknowledged_in_time(server.fake)



# -- logs ---------------------------------------------------------------------------------------


async def test_logs_at_debug_carry_no_answer_state_name_contact_or_token(
    server: Server, person, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger and the capturing handler
    for name in LIBRARY_LOGGERS:  # before the bot starts: it may quiet some of them on purpose
        caplog.set_level(logging.DEBUG, logger=name)
    await server.start_bot(staff_discord_channel_id=STAFF_CHANNEL_ID)
    zebulon = person(ANNA, "zebulon")  # the name on their Discord profile, too
    seen: set[str] = set()  # every answer id pressed and state id visited

    async def state() -> str:
        conversation = await server.engine.store.load(CHANNEL, str(ANNA))
        assert conversation is not None
        return conversation.state

    async def press(label: str) -> None:
        message = zebulon.latest_with(label)
        seen.add(message.button(label)["custom_id"].split("|", 1)[-1])
        await zebulon.presses(label, on=message)
        seen.add(await state())

    async def type_(text: str) -> None:
        await zebulon.types(text)
        seen.add(await state())

    await zebulon.runs("kneecheck")
    for label in THROUGH_THE_CHECK:  # a whole screening, by buttons
        await press(label)
    assert "result" in seen and "hips_tight" in seen
    await press("Ask the practice to contact me")
    await press("Yes, please contact me")
    await type_(NAME)
    await type_(EMAIL)
    await zebulon.runs("contact", in_dm=True)  # and again, with a phone number typed
    await press("Yes, please contact me")
    await type_(NAME)
    await type_(PHONE_TYPED)
    assert "contact_saved" in seen
    leads = await server.engine.store.leads()
    assert sorted(lead.email or lead.phone for lead in leads) == sorted([EMAIL, PHONE])
    notices = server.fake.staff_posts()
    assert sum(NAME in notice.content for notice in notices) == 2, "the library carried it"
    await server.stop_bot()

    assert any(r.name.startswith("discord") for r in caplog.records), "library lines captured"
    secrets = (*CONTACT_DETAILS, TOKEN)
    assert log_leaks(caplog.records, secrets, seen, server.engine) == {}


# -- a strict Discord: the gateway's reconnects, and what Discord refuses ---------------------


async def near_the_end_in_her_dm(server: Server, anna: Person) -> None:
    """Anna answered most of the check earlier; the question before the last is in her DM."""
    earlier = Earlier(server.engine, str(ANNA))
    await answer_safety_questions_no(earlier)
    for choice in HIP_MOBILITY_RUN[:-2]:
        await earlier.click(choice)
    await server.channel.deliver(Address(CHANNEL, str(ANNA)), earlier.last)
    await anna.presses("Yes")  # the one-leg check comes: its buttons are what she presses next
    assert anna.last_message().button("Steady and level") is not None


async def test_gateway_reconnect_mid_screening_resumes_and_her_next_press_is_answered(
    server: Server, person
) -> None:
    await server.start_bot()
    anna = person(ANNA, "anna")
    await near_the_end_in_her_dm(server, anna)

    await server.fake.reconnect()  # opcode 7: Discord asks the bot to reconnect and resume
    await anna.presses("Steady and level")  # while the bot is between connections

    assert "likely contributor" in anna.last_message().content, "the screening finished"
    (resume,) = server.fake.resumes
    assert resume["session_id"] == "session-1" and len(server.fake.identifies) == 1
    assert server.fake.replayed == ["INTERACTION_CREATE"], "her press came with the RESUME"
    assert_every_interaction_acknowledged_in_time(server.fake)
    assert not server.fake.refused


async def test_gateway_invalid_session_makes_the_bot_identify_anew_and_still_answer(
    server: Server, person
) -> None:
    await server.start_bot()
    anna = person(ANNA, "anna")
    await near_the_end_in_her_dm(server, anna)

    await server.fake.invalidate_sessions(resumable=False)  # opcode 9, d: false
    await server.fake.wait_identified(2)  # discord.py waits 5 s before identifying again

    await anna.presses("Steady and level")
    assert "likely contributor" in anna.last_message().content, "the screening finished"
    assert server.fake.resumes == [] and list(server.fake.sessions) == ["session-2"]
    assert_every_interaction_acknowledged_in_time(server.fake)
    assert not server.fake.refused


@pytest.mark.parametrize("where", ["environment", "settings file"])
async def test_an_empty_practice_link_stops_the_start_cleanly_or_gives_links_discord_accepts(
    server: Server, person, tmp_path: Path, where: str
) -> None:
    anna = person(ANNA, "anna")
    env = _cli_env(tmp_path, server.fake.url, TOKEN)
    if where == "environment":
        env["BOT_PRACTICE__PODCAST_URL"] = ""
    else:
        settings_file = tmp_path / "settings.yaml"
        settings_file.write_text('practice:\n  podcast_url: ""\n', encoding="utf-8")
        env["BOT_SETTINGS_FILE"] = str(settings_file)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "discord", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    try:
        identified = asyncio.ensure_future(server.fake.wait_identified(1, timeout=30))
        exited = asyncio.ensure_future(process.wait())
        await asyncio.wait({identified, exited}, return_when=asyncio.FIRST_COMPLETED)
        if exited.done():  # refused at start: one plain line that names the setting
            identified.cancel()
            output = (await process.communicate())[0].decode()
            assert process.returncode != 0 and "Traceback" not in output
            named = [line for line in output.splitlines() if "podcast_url" in line]
            assert len(named) == 1 and "BOT_PRACTICE__PODCAST_URL" in named[0], output
            return
        await server.fake.until(lambda: server.fake.command_syncs, 10, "no command sync")
        await server.fake.slash(ANNA, "podcast")  # another process: it cannot say when done
        await server.fake.until(lambda: any(s.buttons for s in anna.sees()), 10, "no answer")
        links = [b for b in anna.last_message().buttons if b["style"] == 5]
        assert links and all(b["url"].startswith(("http://", "https://")) for b in links)
        assert not server.fake.refused, server.fake.refused
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.communicate(), timeout=30)
            except TimeoutError:
                process.kill()
                await process.wait()


async def test_a_practice_name_of_80_characters_still_syncs_commands_discord_accepts(
    server: Server, person
) -> None:
    name = "Get Your Fix Physical Therapy, Sports Rehabilitation and Wellness of Springfield"
    assert len(name) == 80

    await server.start_bot(guild_id=GUILD_ID, practice={"name": name})

    assert not server.fake.refused, server.fake.refused  # Discord accepted both syncs
    for _, commands in server.fake.command_syncs:
        book = next(c for c in commands if c["name"] == "book")
        assert 0 < len(book["description"]) <= 100
    anna = person(ANNA, "anna")
    await anna.runs("book")
    assert anna.last_message().button("Book a complimentary call") is not None
    await anna.runs("book", in_dm=True)
    assert anna.last_message().button("Book a complimentary call") is not None


async def test_a_default_flow_with_a_long_command_name_still_gets_the_moderators_command(
    server: Server, person, tmp_path: Path
) -> None:
    project = project_with_hip_flow(tmp_path / "project")
    flow = project / "dialogs" / "hip.yaml"
    long_name = "hip_mobility_and_stiffness_ck"  # 29 of the 32 characters a name may have
    flow.write_text(flow.read_text(encoding="utf-8").replace("hipcheck", long_name),
                    encoding="utf-8")

    await server.start_bot(dialogs_dir=project / "dialogs", templates_dir=project / "templates",
                           default_flow="hip")

    assert not server.fake.refused, server.fake.refused  # Discord accepted the sync
    ((_, commands),) = server.fake.command_syncs
    assert all(len(c["name"]) <= 32 for c in commands)
    moderators = [c for c in commands if c["default_member_permissions"] == str(MANAGE_GUILD)]
    assert len(moderators) == 1
    moderator = person(MOD, "moderator", MANAGE_GUILD)
    await moderator.runs(moderators[0]["name"])
    (post,) = server.fake.public()
    assert post.buttons and post.buttons[0]["custom_id"] == f"start:{long_name}"


LONG_BOOKING_URL = (  # a practice's own Calendly link, with the options it chose
    "https://calendly.com/getyourfixpt/complimentary-call?hide_event_type_details=1"
    "&hide_gdpr_banner=1&background_color=ffffff&text_color=1a1a1a&primary_color=0069ff"
)
# From the first pain question to the last self-check, picking every "worse with" and every
# activity: the longest screening summary the booking link carries.
EVERYTHING_PICKED_RUN = (
    "unsure", "stairs", "squats", "running", "walking", "jumping", "pivoting", "sitting",
    "kneeling", "done", "months", "skip", "unsure", "no", "no", "running", "ocr", "lifting",
    "field_sports", "hiking", "everyday", "done", "no", "no", "no", "later", "ready",
    "arch_collapse", "one_side", "hips_tight", "heels_lift", "knees_in", "fine", "done", "no",
)


async def test_a_long_booking_address_still_gives_a_result_discord_accepts(
    server: Server, person
) -> None:
    await server.start_bot(practice={"booking_url": LONG_BOOKING_URL})
    anna = person(ANNA, "anna")
    earlier = Earlier(server.engine, str(ANNA))
    await answer_safety_questions_no(earlier)
    for choice in EVERYTHING_PICKED_RUN:
        await earlier.click(choice)

    await anna.types("steady")  # the last self-check: the result comes

    assert not server.fake.refused, server.fake.refused
    result = anna.last_message()
    assert "likely contributor" in result.content
    book = result.button("Book a complimentary call")
    assert book is not None and len(book["url"]) <= 512
    assert book["url"].startswith("https://calendly.com/getyourfixpt/complimentary-call?")


async def test_person_who_asks_in_the_server_to_be_forgotten_is_answered_there_privately(
    server: Server, person
) -> None:
    await server.start_bot()
    anna = person(ANNA, "anna")
    await anna.types("hi")  # her DMs are open
    in_dm = len(anna.dm())

    await anna.runs("forget")
    await anna.presses("Yes, delete everything")

    done = anna.last_message()
    assert done.ephemeral and "deleted everything stored about you" in done.content
    assert len(anna.dm()) == in_dm, "nothing about it in her DMs"
    assert await server.engine.store.load(CHANNEL, str(ANNA)) is None
    assert_nothing_public_but(server.fake, [])

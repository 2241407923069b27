"""Discord failing under the bot: 429s, 5xx and requests that never come back, on interaction
responses, follow-ups, DM sends and DM creation. Every reply waits in the outbox until Discord
takes it, so people still finish, each answer is applied once, and each question arrives once,
in order.

The real discord.py client against the fake Discord (tests/fakes/discord/), which answers a
seeded share of those requests with a fault, or a planned fault at a time.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bot.core.events import Reply
from bot.tools.client import DialogClient
from tests.conftest import SAFETY_QUESTIONS_NO_INJURY
from tests.fakes.discord import Person
from tests.fakes.discord.faults import CALLBACK, DM, FAULT_KINDS, FOLLOWUP, HANG
from tests.harness.discord import (  # noqa: F401 (server, person: the Discord fixtures)
    CHANNEL,
    THROUGH_THE_CHECK,
    Server,
    person,
    server,
)

ANNA, BEN = 101, 102
CARA, DAN, EVE = 104, 105, 106
BY_TYPING = ["hi", "ok", "me", "adult", "no", "no", "no",
             *["no"] * len(SAFETY_QUESTIONS_NO_INJURY), "kneecap",
             "stairs and running", "done", "years", "6", "no", "no", "no", "running", "done",
             "no", "no", "no", "now", "steady", "heel lifts", "fine", "no", "wobble"]
FAULT_SHARE, SEED = 0.15, 24
TURN_OF = re.compile(r"^choice:(\d+)\|")

Step = tuple[str, str]  # ("press", label) or ("type", text)


async def until(condition: Callable[[], Awaitable[bool] | bool], timeout: float,
                what: str) -> None:
    """Until `condition()` (or the coroutine it returns) holds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.05)


async def delivered(server: Server, someone: Person, timeout: float = 180.0) -> None:
    """Until the bot handled what the person did and the outbox holds nothing for them."""
    await server.fake.settle(timeout=timeout)
    store = server.engine.store
    await until(lambda: _nothing_waiting(store, someone.user_id), timeout,
                f"messages to {someone.user_id} still wait in the outbox")


async def _nothing_waiting(store: Any, user_id: int) -> bool:
    return await store.undelivered(CHANNEL, str(user_id)) == 0


async def goes_through(server: Server, someone: Person, steps: list[Step]) -> None:
    """The person's steps, each once the bot's answer to the one before has arrived."""
    for kind, what in steps:
        if kind == "press":
            message = someone.latest_with(what)
            button = message.button(what)
            assert button is not None
            await server.fake.click(someone.user_id, message, button["custom_id"])
        else:
            await server.fake.dm(someone.user_id, what)
        await delivered(server, someone)


def questions_shown(server: Server, user_id: int) -> list[int]:
    """The turn of every question with choice buttons the person was shown (posted, or edited
    in place), in the order shown."""
    mine = {s.id for s in server.fake.visible_to(user_id)}
    turns = []
    for message_id, body in server.fake.shown:
        ids = [b.get("custom_id", "") for row in body.get("components") or []
               for b in row["components"]]
        found = {int(m.group(1)) for i in ids if (m := TURN_OF.match(i))}
        if message_id in mine and found:
            assert len(found) == 1, "one question's buttons carry one turn"
            turns.append(found.pop())
    return turns


async def the_same_without_discord(server: Server, opening: str,
                                   steps: list[Step]) -> tuple[list[Any], list[Any], list[int]]:
    """The answers saved, the funnel events and the turns of the questions asked, for the same
    steps given straight to the engine (a channel with no outbox): what a flawless Discord
    would give."""
    client = DialogClient(server.engine, f"reference-{time.monotonic_ns()}", channel="test")
    await client.send(opening)
    for kind, what in steps:
        if kind == "type":
            await client.send(what)
            continue
        choice = next(c for m in client.last.messages for c in m.choices
                      if (c.label or c.id) == what or f"✓ {c.label}" == what)
        await client.click(choice.id)
    saved = await server.engine.store.load("test", client.user_id)
    assert saved is not None
    events = await server.engine.store.events("test", client.user_id)
    return _answers(saved.history), events, [turn for reply in client.replies
                                             for turn in _question_turns(reply)]


def _question_turns(reply: Reply) -> list[int]:
    return [reply.turn for message in reply.messages if message.choices]


def _answers(history: list[Any]) -> list[tuple[str, Any]]:
    return [(answer.state, answer.value) for answer in history]


# -- the story ------------------------------------------------------------------------------------


async def test_everyone_finishes_the_knee_check_when_discord_fails_15_percent_of_the_time(
    server: Server, person
) -> None:
    await server.start_bot()
    anna, ben = person(ANNA, "anna"), person(BEN, "ben")  # buttons, from the server / a DM
    cara, dan = person(CARA, "cara"), person(DAN, "dan")  # typing in their DMs
    eve = person(EVE, "eve")  # buttons in the server, privately: her DMs are closed
    by_buttons: list[Step] = [("press", label) for label in THROUGH_THE_CHECK]
    by_typing: list[Step] = [("type", text) for text in BY_TYPING]
    server.fake.closed_dms.add(EVE)
    await eve.runs("kneecheck")  # before the trouble: the first interaction is her only way
    server.fake.inject_faults(FAULT_SHARE, SEED)

    async def buttons_from(someone: Person, in_dm: bool) -> None:
        await server.fake.slash(someone.user_id, "kneecheck", in_guild=not in_dm)
        await delivered(server, someone)
        await goes_through(server, someone, by_buttons)

    await asyncio.gather(buttons_from(anna, False), buttons_from(ben, True),
                         goes_through(server, cara, by_typing),
                         goes_through(server, dan, by_typing),
                         goes_through(server, eve, by_buttons))

    kinds = {fault.status for _, fault in server.fake.faults.faulted}
    assert kinds == set(FAULT_KINDS), f"every kind of fault happened: {kinds}"
    assert {target for target, _ in server.fake.faults.faulted} >= {CALLBACK, FOLLOWUP, DM}
    for someone, opening, steps in ((anna, "/kneecheck", by_buttons),
                                    (ben, "/kneecheck", by_buttons),
                                    (eve, "/kneecheck", by_buttons),
                                    (cara, "hi", by_typing[1:]), (dan, "hi", by_typing[1:])):
        assert "likely contributors" in someone.last_message().content, someone.user_id
        answers, events, questions = await the_same_without_discord(server, opening, steps)
        saved = await server.engine.store.load(CHANNEL, str(someone.user_id))
        assert saved is not None and saved.finished
        assert _answers(saved.history) == answers, "each answer applied once, as given"
        assert await server.engine.store.events(CHANNEL, str(someone.user_id)) == events
        assert questions_shown(server, someone.user_id) == questions, "each question once"
        assert not any("may not have reached you" in s.content for s in someone.sees())
    assert all(s.ephemeral for s in eve.sees()) and server.fake.public() == []
    assert not server.fake.refused, server.fake.refused


# -- at the edges ---------------------------------------------------------------------------------


async def test_a_429_with_retry_after_is_waited_out_before_the_dm_goes_again(
    server: Server, person
) -> None:
    await server.start_bot()
    cara = person(CARA, "cara")
    await cara.types("hi")  # the DM exists: the next send is the message itself
    server.fake.fail(DM, 429, retry_after=1.2)
    since = len(server.fake.faults.attempts)

    await cara.types("ok")
    await delivered(server, cara)

    first, second = (at for at, target in server.fake.faults.attempts[since:] if target == DM)
    assert second - first >= 1.2, "not sent again before Discord said"
    assert sum("who is this knee check for?" in s.content for s in cara.dm()) == 1


async def test_a_long_429_leaves_the_message_in_the_outbox_until_the_wait_is_over(
    server: Server, person
) -> None:
    await server.start_bot()
    cara = person(CARA, "cara")
    await cara.types("hi")
    server.fake.fail(DM, 429, retry_after=45.0)  # longer than discord.py waits by itself
    since, seen = len(server.fake.faults.attempts), len(cara.dm())

    await cara.types("ok")
    await asyncio.sleep(1.5)  # several outbox passes

    assert [target for _, target in server.fake.faults.attempts[since:]].count(DM) == 1
    assert len(cara.dm()) == seen
    assert await server.engine.store.undelivered(CHANNEL, str(CARA)) == 1
    server.engine.clock = lambda: time.time() + 46  # Discord's wait is over
    server.engine.deliveries.wake()
    await delivered(server, cara)
    (question,) = cara.dm()[seen:]
    assert "who is this knee check for?" in question.content


async def test_a_dm_discord_refuses_for_good_is_dropped_and_not_sent_again(
    server: Server, person
) -> None:
    await server.start_bot()
    cara = person(CARA, "cara")
    await cara.types("hi")
    server.fake.fail(DM, 403)  # she closed her DMs meanwhile
    since, seen = len(server.fake.faults.attempts), len(cara.dm())

    await cara.types("ok")
    await delivered(server, cara)
    await asyncio.sleep(1.5)  # several outbox passes

    assert [target for _, target in server.fake.faults.attempts[since:]].count(DM) == 1
    assert len(cara.dm()) == seen


async def test_a_503_then_success_delivers_the_question_once(server: Server, person) -> None:
    await server.start_bot()
    cara = person(CARA, "cara")
    await cara.types("hi")
    server.fake.fail(DM, 503)
    since, seen = len(server.fake.faults.attempts), len(cara.dm())

    await cara.types("ok")
    await delivered(server, cara)

    assert [target for _, target in server.fake.faults.attempts[since:]].count(DM) == 2
    (question,) = cara.dm()[seen:]
    assert "who is this knee check for?" in question.content


async def test_a_press_whose_follow_up_fails_gets_its_next_question_once(
    server: Server, person
) -> None:
    await server.start_bot()
    ben = person(BEN, "ben")
    await ben.runs("kneecheck", in_dm=True)
    server.fake.fail(FOLLOWUP, 503, times=2)  # discord.py tries again by itself
    seen = len(ben.dm())

    await ben.presses("Let's start")
    await delivered(server, ben)

    (question,) = ben.dm()[seen:]
    assert question.button("Me") is not None
    assert "**Your answer:** Let's start" in ben.dm()[0].content


async def test_an_answer_typed_before_the_question_arrived_is_not_applied(
    server: Server, person
) -> None:
    await server.start_bot()
    cara = person(CARA, "cara")
    await cara.types("hi")
    server.fake.fail(DM, 503, times=3)  # "Who is this for?" waits in the outbox

    await cara.types("ok")
    await cara.types("me")  # typed before the question reached her
    await delivered(server, cara)

    saved = await server.engine.store.load(CHANNEL, str(CARA))
    assert saved is not None and "me" not in [a.value for a in saved.history]
    assert "may not have reached you" in cara.dm()[-2].content
    assert "who is this knee check for?" in cara.last_message().content


async def test_an_interaction_discord_never_acknowledges_still_moves_the_person_on(
    server: Server, person
) -> None:
    await server.start_bot()
    server.fake.faults.hang_for = 3.0
    ben = person(BEN, "ben")
    await ben.runs("kneecheck", in_dm=True)
    server.fake.fail(CALLBACK, HANG)  # past Discord's 3 s: "This interaction failed"

    await ben.presses("Let's start")
    await delivered(server, ben)

    assert ben.last_message().button("Me") is not None
    assert await server.turn_of(BEN) == 2


async def test_a_press_never_acknowledged_reaches_a_person_with_closed_dms_through_the_one_before(
    server: Server, person
) -> None:
    await server.start_bot()
    server.fake.faults.hang_for = 3.0
    eve = person(EVE, "eve")
    server.fake.closed_dms.add(EVE)
    await eve.runs("kneecheck")
    server.fake.fail(CALLBACK, HANG)  # her press: "This interaction failed"

    await eve.presses("Let's start")
    await delivered(server, eve)

    question = eve.last_message()
    assert question.ephemeral and question.button("Me") is not None
    assert await server.turn_of(EVE) == 2

"""A person who types every answer in the web chat (a text channel with buttons), through the
real server: own words, typed picks that add up, the result's actions, and a contact request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.test_console import TYPED_SCREENING
from tests.test_web_chat import PRACTICE_SITE, ChatServer, chat_server, choice_ids, texts

TAM = "tam-anonymous-id-0123456789abcdef"


@pytest.fixture
async def chat(tmp_path: Path) -> AsyncIterator[ChatServer]:
    async with chat_server(tmp_path, allowed_origins=[PRACTICE_SITE], session_burst=1000) as server:
        yield server


async def test_person_who_types_every_answer_in_the_web_chat_finishes_and_is_contacted(
    chat: ChatServer,
) -> None:
    answer = await chat.say(TAM, "/start")
    assert answer["state"] == "welcome"
    for text, state in TYPED_SCREENING:
        answer = await chat.say(TAM, text)
        assert not state or answer["state"] == state, (text, answer["state"])
    assert "Ankle mobility" in texts(answer)
    assert choice_ids(answer)[:1] == ["/contact"]
    assert "/remind" not in choice_ids(answer), "no check-in where later messages can't arrive"
    answer = await chat.say(TAM, "ask the practice to contact me")
    assert answer["state"] == "contact_consent" and "complete" not in texts(answer)
    for text, state in (("yes please", "contact_name"), ("Tam", "contact_method"),
                        ("tam@example.com", "contact_saved")):
        answer = await chat.say(TAM, text)
        assert answer["state"] == state


async def test_person_in_the_web_chat_who_types_unclearly_is_asked_did_you_mean(
    chat: ChatServer,
) -> None:
    await chat.say(TAM, "/start")
    await chat.say(TAM, "ok start")
    await chat.say(TAM, "me")
    await chat.say(TAM, "adult")
    asked = await chat.say(TAM, "yes")  # which "yes": this week, or weeks ago?
    assert "Did you mean" in texts(asked)
    assert choice_ids(asked) == ["this_week", "weeks", "confirm_none"]
    reloaded = await chat.resume(TAM)  # the page reloaded while asking: still that question
    assert reloaded["state"] == "injury" and "forget_yes" not in choice_ids(reloaded)
    answered = await chat.press(TAM, "weeks", turn=asked["turn"])
    assert answered["state"] == "swelling", texts(answered)

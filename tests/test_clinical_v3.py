"""Knee flow v3 (issue 25): the classes held-out patients still slipped through. Each test
failed on flow v2."""

from __future__ import annotations

from bot.tools.client import DialogClient


async def start(person: DialogClient, who: str = "me", injury: str = "no",
                age: str | None = "adult") -> None:
    await person.send("/start")
    for choice in ("begin", who):
        await person.click(choice)
    if age and person.last.state == "age":
        await person.click(age)
    await person.click(injury)


async def no_until(person: DialogClient, state: str) -> None:
    for _ in range(40):
        if person.last.state == state:
            return
        assert person.last.state.startswith(("rf_", "screen_")), person.last.state
        await person.click("no")
    raise AssertionError(f"never reached {state}")


def links_of(person: DialogClient) -> list[str]:
    return [link.label for m in person.last.messages for link in m.links]


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
    while person.last.state.startswith(("rf_", "screen_")):
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
    while person.last.state.startswith(("rf_", "screen_")):
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

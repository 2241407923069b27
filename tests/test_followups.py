"""Check-ins a person asks for: consent, durable timers fired once (across processes and
restarts), quiet hours, what stops them, the cap, and the progress the check-in shows; on both
stores, with a clock the tests move."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.admin.leads import lead_rows, leads_csv
from bot.app import build_engine
from bot.core import records
from bot.core.conversation import Answer, Conversation
from bot.core.effects import Address, StaffNotice
from bot.core.events import Event, EventKind, Message, Reply
from bot.core.markup import plain
from bot.core.records import CANCELLED, PENDING, SENT, SKIPPED, Followup
from bot.engine.flow import FlowError, load_flow, parse_duration
from bot.engine.followups import BUSY_DELAY, BUSY_TRIES, pointing_check, quiet_until
from bot.engine.reminders import BUSY_WINDOW
from bot.handoff.reports import export_leads
from bot.settings import Settings, SettingsError, load_settings
from bot.tools.client import DialogClient
from bot.turns.runner import TurnRunner
from tests.conftest import (
    HIP_MOBILITY_RUN,
    SAFETY_QUESTIONS_NO_INJURY,
    TO_HOT_SWOLLEN,
    TO_PAIN_QUESTIONS,
    wired,
)

NOON = datetime(2027, 1, 15, 12, 0, tzinfo=UTC).timestamp()  # a Friday, outside quiet hours
DAY = 86400.0
TWO_WEEKS, THREE_DAYS = 14 * DAY, 3 * DAY
# The hip-mobility run with the pain level typed as 6 instead of skipped.
PAIN_AT_SIX = tuple("6@" if step == "skip" else step for step in HIP_MOBILITY_RUN)


@dataclass
class Inbox:
    """The person's side of a channel that delivers messages later (an `Outbox`)."""

    received: list[tuple[int, Message]] = field(default_factory=list)

    async def deliver(self, address: Address, reply: Reply) -> None:
        self.received.extend((reply.turn, message) for message in reply.messages)

    @property
    def texts(self) -> list[str]:
        return [plain(message.text) for _, message in self.received]


@dataclass
class StaffRoom:
    """A staff place of the test channel (an outbox for `staff:test`)."""

    notices: list[StaffNotice] = field(default_factory=list)

    async def notify(self, notice: StaffNotice) -> None:
        self.notices.append(notice)


@dataclass
class World:
    engine: TurnRunner
    clock: list[float]
    inbox: Inbox
    staff: StaffRoom
    person: DialogClient

    def at(self, when: float) -> None:
        self.clock[0] = when

    async def followups(self, user: str = "alex") -> list[Followup]:
        return await self.engine.store.followups("test", user)

    async def press_on_delivered(self, choice_id: str) -> Reply:
        """Press a button of the latest message delivered through the outbox."""
        turn = self.inbox.received[-1][0]
        event = Event("test", self.person.user_id, EventKind.PRESS, choice_id=choice_id,
                      turn=turn)
        reply = await self.engine.handle(event)
        self.person.replies.append(reply)
        return reply


def reachable(engine: TurnRunner, clock: list[float], inbox: Inbox, staff: StaffRoom,
              delivered: tuple[str, ...] = ("test",), pulled: tuple[str, ...] = ()) -> TurnRunner:
    """A runner as a process that runs the person's channel (it can send them messages) and
    its staff place."""
    engine.clock = lambda: clock[0]
    runner = wired(engine, delivered=delivered, pulled=pulled, staff_places=("test",))
    runner.outboxes["test"] = inbox
    runner.outboxes["staff:test"] = staff
    return runner


@pytest.fixture
async def world(engine: TurnRunner) -> World:
    clock, inbox, staff = [NOON], Inbox(), StaffRoom()
    runner = reachable(engine, clock, inbox, staff)
    return World(runner, clock, inbox, staff, DialogClient(runner, "alex"))


async def screen(person: DialogClient, run: tuple[str, ...] = PAIN_AT_SIX) -> None:
    """The whole knee check to a result naming hip mobility (pain typed as 6)."""
    await person.send("/start")
    for choice in TO_PAIN_QUESTIONS:
        await person.click(choice)
    for step in run:  # "6@" is typed, anything else pressed
        await (person.send(step[:-1]) if step.endswith("@") else person.click(step))
    assert person.last.state == "result"


async def press_first_choices_to_a_result(person: DialogClient) -> None:
    """Press the first button of each question (and Done) until a result."""
    while not person.last.state.startswith("result"):
        first = person.choice_ids[0]
        await person.click(first)
        if "done" in person.choice_ids:
            await person.click("done")


async def ask_for(world: World, kind: str = "check_in") -> Followup:
    """From the result: "Remind me to check in", then the kind; the timer it made."""
    await world.person.click("/remind")
    assert world.person.choice_ids == ["remind_retry_checks", "remind_check_in", "remind_no"]
    await world.person.click(f"remind_{kind}")
    *_, followup = await world.followups()
    return followup


def text_of(reply: Reply) -> str:
    return "\n".join(plain(message.text) for message in reply.messages)


# -- asking: nothing without a yes --------------------------------------------------------------


async def test_a_result_offers_check_ins_and_keeps_nothing_without_a_yes(world: World) -> None:
    await screen(world.person)
    assert "/remind" in world.person.choice_ids
    assert await world.followups() == []

    await world.person.click("/remind")
    assert "one message here" in world.person.text
    assert await world.followups() == []
    await world.person.click("remind_no")

    assert "no reminder set" in world.person.text.lower()
    assert await world.followups() == []
    assert await world.engine.store.consents("test", "alex") == []
    world.at(NOON + 30 * DAY)
    assert await world.engine.followups.fire_due() == 0
    assert world.inbox.received == []


async def test_a_yes_keeps_a_timer_its_consent_and_an_event(world: World) -> None:
    await screen(world.person)
    followup = await ask_for(world)

    assert (followup.kind, followup.status, followup.due_at) == ("check_in", PENDING,
                                                                 NOON + TWO_WEEKS)
    assert followup.baseline == {"baseline_pain": 6, "baseline_driver": "hip_mobility",
                                 "baseline_check": "hip_squat", "baseline_at": NOON}
    assert "Friday 29 January" in world.person.text and "stop reminders" in world.person.text
    (consent,) = await world.engine.store.consents("test", "alex")
    assert (consent.kind, consent.version, consent.at) == (records.REMINDERS, "1", NOON)
    events = await world.engine.store.events("test", "alex")
    assert ("followup_scheduled", "knee", "check_in") in [tuple(e[:3]) for e in events]


@pytest.mark.parametrize(("typed", "kind", "delay"), [
    ("in 2 weeks", "check_in", TWO_WEEKS), ("3 days", "retry_checks", THREE_DAYS),
    ("1", "retry_checks", THREE_DAYS), ("2", "check_in", TWO_WEEKS),
])
async def test_the_offer_can_be_answered_by_typing(world: World, typed, kind, delay) -> None:
    await screen(world.person)
    await world.person.send("remind me")
    await world.person.send(typed)
    (followup,) = await world.followups()
    assert (followup.kind, followup.due_at) == (kind, NOON + delay)


async def test_something_else_typed_at_the_offer_is_handled_as_usual(world: World) -> None:
    await screen(world.person)
    await world.person.click("/remind")
    await world.person.send("help")
    assert await world.followups() == []
    assert "/remind" not in world.person.text  # the help text, not a scheduled reminder
    await world.person.click("remind_check_in", replies_ago=1)  # the offer is gone
    assert await world.followups() == []


@pytest.mark.parametrize(("reason", "words"), [
    ("no_screening", "once you've done it"), ("red_flag", "next step is a doctor"),
    ("doctor_first", "next step is a doctor"), ("channel", "can't send you a message"),
    ("collected", "can't send you a message"),
])
async def test_no_check_in_is_offered_where_it_should_not_be(world: World, reason, words):
    person = world.person
    if reason == "red_flag":
        await person.send("/start")
        for choice in (*TO_HOT_SWOLLEN, "yes"):  # "yes": hot, swollen knee
            await person.click(choice)
        assert person.last.state == "redflag_hot_swollen"
    elif reason == "doctor_first":
        await person.send("/start")
        locked = SAFETY_QUESTIONS_NO_INJURY.index("rf_locked")
        for choice in ("begin", "me", "adult", "no", "no", "no", *["no"] * locked,
                       "unsure", "unsure"):  # locking (within days) stays unsure
            await person.click(choice)
        for _ in range(len(SAFETY_QUESTIONS_NO_INJURY) - locked - 1):
            await person.click("no")
        await press_first_choices_to_a_result(person)
        assert person.last.state == "result_doctor_first"
    elif reason == "channel":
        await screen(person)
        # a console: nothing can come later
        person.engine = reachable(world.engine, world.clock, world.inbox, world.staff, ())
    elif reason == "collected":
        await screen(person)
        # the web chat: only what they come back for
        person.engine = reachable(world.engine, world.clock, world.inbox, world.staff,
                                  pulled=("test",))
    await person.send("remind me")
    assert words in person.text
    assert await world.followups() == []


@pytest.mark.parametrize("kept", [2, 3])
async def test_check_ins_are_capped_per_person(world: World, kept: int) -> None:
    await screen(world.person)
    for _ in range(kept):
        await ask_for(world)
    await world.person.click("/remind")
    if kept < 3:  # below the cap: offered and kept
        await world.person.click("remind_retry_checks")
        assert len(await world.followups()) == kept + 1
    else:  # at the cap: refused
        assert "as many check-ins" in world.person.text
        assert len(await world.followups()) == kept


async def test_a_cancelled_check_in_does_not_count_against_the_cap(world: World) -> None:
    await screen(world.person)
    for _ in range(3):
        await ask_for(world)
    await world.person.send("stop reminders")
    await ask_for(world)
    assert [f.status for f in await world.followups()] == [CANCELLED] * 3 + [PENDING]


# -- firing: once, when due, across processes and restarts --------------------------------------


async def test_a_check_in_is_sent_once_when_due_and_not_a_second_before(world: World) -> None:
    await screen(world.person)
    followup = await ask_for(world)

    world.at(followup.due_at - 1)
    assert await world.engine.followups.fire_due() == 0
    assert world.inbox.received == []
    world.at(followup.due_at)
    assert await world.engine.followups.fire_due() == 1
    assert await world.engine.followups.fire_due() == 0

    intro, question = world.inbox.texts
    assert "check in two weeks after your knee check" in intro and "the squat check" in intro
    assert "anything new" in question
    assert [c.id for c in world.inbox.received[1][1].choices] == ["no", "yes", "unsure"]
    (sent,) = await world.followups()
    assert (sent.status, sent.attempt) == (SENT, 1)
    kinds = [e[0] for e in await world.engine.store.events("test", "alex")]
    assert kinds.count("followup_sent") == 1


async def test_two_processes_firing_together_send_it_once(world: World, settings) -> None:
    await screen(world.person)
    followup = await ask_for(world)
    other_inbox = Inbox()
    other = reachable(build_engine(settings), world.clock, other_inbox, StaffRoom())
    await other.store.open()
    try:
        world.at(followup.due_at + 60)
        sent = await asyncio.gather(world.engine.followups.fire_due(), other.followups.fire_due(),
                                    world.engine.fire_checkin(followup.id),
                                    other.fire_checkin(followup.id))
        assert sum(sent) == 1
        assert len(world.inbox.received) + len(other_inbox.received) == 2  # intro, question
    finally:
        await other.store.close()


async def test_a_restart_before_the_due_time_loses_nothing(world: World, settings) -> None:
    await screen(world.person)
    followup = await ask_for(world)
    await world.engine.store.close()  # the process stops (a deploy)

    inbox = Inbox()
    restarted = reachable(build_engine(settings), world.clock, inbox, StaffRoom())
    await restarted.store.open()
    try:
        world.at(followup.due_at)
        assert await restarted.followups.fire_due() == 1
        assert len(inbox.received) == 2
    finally:
        await restarted.store.close()
        await world.engine.store.open()  # for the fixture's close


async def test_the_timer_loop_fires_when_woken(world: World) -> None:
    await screen(world.person)
    followup = await ask_for(world)
    timer = asyncio.create_task(world.engine.followups.run())
    try:
        world.at(followup.due_at)
        world.engine.followups.wake()
        async with asyncio.timeout(5):
            while len(world.inbox.received) < 2:
                await asyncio.sleep(0.01)
    finally:
        timer.cancel()
    assert len(world.inbox.received) == 2


async def test_a_follow_up_of_a_kind_the_flow_no_longer_has_is_skipped(world: World) -> None:
    store = world.engine.store
    await store.schedule_followup(Followup(0, "test", "alex", "knee", "gone", NOON,
                                           created_at=NOON))
    assert await world.engine.followups.fire_due() == 0
    (followup,) = await world.followups()
    assert (followup.status, followup.reason) == (SKIPPED, "not in the flow any more")
    assert world.inbox.received == []


# -- quiet hours and busy people ---------------------------------------------------------------


def utc(hour: int, minute: int = 0, day: int = 15) -> float:
    return datetime(2027, 1, day, hour, minute, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(("at", "expected"), [
    (utc(19, 59), utc(19, 59)),        # just before they start: now
    (utc(20, 0), utc(9, 0, day=16)),   # as they start: the next morning
    (utc(23, 30), utc(9, 0, day=16)),
    (utc(0, 0), utc(9, 0)),            # after midnight: this morning
    (utc(8, 59), utc(9, 0)),           # a minute before they end
    (utc(9, 0), utc(9, 0)),            # as they end: now
])
def test_quiet_hours_that_wrap_past_midnight(at: float, expected: float) -> None:
    assert quiet_until(at, "UTC", (20 * 60, 9 * 60)) == expected


@pytest.mark.parametrize(("at", "expected"), [
    (utc(12, 59), utc(12, 59)), (utc(13, 0), utc(14, 0)), (utc(13, 59), utc(14, 0)),
    (utc(14, 0), utc(14, 0)),
])
def test_quiet_hours_within_a_day(at: float, expected: float) -> None:
    assert quiet_until(at, "UTC", (13 * 60, 14 * 60)) == expected


def test_quiet_hours_are_local_time_across_a_daylight_saving_change() -> None:
    # New York, 14 March 2027: clocks go from 2:00 to 3:00. 22:00 on the 13th (EST, UTC-5)
    # waits for 9:00 on the 14th, which is EDT (UTC-4): 13:00 UTC.
    evening = datetime(2027, 3, 14, 3, 0, tzinfo=UTC).timestamp()
    assert quiet_until(evening, "America/New_York", (20 * 60, 9 * 60)) == datetime(
        2027, 3, 14, 13, 0, tzinfo=UTC).timestamp()
    assert quiet_until(evening, "America/New_York", None) == evening


async def test_a_check_in_due_in_quiet_hours_waits_for_the_morning(world: World) -> None:
    world.at(utc(21, 30))  # asked late in the evening: due two weeks later, in quiet hours
    await screen(world.person)
    followup = await ask_for(world)
    assert followup.due_at == utc(9, 0, day=30)

    # Due at 9:00, but the process was down: at 20:30 it waits for the next morning.
    world.at(utc(20, 30, day=30))
    assert await world.engine.followups.fire_due() == 0
    (postponed,) = await world.followups()
    assert (postponed.status, postponed.due_at) == (PENDING, utc(9, 0, day=31))
    world.at(utc(9, 0, day=31))
    assert await world.engine.followups.fire_due() == 1


async def test_quiet_hours_follow_the_time_zone_setting(world: World) -> None:
    settings = world.engine.settings
    new_york = replace(settings, followups=replace(settings.followups,
                                                   timezone="America/New_York"))
    runner = build_engine(new_york, world.engine.store, world.engine.clock)
    world.engine = reachable(runner, world.clock, world.inbox, world.staff)
    world.person = DialogClient(world.engine, "alex")
    world.at(utc(12, 0))  # 7:00 in New York: quiet there
    await screen(world.person)
    followup = await ask_for(world)
    assert followup.timezone == "America/New_York"
    assert followup.due_at == utc(14, 0, day=29)  # 9:00 in New York


@pytest.mark.parametrize(("idle", "busy"), [(BUSY_WINDOW - 1, True), (BUSY_WINDOW, False)])
async def test_a_person_in_the_middle_of_something_is_not_interrupted(world: World, idle, busy):
    await screen(world.person)
    followup = await ask_for(world)
    world.at(followup.due_at - idle)
    await world.person.send("restart")  # mid-way through a new check
    world.at(followup.due_at)

    sent = await world.engine.followups.fire_due()

    (after,) = await world.followups()
    if busy:
        assert sent == 0 and (after.status, after.attempt) == (PENDING, 1)
        assert after.due_at == followup.due_at + BUSY_DELAY
    else:
        assert sent == 1 and after.status == SENT


async def test_a_check_in_put_off_too_often_is_given_up(world: World) -> None:
    await screen(world.person)
    followup = await ask_for(world)
    await world.person.send("restart")
    for attempt in range(1, BUSY_TRIES + 1):
        (current,) = await world.followups()
        world.at(current.due_at)
        await world.person.send("/start")  # busy again, right then
        assert await world.engine.followups.fire_due() == 0
        (after,) = await world.followups()
        assert after.attempt == attempt
    assert (after.status, after.reason) == (SKIPPED, "busy")
    assert followup.id == after.id and world.inbox.received == []


# -- what stops them ------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["/stop reminders", "stop reminders", "no more reminders",
                                 "/stopreminders"])
async def test_stop_reminders_cancels_them_and_withdraws_the_consent(world: World, how) -> None:
    await screen(world.person)
    followup = await ask_for(world)
    await world.person.send(how)

    assert "cancelled" in world.person.text
    (stopped,) = await world.followups()
    assert (stopped.status, stopped.reason) == (CANCELLED, "stopped")
    (consent,) = await world.engine.store.consents("test", "alex")
    assert consent.withdrawn_at == NOON
    world.at(followup.due_at)
    assert await world.engine.followups.fire_due() == 0 and world.inbox.received == []


async def test_a_plain_stop_ends_the_check_but_keeps_the_check_ins(world: World) -> None:
    await screen(world.person)
    await ask_for(world)
    await world.person.send("/stop")
    assert [f.status for f in await world.followups()] == [PENDING]


async def test_a_forget_deletes_the_timer_with_everything_else(world: World) -> None:
    await screen(world.person)
    followup = await ask_for(world)
    await world.person.send("/forget")
    await world.person.click("forget_yes")
    assert await world.followups() == []
    world.at(followup.due_at)
    assert await world.engine.followups.fire_due() == 0 and world.inbox.received == []


async def test_withdrawing_consent_cancels_them(world: World) -> None:
    await screen(world.person)
    await ask_for(world)
    await world.person.send("/withdraw")
    (followup,) = await world.followups()
    assert (followup.status, followup.reason) == (CANCELLED, "withdrawn")


async def test_a_booked_call_cancels_them_and_a_cancelled_booking_does_not(world: World):
    await screen(world.person)
    await ask_for(world)
    conversation = await world.engine.store.load("test", "alex")
    assert conversation is not None
    ref = conversation.booking_ref
    await world.engine.booked(ref, records.BOOKING_CANCELLED, "calendly", "calendly e-1")
    assert [f.status for f in await world.followups()] == [PENDING]
    await world.engine.booked(ref, records.BOOKED, "calendly", "calendly e-2")
    (followup,) = await world.followups()
    assert (followup.status, followup.reason) == (CANCELLED, "booked")


# -- the check-in ---------------------------------------------------------------------------------


async def fired(world: World, kind: str = "check_in") -> Followup:
    await screen(world.person)
    followup = await ask_for(world, kind)
    world.at(followup.due_at)
    assert await world.engine.followups.fire_due() == 1
    return followup


@pytest.mark.parametrize(("now", "words"), [
    ("5", "6 then, 5 now (out of 10), 1 point lower"),
    ("6", "6 then, 6 now (out of 10), the same as last time"),
    ("7", "6 then, 7 now (out of 10), 1 point higher"),
    ("0", "6 then, 0 now (out of 10), 6 points lower"),
    ("10", "6 then, 10 now (out of 10), 4 points higher"),
])
async def test_the_check_in_shows_the_pain_change(world: World, now: str, words: str) -> None:
    await fired(world)
    await world.press_on_delivered("no")
    await world.person.send(now)
    reply = await world.engine.handle(Event("test", "alex", EventKind.PRESS, choice_id="same",
                                            turn=world.person.last.turn))
    text = text_of(reply)
    assert words in text
    assert ("see a doctor" in text.split("This check is not")[0]) == (int(now) > 6)


@pytest.mark.parametrize("typed", ["11", "-1", "six-ish"])
async def test_a_pain_score_out_of_range_is_asked_again(world: World, typed: str) -> None:
    await fired(world)
    await world.press_on_delivered("no")
    await world.person.send(typed)
    assert world.person.last.state == "checkin_pain"
    assert (await world.followups())[0].result == {}


async def test_the_check_in_result_is_kept_shown_to_staff_and_on_the_lead(world: World) -> None:
    await screen(world.person)
    await world.person.click("/contact")
    await world.person.click("consent")
    await world.person.send("Alex Persona")
    await world.person.send("alex@example.org")
    world.person.replies.append(world.person.replies[-2])  # back at the result's buttons
    conversation = await world.engine.store.load("test", "alex")
    assert conversation is not None
    await world.engine.handle(Event("test", "alex", EventKind.COMMAND, command="remind"))
    await world.engine.handle(Event("test", "alex", EventKind.TEXT, text="2 weeks"))
    (followup,) = await world.followups()
    world.at(followup.due_at)
    await world.engine.followups.fire_due()
    world.staff.notices.clear()

    await world.press_on_delivered("no")
    await world.person.send("3")
    assert "Last time, the squat check pointed" in world.person.text
    await world.person.click("better")

    assert "6 then, 3 now (out of 10), 3 points lower" in world.person.text
    assert "The squat check is better" in world.person.text
    (done,) = await world.followups()
    assert done.result == {"before": 6, "after": 3, "difference": -3, "check": "hip_squat",
                           "check_change": "better"}
    (notice,) = world.staff.notices
    assert notice.kind == "checkin"
    assert "Pain (0-10): 6 at the screening, 3 now" in plain(notice.text)
    assert "pointed to the likely contributor: better" in plain(notice.text)
    assert "Likely contributors: Hip mobility" in plain(notice.text)
    events = [tuple(e[:2]) for e in await world.engine.store.events("test", "alex")]
    assert events.count(("checkin_finished", "knee")) == 1
    assert events.count(("finished", "knee")) == 1  # a check-in is not a new screening
    store = world.engine.store
    header, row = export_leads(await store.leads(), "csv",
                               await store.latest_progress()).splitlines()
    assert header.endswith(",progress") and row.endswith(",pain 6 -> 3; hip_squat: better")
    rows = lead_rows(await store.leads(), await store.booking_events(),
                     await store.latest_progress())
    assert rows[0].progress_words == "pain 6 -> 3; hip_squat: better"  # the dashboard's
    assert ",pain 6 -> 3; hip_squat: better," in leads_csv(rows)


async def test_a_check_in_without_a_pain_score_then_says_there_is_nothing_to_compare(
    world: World,
) -> None:
    await screen(world.person, run=HIP_MOBILITY_RUN)  # the pain level skipped
    followup = await ask_for(world, "retry_checks")
    assert "baseline_pain" not in followup.baseline
    world.at(followup.due_at)
    await world.engine.followups.fire_due()
    assert "a few days since your knee check" in world.inbox.texts[0]
    await world.press_on_delivered("no")
    await world.person.send("4")
    await world.person.click("not_tried")
    assert "nothing to compare yet" in world.person.text
    (done,) = await world.followups()
    assert done.result == {"before": None, "after": 4, "check": "hip_squat",
                           "check_change": "not_tried"}


async def test_something_new_at_the_check_in_goes_back_through_the_safety_questions(
    world: World,
) -> None:
    await screen(world.person)
    await ask_for(world, "retry_checks")
    await world.person.send("remind me")
    await world.person.click("remind_check_in")
    first, second = await world.followups()
    world.at(first.due_at)
    await world.engine.followups.fire_due()

    await world.press_on_delivered("yes")  # something new
    assert world.person.last.state == "who"
    for choice in ("me", "adult", "no", "new", "no", "yes"):  # a hot, swollen knee now
        await world.person.click(choice)

    assert world.person.last.state == "redflag_hot_swollen"
    assert "emergency" in world.person.text.lower()
    (_, pending) = await world.followups()
    assert (pending.id, pending.status, pending.reason) == (second.id, CANCELLED, "red_flag")


async def test_a_second_check_in_compares_with_the_first_screening(world: World) -> None:
    await fired(world, "retry_checks")
    await world.press_on_delivered("no")
    await world.person.send("4")
    await world.person.click("same")
    await world.person.click("/remind")
    await world.person.click("remind_check_in")
    _, second = await world.followups()
    assert second.baseline["baseline_pain"] == 6  # the screening's, not the check-in's
    assert second.baseline["baseline_check"] == "hip_squat"


async def test_mydata_lists_the_check_ins(world: World) -> None:
    await screen(world.person)
    await ask_for(world)
    await world.person.send("/mydata")
    assert "Check-ins you asked for" in world.person.text
    assert "your pain score 6" in world.person.text


async def test_the_purge_keeps_check_ins_still_to_come(world: World) -> None:
    await screen(world.person)
    first = await ask_for(world, "retry_checks")
    await ask_for(world, "check_in")
    world.at(first.due_at)
    await world.engine.followups.fire_due()
    await world.engine.store.purge(NOON + DAY)  # both were asked for before that
    assert [f.status for f in await world.followups()] == [PENDING]


# -- declared in the flow -------------------------------------------------------------------------


def test_the_check_in_retries_the_check_that_scored_the_first_contributor(world: World) -> None:
    flow = world.engine.flows["knee"]
    conversation = load_knee_answers(world, {"foot_mirror": "arch_collapse",
                                             "hip_single_leg": "drop"})
    assert pointing_check(flow, conversation, "foot_stability") == "foot_mirror"
    assert pointing_check(flow, conversation, "hip_stability") == "hip_single_leg"
    assert pointing_check(flow, conversation, "hip_mobility") == ""
    assert pointing_check(flow, conversation, "unknown") == ""


def load_knee_answers(world: World, answers: dict[str, str]):
    conversation = Conversation("test", "alex", flow="knee")
    conversation.history = [Answer(state, value) for state, value in answers.items()]
    return conversation


@pytest.mark.parametrize(("text", "seconds"), [
    ("1s", 1), ("90s", 90), ("30m", 1800), ("12h", 43200), ("3d", 259200), ("2w", 1209600),
    (" 3D ", 259200),
])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["0d", "3", "d", "3 days", "-1d", "1.5d", ""])
def test_what_is_not_a_duration(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


FLOW = """
id: tiny
start: a
followups:
{followups}
states:
  a: {{final: true, commands: [remind]}}
"""


@pytest.mark.parametrize(("followups", "error"), [
    ("  consent_version: '1'", "'kinds' must be a non-empty mapping"),
    ("  consent_version: '1'\n  kinds: {k: {label: K, delay: soon, start: a}}", "'delay'"),
    ("  consent_version: '1'\n  kinds: {k: {delay: 1d, start: a}}", "'label' is missing"),
    ("  kinds: {k: {label: K, delay: 1d, start: a}}", "'consent_version' is missing"),
    ("  consent_version: '1'\n  max_per_person: 0\n  kinds: {k: {label: K, delay: 1d, start: a}}",
     "'max_per_person'"),
])
def test_follow_ups_written_wrong_are_refused_with_the_field(tmp_path: Path, followups, error):
    path = tmp_path / "tiny.yaml"
    path.write_text(FLOW.format(followups=followups))
    with pytest.raises(FlowError, match=error):
        load_flow(path)


def test_max_per_person_of_one_is_the_smallest(tmp_path: Path) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(FLOW.format(followups="  consent_version: '1'\n  max_per_person: 1\n"
                                "  kinds: {k: {label: K, delay: 1d, start: a}}"))
    spec = load_flow(path).followups
    assert spec is not None and spec.max_per_person == 1 and spec.kinds["k"].delay == DAY


# -- settings -------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["20:00-09:00", "00:00-23:59", "13:00-14:00", ""])
def test_quiet_hours_settings_that_work(tmp_path: Path, value: str) -> None:
    settings = load_settings(data_dir=tmp_path, followups={"quiet_hours": value})
    assert settings.followups.quiet_hours == value


@pytest.mark.parametrize("value", ["24:00-09:00", "20:00-9:00", "20:00", "09:00-09:00",
                                   "20:60-09:00"])
def test_quiet_hours_settings_that_cannot_work(tmp_path: Path, value: str) -> None:
    with pytest.raises(SettingsError, match=r"followups\.quiet_hours"):
        load_settings(data_dir=tmp_path, followups={"quiet_hours": value})


def test_a_time_zone_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="not a time zone name"):
        load_settings(data_dir=tmp_path, followups={"timezone": "Mars/Olympus_Mons"})


def test_the_environment_sets_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_FOLLOWUPS__TIMEZONE", "Europe/London")
    monkeypatch.setenv("BOT_FOLLOWUPS__QUIET_HOURS", "21:30-08:15")
    settings: Settings = load_settings(data_dir=tmp_path)
    assert settings.followups.quiet_window() == (21 * 60 + 30, 8 * 60 + 15)
    assert settings.followups.timezone == "Europe/London"



@pytest.mark.parametrize(("told", "used"), [
    ("America/Los_Angeles", "America/Los_Angeles"), ("Mars/Olympus_Mons", "UTC"),
    ("../../etc/passwd", "UTC"), ("", "UTC"), ("x" * 80, "UTC"),
])
async def test_quiet_hours_use_the_persons_time_zone_when_the_channel_knows_it(
    world: World, told: str, used: str
) -> None:
    world.at(utc(18, 0))  # 10:00 in Los Angeles, 18:00 in UTC: daytime in both
    await screen(world.person)
    await world.engine.handle(Event("test", "alex", EventKind.COMMAND, command="remind",
                                    timezone=told))
    await world.engine.handle(Event("test", "alex", EventKind.TEXT, text="3 days",
                                    timezone=told))
    (followup,) = await world.followups()
    assert followup.timezone == used
    assert followup.due_at == utc(18, 0, day=18)  # not quiet in either zone
    world.at(utc(4, 0, day=18))  # 20:00 in Los Angeles the day before; 04:00 in UTC
    await world.engine.store.update_followup(followup.id, PENDING, utc(4, 0, day=18), 0)
    await world.engine.followups.fire_due()
    (after,) = await world.followups()
    expected = utc(17, 0, day=18) if used != "UTC" else utc(9, 0, day=18)  # 9:00 local
    assert (after.status, after.due_at) == (PENDING, expected)

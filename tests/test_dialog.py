"""The dialog decides without I/O: a conversation and an event in, a Decision out (the new
state, the messages, the effects), with no store, no await and no network. These stories run
it directly; the runner's side (saving, queueing, sending) is tested against real stores."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.core import records
from bot.core.conversation import Conversation
from bot.core.decision import NEEDS_FOLLOWUPS, NEEDS_STORED, Decision, Known
from bot.core.effects import (
    CancelFollowups,
    DropUndelivered,
    Forget,
    MoveFollowup,
    RecordEvent,
    ScheduleFollowup,
    StaffNotice,
    WithdrawConsents,
)
from bot.core.events import Event, EventKind
from bot.core.records import PENDING, SENT, SKIPPED, Followup, StoredData
from bot.engine.commands import load_commands
from bot.engine.dialog import Dialog, Reach
from bot.engine.flow import load_flows
from bot.engine.render import Renderer
from bot.settings import load_settings
from tests.conftest import HIP_MOBILITY_RUN, TO_HOT_SWOLLEN, TO_PAIN_QUESTIONS

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2027, 1, 15, 12, 0, tzinfo=UTC).timestamp()  # outside quiet hours


def dialog_for(tmp_path: Path, reach: Reach) -> Dialog:
    settings = load_settings(data_dir=tmp_path / "data")
    flows = load_flows(ROOT / "dialogs")
    commands = load_commands(ROOT / "dialogs", flows, settings.default_flow)
    return Dialog(flows, Renderer(ROOT / "templates"), settings, commands, reach)


@pytest.fixture
def dialog(tmp_path: Path) -> Dialog:
    return dialog_for(tmp_path, Reach(later=frozenset({"test"}), staff=True))


class Talk:
    """One person's conversation held in memory, each event decided by the dialog alone."""

    def __init__(self, dialog: Dialog) -> None:
        self.dialog = dialog
        self.conv = Conversation("test", "alex")
        self.decisions: list[Decision] = []

    def event(self, event: Event, known: Known | None = None) -> Decision:
        known = known or Known(NOW)
        decision = self.dialog.decide(self.conv, event, known)
        self.decisions.append(decision)
        return decision

    def send(self, text: str, undelivered: int = 0) -> Decision:
        return self.event(Event.from_text("test", "alex", text), Known(NOW, undelivered))

    def press(self, choice_id: str, turn: int | None = None) -> Decision:
        turn = self.conv.turn if turn is None else turn
        return self.event(Event("test", "alex", EventKind.PRESS, choice_id=choice_id, turn=turn))

    def effects(self) -> list[object]:
        return [effect for decision in self.decisions for effect in decision.effects]


def to_result(talk: Talk) -> None:
    talk.send("/start")
    for choice in (*TO_PAIN_QUESTIONS, *HIP_MOBILITY_RUN):
        talk.press(choice)
    assert talk.conv.state == "result"


def test_a_screening_to_a_result_records_started_and_finished_and_changes_only_the_conversation(
        dialog: Dialog) -> None:
    talk = Talk(dialog)
    to_result(talk)
    events = [e for e in talk.effects() if isinstance(e, RecordEvent)]
    assert [e.kind for e in events] == [records.STARTED, records.FINISHED]
    assert events[1].version == dialog.flows["knee"].version
    assert talk.conv.finished and talk.conv.last_outcome["drivers"][0] == "hip_mobility"
    assert all(d.applied for d in talk.decisions[1:])


def test_a_yes_to_a_red_flag_records_it_and_cancels_check_ins(dialog: Dialog) -> None:
    talk = Talk(dialog)
    talk.send("/start")
    for choice in (*TO_HOT_SWOLLEN, "yes"):  # "yes": a hot, swollen knee
        decision = talk.press(choice)
    assert talk.conv.state == "redflag_hot_swollen"
    assert RecordEvent(records.RED_FLAG, "knee", "hot_swollen",
                       dialog.flows["knee"].version) in decision.effects
    assert CancelFollowups("red_flag") in decision.effects
    book = talk.send("book")
    assert book.messages[0].text == decision.messages[0].text, "the advice, never a booking"


def test_a_typed_answer_while_the_question_is_undelivered_is_not_applied(dialog: Dialog):
    talk = Talk(dialog)
    talk.send("/start")
    talk.press("begin")
    before = talk.conv.history[:], talk.conv.state
    shown = talk.send("for me", undelivered=1)
    assert shown.stale and not shown.applied and shown.effects == [DropUndelivered()]
    assert (talk.conv.history, talk.conv.state) == before
    assert talk.send("for me").applied and talk.conv.state == "age"


def test_an_old_press_is_stale_and_the_same_press_twice_is_silent(dialog: Dialog) -> None:
    talk = Talk(dialog)
    talk.send("/start")
    turn = talk.conv.turn
    talk.press("begin", turn)
    assert talk.press("begin", turn) == Decision(stale=True)  # the same press again
    old = talk.press("someone_else", turn)
    assert old.stale and not old.applied and len(old.messages) == 2


def test_forget_decides_a_forget_effect_only_after_a_yes(dialog: Dialog) -> None:
    talk = Talk(dialog)
    talk.send("/start")
    asked = talk.send("/forget")
    assert asked.effects == [] and talk.conv.pending == "forget"
    kept = talk.send("no")
    assert kept.effects == [] and not kept.forgotten and talk.conv.pending == ""
    talk.send("/forget")
    done = talk.press("forget_yes")
    assert done.forgotten and done.effects == [Forget()]


def test_privacy_commands_ask_for_what_is_stored_then_decide(dialog: Dialog) -> None:
    talk = Talk(dialog)
    talk.send("/start")
    asked = talk.send("/withdraw")
    assert asked.needs == NEEDS_STORED and asked.effects == []
    nothing = StoredData("test", "alex")
    finished = dialog.finish(talk.conv, asked, Known(NOW, stored=nothing))
    assert finished.effects == [] and "nothing to withdraw" in finished.messages[0].text


def test_a_check_in_is_offered_scheduled_and_stopped_as_effects(dialog: Dialog) -> None:
    talk = Talk(dialog)
    to_result(talk)
    offer = talk.send("remind me")
    assert offer.needs == NEEDS_FOLLOWUPS
    offered = dialog.finish(talk.conv, offer, Known(NOW, followups=()))
    kind = offered.messages[0].choices[0].id
    pressed = talk.press(kind)
    scheduled = dialog.finish(talk.conv, pressed, Known(NOW, followups=()))
    (schedule,) = [e for e in scheduled.effects if isinstance(e, ScheduleFollowup)]
    assert schedule.followup.due_at > NOW and schedule.followup.status == PENDING
    stop = talk.send("stop reminders")
    stopped = dialog.finish(talk.conv, stop, Known(NOW, followups=(schedule.followup,)))
    assert CancelFollowups("stopped") in stopped.effects
    assert WithdrawConsents(kind=records.REMINDERS) in stopped.effects


def test_check_ins_are_not_offered_where_no_later_message_can_arrive(tmp_path: Path) -> None:
    talk = Talk(dialog_for(tmp_path, Reach(later=frozenset(), staff=True)))
    to_result(talk)
    offer = talk.send("remind me")
    refused = talk.dialog.finish(talk.conv, offer, Known(NOW, followups=()))
    assert refused.effects == [] and "can't send you a message later" in refused.messages[0].text


def test_talk_to_a_person_notifies_staff_only_where_a_staff_place_exists(tmp_path: Path):
    with_staff = Talk(dialog_for(tmp_path, Reach(staff=True)))
    asked = with_staff.send("talk to a person")
    assert [type(e) for e in asked.effects] == [RecordEvent, StaffNotice]
    without = Talk(dialog_for(tmp_path, Reach(staff=False)))
    refused = without.send("talk to a person")
    assert refused.effects == [] and not without.conv.relay


def followup_due(conv: Conversation, attempt: int = 0) -> Followup:
    return Followup(7, conv.channel, conv.user_id, "knee", "check_in", NOW - 1, attempt=attempt,
                    baseline={"baseline_at": NOW - 86400}, timezone="UTC", created_at=NOW)


def test_a_due_check_in_starts_when_the_person_is_idle_and_waits_while_busy(dialog: Dialog):
    talk = Talk(dialog)
    to_result(talk)
    started = dialog.checkin(talk.conv, followup_due(talk.conv), NOW)
    assert started.messages and MoveFollowup(7, SENT, NOW - 1, 1) in started.effects
    busy = Talk(dialog)
    busy.send("/start")
    busy.conv.updated_at = NOW - 60  # answered a minute ago, mid-way through a question
    put_off = dialog.checkin(busy.conv, followup_due(busy.conv), NOW)
    (moved,) = put_off.effects
    assert put_off.messages == [] and moved.status == PENDING and moved.due_at > NOW
    given_up = dialog.checkin(busy.conv, followup_due(busy.conv, attempt=3), NOW)
    assert given_up.effects == [MoveFollowup(7, SKIPPED, NOW - 1, 4, "busy")]


def test_a_booked_call_cancels_check_ins_and_a_cancelled_one_does_not(dialog: Dialog) -> None:
    conv = Conversation("test", "alex")
    booked = dialog.booked(conv, records.BOOKED, "knee", "calendly")
    assert booked.effects[:2] == [RecordEvent(records.BOOKED, "knee", "calendly"),
                                  CancelFollowups("booked")]
    assert booked.effects[2].kind == "booked" and booked.messages
    cancelled = dialog.booked(conv, records.BOOKING_CANCELLED, "knee", "calendly")
    assert not any(isinstance(e, CancelFollowups) for e in cancelled.effects)


def test_labels_are_worked_out_once_unless_the_practice_makes_them_read_the_conversation(
        tmp_path: Path) -> None:
    shipped = dialog_for(tmp_path, Reach())
    assert shipped.compose._fixed_labels is not None  # as shipped: the practice alone
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    labels = templates / "common" / "labels.j2"
    labels.write_text(labels.read_text() + '{% set book = "Book on " ~ channel %}\n')
    settings = load_settings(data_dir=tmp_path / "data")
    flows = load_flows(ROOT / "dialogs")
    commands = load_commands(ROOT / "dialogs", flows, settings.default_flow)
    own = Dialog(flows, Renderer(templates), settings, commands, Reach())
    assert own.compose._fixed_labels is None
    assert own.compose.labels(Conversation("telegram", "a")).book == "Book on telegram"
    assert own.compose.labels(Conversation("web", "b")).book == "Book on web"

"""Property: whatever a person does, in any order, the engine never breaks its promises."""

from __future__ import annotations

import asyncio
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import build_engine
from bot.engine.client import DialogClient
from bot.engine.engine import COMMANDS, FORGOTTEN, IDLE
from bot.settings import load_settings
from bot.store.sqlite import SQLiteStore

ENGINE = build_engine(load_settings(data_dir="/nonexistent-unused"), SQLiteStore(":memory:"))
FLOW = ENGINE.flows["knee"]
# The clinical spec, written out independently of the flow file it checks.
RED_FLAG_EXITS = {
    "rf_injury": ("fracture", "emergency"),
    "rf_pop": ("pop_swelling", "doctor_promptly"),
    "rf_locked": ("locked_knee", "doctor_promptly"),
    "rf_infection": ("infection", "emergency"),
    "rf_clot": ("blood_clot", "emergency"),
    "rf_nerve": ("nerve_symptoms", "doctor_promptly"),
    "rf_serious": ("serious_pathology", "doctor_soon"),
    "rf_child": ("child_or_teen", "doctor_soon"),
}
USERS = itertools.count()

actions = st.lists(
    st.one_of(
        st.tuples(st.just("press_current"), st.integers(0, 10)),
        st.tuples(st.just("press_stale"), st.sampled_from(["yes", "no", "begin", "unsure"]),
                  st.integers(1, 3)),
        st.tuples(st.just("text"), st.text(max_size=300)),
        st.tuples(st.just("text"), st.sampled_from(["yes", "no", "idk", "1", "3", "back",
                                                     "book", "help", "restart", "stop"])),
        st.tuples(st.just("command"), st.sampled_from([*COMMANDS, "knee", "nonsense"])),
        st.tuples(st.just("unsupported"),),
    ),
    max_size=40,
)


def test_every_red_flag_question_of_the_spec_is_in_the_flow():
    assert set(RED_FLAG_EXITS) == {s.id for s in FLOW.states.values() if s.section == "safety"}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions)
def test_any_sequence_of_actions_keeps_a_valid_state(sequence):
    asyncio.run(_play(sequence))


async def _play(sequence: list[tuple]) -> None:
    person = DialogClient(ENGINE, f"p{next(USERS)}")
    await person.send("/start")
    for action in sequence:
        before = await ENGINE.store.load(person.channel, person.user_id)
        reply = await _act(person, action)
        assert reply.state in FLOW.states or reply.state in (IDLE, FORGOTTEN)
        saved = await ENGINE.store.load(person.channel, person.user_id)
        if reply.state == FORGOTTEN:
            assert saved is None
            continue
        assert saved is not None and (saved.flow is None or saved.state in FLOW.states)
        assert saved.turn >= (before.turn if before else 0)
        if reply.stale and before is None:
            assert saved.flow is None and saved.history == []
            assert reply.messages and "start" in reply.messages[0].text.lower()
        elif reply.stale:
            assert (saved.state, saved.answers) == (before.state, before.answers)
            assert reply.messages == () or len(reply.messages) in (1, 2)
        _assert_red_flag_yes_ends_in_its_outcome(before, action, reply)


async def _act(person: DialogClient, action: tuple):
    kind = action[0]
    if kind == "press_current":
        ids = person.choice_ids
        return await person.click(ids[action[1] % len(ids)] if ids else "yes")
    if kind == "press_stale":
        return await person.click(action[1], replies_ago=min(action[2], len(person.replies) - 1))
    if kind == "text":
        return await person.send(action[1])
    if kind == "command":
        return await person.send(f"/{action[1]}")
    return await person.send_unsupported()


def _assert_red_flag_yes_ends_in_its_outcome(before, action, reply) -> None:
    if before is None or before.pending or before.state not in RED_FLAG_EXITS:
        return
    pressed_yes = action[0] == "press_current" and reply.extras.get("answered") == "Yes"
    # While staff are chatting with the person, typed text goes to staff (a human reads it);
    # the buttons still answer the question.
    typed_yes = action[0] == "text" and action[1] == "yes" and not before.relay
    if pressed_yes or typed_yes:
        flag, urgency = RED_FLAG_EXITS[before.state]
        assert FLOW.states[reply.state].final
        assert reply.outcome is not None
        assert (reply.outcome.red_flag, reply.outcome.urgency) == (flag, urgency)

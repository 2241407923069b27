"""Every question of every flow, rendered on every text channel: no numbered list sits above a
numbered answer list, and every pick-several question says how to answer it where the person
is, from one shared place (issue 26)."""

from __future__ import annotations

import re

import pytest

from bot.app import build_engine
from bot.channels.console import format_message
from bot.core.channels import CHANNELS
from bot.core.markup import plain
from bot.engine.compose import short_words
from bot.engine.flow import Option
from bot.engine.samples import sample_conversations
from bot.settings import load_settings
from bot.store.sqlite import SQLiteStore

ENGINE = build_engine(load_settings(data_dir="/nonexistent-unused"), SQLiteStore(":memory:"))
NUMBERED_LINE = re.compile(r"^\s*\d+[.)]\s", re.MULTILINE)
SHOWN = [(flow.id, state.id) for flow in ENGINE.flows.values()
         for state in flow.states.values() if not state.route]
PICK_SEVERAL = [(flow.id, state.id) for flow in ENGINE.flows.values()
                for state in flow.states.values() if state.multi]


def messages(flow_id: str, state_id: str, channel: str):
    """The state's message for the sample conversations that take its template's branches."""
    flow = ENGINE.flows[flow_id]
    state = flow.states[state_id]
    for conv in sample_conversations(flow, state):
        conv.channel = channel
        yield ENGINE.compose.state_message(conv, state)


@pytest.mark.parametrize("channel", sorted(CHANNELS))
@pytest.mark.parametrize(("flow_id", "state_id"), SHOWN)
def test_no_numbered_list_sits_above_numbered_answers(flow_id, state_id, channel):
    for message in messages(flow_id, state_id, channel):
        if not message.choices or not getattr(message, "numbered", True):
            continue
        listed = NUMBERED_LINE.findall(plain(message.text))
        assert not listed, f"{state_id} on {channel}: {listed} above answers typed by number"


@pytest.mark.parametrize(("flow_id", "state_id"), SHOWN)
def test_where_a_typed_number_is_the_answer_the_console_lists_choices_without_numbers(
        flow_id, state_id):
    state = ENGINE.flows[flow_id].states[state_id]
    for message in messages(flow_id, state_id, "console"):
        shown = format_message(message)
        numbers = re.findall(r"^\s+\d+\. ", shown, re.MULTILINE)
        if state.input is not None and state.input.type == "number":
            assert not message.numbered and not numbers, shown
            assert all(f"  - {c.label}" in shown for c in message.choices)
        elif message.choices:
            assert len(numbers) == len(message.choices), shown


def test_the_pain_score_on_the_console_shows_skip_without_a_number():
    conv = next(iter(sample_conversations(ENGINE.flows["knee"],
                                          ENGINE.flows["knee"].states["pain_level"])))
    conv.channel = "console"
    shown = format_message(ENGINE.compose.state_message(conv, ENGINE.flows["knee"].states[
        "pain_level"]))

    assert "  - Skip this one" in shown and "1. Skip this one" not in shown


@pytest.mark.parametrize(("flow_id", "state_id"), PICK_SEVERAL)
@pytest.mark.parametrize("channel", sorted(CHANNELS))
def test_every_pick_several_question_says_how_to_answer_it_on_the_channel(
        flow_id, state_id, channel):
    buttons = CHANNELS[channel].buttons
    for message in messages(flow_id, state_id, channel):
        text = plain(message.text)
        assert text.count("Pick all that apply") == 1, text
        assert text.count("Done") + text.count("done") == 1, "said once, from one place"
        if buttons:
            assert "Or type them, like" in text
            assert ("tap Done" in text) == (channel == "telegram")
            assert ("press Done" in text) == (channel == "discord")
        else:
            assert "tap" not in text and "press" not in text, "no buttons on this channel"
            assert 'like "1, 3"' in text and "type done" in text


def test_no_flow_template_words_its_own_pick_several_hint():
    """The hint lives in templates/common/pick_several.j2 alone."""
    for flow_id, state_id in PICK_SEVERAL:
        template = ENGINE.flows[flow_id].states[state_id].template
        source = (ENGINE.renderer.directory / template).read_text(encoding="utf-8")
        assert "Pick all" not in source and "Done" not in source, template


@pytest.mark.parametrize(("flow_id", "state_id"), PICK_SEVERAL)
def test_the_hints_example_typed_picks_the_answers_it_names(flow_id, state_id):
    """(Or type them, like "stairs, squatting"): typed as shown, it picks the first two."""
    state = ENGINE.flows[flow_id].states[state_id]
    message = next(messages(flow_id, state_id, "telegram"))
    example = re.search(r'like "([^"]+)"', plain(message.text))[1]

    reading = ENGINE.dialog.read(next(iter(sample_conversations(ENGINE.flows[flow_id], state))),
                                 state, example)

    assert [o.id for o in reading.options] == [o.id for o in state.options[:2]], example


@pytest.mark.parametrize(("label", "synonyms", "example"), [
    ("Running", ("run",), "Running"),  # a short label is its own example
    ("Obstacle course racing", ("ocr", "spartan", "tough mudder", "obstacle racing"),
     "obstacle racing"),  # reads as the label does
    ("Obstacle course racing", ("ocr", "spartan"), "spartan"),  # whole words, not "ocr"
    ("Obstacle course racing", ("ocr",), "ocr"),  # nothing better
    ("Can't walk normally yet", ("limp", "can't walk normally"), "limp"),  # two words at most
    ("Obstacle course racing", (), "Obstacle course racing"),
])
def test_a_pick_several_example_is_words_a_person_would_recognise(label, synonyms, example):
    option = Option(id="x", label=label, next="n", synonyms=synonyms)
    assert short_words(option) == example

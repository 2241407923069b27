"""A re-ask: what was not understood and how to answer, with the answers to pick from, never
the whole question again. Pure: no store, no await."""

from __future__ import annotations

from bot.core.conversation import Conversation
from bot.core.decision import Decision
from bot.engine import understand
from bot.engine.flow import State
from bot.engine.matching import MAX_MATCH_LENGTH
from bot.engine.stepper import Stepper


def reask(stepper: Stepper, conv: Conversation, state: State, text: str, choices: int,
          reading: understand.Reading = understand.NOT_UNDERSTOOD) -> Decision:
    """The short re-ask for `text`; `choices`: how many buttons can be typed by number."""
    compose = stepper.compose
    if len(text) > MAX_MATCH_LENGTH:
        long = compose.say("common/reask.j2", conv, too_long=True, count=0,
                           input_type=state.input.type if state.input else "")
        return stepper.with_current(conv, long)
    number = state.input if state.input and state.input.type == "number" else None
    again = compose.short(
        conv, state, "common/reask.j2", too_long=len(text) > 500,
        input_type=state.input.type if state.input else "",
        minimum=shown(number.minimum) if number else None,
        maximum=shown(number.maximum) if number else None,
        out_of_range=shown(reading.value) if reading.problem else None,
        count=choices + (1 if state.multi else 0),
        # on a number question an answer's number would be a score: its word instead
        words=[o.synonyms[0] if o.synonyms else o.label for o in state.options])
    return Decision([again])


def shown(number: float | None) -> str | None:
    """A number as a person writes it: 10, not 10.0."""
    if number is None:
        return None
    return str(int(number)) if float(number).is_integer() else str(number)

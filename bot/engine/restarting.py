"""Starting over only when the person means it: `restart` mid-check, with answers given, asks
first ("Yes, start over" / "No, keep going", both typeable); with nothing to lose (no answer
yet, or a finished check) it starts over at once. Pure: no store, no await."""

from __future__ import annotations

from bot.core.conversation import Answer, Conversation
from bot.core.decision import Decision
from bot.core.events import DANGER, PRIMARY, Choice, Message
from bot.engine.flow import YES, Option, State
from bot.engine.matching import match_option
from bot.engine.stepper import Stepper
from bot.engine.understand import polarity_of

RESTART_YES, RESTART_NO = "restart_yes", "restart_no"
RESTART_PENDING = "restart:"  # kept on the conversation as `restart:<flow id>`
YES_WORDS = ("yes", "y", "yeah", "yep", "yes please", "sure", "ok", "okay", "restart",
             "start over", "start again", "clear them", "from the top")
NO_WORDS = ("no", "n", "nope", "nah", "no thanks", "keep", "keep going", "continue", "carry on",
            "cancel", "never mind", "nevermind")


class Restarts:
    """The restart confirmation (see the module docstring)."""

    def __init__(self, stepper: Stepper) -> None:
        self.stepper = stepper
        self.compose = stepper.compose

    @staticmethod
    def asking(conv: Conversation) -> bool:
        return conv.pending.startswith(RESTART_PENDING)

    @staticmethod
    def flow_asked(conv: Conversation) -> str:
        """The flow "Start over?" would begin."""
        return conv.pending.removeprefix(RESTART_PENDING)

    def would_lose_answers(self, conv: Conversation) -> bool:
        """Partway through a flow, with at least one answer that says something (or a pick):
        "Let's start" alone loses nothing."""
        state = self.stepper.state(conv)
        if state is None or state.final:
            return False
        states = self.stepper.flows[conv.flow or ""].states
        return bool(conv.selection) or any(_says_something(states[a.state], a)
                                           for a in conv.history)

    def ask(self, conv: Conversation, flow_id: str) -> Decision:
        """"Start over?" (`flow_id` from the top): the question's own buttons go stale, so
        only this is answered."""
        conv.pending = RESTART_PENDING + flow_id
        conv.turn += 1
        conv.last_choice = ""  # a press of the question now is stale, not a repeat
        labels = self.compose.labels(conv)
        choices = (Choice(RESTART_YES, labels.restart_yes, style=DANGER),
                   Choice(RESTART_NO, labels.restart_no, style=PRIMARY))
        text = self.compose.render("common/restart_confirm.j2", conv,
                                   starting=self.stepper.flows[flow_id])
        return Decision([Message(text, choices)], applied=True)

    def typed(self, conv: Conversation, text: str) -> bool:
        """A typed reply to "Start over?": True only for a yes (by its number or words);
        anything else keeps the answers."""
        labels = self.compose.labels(conv)
        options = (Option(RESTART_YES, labels.restart_yes, "", synonyms=YES_WORDS),
                   Option(RESTART_NO, labels.restart_no, "", synonyms=NO_WORDS))
        chosen = match_option(text, options)
        if chosen is not None:
            return chosen.id == RESTART_YES
        return polarity_of(text.lower()) == YES  # "yeah go ahead"; "no keep them" is no

    def kept(self, conv: Conversation) -> Decision:
        """No: nothing is lost, and the question they were on comes back."""
        conv.pending = ""
        conv.turn += 1
        kept = self.compose.say("common/restart_kept.j2", conv)
        return self.stepper.with_current(conv, kept, applied=True)


def _says_something(state: State, answer: Answer) -> bool:
    """An answer that records something: typed, picks, a safety answer, or facts or scores."""
    if answer.typed or state.multi or state.safety:
        return True
    option = state.option(str(answer.value))
    return option is not None and bool(option.facts or option.scores)

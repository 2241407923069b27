"""Moving a conversation through its flow: answers applied, the next question settled (red
flags first), final states finished and their actions run. Pure: no store, no await."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from transitions import EventData, Machine

from bot.core import records
from bot.core.conversation import Answer, Conversation
from bot.core.decision import Decision
from bot.core.effects import (
    CancelFollowups,
    Effect,
    ForgetReplies,
    RecordEvent,
    SaveConsent,
    SaveLead,
    SaveProgress,
    StaffNotice,
)
from bot.core.events import Message
from bot.engine.compose import Composer
from bot.engine.flow import (
    ACT_NOW_FACT,
    DONE_CHOICE,
    DONE_TRIGGER,
    INPUT_TRIGGER,
    ROUTE_TRIGGER,
    SKIP_TRIGGER,
    UNSURE,
    YES,
    Flow,
    Option,
    State,
)
from bot.engine.followups import progress_of
from bot.engine.machine import RED_FLAG_TRIGGER, build_machine, holds, most_urgent_exit
from bot.engine.privacy import consents_given

MAX_ROUTE_STEPS = 50  # states stepped through after one answer, at most
ACTIONS = ("save_lead", "discard_lead", "record_progress")
LEAD_FIELDS = ("name", "contact")  # what a lead can take from a flow's facts (`lead:`)
CHECKIN_NOTICE = "checkin"


def is_screening(flow: Flow) -> bool:
    """A flow that screens, not a form that takes a lead's details (the contact form)."""
    return not flow.lead


class Stepper:
    """Steps conversations through the flows (one `transitions` machine per flow)."""

    def __init__(self, flows: dict[str, Flow], compose: Composer,
                 consent_versions: dict[str, str]) -> None:
        self.flows = flows
        self.compose = compose
        self.consent_versions = consent_versions
        self.machines: dict[str, Machine] = {
            fid: build_machine(f, self._after_state_change, self._on_final)
            for fid, f in flows.items()}

    # -- where the person is --------------------------------------------------------------------

    def state(self, conv: Conversation) -> State | None:
        if conv.flow is None or conv.flow not in self.flows:
            return None
        return self.flows[conv.flow].states.get(conv.state)

    def state_message(self, conv: Conversation) -> Message:
        state = self.state(conv)
        assert state is not None
        return self.compose.state_message(conv, state)

    def with_current(self, conv: Conversation, first: Message, stale: bool = False,
                     applied: bool = False) -> Decision:
        """A message, then the current question again, so the person never loses their place."""
        messages = [first]
        state = self.state(conv)
        if state is not None and not state.final and not conv.pending:
            messages.append(self.state_message(conv))
        return Decision(messages, stale=stale, applied=applied)

    def after_red_flag(self, conv: Conversation) -> bool:
        """At a red-flag exit: every message repeats its advice."""
        state = self.state(conv)
        return state is not None and state.final and state.red_flag is not None

    # -- answers ----------------------------------------------------------------------------------

    def start(self, conv: Conversation, flow_id: str, now: float, source: str = "") -> Decision:
        flow = self.flows[flow_id]
        conv.begin(flow_id, flow.start, now=now, screening=is_screening(flow))
        if flow.red_flags or flow.drivers:
            conv.last_outcome = None  # a new screening: an old result no longer stands
        if source:
            conv.source = source
        conv.turn += 1
        effects: list[Effect] = self.settle(conv)
        message = self.state_message(conv)
        effects += self.act(conv, now)
        return Decision([message], applied=True, effects=effects)

    def apply_option(self, conv: Conversation, state: State, option: Option,
                     now: float) -> Decision:
        if state.multi:  # an exclusive pick ("Not sure") answers on its own
            conv.selection = [option.id]
            return self.finish_selection(conv, state, now)
        conv.history.append(Answer(state.id, option.id))
        self.record(conv, state, option.id, typed=False)
        conv.last_choice = option.id
        decision = self.advance(conv, option.id, option.label, now)
        if state.clarify and option.id == UNSURE and self.acts_now(conv, state):
            # Still unsure at emergency or same-day level: that advice now, not at the end.
            advice = self.compose.say(self.flows[conv.flow or ""].templates["unsure_now"], conv,
                                      flag_id=state.safety)
            decision.messages.insert(0, advice)
        return decision

    def acts_now(self, conv: Conversation, state: State) -> bool:
        """A safety question whose urgency the flow's table marks `act_now`."""
        return state.urgency in self.flows[conv.flow or ""].act_now

    def apply_input(self, conv: Conversation, state: State, value: Any, now: float) -> Decision:
        conv.history.append(Answer(state.id, value, typed=True))
        self.record(conv, state, value, typed=True)
        conv.last_choice = ""
        shown = ", ".join(value.values()) if isinstance(value, dict) else str(value)
        return self.advance(conv, INPUT_TRIGGER, shown, now)

    def toggle(self, conv: Conversation, state: State, option: Option) -> Decision:
        """Pick or unpick one option; the question is shown again with the picks marked."""
        exclusive = {o.id for o in state.options if o.exclusive}
        picked = [choice for choice in conv.selection if choice not in exclusive]
        conv.selection = (
            [c for c in picked if c != option.id] if option.id in picked else [*picked, option.id]
        )
        conv.last_choice = option.id
        conv.turn += 1
        return Decision([self.state_message(conv)], applied=True, edit=True)

    def finish_selection(self, conv: Conversation, state: State, now: float) -> Decision:
        """Done: the picks become one answer, in the order the options are listed."""
        if not conv.selection:
            return self.with_current(conv, self.compose.say("common/pick_one.j2", conv))
        picked = tuple(o.id for o in state.options if o.id in conv.selection)
        conv.selection = []
        conv.history.append(Answer(state.id, picked))
        self.record(conv, state, picked, typed=False)
        conv.last_choice = DONE_CHOICE
        labels = [o.label for o in state.options if o.id in picked]
        return self.advance(conv, DONE_TRIGGER, ", ".join(labels), now)

    def add_picks(self, conv: Conversation, state: State,
                  options: Sequence[Option]) -> Decision:
        """Typed picks join the running selection, shown back briefly: more may follow, and
        "done" finishes (typing must never skip ahead to the next question)."""
        exclusive = {o.id for o in state.options if o.exclusive}
        picked = [c for c in conv.selection if c not in exclusive]
        conv.selection = [*picked, *(o.id for o in options if o.id not in picked)]
        conv.last_choice = options[-1].id
        conv.turn += 1
        labels = [o.label for o in state.options if o.id in conv.selection]
        so_far = self.compose.short(conv, state, "common/picked.j2", picked=labels)
        return Decision([so_far], applied=True)

    def back(self, conv: Conversation) -> Decision | None:
        """Undo the last answer; None when there is nothing to undo."""
        if conv.pending or not conv.history or conv.flow not in self.flows:
            return None
        flow = self.flows[conv.flow or ""]
        undone = conv.history.pop()
        while self.was_raised(flow, flow.states[undone.state], conv) and conv.history:
            undone = conv.history.pop()  # never asked: back to the answer that raised it
        conv.state, conv.finished, conv.last_choice = undone.state, False, ""
        conv.facts, conv.scores, conv.selection = {}, {}, []
        for answer in conv.history:
            self.record(conv, flow.states[answer.state], answer.value, answer.typed)
        conv.turn += 1
        return Decision([self.state_message(conv)], applied=True)

    # -- moving on ----------------------------------------------------------------------------

    def advance(self, conv: Conversation, trigger: str, answered: str, now: float) -> Decision:
        """The answer's trigger, and the machine steps on to the next question to show."""
        conv.turn += 1
        effects: list[Effect] = []
        uncounted = not conv.counted_start
        self._trigger(conv, trigger, effects)
        self._settled(conv)
        if uncounted:
            effects[:0] = self._counted_start(conv)
        message = self.state_message(conv)
        effects += self.act(conv, now)
        return Decision([message], applied=True, answered=answered, effects=effects)

    def _counted_start(self, conv: Conversation) -> list[Effect]:
        """A screening starts at its first answer (opening a chat box is not a start), once;
        an answer that declines it ("Not now") is no start."""
        flow = self.flows.get(conv.flow or "")
        state = self.state(conv)
        declined = state is not None and state.final and not state.outcome
        if flow is None or conv.counted_start or not is_screening(flow) or declined:
            return []
        conv.counted_start = True
        return [RecordEvent(records.STARTED, flow.id)]

    def settle(self, conv: Conversation) -> list[Effect]:
        """From a state just set (a flow's start, a check-in's first question), step on to
        the next question to show; the effects of a final state reached on the way."""
        effects: list[Effect] = []
        self._next(conv, effects, [MAX_ROUTE_STEPS])
        self._settled(conv)
        return effects

    def _trigger(self, conv: Conversation, trigger: str, effects: list[Effect],
                 budget: list[int] | None = None) -> None:
        machine = self.machines[conv.flow or ""]
        machine.events[trigger].trigger(conv, effects=effects,
                                        budget=budget or [MAX_ROUTE_STEPS])

    def _settled(self, conv: Conversation) -> None:
        state = self.state(conv)
        conv.finished = bool(state and state.final)

    def _after_state_change(self, event: EventData) -> None:
        self._next(event.model, event.kwargs["effects"], event.kwargs["budget"])

    def _next(self, conv: Conversation, effects: list[Effect], budget: list[int]) -> None:
        """After a state is entered: a "yes" to any red flag goes to the exit of the highest
        urgency answered "yes", whatever the flow file says; routing states route; questions
        not to be asked are skipped. Each queued behind the current transition."""
        budget[0] -= 1
        if budget[0] < 0:
            return  # a flow whose routes go in a circle stops here instead of looping forever
        flow = self.flows[conv.flow or ""]
        exit_id = most_urgent_exit(flow, conv.facts)
        if exit_id is not None and conv.state != exit_id:
            self._trigger(conv, RED_FLAG_TRIGGER, effects, budget)
            return
        state = self.state(conv)
        if state is None or state.final:
            return
        if state.route:
            self._trigger(conv, ROUTE_TRIGGER, effects, budget)
        elif self.not_asked(flow, state, conv):
            self._trigger(conv, SKIP_TRIGGER, effects, budget)
        elif self.was_raised(flow, state, conv):  # earlier answers mean "yes" (aged 55+, injured)
            conv.history.append(Answer(state.id, YES))
            self.record(conv, state, YES, typed=False)
            self._trigger(conv, YES, effects, budget)

    def _on_final(self, event: EventData) -> None:
        """A final state entered: its outcome, unless a red-flag exit is still to come."""
        conv: Conversation = event.model
        flow = self.flows[conv.flow or ""]
        exit_id = most_urgent_exit(flow, conv.facts)
        state = self.state(conv)
        if state is not None and (exit_id is None or exit_id == conv.state):
            event.kwargs["effects"].extend(self._finish(conv, state))

    @staticmethod
    def was_raised(flow: Flow, state: State, conv: Conversation) -> bool:
        """A red flag that earlier answers raise without asking (`raised_if` all hold)."""
        return state.implied and all(holds(c, flow, conv.facts, conv.scores)
                                     for c in state.raised_if)

    @staticmethod
    def not_asked(flow: Flow, state: State, conv: Conversation) -> bool:
        """A question whose `ask_if` fails, or a loaded self-check while a safety answer is
        still "not sure" (the person should see a doctor before putting weight through it)."""
        if not all(holds(c, flow, conv.facts, conv.scores) for c in state.ask_if):
            return True
        return state.loaded and bool(conv.facts.get("unsure_flags"))

    def _finish(self, conv: Conversation, state: State) -> list[Effect]:
        flow = self.flows[conv.flow or ""]
        effects: list[Effect] = []
        if not state.outcome or not is_screening(flow):
            return effects  # no screening result ("not now", a contact form sent)
        if state.red_flag:
            effects.append(RecordEvent(records.RED_FLAG, flow.id, state.red_flag, flow.version))
            effects.append(CancelFollowups("red_flag"))  # a doctor first: no check-ins
        else:
            effects.append(RecordEvent(records.FINISHED, flow.id, state.id, flow.version))
        if flow.drivers or flow.red_flags:
            # The answers go with the outcome: a clinician's audit shows what it came from,
            # even after the person moves on to another flow.
            answers = [[a.state, a.value, a.typed] for a in conv.history]
            conv.last_outcome = {**self.compose.outcome(conv, state).as_dict(), "answers": answers,
                                 ACT_NOW_FACT: list(conv.facts.get(ACT_NOW_FACT, ()))}
        return effects

    def act(self, conv: Conversation, now: float) -> list[Effect]:
        """Run the current state's action, once its message has been composed.

        `save_lead` keeps a lead made of the facts the flow's `lead:` maps; `discard_lead`
        keeps nothing. Either way those facts, and the answers that gave them, leave the
        conversation: contact details live in the lead only.
        """
        state = self.state(conv)
        if state is None or not state.action:
            return []
        flow = self.flows[conv.flow or ""]
        if state.action == "record_progress":
            return self._progress(conv, flow)
        effects = self._save_lead(conv, flow, now) if state.action == "save_lead" else []
        facts = set(flow.lead.values())
        if any(fact in conv.facts for fact in facts):
            # Declined or kept as a lead, the details leave the conversation, and the replies
            # kept for retried updates that repeated them go too.
            effects.append(ForgetReplies())
        for fact in facts:
            conv.facts.pop(fact, None)
        given = {s.id for s in flow.states.values() if s.input and s.input.fact in facts}
        conv.history = [a for a in conv.history if a.state not in given]
        return effects

    def _save_lead(self, conv: Conversation, flow: Flow, now: float) -> list[Effect]:
        fields = {name: conv.facts.get(fact) for name, fact in flow.lead.items()}
        contact = fields.get("contact") or {}
        outcome = conv.last_outcome or {}
        version = self.consent_versions.get(flow.id, "")
        lead = records.Lead(
            channel=conv.channel,
            user_id=conv.user_id,
            name=str(fields.get("name") or ""),
            email=contact.get("email", ""),
            phone=contact.get("phone", ""),
            source=conv.source,
            flow=outcome.get("flow", ""),
            drivers=tuple(outcome.get("drivers", ())),
            red_flag=outcome.get("red_flag"),
            created_at=now,
            flow_version=str(outcome.get("version", "")),
            urgency=outcome.get("urgency"),
            consent_version=version,
        )
        contact = (("name", lead.name), ("email", lead.email), ("phone", lead.phone))
        notice = self.compose.staff_notice("lead", "staff/lead.j2", conv, contact, lead=lead,
                                           outcome=outcome)
        consents = consents_given(flow, version, conv.channel, conv.user_id, now)
        return [SaveLead(lead), *(SaveConsent(c) for c in consents),
                RecordEvent(records.LEAD, conv.credited_flow), notice]

    def _progress(self, conv: Conversation, flow: Flow) -> list[Effect]:
        """At a check-in's result: the change since the screening, kept with the follow-up, on
        the person's last outcome and in a staff notice."""
        spec = flow.followups
        if spec is None:
            return []
        progress = progress_of(spec, conv.facts)
        outcome = dict(conv.last_outcome or {})
        conv.last_outcome = {**outcome, "progress": progress} if outcome else None
        text = self.compose.render("staff/checkin.j2", conv, progress=progress, outcome=outcome)
        effects: list[Effect] = [RecordEvent(records.CHECKIN_FINISHED, flow.id),
                                 StaffNotice(CHECKIN_NOTICE, conv.channel, conv.user_id, text)]
        followup_id = conv.facts.get("followup_id")
        if isinstance(followup_id, int):
            effects.insert(0, SaveProgress(followup_id, progress))
        return effects

    def record(self, conv: Conversation, state: State, value: Any, typed: bool) -> None:
        """Apply one answer's facts and scores, and what a safety answer means."""
        if typed:
            if state.input is not None:
                conv.facts[state.input.fact] = value
            return
        picked = value if state.multi else (value,)
        for option_id in picked:
            option = state.option(option_id)
            if option is None:
                continue
            conv.facts.update(option.facts)
            for key, delta in option.scores.items():
                conv.scores[key] = conv.scores.get(key, 0) + delta
        if state.multi and state.fact:
            conv.facts[state.fact] = list(picked)
        if state.safety and value == YES:
            conv.facts["red_flags"] = [*conv.facts.get("red_flags", ()), state.safety]
        elif state.safety and state.clarify and value == UNSURE:
            conv.facts["unsure_flags"] = [*conv.facts.get("unsure_flags", ()), state.safety]
            if self.acts_now(conv, state):
                conv.facts[ACT_NOW_FACT] = [*conv.facts.get(ACT_NOW_FACT, ()), state.safety]

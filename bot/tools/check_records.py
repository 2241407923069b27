"""`check`'s rules on what a flow keeps about a person: lead fields asked for, the consent
a lead is saved with, and follow-ups that start where the flow has states and templates."""

from __future__ import annotations

from collections import deque

from bot.core.records import CONSENT_KINDS
from bot.engine.flow import Flow
from bot.engine.stepper import LEAD_FIELDS
from bot.tools.check_paths import targets
from bot.tools.problem import Problem
from bot.turns.runner import TurnRunner

LEAD_ACTIONS = ("save_lead", "discard_lead")


def check_lead(flow: Flow) -> list[Problem]:
    """A flow that saves leads maps known lead fields to facts its questions ask for."""
    file, problems = str(flow.path), []
    asked = {s.input.fact for s in flow.states.values() if s.input is not None}
    for name, fact in flow.lead.items():
        if name not in LEAD_FIELDS:
            problems.append(Problem(file, "", f"lead.{name}", f"unknown lead field; one of "
                                    f"{LEAD_FIELDS}"))
        if fact not in asked:
            problems.append(Problem(file, "", f"lead.{name}", f"no question asks for {fact!r}"))
    if not flow.lead and any(s.action in LEAD_ACTIONS for s in flow.states.values()):
        problems.append(Problem(file, "", "lead", "states act on a lead but `lead:` is empty"))
    return problems


def check_consent(flow: Flow) -> list[Problem]:
    """A flow that saves a lead says what the "yes" agrees to, where it is asked, and the
    version of those words."""
    file, consent = str(flow.path), flow.consent
    saves = any(s.action == "save_lead" for s in flow.states.values())
    if consent is None:
        return [Problem(file, "", "consent", "states save a lead but `consent:` is missing "
                        "(what the person agrees to, where, and the wording's version)")
                ] if saves else []
    problems = []
    if consent.asked_in not in flow.states:
        problems.append(Problem(file, "", "consent.asked_in",
                                f"unknown state {consent.asked_in!r}"))
    unknown = [kind for kind in consent.to if kind not in CONSENT_KINDS]
    if unknown or not consent.to:
        problems.append(Problem(file, "", "consent.to", f"must list what is agreed to, of "
                                f"{CONSENT_KINDS}; unknown: {unknown}"))
    return problems + _asked_before_consent(flow, consent.asked_in)


def _asked_before_consent(flow: Flow, asked_in: str) -> list[Problem]:
    """A question taking a lead's detail on some path from the start that does not pass the
    consent question: the detail would be kept (conversation, replies) before the "yes"."""
    if asked_in not in flow.states:
        return []
    before, queue = {flow.start}, deque([flow.start])
    while queue:
        state = flow.states.get(queue.popleft())
        if state is None or state.id == asked_in:
            continue
        for _, target in targets(state):
            if target not in before:
                before.add(target)
                queue.append(target)
    lead_facts = set(flow.lead.values())
    return [Problem(str(flow.path), state.id, "consent.asked_in",
                    f"asks for {state.input.fact!r} before the consent question {asked_in!r}")
            for state_id in sorted(before) if (state := flow.states.get(state_id)) is not None
            and state.input is not None and state.input.fact in lead_facts]


def check_followups(engine: TurnRunner, flow: Flow) -> list[Problem]:
    """Each follow-up starts at a state of the flow, with its templates there; what the
    check-in compares names facts the flow sets; something shows the offer (`remind`)."""
    spec, file = flow.followups, str(flow.path)
    if spec is None:
        if any(s.action == "record_progress" for s in flow.states.values()):
            return [Problem(file, "", "followups", "a state records progress but the flow "
                            "declares no `followups:`")]
        return []
    problems = []
    for kind in spec.kinds.values():
        if kind.start not in flow.states:
            problems.append(Problem(file, "", f"followups.kinds.{kind.id}.start",
                                    f"unknown state {kind.start!r}"))
        if not engine.renderer.exists(kind.template):
            problems.append(Problem(file, "", f"followups.kinds.{kind.id}.template",
                                    f"template {kind.template} does not exist"))
    if not engine.renderer.exists(spec.offer_template):
        problems.append(Problem(file, "", "followups.offer_template",
                                f"template {spec.offer_template} does not exist"))
    asked = {s.input.fact for s in flow.states.values() if s.input is not None}
    for field_name, fact in spec.carry.items():
        if fact not in asked and not any(fact in o.facts for s in flow.states.values()
                                         for o in s.options):
            problems.append(Problem(file, "", f"followups.carry.{field_name}",
                                    f"no question sets {fact!r}"))
    if not any("remind" in s.commands for s in flow.states.values()):
        problems.append(Problem(file, "", "followups", "no state offers them: add `remind` "
                                "to the `commands` of a result state", warning=True))
    return problems

"""What a person can see and take back: everything stored about them, described for a message,
a JSON download and a clinician's audit, and the version of the consent text they agreed to.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from jinja2 import TemplateNotFound

from bot.core.conversation import Answer
from bot.core.records import Consent, KeptText, Lead, StoredData
from bot.engine.flow import Flow
from bot.engine.render import Renderer

FINGERPRINT = 8  # hex characters of the consent template's hash kept in the version


def consent_version(renderer: Renderer, flow: Flow) -> str:
    """`<declared version>+<fingerprint of the template that asks>`: the exact words agreed to,
    even when someone edits the template and forgets to bump the version."""
    spec = flow.consent
    if spec is None:
        return ""
    state = flow.states.get(spec.asked_in)
    try:
        source = renderer.env.loader.get_source(renderer.env, state.template)[0] if state else ""
    except TemplateNotFound:
        source = ""
    if not source:
        return spec.version
    return f"{spec.version}+{hashlib.sha256(source.encode()).hexdigest()[:FINGERPRINT]}"


def consents_given(flow: Flow, version: str, channel: str, user_id: str,
                   at: float) -> list[Consent]:
    """The consents a "yes" in this flow records, one per thing agreed to."""
    spec = flow.consent
    return [Consent(channel, user_id, kind, version, at) for kind in (spec.to if spec else ())]


def when(timestamp: float | None) -> str | None:
    """A stored time as ISO 8601 in UTC, to the second."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def question_title(flow: Flow | None, state_id: str) -> str:
    """A question in words: a safety question by its red flag, any other by its name."""
    state = flow.states.get(state_id) if flow else None
    if flow is not None and state is not None and state.safety in flow.red_flags:
        title = flow.red_flags[state.safety].title
        return f"Safety: {title}" + (" (follow-up)" if state.clarify else "")
    return state_id.replace("_", " ").capitalize()


def answer_label(flow: Flow | None, answer: Answer) -> str:
    """What the person chose or typed, in the words of the buttons."""
    if isinstance(answer.value, dict):
        return ", ".join(str(v) for v in answer.value.values())
    state = flow.states.get(answer.state) if flow else None
    if answer.typed or state is None:
        return str(answer.value)
    picked = answer.value if isinstance(answer.value, list | tuple) else (answer.value,)
    labels = [o.label if (o := state.option(str(p))) else str(p) for p in picked]
    return ", ".join(labels)


def answered(flow: Flow | None, answers: list[Answer]) -> list[dict[str, Any]]:
    """Answers by question, in the order given: ids for the audit, words for people."""
    return [
        {
            "question_id": answer.state,
            "question": question_title(flow, answer.state),
            "answer_id": list(answer.value) if isinstance(answer.value, tuple) else answer.value,
            "answer": answer_label(flow, answer),
            "typed": answer.typed,
        }
        for answer in answers
    ]


def outcome_answers(outcome: dict[str, Any]) -> list[Answer]:
    """The answers a finished screening was concluded from, as recorded with it."""
    return [Answer(*entry) for entry in outcome.get("answers") or ()]


def describe(stored: StoredData, flows: dict[str, Flow]) -> dict[str, Any]:
    """Everything stored about a person, as plain data: the /mydata message renders it, the
    JSON download is it, the audit prints it."""
    conv = stored.conversation
    conversation = None
    if conv is not None and (conv.flow or conv.history or conv.source or conv.relay):
        flow = flows.get(conv.flow or "")
        conversation = {
            "flow": conv.flow,
            "flow_title": flow.title if flow else conv.flow,
            "question": conv.state,
            "finished": conv.finished,
            "source": conv.source,
            "talking_with_staff": conv.relay,
            "started_at": when(conv.started_at) if conv.started_at else None,
            "updated_at": when(conv.updated_at) if conv.updated_at else None,
            "answers": answered(flow, conv.history),
            "facts": conv.facts,  # what the answers set, as the flow uses it
        }
    outcome = conv.last_outcome if conv is not None else None
    screening = None
    if outcome:
        flow = flows.get(str(outcome.get("flow", "")))
        screening = {
            "flow": outcome.get("flow"),
            "flow_title": flow.title if flow else outcome.get("flow"),
            "flow_version": outcome.get("version", ""),
            "result": outcome.get("state", ""),
            "likely_contributors": list(outcome.get("driver_titles") or ()),
            "drivers": list(outcome.get("drivers") or ()),
            "red_flag": outcome.get("red_flag"),
            "red_flag_title": outcome.get("red_flag_title") or "",
            "urgency": outcome.get("urgency"),
            "unsure_flags": list(outcome.get("unsure_flags") or ()),
            "answers": answered(flow, outcome_answers(outcome)),
        }
    return {
        "channel": stored.channel,
        "user_id": stored.user_id,
        "conversation": conversation,
        "last_screening": screening,
        "events": [
            {"at": when(e.at), "kind": e.kind, "flow": e.flow, "detail": e.detail,
             "flow_version": e.version}
            for e in stored.events
        ],
        "leads": [_lead(lead) for lead in stored.leads],
        "consents": [
            {"kind": c.kind, "text_version": c.version, "given_at": when(c.at),
             "channel": c.channel, "withdrawn_at": when(c.withdrawn_at)}
            for c in stored.consents
        ],
        "followups": [
            {"kind": f.kind, "flow": f.flow, "due_at": when(f.due_at), "status": f.status,
             "asked_at": when(f.created_at), "kept_to_compare": f.baseline,
             "progress": f.result}
            for f in stored.followups
        ],
        "staff_notices": stored.staff_notices,
        "replies_kept": _texts(stored.replies_kept),
        "waiting_messages": _texts(stored.waiting),
        "staff_notes": _texts(stored.lead_notes),
        "booking_links": [{"flow": flow, "at": when(at)} for flow, at in stored.booking_refs],
    }


def _texts(kept: tuple[KeptText, ...]) -> list[dict[str, Any]]:
    return [{"kind": k.kind, "text": k.text, "at": when(k.at)} for k in kept]


def _lead(lead: Lead) -> dict[str, Any]:
    return {
        "at": when(lead.created_at), "name": lead.name, "email": lead.email, "phone": lead.phone,
        "source": lead.source, "flow": lead.flow, "drivers": list(lead.drivers),
        "red_flag": lead.red_flag, "urgency": lead.urgency, "flow_version": lead.flow_version,
        "consent_version": lead.consent_version,
    }


def is_empty(described: dict[str, Any]) -> bool:
    """Nothing at all is stored."""
    return not any(described[key] for key in
                   ("conversation", "events", "leads", "consents", "followups",
                    "staff_notices", "replies_kept", "waiting_messages", "staff_notes",
                    "booking_links"))


def as_json(described: dict[str, Any]) -> str:
    """The JSON download of everything stored about a person."""
    return json.dumps(described, ensure_ascii=False, indent=2) + "\n"

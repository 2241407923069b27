"""A flow's data: the frozen types a YAML flow loads into (states, options, conditions, red
flags, drivers, consent, follow-ups) and the words the machine and the renderers share.

A flow's states each show one template. A state offers options (buttons), may take typed
input, may route onward by conditions on facts and scores, and may be final.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROUTE_TRIGGER = "_route"
INPUT_TRIGGER = "_input"
SKIP_TRIGGER = "_skip"
COMMANDS_FILE = "commands.yaml"
DONE_TRIGGER = "_done"
YES, NO, UNSURE = "yes", "no", "unsure"
# The red flags left "not sure" at an urgency the flow marks `act_now` (its urgency table).
ACT_NOW_FACT = "act_now"


# The messages a flow may declare under `templates:` besides its states' own, and where each
# is looked for when a flow does not name it.
FLOW_TEMPLATES = {
    "summary": "{flow}/summary.j2",  # the one plain line sent to the booking page
    "unsure_now": "{flow}/unsure_now.j2",  # advice at once for an urgent "still not sure"
}


class FlowError(ValueError):
    """A flow file that cannot be loaded; the message names file, state and field."""


@dataclass(frozen=True, slots=True)
class Option:
    """One answer to a question: a button, and what choosing it does."""

    id: str
    label: str
    next: str
    scores: dict[str, int] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    synonyms: tuple[str, ...] = ()
    exclusive: bool = False  # in a multi-select question, this answer stands alone
    style: str = ""  # `primary` for the expected answer, `danger` for one that deletes


@dataclass(frozen=True, slots=True)
class Condition:
    """`when` a fact or score matches, go to `next`; no test means always."""

    next: str
    fact: str | None = None
    score: str | None = None
    equals: Any = None
    one_of: tuple[Any, ...] = ()
    at_least: int | None = None
    empty: bool | None = None  # the fact is missing or an empty list (True), or not (False)
    no_driver_named: bool = False

    @property
    def conditional(self) -> bool:
        return bool(self.fact or self.score or self.no_driver_named)

    def holds(self, facts: dict[str, Any], scores: dict[str, int], named: list[str]) -> bool:
        """Whether the test passes for these facts, scores and named drivers."""
        if self.no_driver_named:
            return not named
        if self.fact is not None:
            value = facts.get(self.fact)
            if self.empty is not None:
                return (not value) == self.empty
            if self.one_of:
                return value in self.one_of
            return value == self.equals
        if self.score is not None and self.at_least is not None:
            return scores.get(self.score, 0) >= self.at_least
        return True


@dataclass(frozen=True, slots=True)
class Input:
    """Typed free-text input a state accepts, stored as a fact."""

    fact: str
    type: str = "text"  # text | number | name | email_or_phone
    minimum: float | None = None
    maximum: float | None = None
    max_length: int = 200
    next: str = ""


@dataclass(frozen=True, slots=True)
class State:
    """One step of a flow."""

    id: str
    template: str
    options: tuple[Option, ...] = ()
    input: Input | None = None
    route: tuple[Condition, ...] = ()
    final: bool = False
    red_flag: str | None = None  # a final state: the exit for this red flag
    urgency: str | None = None
    mostly_unsure: bool = False
    links: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()
    action: str = ""
    section: str = ""
    next: str = ""  # where a skipped state, or a finished multi-select, goes
    ask_if: tuple[Condition, ...] = ()  # asked only when every condition holds
    loaded: bool = False  # a self-check that puts weight on the painful area
    multi: bool = False  # several options may be picked, then Done
    fact: str = ""  # a multi-select stores the picked ids under this fact
    safety: str | None = None  # a safety question (or its clarification) for this red flag
    clarify: bool = False
    raised_if: tuple[Condition, ...] = ()  # a red flag raised, not asked, when these hold
    outcome: bool = True  # a final state that is a screening result (not "not now")

    @property
    def implied(self) -> bool:
        """A red flag that earlier answers can raise without asking."""
        return bool(self.raised_if)

    def option(self, option_id: str) -> Option | None:
        return next((option for option in self.options if option.id == option_id), None)


@dataclass(frozen=True, slots=True)
class RedFlag:
    """A sign that needs a doctor: its urgency, a readable title, and its three states."""

    id: str
    urgency: str
    title: str
    question: str
    clarify: str
    exit: str
    ask_if: tuple[Condition, ...] = ()
    raised_if: tuple[Condition, ...] = ()  # raised, not asked, when these all hold
    rank: int = 0  # the urgency's place in the flow's urgency table, 0 the highest


@dataclass(frozen=True, slots=True)
class Driver:
    """An area the result may name: only when its self-check evidence reaches `named_at`."""

    id: str
    title: str
    named_at: int = 2
    checks: tuple[str, ...] = ()  # the self-checks that must all be done to call it fine
    tie_break: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ConsentSpec:
    """What a "yes" in a flow agrees to (`to`), the state whose words ask for it, and the
    version of those words (bumped whenever the state's template changes)."""

    asked_in: str
    to: tuple[str, ...]
    version: str


@dataclass(frozen=True, slots=True)
class FollowupKind:
    """A follow-up a person may ask for at the end of a screening: after `delay` seconds, the
    `template`'s words, then the check-in from state `start`."""

    id: str
    label: str
    delay: float
    template: str
    start: str
    synonyms: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FollowupSpec:
    """A flow's follow-ups (`followups:`): what may be asked for, the words that ask (their
    version is stored with the consent), how many per person, and what the check-in carries
    over from the screening (check-in fact -> screening fact) and compares (`progress`)."""

    kinds: dict[str, FollowupKind]
    offer_template: str
    consent_version: str
    max_per_person: int
    carry: dict[str, str] = field(default_factory=dict)
    progress: dict[str, str] = field(default_factory=dict)  # before, after, change: fact names


@dataclass(frozen=True, slots=True)
class Flow:
    """A whole screening flow: its states, drivers, counters and the file it came from."""

    id: str
    title: str
    start: str
    states: dict[str, State]
    drivers: tuple[str, ...]
    counters: tuple[str, ...]
    path: Path
    option_sets: dict[str, tuple[Option, ...]] = field(default_factory=dict)
    version: str = ""
    spec: str = ""  # the clinical specification this flow implements
    reviewed_by: str = ""  # the clinician who signed the specification off
    red_flags: dict[str, RedFlag] = field(default_factory=dict)  # in the order they are asked
    driver_specs: dict[str, Driver] = field(default_factory=dict)
    entry: dict[str, Any] = field(default_factory=dict)  # how a person opens it (commands)
    lead: dict[str, str] = field(default_factory=dict)  # lead field -> the fact that fills it
    wording: dict[str, Any] = field(default_factory=dict)  # words by who the flow is about
    consent: ConsentSpec | None = None  # what saving this flow's lead is consented to
    followups: FollowupSpec | None = None  # check-ins a person may ask for after a result
    urgencies: tuple[str, ...] = ()  # the red flags' urgency table, highest first
    act_now: tuple[str, ...] = ()  # urgencies whose "still not sure" is advised on at once
    # The flow's own messages beyond its states' (FLOW_TEMPLATES), by name: `templates:`.
    templates: dict[str, str] = field(default_factory=dict)

    def words(self, facts: dict[str, Any]) -> dict[str, Any]:
        """The words for who this conversation is about (`p` in templates)."""
        if not self.wording:
            return {}
        by_value = self.wording.get("words") or {}
        value = facts.get(self.wording.get("fact", ""), self.wording.get("default"))
        return by_value.get(value) or by_value.get(self.wording.get("default"), {})

    @property
    def score_keys(self) -> tuple[str, ...]:
        return self.drivers + self.counters

"""Flows as data: YAML in dialogs/ loaded into frozen dataclasses and one `transitions` machine.

The flow's types live in `model`, the YAML dialect in `dialect`, reading and checking a flow
file in `loading`; everything is importable from `bot.engine.flow` as before. The YAML compiles
to plain lists of states and transitions, one machine per flow shared by every conversation.
"""

from bot.core.events import DONE_CHOICE
from bot.engine.flow.dialect import FlowLoader
from bot.engine.flow.loading import load_flow, load_flows, parse_duration
from bot.engine.flow.model import (
    ACT_NOW_FACT,
    COMMANDS_FILE,
    DONE_TRIGGER,
    INPUT_TRIGGER,
    NO,
    ROUTE_TRIGGER,
    SKIP_TRIGGER,
    UNSURE,
    YES,
    Condition,
    ConsentSpec,
    Driver,
    Flow,
    FlowError,
    FollowupKind,
    FollowupSpec,
    Input,
    Option,
    RedFlag,
    State,
)

__all__ = [
    "ACT_NOW_FACT",
    "COMMANDS_FILE",
    "DONE_CHOICE",
    "DONE_TRIGGER",
    "INPUT_TRIGGER",
    "NO",
    "ROUTE_TRIGGER",
    "SKIP_TRIGGER",
    "UNSURE",
    "YES",
    "Condition",
    "ConsentSpec",
    "Driver",
    "Flow",
    "FlowError",
    "FlowLoader",
    "FollowupKind",
    "FollowupSpec",
    "Input",
    "Option",
    "RedFlag",
    "State",
    "load_flow",
    "load_flows",
    "parse_duration",
]

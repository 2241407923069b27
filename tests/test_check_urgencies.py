"""`check` and the engine on a flow's urgency table (issue 25, v3.1): which urgencies act at
once is the flow's data, held to docs/clinical.md's table, and questions asked on an answer no
option gives are reported."""

from __future__ import annotations

import pytest

from bot.app import build_engine
from bot.engine.flow import FlowError, load_flow
from bot.settings import ROOT, load_settings
from bot.store.sqlite import SQLiteStore
from bot.tools.check_spec import spec_levels
from bot.tools.client import DialogClient
from tests.test_check import _copy_spec, all_problems_in, edit_whole_flow
from tests.test_check import project as project


def test_the_act_now_urgencies_come_from_the_flow_and_are_checked_against_the_spec(project):
    _copy_spec(project)

    def wait_on_same_day(flow):
        flow["safety"]["urgencies"][1]["act_now"] = False
    edit_whole_flow(project, wait_on_same_day)
    problems = all_problems_in(project)
    assert any("safety.urgencies.same_day.act_now" in p and "docs/clinical.md says True" in p
               for p in problems)
    assert not any("safety.urgencies.emergency" in p for p in problems)


def test_an_urgency_table_out_of_the_spec_order_is_an_error(project):
    _copy_spec(project)

    def swap_levels(flow):
        levels = flow["safety"]["urgencies"]
        levels[2], levels[3] = levels[3], levels[2]
    edit_whole_flow(project, swap_levels)
    problems = all_problems_in(project)
    assert any("safety.urgencies" in p and "highest first" in p for p in problems)
    # The red flags are ranked by the flow's own table: within_days now ranks below within_week.
    assert any("not in order of urgency" in p for p in problems)


def test_a_flow_without_an_urgency_table_does_not_load(project):
    edit_whole_flow(project, lambda flow: flow["safety"].pop("urgencies"))
    with pytest.raises(FlowError, match="urgencies"):
        load_flow(project / "dialogs" / "knee.yaml")


def test_a_question_asked_on_an_answer_no_option_gives_is_an_error(project):
    _copy_spec(project)

    def drop_unknown_age(flow):
        options = flow["states"]["age"]["options"]
        flow["states"]["age"]["options"] = [o for o in options if o["id"] != "unsure"]
    edit_whole_flow(project, drop_unknown_age)
    problems = all_problems_in(project)
    assert any("'rf_child_limp'" in p and "age = 'unsure'" in p and "no answer gives" in p
               for p in problems)
    assert any("'rf_ottawa_age'" in p and "age = 'unsure'" in p for p in problems)


def test_the_shipped_spec_and_flow_agree_on_every_urgency_level():
    flow = load_flow(ROOT / "dialogs" / "knee.yaml")
    levels = spec_levels((ROOT / "docs" / "clinical.md").read_text(encoding="utf-8"))
    assert list(levels) == list(flow.urgencies) == [
        "emergency", "same_day", "within_days", "within_week"]
    assert [u for u, now in levels.items() if now] == list(flow.act_now) == [
        "emergency", "same_day"]


async def test_the_stepper_acts_at_once_on_the_urgencies_the_flow_marks(project):
    """Marking `within_days` act-now in the flow (no code change) makes a locked knee left
    "not sure" advised on in the very next message, and the check end at "a doctor first"."""
    def act_on_within_days(flow):
        flow["safety"]["urgencies"][2]["act_now"] = True
    edit_whole_flow(project, act_on_within_days)
    settings = load_settings(data_dir=project / "data", dialogs_dir=project / "dialogs",
                             templates_dir=project / "templates")
    person = DialogClient(build_engine(settings, SQLiteStore(":memory:")), "pat")
    await person.send("/start")
    for choice in ("begin", "me", "adult", "no", "no", "no"):
        await person.click(choice)
    while person.last.state != "rf_locked":
        await person.click("no")
    await person.click("unsure")
    reply = await person.click("unsure")
    assert "within the next day or two" in reply.messages[0].text
    assert "Knee locks or gets stuck" in reply.messages[0].text
    while person.last.state.startswith("rf_"):
        await person.click("no")
    assert person.last.state == "result_doctor_first"

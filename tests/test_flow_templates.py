"""Every template a flow shows is named by the flow (a state's, the safety questions', the
flow's own messages), and `check` reports one missing, or one in the flow's folder that
nothing shows."""

from __future__ import annotations

import pytest
import yaml

from bot.app import build_engine
from bot.core.conversation import Conversation
from bot.engine.flow import FlowError, FlowLoader, load_flow
from bot.settings import ROOT, load_settings
from bot.store.sqlite import SQLiteStore
from tests.test_check import all_problems_in, edit_whole_flow, project  # noqa: F401


def test_the_knee_flow_names_its_own_messages_and_the_safety_questions_templates():
    raw = yaml.load((ROOT / "dialogs" / "knee.yaml").read_text(), Loader=FlowLoader)
    assert raw["templates"] == {"summary": "knee/summary.j2", "unsure_now": "knee/unsure_now.j2"}
    assert set(raw["safety"]["templates"]) == {"question", "clarify", "exit"}
    flow = load_flow(ROOT / "dialogs" / "knee.yaml")
    assert flow.templates == raw["templates"]
    assert flow.states["rf_calf_clot"].template == raw["safety"]["templates"]["question"]


def test_a_flow_that_names_no_message_finds_them_where_the_convention_says(project):
    edit_whole_flow(project, lambda flow: flow.pop("templates"))
    flow = load_flow(project / "dialogs" / "knee.yaml")
    assert flow.templates == {"summary": "knee/summary.j2", "unsure_now": "knee/unsure_now.j2"}


def test_a_message_the_flow_does_not_know_is_refused_by_name(project):
    edit_whole_flow(project, lambda flow: flow["templates"].update(goodbye="knee/goodbye.j2"))
    with pytest.raises(FlowError, match=r"templates: unknown message 'goodbye' \(known: summary"):
        load_flow(project / "dialogs" / "knee.yaml")


def test_a_renamed_template_is_shown_once_the_flow_names_it(project):
    knee = project / "templates" / "knee"
    (knee / "unsure_now.j2").rename(knee / "not_sure_yet.j2")
    found = all_problems_in(project)
    assert any("templates.unsure_now" in p and "missing template knee/unsure_now.j2" in p
               for p in found), found
    assert any("not_sure_yet.j2" in p and "not shown by flow 'knee'" in p for p in found)

    edit_whole_flow(
        project, lambda flow: flow["templates"].update(unsure_now="knee/not_sure_yet.j2"))
    found = all_problems_in(project)
    assert not any("unsure_now" in p or "not_sure_yet" in p for p in found), found


def test_a_summary_template_named_by_the_flow_prefills_the_booking_page(project):
    knee = project / "templates" / "knee"
    (knee / "summary.j2").rename(knee / "booking_line.j2")
    (knee / "booking_line.j2").write_text("Knee check done.")
    edit_whole_flow(project, lambda flow: flow["templates"].update(summary="knee/booking_line.j2"))
    settings = load_settings(data_dir=project / "data", dialogs_dir=project / "dialogs",
                             templates_dir=project / "templates")
    engine = build_engine(settings, SQLiteStore(":memory:"))
    conv = Conversation("test", "alex")
    conv.flow = "knee"
    assert engine.dialog.compose.summary(conv) == "Knee check done."
    conv.flow = "contact"  # names no summary, and has none where the convention says
    assert engine.dialog.compose.summary(conv) == ""


def test_a_template_nothing_shows_is_reported_and_an_included_one_is_not(project):
    knee = project / "templates" / "knee"
    (knee / "old_question.j2").write_text("Is this still asked?")
    found = [p for p in all_problems_in(project) if "not shown by flow" in p]
    assert len(found) == 1 and "old_question.j2" in found[0], found
    assert not any("_areas.j2" in p for p in all_problems_in(project))  # a part results include

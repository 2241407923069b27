"""`python -m bot check` catches broken flows and templates, naming file, state and field."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.app import build_engine
from bot.engine.flow import FlowError, FlowLoader, load_flow
from bot.settings import ROOT, load_settings
from bot.store.sqlite import SQLiteStore
from bot.tools.check import check_all


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the real dialogs and templates to break."""
    shutil.copytree(ROOT / "dialogs", tmp_path / "dialogs")
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    return tmp_path


def problems_in(project: Path) -> list[str]:
    settings = load_settings(
        data_dir=project / "data",
        dialogs_dir=project / "dialogs",
        templates_dir=project / "templates",
    )
    engine = build_engine(settings, SQLiteStore(":memory:"))
    return [str(p) for p in check_all(engine) if not p.warning]


def edit_flow(project: Path, change) -> None:
    path = project / "dialogs" / "knee.yaml"
    flow = yaml.load(path.read_text(), Loader=FlowLoader)
    change(flow["states"])
    path.write_text(yaml.safe_dump(flow, sort_keys=False))


def test_the_shipped_flows_and_templates_have_no_errors(project):
    assert problems_in(project) == []


def test_unknown_target_is_named_with_file_state_and_field(project):
    edit_flow(project, lambda s: s["pain_where"]["options"][0].update(next="nowhere"))
    (problem,) = problems_in(project)
    assert "knee.yaml" in problem and "'pain_where'" in problem
    assert "options.front.next" in problem and "'nowhere'" in problem


def test_unreachable_state_is_reported(project):
    edit_flow(project, lambda s: s.update(orphan={"final": True, "template": "knee/result.j2"}))
    assert any("'orphan'" in p and "unreachable" in p for p in problems_in(project))


def test_state_with_no_way_forward_is_reported(project):
    edit_flow(project, lambda s: s["imaging_note"].update(options=[]))
    found = problems_in(project)
    assert any("'imaging_note'" in p and "no way forward" in p for p in found)


def test_missing_template_is_reported(project):
    (project / "templates" / "knee" / "hip_squat.j2").unlink()
    assert any("'hip_squat'" in p and "missing template" in p for p in problems_in(project))


def test_undefined_template_variable_is_reported(project):
    path = project / "templates" / "knee" / "move_landing.j2"
    path.write_text(path.read_text() + "\n{{ practice.nme }} {{ favourite_colour }}")
    found = problems_in(project)
    assert any("move_landing.j2" in p and "favourite_colour" in p for p in found)


def test_duplicate_option_id_is_reported(project):
    def duplicate(states):
        states["pain_where"]["options"][1]["id"] = "front"

    edit_flow(project, duplicate)
    assert any("duplicate option id" in p for p in problems_in(project))


def test_option_id_too_long_for_telegram_is_reported(project):
    edit_flow(project, lambda s: s["pain_where"]["options"][0].update(id="x" * 60))
    found = problems_in(project)
    assert any("64-byte callback data" in p for p in found)


def test_label_over_80_characters_is_reported(project):
    edit_flow(project, lambda s: s["pain_where"]["options"][0].update(label="a" * 81))
    assert any("over 80" in p for p in problems_in(project))


def test_message_over_4096_characters_is_reported(project):
    path = project / "templates" / "knee" / "hip_figure4.j2"
    path.write_text(path.read_text() + "\n" + "word " * 900)
    assert any("hip_figure4.j2" in p and "over 4096" in p for p in problems_in(project))


def test_undeclared_score_key_is_reported(project):
    edit_flow(project, lambda s: s["pain_where"]["options"][0].update(scores={"knee_itself": 1}))
    assert any("unknown score 'knee_itself'" in p for p in problems_in(project))


def test_flow_file_with_a_missing_field_names_it(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("id: broken\nstates:\n  a:\n    options:\n      - {label: Hi, next: a}\n")
    with pytest.raises(FlowError, match=r"broken.yaml: state 'a' option: field 'id' is missing"):
        load_flow(path)


@pytest.mark.process
def test_check_command_exits_non_zero_on_errors_and_zero_when_clean(project):
    env = {"BOT_DIALOGS_DIR": str(project / "dialogs"),
           "BOT_TEMPLATES_DIR": str(project / "templates"),
           "BOT_DATA_DIR": str(project / "data"), "PATH": "/usr/bin:/bin"}
    clean = subprocess.run([sys.executable, "-m", "bot", "check"], env=env, capture_output=True,
                           text=True, check=False)
    assert clean.returncode == 0, clean.stdout
    assert "placeholder" in clean.stdout  # placeholders are warnings, not errors
    edit_flow(project, lambda s: s["welcome"]["options"][0].update(next="gone"))
    broken = subprocess.run([sys.executable, "-m", "bot", "check"], env=env,
                            capture_output=True, text=True, check=False)
    assert broken.returncode == 1 and "'gone'" in broken.stdout


def edit_whole_flow(project: Path, change) -> None:
    path = project / "dialogs" / "knee.yaml"
    flow = yaml.load(path.read_text(), Loader=FlowLoader)
    change(flow)
    path.write_text(yaml.safe_dump(flow, sort_keys=False))


def all_problems_in(project: Path) -> list[str]:
    settings = load_settings(data_dir=project / "data", dialogs_dir=project / "dialogs",
                             templates_dir=project / "templates")
    return [str(p) for p in check_all(build_engine(settings, SQLiteStore(":memory:")))]


def test_red_flags_out_of_urgency_order_are_an_error(project):
    def swap(flow):
        flags = flow["safety"]["red_flags"]
        flags[0], flags[-1] = flags[-1], flags[0]

    edit_whole_flow(project, swap)
    assert any("not in order of urgency" in p for p in problems_in(project))


def test_a_safety_question_after_a_lower_urgency_one_on_any_path_is_an_error(project):
    edit_flow(project, lambda s: s["after_safety"]["route"][-1].update(next="rf_hot_swollen"))
    assert any("'rf_hot_swollen'" in p and "after a question of lower urgency" in p
               for p in problems_in(project))


def test_an_unknown_urgency_is_an_error(project):
    edit_whole_flow(project, lambda f: f["safety"]["red_flags"][3].update(urgency="soonish"))
    assert any("urgency" in p and "must be one of" in p for p in problems_in(project))


def test_a_multi_select_needs_next_and_combinable_options(project):
    edit_flow(project, lambda s: s["pain_worse"].pop("next"))
    assert any("'pain_worse'" in p and "needs `next`" in p for p in problems_in(project))


def test_a_multi_select_option_may_not_take_the_done_buttons_id(project):
    edit_flow(project, lambda s: s["pain_worse"]["options"][0].update(id="done"))
    assert any("Done button" in p for p in problems_in(project))


def test_exclusive_outside_a_multi_select_is_an_error(project):
    edit_flow(project, lambda s: s["pain_where"]["options"][0].update(exclusive=True))
    assert any("'pain_where'" in p and "select: many" in p for p in problems_in(project))


def test_a_multi_select_with_one_combinable_option_is_an_error(project):
    edit_flow(project, lambda s: s["pain_worse"].update(options=s["pain_worse"]["options"][-2:]))
    assert any("two options to combine" in p for p in problems_in(project))


def test_an_area_no_self_check_can_name_is_an_error(project):
    edit_whole_flow(project, lambda f: f["drivers"]["movement"].update(named_at=99))
    assert any("drivers.movement" in p and "can reach 99" in p for p in problems_in(project))


def test_an_areas_unknown_check_is_an_error(project):
    edit_whole_flow(project, lambda f: f["drivers"]["movement"].update(checks=["nowhere"]))
    assert any("drivers.movement.checks" in p for p in problems_in(project))


def test_check_warns_until_a_clinician_signs_the_spec_off(project):
    unsigned = [p for p in all_problems_in(project) if "not signed off" in p]
    assert len(unsigned) == 1 and "warning" in unsigned[0]
    edit_whole_flow(project, lambda f: f["clinical"].update(reviewed_by="Dr. A. Reviewer, PT"))
    assert not [p for p in all_problems_in(project) if "not signed off" in p]


def test_a_flow_with_red_flags_needs_a_version(project):
    edit_whole_flow(project, lambda f: f.pop("version"))
    assert any("needs a version" in p for p in problems_in(project))


def test_a_safety_block_without_red_flags_is_refused_when_loading(project):
    edit_whole_flow(project, lambda f: f["safety"].update(red_flags=[]))
    with pytest.raises(FlowError, match="red_flags"):
        load_flow(project / "dialogs" / "knee.yaml")


# -- what a person is shown: labels read aloud, styles, Telegram's profile and group menu -------


def test_a_label_with_a_slash_or_a_marker_is_an_error_screen_readers_spell_them(project):
    edit_flow(project, lambda s: s["hip_squat"]["options"][-1].update(label="Not sure / skip"))
    labels = project / "templates" / "common" / "labels.j2"
    labels.write_text(labels.read_text().replace('"No, keep going"', '"» Keep going"'))
    found = problems_in(project)
    assert any("'hip_squat'" in p and "options.unsure.label" in p and "'/'" in p for p in found)
    assert any("labels.j2" in p and "forget_no" in p and "'»'" in p for p in found)
    assert all("read out by screen readers" in p for p in found)


def test_an_unknown_style_or_two_expected_answers_is_an_error(project):
    def restyle(states):
        states["welcome"]["options"][1].update(style="primary")
        states["pain_where"]["options"][0].update(style="loud")

    edit_flow(project, restyle)
    found = problems_in(project)
    assert any("'welcome'" in p and "one expected answer at most" in p for p in found)
    assert any("'pain_where'" in p and "unknown style 'loud'" in p for p in found)


def test_a_telegram_description_over_its_limit_is_an_error(project):
    short = project / "templates" / "telegram" / "short_description.j2"
    short.write_text("A free knee pain check. " * 6)
    (problem,) = problems_in(project)
    assert "short_description.j2" in problem and "over Telegram's 120" in problem


def test_a_group_menu_command_that_would_not_reach_the_private_chat_is_an_error(project):
    path = project / "dialogs" / "commands.yaml"
    path.write_text(path.read_text().replace(
        "forget:  {action: forget, menu: [telegram, discord],",
        "forget:  {action: forget, menu: [telegram, discord], groups: true,"))
    (problem,) = problems_in(project)
    assert "commands.forget.groups" in problem and "deep_link" in problem


def test_a_shared_template_that_names_a_flow_is_warned_of_and_the_shipped_ones_name_none(
    project,
):
    settings = load_settings(data_dir=project / "data", dialogs_dir=project / "dialogs",
                             templates_dir=project / "templates")

    def warnings() -> list[str]:
        engine = build_engine(settings, SQLiteStore(":memory:"))
        return [str(p) for p in check_all(engine) if p.warning and "names the flow" in p.message]

    assert warnings() == []
    youtube = project / "templates" / "common" / "youtube.j2"
    youtube.write_text("Videos on knee pain are on our channel.\n")
    (warning,) = warnings()
    assert "common/youtube.j2" in warning and "'knee'" in warning and "line 1" in warning


def _copy_spec(project: Path) -> None:
    (project / "docs").mkdir(exist_ok=True)
    shutil.copy(ROOT / "docs" / "clinical.md", project / "docs" / "clinical.md")


def test_an_urgency_that_differs_from_the_clinical_spec_table_is_an_error(project):
    _copy_spec(project)

    def soften(flow):
        for flag in flow["safety"]["red_flags"]:
            if flag["id"] == "clot_risk":
                flag["urgency"] = "within_days"  # still in order: the last same-day one
    edit_whole_flow(project, soften)
    assert any("clot_risk" in p and "docs/clinical.md says 'same_day'" in p
               for p in all_problems_in(project))


def test_a_red_flag_asked_on_a_fact_no_earlier_question_sets_is_an_error(project):
    _copy_spec(project)

    def forget_age(flow):
        for option in flow["states"]["age"]["options"]:
            option["facts"] = {}
        for option in flow["states"]["who"]["options"]:
            option["facts"].pop("age", None)
    edit_whole_flow(project, forget_age)
    problems = all_problems_in(project)
    assert any("'rf_child_limp'" in p and "tests 'age'" in p for p in problems)

"""A second flow is YAML and templates only: copied beside the real ones, it runs with no
Python change, with its own entry command in every channel's menu."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import build_engine
from bot.settings import Settings, load_settings
from bot.store.sqlite import SQLiteStore
from bot.tools.check import check_all
from bot.tools.client import DialogClient
from tests.harness.flows import project_with_hip_flow


@pytest.fixture
def hip_settings(tmp_path: Path) -> Settings:
    project = project_with_hip_flow(tmp_path / "project")
    return load_settings(data_dir=tmp_path / "data", dialogs_dir=project / "dialogs",
                         templates_dir=project / "templates")


def test_the_new_flow_passes_check_and_joins_the_registry(hip_settings):
    engine = build_engine(hip_settings, SQLiteStore(":memory:"))
    assert [str(p) for p in check_all(engine) if not p.warning] == []
    command = engine.commands.get("hipcheck")
    assert command is not None and command.flow == "hip" and command.deep_link
    assert "hipcheck" in [c.name for c in engine.commands.for_menu("telegram")]
    assert "hipcheck" in [c.name for c in engine.commands.for_menu("discord")]


async def test_a_person_on_the_console_takes_the_new_flow(hip_settings):
    engine = build_engine(hip_settings)
    person = DialogClient(engine, "sam", channel="console")
    await person.send("/hipcheck")
    assert person.last.state == "hip_welcome" and "hip check" in person.text
    await person.click("go")
    reply = await person.send("stiff")
    assert reply.state == "hip_stiff_result" and reply.outcome.flow == "hip"
    assert [link.label for m in reply.messages for link in m.links] == ["Watch on YouTube"]
    rows = await engine.store.events("console", "sam")
    assert [kind for kind, *_ in rows] == ["started", "finished"]
    await person.send("/start hipcheck")  # a deep link opens it too, from the top
    assert person.last.state == "hip_welcome"
    await engine.store.close()

"""Small pure pieces: markup, matching, scoring, booking links, the graph, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.app import build_engine
from bot.channels.discord.menu import fit
from bot.core import jsontext
from bot.core.booking import SUMMARY_LIMIT, URL_LIMIT, booking_link
from bot.core.channels import CHANNELS, DISCORD, TELEGRAM
from bot.core.conversation import Answer, Conversation
from bot.core.events import Choice, Link, Message, decode_choice, encode_choice, parse_command
from bot.core.markup import escape, parse, plain, split_text
from bot.core.wire import message_from_dict, message_to_json
from bot.engine import render
from bot.engine.flow import Option, State, load_flow
from bot.engine.matching import match_option, normalize, parse_number
from bot.engine.render import BrokenTemplate, Renderer
from bot.engine.scoring import (
    driver_status,
    explained_drivers,
    highest_red_flag,
    named_drivers,
)
from bot.engine.understand import CONFIRM, NOTHING, read
from bot.settings import ROOT, Practice, load_settings
from bot.store.sqlite import SQLiteStore
from bot.tools.graph import mermaid

YES_NO = (
    Option("yes", "Yes", "a", synonyms=("y", "yeah", "yep")),
    Option("no", "No", "b", synonyms=("n", "nope")),
    Option("unsure", "Not sure", "c", synonyms=("idk",)),
)


def test_stored_json_reads_the_same_whether_written_now_or_by_the_standard_library():
    conv = Conversation("telegram", "501", flow="knee", state="pain_level", turn=7,
                        facts={"who": "me", "areas": ["hip", "foot"]}, scores={"hip": 2.5},
                        history=[Answer("who", "me"), Answer("areas", ("hip", "foot")),
                                 Answer("name", "Zoë 🦵", typed=True)])
    message = Message("**Zoë**, how bad is it?", (Choice("a", "Ça va", True, "primary"),),
                      (Link("Book", "https://x.test/?a=1&b=ü"),))

    written_before = json.dumps(json.loads(conv.to_json()))  # spaces and \u escapes
    assert "\\u00eb" in written_before and "Zoë 🦵" in conv.to_json()  # now: compact UTF-8
    for text in (conv.to_json(), written_before):
        again = Conversation.from_json(text)
        assert again == conv
        assert again.history[1].value == ("hip", "foot")  # a pick of several stays a tuple
    assert message_from_dict(json.loads(message_to_json(message))) == message


def test_a_request_body_holds_only_its_own_bytes():
    call = {"chat_id": 501, "text": "How bad is it today? " * 20,
            "reply_markup": {"inline_keyboard": [[{"text": "Yes", "callback_data": "7:yes"}]]}}
    size = len(jsontext.dumps_bytes(call))
    tracemalloc.start()
    try:
        bodies = [jsontext.dumps_bytes(call) for _ in range(100)]
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert json.loads(bodies[0]) == call
    assert 400 < size < 1000
    assert held < 100 * (size + 200)  # not the 4 KiB the encoder writes into, for each


@pytest.mark.parametrize(("source", "shown"), [
    ("One\n\nTwo", "One\n\nTwo"),  # one blank line: kept
    ("One\n\n\nTwo", "One\n\nTwo"),  # two: one left
    ("\n One\n\n\n\n\nTwo\n\n\nThree \n\n", "One\n\nTwo\n\nThree"),
    ("One\nTwo", "One\nTwo"),
])
def test_a_message_has_at_most_one_blank_line_in_a_row_and_no_edges(source, shown, tmp_path):
    (tmp_path / "message.j2").write_text(source)
    assert Renderer(tmp_path).render("message.j2") == shown


def test_each_template_is_compiled_once_and_read_once(tmp_path):
    (tmp_path / "hello.j2").write_text("Hello {{ name }}")
    renderer = Renderer(tmp_path)
    assert renderer.render("hello.j2", name="Ann") == "Hello Ann"
    (tmp_path / "hello.j2").write_text("Changed {{ name }}")  # as in production: not re-read
    assert renderer.render("hello.j2", name="Bo") == "Hello Bo"
    assert renderer.template("hello.j2") is renderer.template("hello.j2")
    assert Renderer(tmp_path).render("hello.j2", name="Cy") == "Changed Cy"  # a new process


@dataclass(frozen=True)
class _Frozen:
    name: str
    tags: list[str]  # unhashable inside: the object is keyed by itself


@dataclass
class _Mutable:
    name: str


def test_a_message_is_rendered_again_when_anything_it_reads_changes(tmp_path):
    """Rendered messages are reused, keyed by every variable the template and what it
    includes read: a change to any of them, however deep, shows."""
    (tmp_path / "part.j2").write_text("{{ p.you }} {{ flag }}")
    (tmp_path / "message.j2").write_text(
        '{% include "part.j2" %} {{ items | join(",") }} {{ who.name }}')
    renderer, ann = Renderer(tmp_path), _Frozen("Ann", [])

    def shown(**changed: object) -> str:
        context = {"p": {"you": "you"}, "flag": True, "items": ["a"], "who": ann, **changed}
        return renderer.render("message.j2", **context)

    assert shown() == shown() == "you True a Ann"
    assert len(renderer._rendered) == 1, "kept, and found again"
    assert shown(p={"you": "your child"}) == "your child True a Ann"
    assert shown(flag=1) == "you 1 a Ann"  # True == 1, yet printed apart
    assert shown(items=["a", "b"]) == "you True a,b Ann"
    assert shown(who=_Frozen("Bo", [])) == "you True a Bo"
    mutable = _Mutable("Cy")
    assert shown(who=mutable) == "you True a Cy"
    mutable.name = "Di"
    assert shown(who=mutable) == "you True a Di", "a mutable object is never a key"


def test_a_message_is_kept_by_what_it_finds_missing_and_not_by_its_own_names(tmp_path):
    (tmp_path / "message.j2").write_text(
        "{% for item in items %}{{ item }}{% endfor %}{% if x is defined %} x{% endif %}")
    renderer = Renderer(tmp_path)
    assert renderer.render("message.j2", items=["a", "b"]) == "ab"
    assert renderer.render("message.j2", items=["a", "b"]) == "ab"
    assert len(renderer._rendered) == 1, "a loop's own name keys nothing"
    assert renderer.render("message.j2", items=["a", "b"], x=0) == "ab x"


def test_a_message_printing_what_a_person_typed_is_never_kept(tmp_path):
    (tmp_path / "part.j2").write_text("{{ facts.name }}")
    (tmp_path / "thanks.j2").write_text('Thanks, {% include "part.j2" %}!')
    renderer = Renderer(tmp_path)
    assert renderer.render("thanks.j2", facts={"name": "Ann"}) == "Thanks, Ann!"
    assert renderer._rendered == {}


def test_a_message_naming_its_include_at_render_time_is_rendered_every_time(tmp_path):
    (tmp_path / "dynamic.j2").write_text("{{ deep }}")
    (tmp_path / "message.j2").write_text("{% include which %}")
    renderer = Renderer(tmp_path)
    assert renderer.render("message.j2", which="dynamic.j2", deep="d1") == "d1"
    assert renderer.render("message.j2", which="dynamic.j2", deep="d2") == "d2"
    assert renderer._rendered == {}


def test_rendered_messages_kept_are_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(render, "RENDERED_KEPT", 3)
    (tmp_path / "hello.j2").write_text("Hello {{ who }}")
    renderer = Renderer(tmp_path)
    for number, name in enumerate(["a", "b", "c"], start=1):
        renderer.render("hello.j2", who=name)
        assert len(renderer._rendered) == number
    assert renderer.render("hello.j2", who="d") == "Hello d"
    assert len(renderer._rendered) == 1, "full: emptied, then the new one kept"
    assert renderer.render("hello.j2", who="a") == "Hello a"


def test_a_server_compiles_every_template_before_anyone_writes(tmp_path):
    (tmp_path / "one.j2").write_text("One")
    (tmp_path / "flow").mkdir()
    (tmp_path / "flow" / "two.j2").write_text("Two {{ x }}")
    renderer = Renderer(tmp_path)
    assert renderer.compile_all() == 2
    assert set(renderer._templates) == {"one.j2", "flow/two.j2"}
    (tmp_path / "flow" / "broken.j2").write_text("{% if %}")
    with pytest.raises(BrokenTemplate, match=r"^the template flow/broken.j2 cannot be compiled "
                       r"\(line 1\): Expected an expression"):
        Renderer(tmp_path).compile_all()
    shipped = Renderer(ROOT / "templates")
    assert shipped.compile_all() == len(list((ROOT / "templates").rglob("*.j2")))


def test_markup_parses_bold_italic_and_links():
    spans = parse("Hi **there** and _you_, see [the video](https://x.test/a_b).")
    assert [(s.kind, s.text) for s in spans] == [
        ("text", "Hi "), ("bold", "there"), ("text", " and "), ("italic", "you"),
        ("text", ", see "), ("link", "the video"), ("text", "."),
    ]
    assert spans[5].url == "https://x.test/a_b"


def test_escaped_values_stay_literal_text():
    value = "**not bold** _x_ [a](b) \\"
    assert plain(f"say {escape(value)}") == f"say {value}"
    assert all(span.kind == "text" for span in parse(escape(value)))


def test_snake_case_words_are_not_italic():
    assert [s.kind for s in parse("over_3_months")] == ["text"]


def test_split_text_keeps_every_chunk_under_the_limit_and_loses_nothing():
    text = "\n\n".join(f"Paragraph {n} " + "word " * 150 for n in range(20))
    chunks = split_text(text, 2000)
    assert len(chunks) > 1 and all(len(chunk) <= 2000 for chunk in chunks)
    assert " ".join(" ".join(chunks).split()) == " ".join(text.split())


def test_choice_payload_round_trips_and_rejects_foreign_data():
    assert decode_choice(encode_choice(42, "yes")) == (42, "yes")
    assert decode_choice("garbage") is None and decode_choice("x|yes") is None


def test_commands_are_parsed_with_bot_names_and_payloads():
    assert parse_command("/start@PTBot knee") == ("start", "knee")
    assert parse_command("/BOOK") == ("book", "")
    assert parse_command("hello /start") is None and parse_command("/") is None


def test_typed_answers_match_by_number_label_and_synonym():
    assert match_option("2", YES_NO).id == "no"
    assert match_option("  NOT SURE! ", YES_NO).id == "unsure"
    assert match_option("yep", YES_NO).id == "yes"
    assert match_option("4", YES_NO) is None and match_option("maybe later", YES_NO) is None


def test_odd_digits_and_special_floats_are_not_numbers():
    assert match_option("²", YES_NO) is None and match_option("٣", YES_NO) is None
    assert parse_number("nan") is None and parse_number("inf") is None
    assert parse_number("7,5") == 7.5 and parse_number("7/10") == 7.0


def test_loose_reading_forgives_small_typos_but_asks_about_ambiguity():
    options = (Option("a", "Running", "x"), Option("b", "Jumping or landing", "x"),
               Option("c", "Landing hard", "x"))
    state = State("q", "t.j2", options=options)
    assert read(state, "runing").option.id == "a"
    assert read(state, "jumpng").option.id == "b"
    assert read(state, "landing").kind == CONFIRM, "two answers say landing: asked"
    assert read(state, "swimming").kind == NOTHING


def test_command_words_are_found_anywhere_and_whole_phrases_exactly():
    engine = build_engine(load_settings(data_dir="/nonexistent"), SQLiteStore(":memory:"))
    commands = engine.commands

    def asked(text: str) -> str | None:
        command = commands.in_text(normalize(text), 480)
        return command.name if command else None

    assert asked("Can I book a call?") == "book"
    assert asked("any podcast?") == "podcast"
    assert asked("go back") == "back"
    assert asked("the back of my knee") is None
    assert asked("stop") == "stop" and commands.get("cancel").name == "stop"
    assert asked("contact me") == "contact" and commands.get("contact").flow == "contact"
    assert asked("book " * 200) is None  # keywords count only in short messages


def test_areas_are_named_only_at_their_threshold_best_evidence_first():
    flow = load_flow(ROOT / "dialogs" / "knee.yaml")
    assert named_drivers(flow, {"hip_mobility": 1, "foot_stability": 1}, {}) == []
    assert named_drivers(flow, {"hip_mobility": 2}, {}) == ["hip_mobility"]
    assert named_drivers(flow, {"hip_mobility": 3, "foot_stability": 5}, {}) == [
        "foot_stability", "hip_mobility"]
    assert named_drivers(flow, {"unsure": 9}, {}) == []


def test_where_it_hurts_breaks_ties_but_never_names_an_area():
    flow = load_flow(ROOT / "dialogs" / "knee.yaml")
    tied = {"foot_stability": 3, "hip_stability": 3}
    assert named_drivers(flow, tied, {})[0] == "foot_stability"  # flow order
    facts = {"pain_where": "outside", "worse_with": ["stairs", "pivoting"]}
    assert named_drivers(flow, tied, facts)[0] == "hip_stability"
    assert named_drivers(flow, {}, facts) == []


def test_at_most_two_areas_are_explained():
    assert explained_drivers(["a", "b", "c"]) == ["a", "b"]
    assert explained_drivers(["a"]) == ["a"] and explained_drivers([]) == []


def test_an_area_looks_fine_only_when_every_check_was_done():
    flow = load_flow(ROOT / "dialogs" / "knee.yaml")
    done = {"hip_squat": ("fine",), "hip_figure4": "no"}
    assert driver_status(flow, "hip_mobility", [], done) == "fine"
    assert driver_status(flow, "hip_mobility", [], {"hip_squat": ("fine",)}) == "unclear"
    unsure = {"hip_squat": ("unsure",), "hip_figure4": "no"}
    assert driver_status(flow, "hip_mobility", [], unsure) == "unclear"
    assert driver_status(flow, "hip_mobility", ["hip_mobility"], done) == "named"


def test_the_highest_urgency_wins_then_the_one_asked_first():
    flow = load_flow(ROOT / "dialogs" / "knee.yaml")
    assert highest_red_flag(flow, ["night_pain", "locked", "calf_clot"]).id == "calf_clot"
    assert highest_red_flag(flow, ["numbness", "locked"]).id == "locked"
    assert highest_red_flag(flow, ["weight_loss", "hot_swollen"]).id == "hot_swollen"
    assert highest_red_flag(flow, []) is None and highest_red_flag(flow, ["nope"]) is None


def test_booking_link_carries_utm_and_provider_prefill():
    practice = Practice(booking_url="https://book.test/pt?x=1", booking_provider="calendly")
    url = booking_link(practice, "telegram", "knee", "Likely contributors: hip")
    query = parse_qs(urlsplit(url).query)
    assert query["utm_source"] == ["telegram"] and query["utm_medium"] == ["chatbot"]
    assert query["utm_campaign"] == ["knee"] and query["a1"] == ["Likely contributors: hip"]
    assert query["x"] == ["1"]
    cal = Practice(booking_url="https://cal.test/pt", booking_provider="cal.com")
    assert parse_qs(urlsplit(booking_link(cal, "discord", "knee", "s")).query)["notes"] == ["s"]
    plain_url = Practice(booking_url="https://pt.test/book", booking_provider="plain")
    assert "a1" not in booking_link(plain_url, "console", None, "s")


@pytest.mark.parametrize("address_length", [60, 160, 300, 400])
def test_a_booking_link_never_passes_512_characters_and_keeps_what_summary_fits(
    address_length: int,
):
    """Discord refuses link buttons over 512 characters: the summary gives way, never the
    practice's address or the tags."""
    address = "https://calendly.com/" + "p" * (address_length - len("https://calendly.com/"))
    practice = Practice(booking_url=address, booking_provider="calendly")
    summary = "Worse with: stairs, squats, running, jumping; " * 8  # longer than ever shown
    link = booking_link(practice, "discord", "knee", summary)
    assert len(link) <= URL_LIMIT and link.startswith(address)
    query = parse_qs(urlsplit(link).query)
    assert query["utm_source"] == ["discord"]
    kept = query.get("a1", [""])[0]
    assert summary.startswith(kept)
    room = URL_LIMIT - len(booking_link(practice, "discord", "knee", ""))
    if room > 40:  # what fitted was kept, up to the summary's own cap
        assert len(kept) >= min(SUMMARY_LIMIT, room // 3) - 3


def test_a_short_summary_is_kept_whole_at_the_limit():
    practice = Practice(booking_url="https://calendly.com/x", booking_provider="calendly")
    bare = len(booking_link(practice, "discord", "knee", ""))
    fits = "a" * (URL_LIMIT - bare - len("&a1="))
    assert len(booking_link(practice, "discord", "knee", fits[:SUMMARY_LIMIT])) <= URL_LIMIT
    assert parse_qs(urlsplit(booking_link(practice, "d", "k", "short")).query)["a1"] == ["short"]


@pytest.mark.parametrize(("length", "cut"), [(99, False), (100, False), (101, True), (400, True)])
def test_a_discord_description_is_cut_at_a_word_only_past_100(length: int, cut: bool):
    text = ("word " * 100)[:length]
    fitted = fit(text)
    assert len(fitted) <= 100
    assert fitted.endswith("…") is cut and (fitted == text) is not cut
    if cut:
        assert fitted[:-1].strip().endswith("word")


def test_graph_is_a_mermaid_state_diagram_of_every_state_drawn_by_transitions():
    flow = load_flow(ROOT / "dialogs" / "knee.yaml")
    chart = mermaid(flow)
    assert "stateDiagram-v2" in chart and f"v{flow.version}" in chart
    for state in flow.states:
        assert f'state "{state}" as {state}' in chart
    assert "rf_hot_swollen --> redflag_hot_swollen: yes" in chart
    assert "result_route --> result_unsure: _route [unsure >= 3]" in chart
    assert "after_safety --> injury_now: _route [injury in this_week / weeks]" in chart
    assert "pain_worse --> pain_duration: _done" in chart
    assert "foot_mirror --> ankle_wall:" in chart and "_skip" in chart
    assert "class redflag_hot_swollen redflag" in chart and "class result result" in chart


def run_cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {"BOT_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin",
           "BOT_SETTINGS_FILE": os.devnull}
    return subprocess.run([sys.executable, "-m", "bot", *args], env=env, capture_output=True,
                          text=True, check=False, cwd=ROOT)


@pytest.mark.process
def test_say_json_prints_one_object_per_message_and_state_persists(tmp_path):
    first = run_cli("say", "--user", "u1", "--json", "/start", data_dir=tmp_path)
    (message,) = [json.loads(line) for line in first.stdout.splitlines()]
    assert message["state"] == "welcome"
    assert message["buttons"][0] == {"id": "begin", "label": "Let's start"}
    second = run_cli("say", "--user", "u1", "--json", "1", data_dir=tmp_path)
    assert json.loads(second.stdout.splitlines()[-1])["state"] == "who"
    for answer in ("me", "adult", "no", "new", "no"):
        run_cli("say", "--user", "u1", "--json", answer, data_dir=tmp_path)
    last = run_cli("say", "--user", "u1", "--json", "yes", data_dir=tmp_path)
    record = json.loads(last.stdout.splitlines()[-1])
    assert record["outcome"]["red_flag"] == "hot_swollen" and record["outcome"]["drivers"] == []
    assert record["outcome"]["urgency"] == "emergency" and record["outcome"]["version"]


@pytest.mark.process
def test_graph_command_prints_the_knee_flow(tmp_path):
    result = run_cli("graph", "knee", data_dir=tmp_path)
    assert result.returncode == 0 and "redflag_calf_clot" in result.stdout
    assert run_cli("graph", "shoulder", data_dir=tmp_path).returncode == 2


def test_the_channel_registry_agrees_with_the_platform_libraries():
    from telegram.constants import BotDescriptionLimit, InlineKeyboardButtonLimit, MessageLimit

    assert TELEGRAM.message_limit == MessageLimit.MAX_TEXT_LENGTH
    assert TELEGRAM.payload_limit == InlineKeyboardButtonLimit.MAX_CALLBACK_DATA
    assert sorted(TELEGRAM.profile_limits.values()) == [
        BotDescriptionLimit.MAX_SHORT_DESCRIPTION_LENGTH,
        BotDescriptionLimit.MAX_DESCRIPTION_LENGTH,
    ]
    assert (DISCORD.message_limit, DISCORD.payload_limit, DISCORD.label_limit) == (2000, 100, 80)
    assert [name for name, spec in CHANNELS.items() if spec.pulled] == ["web", "console"]


def test_reading_the_channel_registry_loads_no_platform_library():
    code = ("import sys, bot.core.channels; "
            "print(sorted(m for m in ('telegram', 'discord') if m in sys.modules))")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, cwd=ROOT)
    assert shown.stdout.strip() == "[]"

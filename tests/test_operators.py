"""What an operator sees of the bot's processes, each run for real: where the web server
listens, one plain line when it cannot (a port in use) or when the disk fails under `say`,
`-v` anywhere on the command line, and logs at the level and in the format the settings ask
for, JSON included, never with a person's words."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from bot.app import build_engine
from bot.settings import ROOT, SettingsError, load_settings
from tests.harness.logs import CONTACT_DETAILS, NAME, PHONE_TYPED, ids_used

pytestmark = pytest.mark.process  # `python -m bot ...` in processes of their own
LISTENING = re.compile(r"Web server listening on http://127\.0\.0\.1:(\d+)\n")
TRACEBACK = "Traceback"


def environment(tmp_path: Path, **settings: str) -> dict[str, str]:
    """This environment without any BOT_* setting, on the test's data folder, plus these."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("BOT_")}
    return {**env, "BOT_DATA_DIR": str(tmp_path / "data"), "BOT_SETTINGS_FILE": os.devnull,
            **{f"BOT_{name.upper()}": value for name, value in settings.items()}}


async def bot(env: dict[str, str], *args: str, stdin: bytes = b"") -> tuple[int, str, str]:
    """`python -m bot ARGS` to its end: (exit code, standard output, standard error)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, cwd=ROOT, env=env, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(stdin), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def served(env: dict[str, str], command: str = "web") -> tuple[int, str, str]:
    """`python -m bot web` until it says where it listens; its /healthz there is asked, then
    it is stopped with SIGTERM. (exit code, standard output, standard error)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", command, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert process.stdout is not None
    try:
        first = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        found = LISTENING.fullmatch(first)
        assert found, first
        async with aiohttp.ClientSession() as http, \
                http.get(f"http://127.0.0.1:{found[1]}/healthz") as health:
            assert health.status == 200
        process.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, first + out.decode(), err.decode()


# -- start-up ---------------------------------------------------------------------------------


async def test_web_says_where_it_listens_and_logs_what_runs_at_the_default_level(tmp_path):
    code, out, err = await served(environment(tmp_path, web_port="0"))
    assert code == 0, err
    assert LISTENING.fullmatch(out), out  # one line, the port the system chose
    assert re.search(r" INFO bot\.run: running: web; web server on http://127\.0\.0\.1:\d+", err)
    assert TRACEBACK not in err


@pytest.mark.parametrize("command", ["web", "run"])
async def test_a_port_in_use_is_said_in_one_plain_line(tmp_path, command):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = await bot(environment(tmp_path, web_port=str(port)), command)
    assert code == 1 and out == ""
    assert err.endswith(f"error: Port {port} on 127.0.0.1 is already in use: set BOT_WEB_PORT "
                        "to a free port, or stop what listens there\n"), err
    assert TRACEBACK not in err and err.count("\n") <= 2  # the line (after an INFO line)


# -- -v, the log level and format --------------------------------------------------------------


@pytest.mark.parametrize(("args", "debug"), [
    (("-v", "chat"), True),
    (("chat", "-v"), True),
    (("chat", "--verbose"), True),
    (("chat",), False),
])
async def test_verbose_works_before_or_after_the_command(tmp_path, args, debug):
    code, out, err = await bot(environment(tmp_path), *args, "--user", "pat", stdin=b"1\n")
    assert code == 0, err
    assert "who is this knee check for" in out.lower()
    assert (" DEBUG " in err) is debug, err


@pytest.mark.parametrize(("level", "logged"), [
    ("", ""), ("WARNING", ""), ("INFO", "INFO bot.turns.effects: no staff place configured")])
async def test_a_chat_by_hand_logs_only_what_needs_a_look_unless_asked(tmp_path, level, logged):
    # A lead with no staff place to hear of it: an INFO line a server's log wants, a person
    # trying the chat in their terminal does not
    code, out, err = await bot(environment(tmp_path, log_level=level), "chat", "--user", "pat",
                               stdin=b"/contact\nyes\nSam Rivera\nsam@example.com\n")
    assert code == 0 and "sam@example.com" in out, err
    assert (logged in err) if logged else err == "", err


async def test_verbose_after_a_nested_command(tmp_path):
    code, out, err = await bot(environment(tmp_path), "leads", "export", "-v")
    assert code == 0 and out.startswith("created_at,name,email") and " DEBUG " in err, err


@pytest.mark.parametrize(("level", "info_shown"), [
    ("", True), ("DEBUG", True), ("info", True), ("WARNING", False), ("ERROR", False)])
async def test_the_log_level_comes_from_the_settings(tmp_path, level, info_shown):
    code, _, err = await served(environment(tmp_path, web_port="0", log_level=level))
    assert code == 0, err
    assert ("INFO bot.run: running: web" in err) is info_shown, err


@pytest.mark.parametrize(("name", "value"), [
    ("log_level", "LOUD"), ("log_level", "5"), ("log_format", "xml")])
def test_a_log_setting_that_cannot_work_is_refused_in_one_line(name, value):
    with pytest.raises(SettingsError) as refused:
        load_settings(**{name: value})
    (line,) = refused.value.lines
    assert line.startswith(f"{name} (BOT_{name.upper()}): must be"), line


async def test_json_logs_are_one_object_a_line_and_never_carry_a_persons_words(tmp_path):
    typed = ("1", "1", "no", "yes", "/contact", "yes", NAME, PHONE_TYPED, "/mydata",
             "talk to a person", "my knee hurts on stairs", "/withdraw", "/forget", "yes")
    env = environment(tmp_path, log_format="json")
    code, out, err = await bot(env, "chat", "-v", "--user", "zq-person",
                               stdin="".join(f"{line}\n" for line in typed).encode())
    assert code == 0, err
    assert "Zebulon" in out  # the person saw their own details; the log did not

    lines = [json.loads(line) for line in err.splitlines()]
    assert {line["level"] for line in lines} >= {"DEBUG", "INFO"}
    assert all(set(line) >= {"time", "level", "logger", "message"} for line in lines)
    engine = build_engine(load_settings())
    distinctive = {i for i in ids_used(engine) if "_" in i}
    await engine.store.close()
    for line in lines:
        text = json.dumps(line).lower()
        words = set(re.findall(r"[\w']+", line["message"].lower()))
        assert not [d for d in (*CONTACT_DETAILS, "knee hurts", "zq-person")
                    if d.lower() in text], line
        assert not distinctive & words, line


def test_json_format_keeps_an_errors_traceback_in_its_line():
    code = (
        "import logging, sys\n"
        "from bot.logs import configure_logging\n"
        "configure_logging('INFO', 'json')\n"
        "try:\n    1 / 0\n"
        "except ZeroDivisionError:\n    logging.getLogger('bot.x').exception('it failed')\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=30, check=True)
    (line,) = done.stderr.splitlines()
    logged = json.loads(line)
    assert logged["message"] == "it failed" and logged["level"] == "ERROR"
    assert "ZeroDivisionError" in logged["traceback"]


# -- a failing disk -----------------------------------------------------------------------------


def can_mount_in_a_namespace() -> bool:
    """Whether this user may mount a small tmpfs in a namespace of its own (root, or a
    kernel that lets users have their own namespaces)."""
    if shutil.which("unshare") is None:
        return False
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        return subprocess.run(["unshare", "-rm", "mount", "-t", "tmpfs", "tmpfs", "/mnt"],
                              capture_output=True, timeout=10).returncode == 0
    return False


# Inside its own mount namespace: the data folder on a 2 MB tmpfs, two turns, then the disk
# filled to the last byte, a turn, the disk freed, and the next turn.
FULL_DISK = """
mount -t tmpfs -o size=2m,mode=0700 tmpfs "$BOT_DATA_DIR" || exit 99
python -m bot say --user pat /start >/dev/null || exit 98
python -m bot say --user pat 1 >/dev/null || exit 97
cat /dev/zero > "$BOT_DATA_DIR/filler" 2>/dev/null
python -m bot say --user pat 1 > "$OUT/full.out" 2> "$OUT/full.err"
echo $? > "$OUT/full.code"
rm "$BOT_DATA_DIR/filler"
python -m bot say --user pat --json 1 > "$OUT/after.out" 2> "$OUT/after.err"
echo $? > "$OUT/after.code"
"""


@pytest.mark.skipif(not can_mount_in_a_namespace(), reason="no mount namespace for this user")
def test_a_full_disk_under_say_is_said_in_one_line_and_loses_nothing(tmp_path):
    env = environment(tmp_path)
    (tmp_path / "data").mkdir()
    env |= {"OUT": str(tmp_path), "PATH": f"{Path(sys.executable).parent}:{env['PATH']}"}
    done = subprocess.run(["unshare", "-rm", "sh", "-c", FULL_DISK], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr

    def read(name: str) -> str:
        return (tmp_path / name).read_text()

    assert read("full.code") == "1\n" and read("full.out") == ""
    err = read("full.err")
    assert re.fullmatch(r"error: the database in \S+ failed \((disk I/O error|database or "
                        r"disk is full)\), so nothing was saved: is its disk full or "
                        r"read-only\?\n", err), err
    assert read("after.code") == "0\n", read("after.err")
    after = json.loads(read("after.out").splitlines()[0])
    # "1" (Me) answered once the disk had room: the failed turn left nothing half-done
    assert (after["state"], after["turn"]) == ("age", 3)

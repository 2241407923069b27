"""The systemd unit (deploy/pt-screening-bot@.service): `systemd-analyze security` rates it 3.0
or better, `systemd-analyze verify` finds nothing wrong, it runs as a user systemd makes for
it with private files, webhook mode is one setting away, and the bot runs under the
restrictions that can be tried without systemd as PID 1 (no writable and executable memory,
the unit's umask). systemd-analyze works offline, on the file; `.ci/run` installs it."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "deploy" / "pt-screening-bot@.service"
INSTANCE = "pt-screening-bot@run.service"  # the template with its instance filled in
MOST_EXPOSED = 3.0  # "OK" ends at 3.9 in systemd's words; the issue asks for 3.0 or below
EXPOSURE = re.compile(r"Overall exposure level for \S+: (\d+\.\d+)")
SANDBOX_STARTS = "# What the bot may do"  # the unit's comment before its restrictions
PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1  # what MemoryDenyWriteExecute= asks of the kernel
# Applies the unit's restrictions that need no systemd to this process, then runs the command:
# MemoryDenyWriteExecute (the kernel's per-process switch, kept across exec) and UMask.
RESTRICTED = f"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl({PR_SET_MDWE}, {PR_MDWE_REFUSE_EXEC_GAIN}, 0, 0, 0) != 0:
    sys.exit(f"PR_SET_MDWE failed: errno {{ctypes.get_errno()}}")
os.umask(int(sys.argv[1], 8))
os.execv(sys.executable, [sys.executable, *sys.argv[2:]])
"""
# Run under those restrictions: a mapping both writable and executable is refused, and the
# parts of the bot in C and Rust (argon2's cffi module, orjson, libpq) do their work.
LIBRARIES = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
address = libc.mmap(None, 4096, 0x7, 0x22, -1, 0)  # read, write, exec; private, anonymous
assert address in (None, 2**64 - 1), "a writable and executable mapping was allowed"
import argon2, orjson
from psycopg import pq
assert argon2.PasswordHasher().verify(argon2.PasswordHasher().hash("pw"), "pw")
assert orjson.loads(orjson.dumps({"a": [1]})) == {"a": [1]}
assert pq.version() > 0
"""


def service(unit_text: str) -> dict[str, list[str]]:
    """The [Service] section's settings, each name with its values in order."""
    settings: dict[str, list[str]] = {}
    section = ""
    for line in unit_text.splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and line and not line.startswith("#"):
            name, _, value = line.partition("=")
            settings.setdefault(name, []).append(value)
    return settings


def exposure(unit_text: str, folder: Path) -> float:
    """`systemd-analyze security`'s overall rating of the unit, as the running instance."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / INSTANCE).write_text(unit_text)
    done = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", str(folder / INSTANCE)],
        capture_output=True, text=True, timeout=60,
    )
    rating = EXPOSURE.search(done.stdout)
    assert rating, done.stdout + done.stderr
    return float(rating[1])


def test_systemd_analyze_finds_the_unit_valid_and_rates_it_three_or_better(tmp_path: Path):
    """Verified as installed: the unit in /etc/systemd/system of a root with the bot's Python."""
    assert exposure(UNIT.read_text(), tmp_path / "rated") <= MOST_EXPOSED
    python = tmp_path / "opt/pt-screening-bot/.venv/bin/python"
    python.parent.mkdir(parents=True)
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    units = tmp_path / "etc/systemd/system"
    units.mkdir(parents=True)
    (units / UNIT.name).write_text(UNIT.read_text())
    done = subprocess.run(
        ["systemd-analyze", "verify", f"--root={tmp_path}", "--man=no",
         "--recursive-errors=no", INSTANCE],
        capture_output=True, text=True, timeout=60,
    )
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_the_rating_sees_the_sandbox(tmp_path: Path):
    """Without its restrictions the unit rates well above the line: the rating measures them."""
    text = UNIT.read_text()
    assert SANDBOX_STARTS in text
    bare = text[:text.index(SANDBOX_STARTS)] + "\n[Install]\nWantedBy=multi-user.target\n"
    bare = bare.replace("UMask=0077\n", "").replace("DynamicUser=yes\n", "")
    assert exposure(bare, tmp_path / "bare") > 8.0
    assert exposure(text, tmp_path / "shipped") <= MOST_EXPOSED


def test_the_bot_runs_as_a_user_made_for_it_with_private_files():
    settings = service(UNIT.read_text())
    assert settings["DynamicUser"] == ["yes"], "no user to create beforehand (User=ptbot was not)"
    assert settings["UMask"] == ["0077"]
    assert settings["StateDirectory"] == ["pt-screening-bot/%i"]
    assert settings["StateDirectoryMode"] == ["0700"]
    assert "BOT_DATA_DIR=/var/lib/pt-screening-bot/%i" in settings["Environment"]
    assert settings["CapabilityBoundingSet"] == [""] and settings["NoNewPrivileges"] == ["yes"]
    assert settings["ProtectSystem"] == ["strict"] and settings["PrivateDevices"] == ["yes"]


def test_webhook_mode_is_one_setting_away():
    settings = service(UNIT.read_text())
    (command,) = settings["ExecStart"]
    assert command.split()[-3:] == ["bot", "%i", "$COMMAND_OPTIONS"], "split at spaces"
    assert "COMMAND_OPTIONS=" in settings["Environment"], "empty unless set: polling"
    for instance in ("run", "telegram"):  # the commands that take it
        done = subprocess.run([sys.executable, "-m", "bot", instance, "--help"], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
        assert "--webhook" in done.stdout, instance


@pytest.mark.process
def test_the_bot_runs_without_writable_executable_memory_under_the_units_umask(tmp_path: Path):
    settings = service(UNIT.read_text())
    assert settings["MemoryDenyWriteExecute"] == ["yes"]
    (umask,) = settings["UMask"]
    data = tmp_path / "data"
    environment = {**os.environ, "BOT_DATA_DIR": str(data)}

    def restricted(*command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", RESTRICTED, umask, *command], cwd=ROOT,
                              env=environment, capture_output=True, text=True, timeout=120)

    libraries = restricted("-c", LIBRARIES)
    assert libraries.returncode == 0, libraries.stderr
    turn = restricted("-m", "bot", "say", "--user", "1", "/start")
    assert turn.returncode == 0, turn.stderr
    assert "knee" in turn.stdout.lower()
    made = [data, *data.rglob("*")]
    assert len(made) > 1
    shared = [path for path in made if stat.S_IMODE(path.stat().st_mode) & 0o077]
    assert not shared, "readable by others: " + ", ".join(map(str, shared))

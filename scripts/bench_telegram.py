"""Throughput, CPU and memory of the Telegram bot beside bare python-telegram-bot echo bots.

Simulated people go through the knee screening by buttons via the fake Bot API, at 50 and at 150
people at once; the same number of updates then goes to a bare python-telegram-bot echo bot
making the same three calls per press, on the library's default transport (httpx) and on the
bot's aiohttp one, and, with --aiogram, to a bare aiogram 3 echo bot making the same calls
(the reference the issue's target, "ahead of aiogram", is measured against).
Every run has fresh processes: one for the fake and the people, one for the bot, so each bot's
CPU (getrusage over the run) and peak RSS are its own. Rounds interleave the bots and the sizes,
so the machine's drift touches them alike; figures are medians.

    .venv/bin/python scripts/bench_telegram.py [--rounds 2] [--people 50 150] [--httpx-bot]
                                               [--aiogram FOLDER]

aiogram is not a dependency of the project; for its row, install it with its dependencies into
a folder of its own, and name that folder (its process reads the folder after the project's own
packages, so it runs on the same aiohttp as the other bots):

    .venv/bin/pip install --target .bench/aiogram 'aiogram>=3.31,<4'

CPU time on a shared machine drifts from run to run by a fifth or more. With --instructions,
each bot but the httpx ones instead runs once per size under valgrind's callgrind, which
counts the instructions of the measured run alone: the same code on the same machine gives the
same count to about a thousandth, so a change worth a few percent shows (the runs are some
fifty times slower, so take few people):

    .venv/bin/python scripts/bench_telegram.py --instructions --people 20

The last line is for machines:
`screening bot CPU ms/update: <at 50> <at 150>; updates/s: <at 50> <at 150>`, or with
--instructions `screening bot instructions/update: <millions at each size>`.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Only the standard library up here: every process this script starts imports it first, and a
# bot's memory figure must hold that bot's modules alone.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from scripts.bench.measure import COUNTED  # noqa: E402  (standard library only, as above)

SCREENING = "screening bot"
BOTS = {  # name: (module with main(base_url, token, *args, conn), args, its people)
    SCREENING: ("scripts.bench.screening_bot", ("data", "aiohttp"), "screening"),
    "echo, httpx (library default)": ("scripts.bench.echo_bot", ("httpx",), "echo"),
    "echo, aiohttp (the bot's)": ("scripts.bench.echo_bot", ("aiohttp",), "echo"),
}
AIOGRAM = "echo, aiogram 3"  # with --aiogram FOLDER
AIOGRAM_BOT = ("scripts.bench.aiogram_echo_bot", (), "echo")
# With --httpx-bot: the screening bot on python-telegram-bot's own transport, for comparison.
SCREENING_HTTPX = "screening bot on httpx"
SCREENING_HTTPX_BOT = ("scripts.bench.screening_bot", ("data", "httpx"), "screening")
SPAWN = multiprocessing.get_context("spawn")


@dataclass
class Figures:
    """One bot at one size, a value per round."""

    updates_per_second: list[float] = field(default_factory=list)
    cpu_ms_per_update: list[float] = field(default_factory=list)
    peak_rss_mib: list[float] = field(default_factory=list)
    instructions_per_update: list[float] = field(default_factory=list)  # millions

    def median(self, name: str) -> float:
        return statistics.median(getattr(self, name))


def run_role(module: str, *args: Any) -> None:
    """A child process's work: `module.main(*args)` (imported here, in the child only)."""
    importlib.import_module(module).main(*args)


def run_once(
    bot: tuple[str, tuple[str, ...], str], people: int, folder: Path, counted: bool = False
) -> tuple[float, float, float, float]:
    """One measured run: (updates/s, bot CPU ms per update, bot peak RSS MiB, millions of
    instructions per update when `counted`, else 0)."""
    module, extra, kind = bot
    people_end, their_people_end = SPAWN.Pipe()
    bot_end, their_bot_end = SPAWN.Pipe()
    driver = SPAWN.Process(target=run_role, args=(
        "scripts.bench.people", kind == "screening", people, their_people_end
    ))
    driver.start()
    base_url, token = people_end.recv()
    args = tuple(folder / arg if arg == "data" else arg for arg in extra)
    process = SPAWN.Process(target=run_role, args=(module, base_url, token, *args, their_bot_end))
    counts = folder / "callgrind.out"
    with under_callgrind(counts) if counted else contextlib.nullcontext():
        process.start()
    try:
        assert bot_end.recv() == "ready"
        bot_end.send("go")
        assert bot_end.recv() == "measuring"
        people_end.send("go")
        elapsed, updates = people_end.recv()
        bot_end.send("done")
        cpu_seconds, peak_rss = bot_end.recv()
    finally:
        process.join()
        people_end.send("stop")
        driver.join()
    instructions = instructions_counted(counts) / updates / 1e6 if counted else 0.0
    return updates / elapsed, cpu_seconds * 1000 / updates, peak_rss, instructions


@contextlib.contextmanager
def under_callgrind(counts: Path) -> Iterator[None]:
    """Processes started inside run under callgrind, counting only when told (measure.py)."""
    counts.parent.mkdir(parents=True, exist_ok=True)
    wrapper = counts.parent / "python-under-callgrind"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'exec valgrind --quiet --tool=callgrind --instr-atstart=no '
        f'--callgrind-out-file="{counts}" "{sys.executable}" "$@"\n'
    )
    wrapper.chmod(0o755)
    SPAWN.set_executable(str(wrapper))
    os.environ[COUNTED] = "1"
    try:
        yield
    finally:
        SPAWN.set_executable(sys.executable)
        del os.environ[COUNTED]


def instructions_counted(counts: Path) -> int:
    """The instructions callgrind counted, from its output file's totals (its "summary" line
    is the count at start, none)."""
    for line in counts.read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {counts}")


def main(
    rounds: int, sizes: list[int], httpx_bot: bool = False, aiogram: Path | None = None,
    counted: bool = False,
) -> None:
    if counted and not (shutil.which("valgrind") and shutil.which("callgrind_control")):
        sys.exit("--instructions needs valgrind (Debian's package valgrind)")
    rounds = 1 if counted else rounds  # a count does not drift
    bots = BOTS | ({SCREENING_HTTPX: SCREENING_HTTPX_BOT} if httpx_bot else {})
    if counted:  # httpx under callgrind takes the better part of an hour
        bots = {name: bot for name, bot in bots.items() if "httpx" not in name}
    if aiogram is not None:
        if not (aiogram / "aiogram").is_dir():
            sys.exit(f"no aiogram in {aiogram}: see this script's docstring")
        os.environ["BENCH_AIOGRAM_FOLDER"] = str(aiogram.resolve())  # read by its process only
        bots[AIOGRAM] = AIOGRAM_BOT
    figures = {(bot, people): Figures() for people in sizes for bot in bots}
    began = time.monotonic()
    with tempfile.TemporaryDirectory() as folder:
        for number in range(1, rounds + 1):
            for people in sizes:
                for number_of_bot, bot in enumerate(bots):
                    run_folder = Path(folder) / f"{number}-{people}-{number_of_bot}"
                    rate, cpu, rss, instructions = run_once(
                        bots[bot], people, run_folder, counted
                    )
                    mine = figures[bot, people]
                    mine.updates_per_second.append(rate)
                    mine.cpu_ms_per_update.append(cpu)
                    mine.peak_rss_mib.append(rss)
                    mine.instructions_per_update.append(instructions)
                    print(f"round {number}, {people:>3} people, {bot:<30} {rate:6.0f} updates/s "
                          f"{cpu:5.2f} ms CPU/update {rss:5.1f} MiB", flush=True)
    if counted:
        report_instructions(figures, sizes)
        return
    print(f"\nmedians of {rounds} rounds, {time.monotonic() - began:.0f} s in all")
    print(f"{'bot':<30} {'people':>6} {'updates/s':>10} {'CPU ms/update':>14} {'peak RSS MiB':>13}")
    for (bot, people), mine in figures.items():
        print(f"{bot:<30} {people:>6} {mine.median('updates_per_second'):>10.0f} "
              f"{mine.median('cpu_ms_per_update'):>14.2f} {mine.median('peak_rss_mib'):>13.1f}")
    ours = [figures[SCREENING, people] for people in sizes]
    cpu = " ".join(f"{mine.median('cpu_ms_per_update'):.2f}" for mine in ours)
    rates = " ".join(f"{mine.median('updates_per_second'):.0f}" for mine in ours)
    print(f"screening bot CPU ms/update: {cpu}; updates/s: {rates}")


def report_instructions(figures: dict[tuple[str, int], Figures], sizes: list[int]) -> None:
    """The counts, each bot against the screening bot."""
    print(f"\n{'bot':<30} {'people':>6} {'M instructions/update':>22}")
    for (bot, people), mine in figures.items():
        print(f"{bot:<30} {people:>6} {mine.median('instructions_per_update'):>22.3f}")
    ours = " ".join(
        f"{figures[SCREENING, people].median('instructions_per_update'):.3f}" for people in sizes
    )
    print(f"screening bot instructions/update: {ours} million")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--people", type=int, nargs="+", default=[50, 150])
    parser.add_argument("--httpx-bot", action="store_true",
                        help="also run the screening bot on httpx (python-telegram-bot's own)")
    parser.add_argument("--aiogram", type=Path, metavar="FOLDER",
                        help="also run an aiogram 3 echo bot, aiogram installed in FOLDER")
    parser.add_argument("--instructions", action="store_true",
                        help="count each bot's instructions under valgrind instead (one round)")
    arguments = parser.parse_args()
    main(arguments.rounds, arguments.people, arguments.httpx_bot, arguments.aiogram,
         arguments.instructions)

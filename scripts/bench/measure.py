"""What a bot process reports (see bench_telegram.py): its CPU time over the measured run, by
getrusage, and its peak resident memory. Run under valgrind's callgrind (--instructions), it
also has callgrind count the instructions of the measured run only."""

from __future__ import annotations

import asyncio
import os
import resource
import subprocess
from multiprocessing.connection import Connection

COUNTED = "BENCH_COUNT_INSTRUCTIONS"  # set in a bot process that runs under callgrind


def cpu_seconds() -> float:
    """User and system CPU time of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mib() -> float:
    """The most memory this process has held resident (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def measured(conn: Connection) -> None:
    """With the bot taking updates: say so, then measure from "go" to "done" and report
    (CPU seconds, peak RSS in MiB)."""
    conn.send("ready")
    await asyncio.to_thread(conn.recv)  # go
    count_instructions(True)
    began = cpu_seconds()
    conn.send("measuring")
    await asyncio.to_thread(conn.recv)  # done
    count_instructions(False)
    conn.send((cpu_seconds() - began, peak_rss_mib()))


def count_instructions(on: bool) -> None:
    """Under callgrind (COUNTED set by bench_telegram.py), start or stop counting this process's
    instructions: start-up is left out, as it is of the CPU figure."""
    if os.environ.get(COUNTED) == "1":
        subprocess.run(["callgrind_control", f"--instr={'on' if on else 'off'}", str(os.getpid())],
                       check=True, capture_output=True)


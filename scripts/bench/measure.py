"""What a bot process reports (see bench_telegram.py): its CPU time over the measured run, by
getrusage, and its peak resident memory."""

from __future__ import annotations

import asyncio
import resource
from multiprocessing.connection import Connection


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
    began = cpu_seconds()
    conn.send("measuring")
    await asyncio.to_thread(conn.recv)  # done
    conn.send((cpu_seconds() - began, peak_rss_mib()))

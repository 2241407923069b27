"""CPU time and peak memory of other processes, read from /proc (Linux; no psutil).

`tree_cpu_seconds(pid)` is a process's CPU time with its descendants': every live process of
the tree counts its own user and system time and that of the children it has already reaped
(a PostgreSQL server's backends come and go; their time lands in the postmaster's).
"""

from __future__ import annotations

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (which may hold spaces)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return text[text.rindex(")") + 2:].split()


def cpu_seconds(pid: int, reaped_children: bool = True) -> float:
    """User + system CPU seconds of one live process (0.0 once it is gone); with
    `reaped_children`, those of its children that have exited and been waited for too."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    # After the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
    ticks = int(fields[11]) + int(fields[12])
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / TICKS


def children_of() -> dict[int, list[int]]:
    """Every live process's children, by parent pid."""
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields is not None:
            tree.setdefault(int(fields[1]), []).append(int(entry))
    return tree


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and all its descendants, live or reaped."""
    tree = children_of()
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += cpu_seconds(current)
        todo.extend(tree.get(current, []))
    return total


def peak_rss_mib(pid: int) -> float:
    """The most memory a live process has held resident (VmHWM), in MiB; 0.0 if gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0.0


def postmaster_pid(data_dir: Path) -> int:
    """A running PostgreSQL server's main process (first line of postmaster.pid)."""
    return int((data_dir / "postmaster.pid").read_text().splitlines()[0])


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent not idle since boot, over all cores (from
    /proc/stat: user, nice, system, irq, softirq, steal): less ours, what others used."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / TICKS

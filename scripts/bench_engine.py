"""Benchmark: many simulated people through the whole knee flow, via the engine and its store.

Prints turns/s, p50/p99 turn latency, CPU per turn and peak memory, one block per store: SQLite
(a file in a temporary folder, in this process, as before) and PostgreSQL (a throwaway server
from tests/postgres.py, the engine in a process of its own so its peak memory is its own; the
server's CPU is counted apart from the engine's). Not a test: figures vary by machine.

--outbox turns as on Telegram: each update carries its id, the reply is saved in the store's
outbox with the turn and sent from there right after it (to a channel that takes every message
at once), and a pick shown in place is marked delivered; a turn's figures include that.

    .venv/bin/python scripts/bench_engine.py [--store {sqlite,postgres,both}] [--people N]
                                             [--concurrency 50] [--outbox]

--people defaults to 2000 for SQLite and 1000 for PostgreSQL (about 35 s and 60 s of measuring
on the 2-core machine when nothing else runs); a --people given applies to both. The SQLite
block's lines are the ones README.md quotes; each block ends with the CPU other processes used
meanwhile, the noise in its figures.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import multiprocessing
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

# The project folder first: `python scripts/bench_engine.py` (as `make bench` runs it) puts
# only scripts/ on the path.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.app import build_engine  # noqa: E402
from bot.core.effects import Address  # noqa: E402
from bot.core.events import Event, EventKind, Reply  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from bot.turns.runner import TurnRunner  # noqa: E402
from bot.turns.wiring import NO_WIRING, Wiring  # noqa: E402
from scripts.bench.procstat import (  # noqa: E402
    machine_busy_seconds,
    postmaster_pid,
    tree_cpu_seconds,
)
from tests.postgres import PostgresServer  # noqa: E402

CHANNEL = "bench"
# For me, an adult, no recent injury, no swelling, nothing in the calf, "No" to every safety
# question, then random answers to the rest.
PRESSES_AFTER_START = ["begin", "me", "adult", "no", "no", "no"]
SELF_CHECK_CHOICES = {
    "pain_where": ["front", "inside", "outside", "behind", "all_over", "unsure"],
    "pain_worse": ["stairs", "squats", "running", "jumping", "sitting", "pivoting", "done"],
    "pain_duration": ["weeks", "months", "long"],
    "imaging": ["clear", "none", "unsure"],
    "move_activity": ["running", "ocr", "lifting", "field_sports", "everyday", "done"],
    "checks_intro": ["now"],
    "foot_mirror": ["arch_collapse", "knee_in", "roll_out", "steady", "unsure"],
    "ankle_wall": ["pass", "fail", "one_side", "unsure"],
    "hip_squat": ["hips_tight", "heels_lift", "knees_in", "done", "fine"],
    "hip_single_leg": ["drop", "foot_wobble", "steady", "unsure"],
}


async def one_person(engine: TurnRunner, user: str, rng: random.Random,
                     latencies: list[float]) -> None:
    """One person: /start, presses through every question, a typed pain level, the result."""
    reply = await timed(engine, Event(CHANNEL, user, EventKind.COMMAND, command="start"),
                        latencies)
    for choice in PRESSES_AFTER_START:
        reply = await press(engine, user, reply.turn, choice, latencies)
    while not engine.flows["knee"].states[reply.state].final:
        if reply.state == "pain_level":
            event = Event(CHANNEL, user, EventKind.TEXT, text=str(rng.randint(0, 10)))
            reply = await timed(engine, event, latencies)
            continue
        if reply.state.startswith("rf_"):
            reply = await press(engine, user, reply.turn, "no", latencies)
            continue
        choices = SELF_CHECK_CHOICES.get(reply.state, ["yes", "no", "unsure"])
        reply = await press(engine, user, reply.turn, rng.choice(choices), latencies)


async def press(engine: TurnRunner, user: str, turn: int, choice: str, latencies: list[float]):
    event = Event(CHANNEL, user, EventKind.PRESS, choice_id=choice, turn=turn)
    return await timed(engine, event, latencies)


async def timed(engine: TurnRunner, event: Event, latencies: list[float]):
    started = time.perf_counter()
    reply = await (handle_as_telegram(engine, event) if engine.outboxes
                   else engine.handle(event))
    latencies.append(time.perf_counter() - started)
    return reply


class TakesEverything:
    """A channel's outbox whose platform takes every message at once."""

    async def deliver(self, address: Address, reply: Reply) -> None:
        pass


UPDATE_IDS = itertools.count(1)


async def handle_as_telegram(engine: TurnRunner, event: Event) -> Reply:
    """What the Telegram channel does with an update: its id on the event, then the reply
    sent from the outbox, or the pressed message edited in place (taken as done)."""
    update_id = next(UPDATE_IDS)
    reply = await engine.handle(replace(event, update_id=str(update_id), sequence=update_id))
    address = Address(event.channel, event.user_id)
    if reply.edit:
        await engine.delivered(address, reply)
    else:
        await engine.flush(address)
    return reply


# The bench channel's replies go through the store's outbox, sent by this process.
THROUGH_THE_OUTBOX = Wiring(queued=frozenset({CHANNEL}), delivered=frozenset({CHANNEL}))


STORES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
DEFAULT_PEOPLE = {"sqlite": 2000, "postgres": 1000}


async def run(
    people: int,
    concurrency: int,
    data_dir: Path,
    database_url: str | None = None,
    server_cpu: Callable[[], float] | None = None,
    outbox: bool = False,
) -> None:
    """The measured run on SQLite in `data_dir`, or on the PostgreSQL database named;
    `server_cpu` reads the database server's CPU seconds so far, if it has its own; with
    `outbox`, turns as on Telegram (see the module docstring)."""
    settings = load_settings(data_dir=data_dir, database_url=database_url)
    engine = build_engine(settings, wiring=THROUGH_THE_OUTBOX if outbox else NO_WIRING)
    if outbox:
        engine.outboxes[CHANNEL] = TakesEverything()
    rng = random.Random(7)
    await one_person(engine, "warm-up", rng, [])
    latencies: list[float] = []
    queue = list(range(people))

    async def worker() -> None:
        while queue:
            await one_person(engine, f"person-{queue.pop()}", rng, latencies)

    gc.collect()
    machine_started = machine_busy_seconds()
    server_started = server_cpu() if server_cpu else 0.0
    started, cpu_started = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    server = server_cpu() - server_started if server_cpu else None
    others = machine_busy_seconds() - machine_started - cpu - (server or 0.0)
    await engine.store.close()
    report(people, concurrency, latencies, elapsed, cpu, server)
    # The machine's other work meanwhile (other processes: noise in the figures above).
    print(f"other processes' CPU meanwhile: {max(0.0, others):.1f} s over {elapsed:.1f} s "
          f"({os.cpu_count()} cores)")


def report(
    people: int,
    concurrency: int,
    latencies: list[float],
    elapsed: float,
    cpu: float,
    server_cpu: float | None = None,
) -> None:
    ordered = sorted(latencies)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"people: {people}, concurrency: {concurrency}, turns: {len(latencies)}")
    print(f"throughput: {len(latencies) / elapsed:,.0f} turns/s ({elapsed:.2f} s)")
    # CPU per turn is steadier than turns/s on a shared machine: quote both.
    print(f"CPU per turn: {cpu / len(latencies) * 1000:.3f} ms "
          f"(= {len(latencies) / cpu:,.0f} turns per CPU-second)")
    print(f"turn latency: p50 {statistics.median(ordered) * 1000:.3f} ms, "
          f"p99 {p99 * 1000:.3f} ms, max {ordered[-1] * 1000:.3f} ms")
    print(f"peak memory (max RSS): {peak_mib:.1f} MiB")
    if server_cpu is not None:  # the database server's processes, beside the engine's
        turns = len(latencies)
        print(f"database server CPU per turn: {server_cpu / turns * 1000:.3f} ms; engine and "
              f"server together: {(cpu + server_cpu) / turns * 1000:.3f} ms "
              f"(= {turns / (cpu + server_cpu):,.0f} turns per CPU-second)")


def run_sqlite(people: int, concurrency: int, outbox: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(run(people, concurrency, Path(folder), outbox=outbox))


def run_postgres_child(
    people: int, concurrency: int, url: str, postmaster: int, outbox: bool
) -> None:
    """In a fresh process: the engine on PostgreSQL, the server's CPU read from /proc."""
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(run(people, concurrency, Path(folder), url,
                        lambda: tree_cpu_seconds(postmaster), outbox))
    sys.stdout.flush()


def run_postgres(people: int, concurrency: int, outbox: bool) -> None:
    """A throwaway PostgreSQL server and a fresh database; the engine in a child process, so
    its peak memory is not the SQLite run's, nor this process's."""
    with PostgresServer() as server:
        child = multiprocessing.get_context("spawn").Process(
            target=run_postgres_child,
            args=(people, concurrency, server.database(), postmaster_pid(server.data), outbox),
        )
        child.start()
        try:
            child.join()
        finally:
            if child.is_alive():  # Ctrl-C here: the child got it too; give it a moment
                child.join(5)
                child.terminate()
    if child.exitcode != 0:
        raise SystemExit(f"the PostgreSQL run failed (exit code {child.exitcode})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=[*STORES, "both"], default="both",
                        help="which store to measure (default: both, SQLite first)")
    parser.add_argument("--people", type=int, default=None,
                        help="people per store (default: 2000 SQLite, 1000 PostgreSQL)")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--outbox", action="store_true",
                        help="turns as on Telegram: update ids, replies sent from the outbox")
    args = parser.parse_args()
    stores = list(STORES) if args.store == "both" else [args.store]
    for number, store in enumerate(stores):
        if number:
            print()
        print(f"== store: {STORES[store]} ==", flush=True)
        people = args.people or DEFAULT_PEOPLE[store]
        (run_sqlite if store == "sqlite" else run_postgres)(people, args.concurrency,
                                                           args.outbox)
        sys.stdout.flush()


if __name__ == "__main__":
    main()

"""Benchmark: many simulated people through the whole knee flow, via the engine and SQLite.

Prints turns/s, p50/p99 turn latency and peak memory. Not a test: figures vary by machine.

    .venv/bin/python scripts/bench_engine.py [--people 2000] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import resource
import statistics
import tempfile
import time
from pathlib import Path

from bot.app import build_engine
from bot.core.events import Event, EventKind
from bot.engine.engine import Engine
from bot.settings import load_settings

# For me, no recent injury, "No" to every safety question, then random answers to the rest.
PRESSES_AFTER_START = ["begin", "me", "no"]
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


async def one_person(engine: Engine, user: str, rng: random.Random, latencies: list[float]) -> None:
    """One person: /start, presses through every question, a typed pain level, the result."""
    reply = await timed(engine, Event("bench", user, EventKind.COMMAND, command="start"),
                        latencies)
    for choice in PRESSES_AFTER_START:
        reply = await press(engine, user, reply.turn, choice, latencies)
    while not engine.flows["knee"].states[reply.state].final:
        if reply.state == "pain_level":
            event = Event("bench", user, EventKind.TEXT, text=str(rng.randint(0, 10)))
            reply = await timed(engine, event, latencies)
            continue
        if reply.state.startswith("rf_"):
            reply = await press(engine, user, reply.turn, "no", latencies)
            continue
        choices = SELF_CHECK_CHOICES.get(reply.state, ["yes", "no", "unsure"])
        reply = await press(engine, user, reply.turn, rng.choice(choices), latencies)


async def press(engine: Engine, user: str, turn: int, choice: str, latencies: list[float]):
    event = Event("bench", user, EventKind.PRESS, choice_id=choice, turn=turn)
    return await timed(engine, event, latencies)


async def timed(engine: Engine, event: Event, latencies: list[float]):
    started = time.perf_counter()
    reply = await engine.handle(event)
    latencies.append(time.perf_counter() - started)
    return reply


async def run(people: int, concurrency: int, data_dir: Path) -> None:
    engine = build_engine(load_settings(data_dir=data_dir))
    rng = random.Random(7)
    await one_person(engine, "warm-up", rng, [])
    latencies: list[float] = []
    queue = list(range(people))

    async def worker() -> None:
        while queue:
            await one_person(engine, f"person-{queue.pop()}", rng, latencies)

    gc.collect()
    started, cpu_started = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    await engine.store.close()
    report(people, concurrency, latencies, elapsed, cpu)


def report(
    people: int, concurrency: int, latencies: list[float], elapsed: float, cpu: float
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(run(args.people, args.concurrency, Path(folder)))


if __name__ == "__main__":
    main()

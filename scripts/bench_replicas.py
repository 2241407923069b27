"""Replicas: 1, 2 and 3 Telegram bot processes in webhook mode on one PostgreSQL database.

For each size, in one run: a fresh database on a throwaway PostgreSQL server (tests/postgres.py),
that many bot processes (each `python -m bot telegram --webhook`, see below) on it, and the fake
Bot API (tests/fakes/telegram) posting every update to one of them at random, as a load
balancer would, resending an update that got no 2xx, as Telegram does. N simulated people, all
at once, go through the knee screening by buttons; each presses only once the bot's next
question has arrived (or the pick-several question has been edited with the new tick).

Measured per size: turns/s (the people's updates / wall seconds from the first push to the last
person's result), p50 / p99 turn latency (from pushing an update to the fake receiving the
reply to it: the sendMessage with the next question, or, for a pick in a pick-several question,
the edit of the question in place), the CPU seconds of the bot processes (from /proc), peak
RSS of each, the PostgreSQL server's and this process's (the fake and the people) CPU, and the
scaling (turns/s at k replicas / at 1). Checked while measuring: every person reached the
result; in the database, every conversation is at `result`, every update applied once, the
outbox empty; every webhook post answered 200; every person got the same number of messages.
Each replica's output (stderr and stdout) goes to a log file, scanned for tracebacks, ERROR
and WARNING lines at the end; the folder of logs is kept and printed.

The bot processes run `scripts/bench/webhook_replica.py`: `python -m bot telegram --webhook`
word for word, without python-telegram-bot's 30 messages/s cap per process (which would cap a
replica at about 15 presses/s and make N replicas measure N caps), and the fake's flood control
(Telegram's 30 messages/s for the whole bot, 1/s per chat after a burst) is lifted: this
measures the bot, not the limits. `--rate-limited` keeps both, as in production:
`python -m bot telegram --webhook` itself against a Telegram that answers 429 past 30
messages/s (several minutes at 60 people; use --people 20).

All processes share this machine's cores (2 here): the bots, PostgreSQL, and the fake with
the people. Not a test: figures vary by machine.

    .venv/bin/python scripts/bench_replicas.py [--people 60] [--replicas 1 2 3] [--rate-limited]

The last line is for machines:
`replicas turns/s: <1> <2> <3>; p99 ms: <1> <2> <3>; scaling: <2/1> <3/1>`.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import psycopg  # noqa: E402

from scripts.bench.procstat import (  # noqa: E402
    machine_busy_seconds,
    peak_rss_mib,
    postmaster_pid,
    tree_cpu_seconds,
)
from tests.fakes.telegram import (  # noqa: E402
    SCREENING_BY_BUTTONS,
    TOKEN,
    FakeTelegram,
    Person,
    SentMessage,
)
from tests.postgres import PostgresServer  # noqa: E402

UNTHROTTLED = [sys.executable, "-m", "scripts.bench.webhook_replica"]
VERBATIM = [sys.executable, "-m", "bot", "telegram", "--webhook"]
WEBHOOK_URL = "https://bot.practice.test/telegram"
WEBHOOK_SECRET = "bench-replicas-webhook-secret"
LINK_SECRET = "bench-replicas-link-secret"
RESULT_MARK = "likely contributors"  # in the result message (tests/test_telegram.py)
UPDATES_PER_PERSON = 1 + len(SCREENING_BY_BUTTONS)  # /start, then every press
FIRST_USER_ID = 20_000
WARM_UP_USER_ID = 10_000
WAIT = 90.0  # seconds a person waits for one reply before the run fails
START_TIMEOUT = 60.0  # seconds for the replicas to be ready
STOP_TIMEOUT = 20.0  # seconds a replica has to stop after SIGTERM before it is killed
SLOW = 5.0  # seconds: a turn this slow waited for something (counted apart)
WEBHOOK_RETRIES = 5  # as Telegram, an update is posted again after a non-2xx
LOG_PROBLEM = re.compile(r"Traceback|\bERROR\b|\bCRITICAL\b|Exception|Error:")
LOG_WARNING = re.compile(r"\bWARNING\b")

# Every replica started, so that a Ctrl-C anywhere still stops them all (see main()).
STARTED: list[subprocess.Popen[bytes]] = []


@dataclass
class Replica:
    number: int
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class PersonRun:
    """What one simulated person saw."""

    user_id: int
    latencies: list[float] = field(default_factory=list)
    edits: list[float] = field(default_factory=list)  # latencies of picks answered in place
    updates: int = 0
    finished: bool = False
    error: str = ""


@dataclass
class SizeResult:
    replicas: int
    people: int
    updates: int
    elapsed: float
    latencies: list[float]
    bot_cpu: list[float]
    bot_rss: list[float]
    pg_cpu: float
    driver_cpu: float
    others_cpu: float  # what the rest of the machine used meanwhile (other people's work)
    problems: list[str]
    log_findings: dict[int, list[str]]
    warnings: dict[int, collections.Counter[str]]
    exit_codes: list[int | None]
    webhook_answers: collections.Counter[int]
    messages_per_person: collections.Counter[int]
    edit_latencies: list[float]
    refused_429: int  # sendMessage calls the fake refused for flood control

    @property
    def slow(self) -> int:
        return sum(latency > SLOW for latency in self.latencies)

    @property
    def rate(self) -> float:
        return self.updates / self.elapsed

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[max(0, int(len(ordered) * share) - 1)] * 1000


# -- the people ---------------------------------------------------------------------------------


async def _no_wait(update_id: int) -> None:
    """Completion is the bot's reply arriving at the fake, not a hook in the bot."""


async def step(
    telegram: FakeTelegram, run: PersonRun, update: dict[str, Any], done: Callable[[], bool]
) -> float:
    """Push one update; return once `done()` holds, with the seconds until it first did (the
    fake checks it as each message to the chat is sent or edited, so that is when the reply
    reached the fake)."""
    reached: list[float] = []

    def condition() -> bool:
        if done():
            if not reached:
                reached.append(time.perf_counter())
            return True
        return False

    started = time.perf_counter()
    await telegram.push(update)
    run.updates += 1
    await telegram.wait_until(run.user_id, condition, timeout=WAIT)
    latency = reached[0] - started
    run.latencies.append(latency)
    return latency


def _new_question_after(person: Person, seen: int, turn: int) -> bool:
    return any(m.turn is not None and m.turn > turn for m in person.received[seen:])


def current_question(person: Person) -> SentMessage:
    """The question with buttons of the newest turn: where the person presses. (Not simply the
    newest message with buttons: a copy of an older question arriving late must not derail
    the script; it is counted as an extra message instead.)"""
    asked = [m for m in person.received if m.turn is not None]
    assert asked, "the bot has not asked anything with buttons"
    return max(asked, key=lambda m: m.turn or 0)


async def screening(telegram: FakeTelegram, run: PersonRun) -> None:
    """/start, then every press of the knee screening, each once its question is shown."""
    person = Person(telegram, _no_wait, run.user_id)
    seen = len(person.received)
    update = telegram.message_update(person.user, person.chat, text="/start")
    await step(telegram, run, update, lambda: _new_question_after(person, seen, -1))
    for label in SCREENING_BY_BUTTONS:
        question = current_question(person)
        turn, seen = question.turn, len(person.received)
        assert turn is not None
        data = question.button(label)["callback_data"]
        update = telegram.press_update(person.user, question, data)

        def answered(question: SentMessage = question, turn: int = turn, seen: int = seen) -> bool:
            new = person.received[seen:]
            return (
                _new_question_after(person, seen, turn)  # the next question
                or (question.turn is not None and question.turn > turn)  # a pick, in place
                or any(RESULT_MARK in m.text for m in new)  # the result
            )

        latency = await step(telegram, run, update, answered)
        if len(person.received) == seen:
            run.edits.append(latency)
    run.finished = any(RESULT_MARK in m.text for m in person.received)


async def person_run(telegram: FakeTelegram, user_id: int) -> PersonRun:
    run = PersonRun(user_id)
    try:
        await screening(telegram, run)
    except Exception as error:  # one stuck person is a finding, not the end of the run
        run.error = f"{type(error).__name__}: {error}"
    return run


# -- the processes ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def replica_environment(telegram: FakeTelegram, port: int, url: str, data: Path) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
    return environment | {
        "BOT_TELEGRAM_TOKEN": TOKEN,
        "BOT_TELEGRAM_BASE_URL": telegram.base_url,
        "BOT_TELEGRAM_BASE_FILE_URL": telegram.base_file_url,
        "BOT_TELEGRAM_WEBHOOK_URL": WEBHOOK_URL,
        "BOT_TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "BOT_WEB_HOST": "127.0.0.1",
        "BOT_WEB_PORT": str(port),
        "BOT_DATABASE_URL": url,
        "BOT_DATA_DIR": str(data),
        "BOT_LINK_SECRET": LINK_SECRET,
        "BOT_SETTINGS_FILE": "/dev/null",
        "PYTHONPATH": str(ROOT),
    }


def start_replicas(
    count: int, telegram: FakeTelegram, url: str, folder: Path, command: list[str]
) -> list[Replica]:
    replicas = []
    for number in range(1, count + 1):
        port = free_port()
        log = folder / f"replica-{number}.log"
        environment = replica_environment(telegram, port, url, folder / f"data-{number}")
        with log.open("wb") as output:  # the child keeps its own copy of the descriptor
            process = subprocess.Popen(  # its own session: a Ctrl-C here is ours to pass on
                command, cwd=ROOT, env=environment, stdin=subprocess.DEVNULL,
                stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
            )
        STARTED.append(process)
        replicas.append(Replica(number, port, process, log))
    return replicas


async def wait_ready(replicas: list[Replica], telegram: FakeTelegram) -> None:
    """Every replica answers /readyz 200 (store open, webhook route up, channel started)."""
    deadline = time.monotonic() + START_TIMEOUT
    async with aiohttp.ClientSession() as client:
        for replica in replicas:
            while True:
                if replica.process.poll() is not None:
                    tail = replica.log.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"replica {replica.number} exited with "
                                       f"{replica.process.returncode}:\n{tail}")
                with contextlib.suppress(aiohttp.ClientError, OSError):
                    async with client.get(f"{replica.url}/readyz") as answer:
                        if answer.status == 200:
                            break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"replica {replica.number} not ready after "
                                       f"{START_TIMEOUT:.0f} s; see {replica.log}")
                await asyncio.sleep(0.1)
    if telegram.webhook_url != WEBHOOK_URL or telegram.webhook_secret != WEBHOOK_SECRET:
        raise RuntimeError(f"the webhook was not set as expected: {telegram.webhook_url!r}")


async def stop_replicas(replicas: list[Replica]) -> list[int | None]:
    """SIGTERM every replica at once (each finishes its updates in flight), then wait; one
    still running after STOP_TIMEOUT is killed (its exit code then says so)."""
    for replica in replicas:
        if replica.process.poll() is None:
            replica.process.send_signal(signal.SIGTERM)
    codes: list[int | None] = []
    for replica in replicas:
        try:
            codes.append(await asyncio.to_thread(replica.process.wait, STOP_TIMEOUT))
        except subprocess.TimeoutExpired:
            replica.process.kill()
            codes.append(await asyncio.to_thread(replica.process.wait))
    return codes


def stop_everything_left() -> None:
    """The last resort (a Ctrl-C mid-run): SIGTERM what still runs, then SIGKILL."""
    alive = [p for p in STARTED if p.poll() is None]
    for process in alive:
        process.send_signal(signal.SIGTERM)
    for process in alive:
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def scan_log(path: Path) -> tuple[list[str], collections.Counter[str]]:
    """(lines of tracebacks, ERROR and the like; WARNING lines by their text without time)."""
    problems: list[str] = []
    warnings: collections.Counter[str] = collections.Counter()
    lines = path.read_text(errors="replace").splitlines()
    in_traceback = False
    for line in lines:
        if line.startswith("Traceback"):
            in_traceback = True
        if in_traceback or LOG_PROBLEM.search(line):
            problems.append(line)
        elif LOG_WARNING.search(line):
            warnings[re.sub(r"^\S+ \S+ ", "", line)] += 1
        if in_traceback and line and not line.startswith((" ", "Traceback")):
            in_traceback = False  # the exception's own line ends it
    return problems, warnings


# -- one size -----------------------------------------------------------------------------------


async def warm_up(telegram: FakeTelegram, replicas: list[Replica]) -> None:
    """One whole screening on each replica (its templates rendered, its connections open),
    then back to random load balancing."""
    for replica in replicas:
        telegram.replicas = [replica.url]
        run = await person_run(telegram, WARM_UP_USER_ID + replica.number)
        if not run.finished:
            raise RuntimeError(f"warm-up on replica {replica.number} failed: {run.error}; "
                               f"see {replica.log}")
    telegram.replicas = [replica.url for replica in replicas]


def check_database(url: str, people: int, warm_ups: int) -> list[str]:
    """What the database must hold after the run: everybody at the result, every update once,
    nothing left in the outbox."""
    problems = []
    with psycopg.connect(url) as connection:
        def one(sql: str) -> int:
            row = connection.execute(sql).fetchone()
            return int(row[0]) if row else 0

        everybody = people + warm_ups
        at_result = one("SELECT count(*) FROM conversations WHERE channel = 'telegram'"
                        " AND (data::json ->> 'state') = 'result'")
        conversations = one("SELECT count(*) FROM conversations WHERE channel = 'telegram'")
        updates = one("SELECT count(*) FROM updates WHERE channel = 'telegram'")
        waiting = one("SELECT count(*) FROM outbox")
    if (at_result, conversations) != (everybody, everybody):
        problems.append(f"database: {at_result} of {conversations} conversations at the "
                        f"result, {everybody} expected")
    if updates != everybody * UPDATES_PER_PERSON:
        problems.append(f"database: {updates} updates applied, "
                        f"{everybody * UPDATES_PER_PERSON} expected")
    if waiting:
        problems.append(f"database: {waiting} messages still in the outbox")
    return problems


def lift_flood_control(telegram: FakeTelegram) -> None:
    """No flood control in the fake (its 30 messages/s for the bot, 1/s per chat after a
    burst, as Telegram's): measured otherwise, N replicas measure that limit."""
    flood = getattr(telegram, "flood", None)  # absent from older fakes
    if flood is not None:
        flood.overall_per_second = flood.chat_per_second = flood.group_per_minute = 0


def refused_for_flood(telegram: FakeTelegram) -> int:
    """How many sendMessage calls the fake answered 429 (flood control)."""
    flood = getattr(telegram, "flood", None)
    return len(getattr(flood, "refused", []))


async def one_size(
    count: int,
    people: int,
    server: PostgresServer,
    folder: Path,
    command: list[str],
    rate_limited: bool,
) -> SizeResult:
    url = server.database()
    postmaster = postmaster_pid(server.data)
    size_folder = folder / f"{count}-replica{'s' if count > 1 else ''}"
    size_folder.mkdir()
    async with FakeTelegram() as telegram:
        telegram.webhook_retries = WEBHOOK_RETRIES
        if not rate_limited:
            lift_flood_control(telegram)
        replicas = start_replicas(count, telegram, url, size_folder, command)
        exit_codes: list[int | None] = []
        try:
            await wait_ready(replicas, telegram)
            await warm_up(telegram, replicas)
            await telegram.webhook_settled()
            answers_before = len(telegram.webhook_answers)
            refused_before = refused_for_flood(telegram)
            cpu_before = [tree_cpu_seconds(r.process.pid) for r in replicas]
            pg_before, driver_before = tree_cpu_seconds(postmaster), time.process_time()
            machine_before = machine_busy_seconds()
            began = time.perf_counter()
            runs = await asyncio.gather(
                *(person_run(telegram, FIRST_USER_ID + n) for n in range(people))
            )
            elapsed = time.perf_counter() - began
            driver_cpu = time.process_time() - driver_before
            bot_cpu = [tree_cpu_seconds(r.process.pid) - before
                       for r, before in zip(replicas, cpu_before, strict=True)]
            pg_cpu = tree_cpu_seconds(postmaster) - pg_before
            machine = machine_busy_seconds() - machine_before
            bot_rss = [peak_rss_mib(r.process.pid) for r in replicas]
            await telegram.webhook_settled()
            answers = collections.Counter(telegram.webhook_answers[answers_before:])
            chats = {FIRST_USER_ID + n: telegram.messages_to(FIRST_USER_ID + n)
                     for n in range(people)}
            messages = collections.Counter(len(sent) for sent in chats.values())
            refused = refused_for_flood(telegram) - refused_before
        finally:
            exit_codes = await stop_replicas(replicas)
    problems = [f"person {r.user_id}: {r.error or 'no result'}" for r in runs if not r.finished]
    problems += check_database(url, people, count)
    slow = [x for r in runs for x in r.latencies if x > SLOW]
    if slow:
        problems.append(f"{len(slow)} turn(s) slower than {SLOW:.0f} s (the slowest "
                        f"{max(slow):.1f} s)")
    if set(answers) != {200}:
        problems.append(f"webhook answers other than 200: {dict(answers)}")
    if len(messages) != 1:
        problems.append(f"people got different numbers of messages: {dict(messages)}")
        problems += odd_messages(chats)
    if any(code != 0 for code in exit_codes):
        problems.append(f"replica exit codes: {exit_codes}")
    scans = [scan_log(r.log) for r in replicas]
    return SizeResult(
        replicas=count, people=people, updates=sum(r.updates for r in runs), elapsed=elapsed,
        latencies=[x for r in runs for x in r.latencies], bot_cpu=bot_cpu, bot_rss=bot_rss,
        pg_cpu=pg_cpu, driver_cpu=driver_cpu,
        others_cpu=max(0.0, machine - sum(bot_cpu) - pg_cpu - driver_cpu), problems=problems,
        log_findings={r.number: scan[0] for r, scan in zip(replicas, scans, strict=True)},
        warnings={r.number: scan[1] for r, scan in zip(replicas, scans, strict=True)},
        exit_codes=exit_codes, webhook_answers=answers, messages_per_person=messages,
        edit_latencies=[x for r in runs for x in r.edits], refused_429=refused,
    )


def odd_messages(chats: dict[int, list[SentMessage]]) -> list[str]:
    """What people got besides (or without) the messages of the person who reached the result
    with the fewest, summed over them (texts cut short), and one example."""
    finished = [s for s in chats.values() if any(RESULT_MARK in m.text for m in s)]
    fewest = min(finished or list(chats.values()), key=len)
    model = collections.Counter(m.text for m in fewest)
    extra: collections.Counter[str] = collections.Counter()
    missing: collections.Counter[str] = collections.Counter()
    example = ""
    for user_id, sent in chats.items():
        theirs = collections.Counter(m.text for m in sent)
        extra.update({_short(text): n for text, n in (theirs - model).items()})
        missing.update({_short(text): n for text, n in (model - theirs).items()})
        if not example and theirs != model:
            positions = [n for n, m in enumerate(sent) if (theirs - model)[m.text]]
            example = (f"e.g. person {user_id}: {len(sent)} messages, the extra ones at "
                       f"positions {positions} (0-based)")
    found = [f"extra messages, by text: {dict(extra)}"] if extra else []
    found += [f"missing messages, by text: {dict(missing)}"] if missing else []
    return [*found, example] if example else found


def _short(text: str) -> str:
    return text.replace("\n", " ")[:60]


# -- the report ---------------------------------------------------------------------------------


def describe(result: SizeResult, base_rate: float) -> None:
    cpu = sum(result.bot_cpu)
    print(f"{result.replicas:>8} {result.people:>6} {result.updates:>7} {result.elapsed:>7.2f} "
          f"{result.rate:>8.1f} {result.rate / base_rate:>7.2f} "
          f"{statistics.median(result.latencies) * 1000:>7.1f} {result.percentile(0.99):>7.1f} "
          f"{max(result.latencies) * 1000:>7.1f} {cpu:>8.2f} "
          f"{cpu / result.updates * 1000:>7.2f} {result.pg_cpu:>6.2f} "
          f"{result.driver_cpu:>7.2f} {result.others_cpu:>7.2f} {result.slow:>5}  "
          f"{' '.join(f'{x:.0f}' for x in result.bot_rss)}")


def report(results: list[SizeResult], folder: Path, rate_limited: bool) -> None:
    base = results[0].rate
    print()
    print(f"{'replicas':>8} {'people':>6} {'updates':>7} {'seconds':>7} {'turns/s':>8} "
          f"{'scaling':>7} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'bot CPU':>8} "
          f"{'ms/upd':>7} {'PG CPU':>6} {'driver':>7} {'others':>7} {'>5 s':>5}  "
          "peak RSS MiB each")
    for result in results:
        describe(result, base)
    print("bot CPU: CPU seconds of all the bot processes together over the measured run; "
          "ms/upd: that per update; PG CPU: the PostgreSQL server's; driver: this process's "
          "(the fake Bot API and the people); others: the rest of the machine's meanwhile "
          "(noise); >5 s: turns slower than 5 s")
    bots = ("python -m bot telegram --webhook (30 messages/s cap per process); the fake's flood "
            "control on (30 messages/s for the bot, as Telegram)" if rate_limited
            else "python -m bot telegram --webhook without the 30 messages/s cap "
                 "(scripts/bench/webhook_replica.py); the fake's flood control lifted")
    print(f"bot processes: {bots}; cores: {os.cpu_count()}")
    for result in results:
        picks = result.edit_latencies
        pick_line = (f"; picks answered in place: {len(picks)}, p50 "
                     f"{statistics.median(picks) * 1000:.1f} ms" if picks else "")
        print(f"\n{result.replicas} replica(s): webhook answers {dict(result.webhook_answers)}, "
              f"messages per person {dict(result.messages_per_person)}, sendMessage 429s "
              f"(flood control) {result.refused_429}, exit codes {result.exit_codes}{pick_line}")
        print("  checks: " + ("all passed (every person at the result; database: every "
                              "conversation at the result, every update applied once, outbox "
                              "empty)" if not result.problems else "FAILED"))
        for problem in result.problems[:20]:
            print(f"    {problem}")
        for number, findings in result.log_findings.items():
            warnings = result.warnings[number]
            if findings:
                print(f"  replica {number} log: {len(findings)} error/traceback line(s):")
                for line in findings[:40]:
                    print(f"    | {line}")
            for text, times in warnings.most_common(10):
                print(f"  replica {number} log: WARNING x{times}: {text}")
    print(f"\nreplica logs: {folder}")
    rates = " ".join(f"{r.rate:.1f}" for r in results)
    p99 = " ".join(f"{r.percentile(0.99):.1f}" for r in results)
    scaling = " ".join(f"{r.rate / base:.2f}" for r in results[1:])
    print(f"replicas turns/s: {rates}; p99 ms: {p99}; scaling: {scaling}")


async def run_all(
    sizes: list[int],
    people: int,
    server: PostgresServer,
    folder: Path,
    command: list[str],
    rate_limited: bool,
) -> list[SizeResult]:
    results = []
    for count in sizes:
        result = await one_size(count, people, server, folder, command, rate_limited)
        print(f"{count} replica(s): {result.rate:.1f} turns/s, p99 "
              f"{result.percentile(0.99):.1f} ms, {len(result.problems)} problem(s)", flush=True)
        results.append(result)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=60, help="people, all at once (60)")
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 3],
                        help="the sizes, in order; the first is the base of the scaling (1 2 3)")
    parser.add_argument("--rate-limited", action="store_true",
                        help="`python -m bot telegram --webhook` itself (30 messages/s cap per "
                             "process) and the fake's flood control on, as Telegram's")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-replicas-"))
    command = VERBATIM if args.rate_limited else UNTHROTTLED
    print(f"{args.people} people, replicas {args.replicas}, {' '.join(command[1:])}; "
          f"logs in {folder}", flush=True)
    try:
        with PostgresServer() as server:
            try:
                results = asyncio.run(run_all(args.replicas, args.people, server, folder,
                                              command, args.rate_limited))
            finally:
                stop_everything_left()  # before the database goes
    except KeyboardInterrupt:
        print("\ninterrupted: replicas and PostgreSQL stopped", file=sys.stderr)
        raise SystemExit(130) from None
    report(results, folder, args.rate_limited)


if __name__ == "__main__":
    main()

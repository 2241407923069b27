"""`python -m bot ...`: chat, say, check, graph, test-dialogs, understand, leads, mydata,
audit, staff, and the platform runners."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from bot.app import build_engine
from bot.channels.console import CHANNEL as CONSOLE
from bot.channels.console import chat, say
from bot.core.channels import RUN_CHANNELS
from bot.core.markup import plain
from bot.engine.flow import FlowError, load_flows
from bot.engine.privacy import as_json, describe, is_empty
from bot.handoff.reports import audit_text, export_leads, funnel_table
from bot.logs import configure_logging
from bot.settings import Settings, SettingsError, load_settings
from bot.store import database_errors, open_store, without_password
from bot.store.base import ConversationStore
from bot.store.sqlite import SQLiteStore, StoreBusy, private_folder
from bot.turns.runner import TurnRunner

# The runners, `check`, `graph` and `test-dialogs` import what they need when they run: a
# `say` or `leads export` should not load the web server or a platform's library.
log = logging.getLogger("bot")
INVALID = "Settings are not valid: "
T = TypeVar("T")


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one command; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        level = "DEBUG" if args.verbose else settings.log_level or args.log_level
        configure_logging(level, settings.log_format)
        if args.uses_data:
            make_data_folder(settings.data_dir)
    except SettingsError as error:
        for line in error.lines:
            print(f"{INVALID}{line}", file=sys.stderr)
        return 2
    try:
        return args.run(args, settings)
    except StoreBusy as error:  # another process held the database past the busy timeout
        print(f"error: {error}; try again", file=sys.stderr)
        return 1
    except database_errors(settings) as error:  # a full, read-only or failing disk: rolled back
        print(f"error: {database_failed(settings, error)}", file=sys.stderr)
        return 1


def database_failed(settings: Settings, error: Exception) -> str:
    """What went wrong with the database, in one line without its password."""
    if settings.database_url is not None:
        why = without_password(str(error).strip().splitlines()[0] if str(error).strip()
                               else type(error).__name__)
        return (f"the database failed ({why}), so nothing was saved: is its server up, "
                "and its disk neither full nor read-only?")
    return (f"the database in {settings.data_dir} failed ({error}), so nothing was saved: "
            "is its disk full or read-only?")


def make_data_folder(folder: Path) -> None:
    """Create the data folder (private) before a command uses it; SettingsError if it cannot."""
    try:
        private_folder(folder)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise SettingsError([f"data_dir (BOT_DATA_DIR): cannot create {folder}: {reason}"]) \
            from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help=VERBOSE)
    # check, graph and test-dialogs leave the data folder alone; the servers log at INFO (what
    # runs, where), the commands run by hand only what needs a look (unless BOT_LOG_LEVEL)
    parser.set_defaults(uses_data=True, log_level="WARNING")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    chat = commands.add_parser("chat", help="talk to the bot in this terminal")
    chat.add_argument("--user", default=_local_user(), help="who you are (default: $USER)")
    chat.set_defaults(run=_chat)

    say = commands.add_parser("say", help="one turn, for scripts; state persists in the store")
    say.add_argument("--user", required=True)
    say.add_argument("--json", action="store_true", help="one JSON object per bot message")
    say.add_argument("text", nargs="+")
    say.set_defaults(run=_say)

    check = commands.add_parser("check", help="validate every flow and template")
    check.set_defaults(run=_check, uses_data=False)

    graph = commands.add_parser("graph", help="print a Mermaid flowchart of a flow")
    graph.add_argument("flow")
    graph.set_defaults(run=_graph, uses_data=False)

    dialogs = commands.add_parser("test-dialogs", help="run YAML conversation transcripts")
    dialogs.add_argument("paths", nargs="+", type=Path)
    dialogs.set_defaults(run=_test_dialogs, uses_data=False)

    understand = commands.add_parser(
        "understand", help="how well typed replies are read (the corpus in tests/typed)")
    understand.add_argument("--report", action="store_true",
                            help="print every reply refused or misread, then the counts")
    understand.add_argument("corpus", nargs="?", type=Path, default=Path("tests/typed"))
    understand.set_defaults(run=_understand, uses_data=False)

    leads = commands.add_parser("leads", help="the practice's leads")
    leads_commands = leads.add_subparsers(required=True, metavar="ACTION")
    export = leads_commands.add_parser("export", help="print every lead")
    export.add_argument("--format", choices=("csv", "json"), default="csv")
    export.set_defaults(run=_leads_export)

    mydata = commands.add_parser("mydata", help="everything stored about one person")
    mydata.add_argument("--user", required=True)
    mydata.add_argument("--channel", default=CONSOLE, help=f"their channel (default: {CONSOLE})")
    mydata.add_argument("--json", action="store_true", help="as JSON (a download)")
    mydata.set_defaults(run=_mydata)

    audit = commands.add_parser(
        "audit", help="what the bot asked one person and what it concluded (local only)"
    )
    audit.add_argument("user")
    audit.add_argument("--channel", help="only this channel (default: every channel)")
    audit.set_defaults(run=_audit)

    stats = commands.add_parser("stats", help="funnel counts by channel, flow and day")
    stats.add_argument("--by-day", action="store_true", help="one row per day too")
    stats.set_defaults(run=_stats)

    purge = commands.add_parser("purge", help="delete data older than BOT_RETENTION_DAYS")
    purge.set_defaults(run=_purge)

    staff = commands.add_parser("staff", help="staff accounts of the dashboard (/admin)")
    staff_commands = staff.add_subparsers(required=True, metavar="ACTION")
    staff_add = staff_commands.add_parser("add", help="add a staff account (asks the password)")
    staff_add.add_argument("email")
    staff_add.add_argument("--password-stdin", action="store_true",
                           help="read the password from the first line of standard input")
    staff_add.set_defaults(run=_staff_add)
    staff_remove = staff_commands.add_parser("remove", help="remove a staff account")
    staff_remove.add_argument("email")
    staff_remove.set_defaults(run=_staff_remove)
    staff_list = staff_commands.add_parser("list", help="list the staff accounts")
    staff_list.set_defaults(run=_staff_list)

    run = commands.add_parser(
        "run", help="run every configured channel, the web server and the daily purge"
    )
    run.add_argument("--webhook", action="store_true", help="Telegram by webhook, not polling")
    run.set_defaults(run=_run, only=None, log_level="INFO")

    for spec in RUN_CHANNELS.values():  # `python -m bot telegram`, `discord`, `web`
        one = commands.add_parser(spec.name, help=f"run only {spec.summary}")
        if spec.webhook:
            one.add_argument("--webhook", action="store_true", help="webhook mode, not polling")
            one.set_defaults(run=_run, only=(spec.name,), log_level="INFO")
        else:
            one.set_defaults(run=_run, only=(spec.name,), webhook=False, log_level="INFO")
    verbose_anywhere(parser)
    return parser


VERBOSE = "log everything (DEBUG), whatever BOT_LOG_LEVEL says"


def verbose_anywhere(parser: argparse.ArgumentParser) -> None:
    """`-v` after any command too (`chat -v`, `leads export -v`), as well as before it."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                # SUPPRESS: a command without -v leaves what was given before it
                command.add_argument("-v", "--verbose", action="store_true",
                                     default=argparse.SUPPRESS, help=VERBOSE)
                verbose_anywhere(command)


def _local_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container
        return "local"


def _engine(settings: Settings) -> TurnRunner:
    return build_engine(settings)


def _chat(args: argparse.Namespace, settings: Settings) -> int:
    engine = _engine(settings)
    try:
        asyncio.run(chat(engine, args.user))
    except KeyboardInterrupt:
        print("\nBye! Your place is saved.")
    return 0


def _say(args: argparse.Namespace, settings: Settings) -> int:
    engine = _engine(settings)
    asyncio.run(say(engine, args.user, " ".join(args.text), args.json, sys.stdout))
    return 0


def _check(args: argparse.Namespace, settings: Settings) -> int:
    try:
        engine = build_engine(settings, SQLiteStore(":memory:"))
    except FlowError as error:
        print(f"error: {error}")
        return 1
    from bot.tools.check import check_all  # renders every template: loaded only when asked

    problems = check_all(engine)
    for problem in problems:
        print(problem)
    errors = [p for p in problems if not p.warning]
    flows = ", ".join(sorted(engine.flows))
    print(f"checked flows: {flows}; {len(errors)} errors, {len(problems) - len(errors)} warnings")
    return 1 if errors else 0


def _graph(args: argparse.Namespace, settings: Settings) -> int:
    flows = load_flows(Path(settings.dialogs_dir))
    if args.flow not in flows:
        print(f"unknown flow {args.flow!r}; flows: {', '.join(sorted(flows))}", file=sys.stderr)
        return 2
    from bot.tools.graph import mermaid

    sys.stdout.write(mermaid(flows[args.flow]))
    return 0


def _test_dialogs(args: argparse.Namespace, settings: Settings) -> int:
    from bot.tools.transcripts import run_all

    results = asyncio.run(run_all(args.paths, settings))
    for result in results:
        print(f"{'PASS' if result.passed else 'FAIL'} {result.path}: {result.name}")
        for failure in result.failures:
            print(f"    {failure}")
    failed = sum(not r.passed for r in results)
    print(f"transcripts: {len(results) - failed} passed, {failed} failed")
    return 1 if failed or not results else 0


def _understand(args: argparse.Namespace, settings: Settings) -> int:
    from bot.tools.understanding import judge_all, report

    engine = build_engine(settings, SQLiteStore(":memory:"))
    lines = report(judge_all(engine.dialog, args.corpus))
    print("\n".join(lines if args.report else lines[-1:]))
    return 0


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from bot import run as runner  # the web server and the channels: only for the runners

    return runner.run(settings, only=args.only, webhook=args.webhook)


def _leads_export(args: argparse.Namespace, settings: Settings) -> int:
    engine = _engine(settings)

    async def read() -> str:
        leads = await engine.store.leads()
        return export_leads(leads, args.format, await engine.store.latest_progress())

    sys.stdout.write(asyncio.run(read()))
    return 0


def _mydata(args: argparse.Namespace, settings: Settings) -> int:
    engine = _engine(settings)
    stored = asyncio.run(engine.store.stored_about(args.channel, args.user))
    described = describe(stored, engine.flows)
    if args.json:
        sys.stdout.write(as_json(described))
    else:
        text = engine.notice("common/mydata.j2", args.channel, data=described,
                             nothing=is_empty(described))
        sys.stdout.write(plain(text) + "\n")
    return 0


def _audit(args: argparse.Namespace, settings: Settings) -> int:
    engine = _engine(settings)
    channels = [args.channel] if args.channel else asyncio.run(
        engine.store.channels_of(args.user))
    if not channels:
        print(f"nothing stored about {args.user!r}", file=sys.stderr)
        return 1
    for number, channel in enumerate(channels):
        stored = asyncio.run(engine.store.stored_about(channel, args.user))
        sys.stdout.write(("\n" if number else "") + audit_text(describe(stored, engine.flows)))
    return 0


def _stats(args: argparse.Namespace, settings: Settings) -> int:
    engine = _engine(settings)
    rows = asyncio.run(engine.store.stats())
    sys.stdout.write(funnel_table(rows, by_day=args.by_day))
    return 0


def _purge(args: argparse.Namespace, settings: Settings) -> int:
    engine = _engine(settings)
    deleted = asyncio.run(engine.purge_expired())
    print(", ".join(f"{table}: {count} deleted" for table, count in deleted.items()))
    return 0


def _staff_add(args: argparse.Namespace, settings: Settings) -> int:
    """Add a dashboard account; the password is asked twice, or read from standard input."""
    from bot.admin.accounts import AccountError, check_password, hash_password, staff_email

    try:
        email = staff_email(args.email)
        if args.password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = getpass.getpass(f"Password for {email}: ")
            if getpass.getpass("The same password again: ") != password:
                raise AccountError("the two passwords differ")
        check_password(password)
    except AccountError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    password_hash = hash_password(password)
    added = asyncio.run(_on_store(settings, lambda store: store.add_staff(
        email, password_hash, time.time())))
    if not added:
        print(f"error: a staff account for {email} exists already", file=sys.stderr)
        return 1
    print(f"Staff account added: {email}. Sign in at {_dashboard_url(settings)}")
    return 0


def _staff_remove(args: argparse.Namespace, settings: Settings) -> int:
    email = args.email.strip().lower()
    if not asyncio.run(_on_store(settings, lambda store: store.remove_staff(email))):
        print(f"error: there is no staff account for {email}", file=sys.stderr)
        return 1
    print(f"Staff account removed: {email} (signed out everywhere)")
    return 0


def _staff_list(args: argparse.Namespace, settings: Settings) -> int:
    accounts = asyncio.run(_on_store(settings, lambda store: store.staff_accounts()))
    if not accounts:
        print("no staff accounts yet; add one with: python -m bot staff add EMAIL")
    for email, created in accounts:
        print(f"{email}  added {datetime.fromtimestamp(created, UTC):%Y-%m-%d %H:%M} UTC")
    return 0


async def _on_store(settings: Settings, act: Callable[[ConversationStore], Awaitable[T]]) -> T:
    """Run one call on the settings' store (no flows or templates loaded), then close it."""
    store = open_store(settings)
    try:
        await store.open()
        return await act(store)
    finally:
        await store.close()


def _dashboard_url(settings: Settings) -> str:
    base = settings.public_url or f"http://{settings.web_host}:{settings.web_port}"
    return f"{base.rstrip('/')}/admin/login"

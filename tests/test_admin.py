"""The practice's dashboard over HTTP, on a real aiohttp server on 127.0.0.1 and on both stores:
nobody without an account sees anything; sign-in, its one friendly error, lock-out, CSRF and
cookie flags; leads from a real screening, the CSV and its formula-safe cells; the funnel's
numbers against `stats`; every message and every state of every flow; the staff commands."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import itertools
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from unittest import mock

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request
from argon2 import extract_parameters

from bot.admin import add_admin
from bot.admin.accounts import (
    MAX_PASSWORD,
    MIN_PASSWORD,
    PRODUCTION_COST,
    AccountError,
    Limits,
    Outcome,
    Passwords,
    SignIn,
    check_password,
    hash_password,
    staff_email,
)
from bot.admin.auth import CSP, LOGIN_COOKIE, SESSION_COOKIE, from_this_machine
from bot.admin.dashboard import Dashboard
from bot.admin.diagram import layout
from bot.admin.funnel import axis, chart, funnel, week_of
from bot.admin.pages import REFUSED
from bot.core.records import Lead
from bot.handoff.reports import funnel_table, safe_cell
from bot.server import create_app
from bot.settings import ROOT
from bot.store.sqlite import SQLiteStore
from bot.tools.client import DialogClient
from bot.turns.runner import TurnRunner
from tests.conftest import TO_HOT_SWOLLEN, answer_safety_questions_no, finish_with_hip_mobility

EMAIL = "pat@example.org"
PASSWORD = "knees-are-innocent-42"
NOW = 1_800_000_000.0  # 2027-01-15
PAGES = ("/admin/", "/admin/leads", "/admin/leads.csv", "/admin/funnel", "/admin/flows",
         "/admin/flows/knee", "/admin/messages", "/admin/no-such-page")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Clock:
    """The dashboard's time, moved by the test."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@contextlib.asynccontextmanager
async def dashboard_on(engine: TurnRunner, passwords: Passwords, **settings: object
                       ) -> AsyncIterator[tuple[TestClient, Dashboard, Clock]]:
    """The dashboard mounted on an aiohttp server listening on 127.0.0.1, with a test clock."""
    app = web.Application()
    dashboard = add_admin(app, engine, replace(engine.settings, **settings), passwords)
    clock = Clock()
    dashboard.clock = clock
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client, dashboard, clock


async def add_staff(engine: TurnRunner, passwords: Passwords, email: str = EMAIL,
                    password: str = PASSWORD) -> None:
    assert await engine.store.add_staff(email, passwords.hash(password), NOW)


async def login_form(client: TestClient) -> str:
    """Open the sign-in page; the CSRF token of its form."""
    page = await client.get("/admin/login")
    assert page.status == 200
    match = CSRF.search(await page.text())
    assert match is not None
    return match[1]


async def sign_in(client: TestClient, email: str = EMAIL, password: str = PASSWORD,
                  csrf: str | None = None) -> web.Response:
    token = await login_form(client) if csrf is None else csrf
    return await client.post("/admin/login", allow_redirects=False,
                             data={"csrf": token, "email": email, "password": password})


def session_csrf(page_text: str) -> str:
    match = CSRF.search(page_text)
    assert match is not None
    return match[1]


# -- nobody without an account sees anything ---------------------------------------------------


async def test_without_a_session_every_dashboard_page_sends_you_to_sign_in(engine):
    app = create_app(engine)  # mounted by the bot's own server
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        first = await client.get("/admin", allow_redirects=False)
        assert first.status == 308 and first.headers["Location"] == "/admin/"
        for path in PAGES:
            response = await client.get(path, allow_redirects=False)
            assert response.status == 303, path
            assert response.headers["Location"] == "/admin/login", path
            assert response.headers["Content-Security-Policy"] == CSP
        signout = await client.post("/admin/logout", data={"csrf": "x"}, allow_redirects=False)
        assert signout.status == 403
        login = await client.get("/admin/login")
        assert login.status == 200 and "Sign in" in await login.text()
        forged = await client.get("/admin/leads", allow_redirects=False,
                                  cookies={SESSION_COOKIE: "made-up-token"})
        assert forged.status == 303


async def test_staff_member_signs_in_sees_every_page_and_signs_out(engine, passwords, caplog):
    await add_staff(engine, passwords)
    async with dashboard_on(engine, passwords) as (client, _, _):
        response = await sign_in(client, email="  Pat@Example.ORG ")
        assert response.status == 303 and response.headers["Location"] == "/admin/leads"
        for path in PAGES[:-1]:
            page = await client.get(path)
            assert page.status == 200, path
        missing = await client.get("/admin/no-such-page")
        assert missing.status == 404
        leads = await client.get("/admin/leads")
        text = await leads.text()
        assert EMAIL in text and "Sign out" in text
        signout = await client.post("/admin/logout", data={"csrf": session_csrf(text)},
                                    allow_redirects=False)
        assert signout.status == 303 and signout.headers["Location"] == "/admin/login"
        after = await client.get("/admin/leads", allow_redirects=False)
        assert after.status == 303
    assert PASSWORD not in caplog.text and "pat@" not in caplog.text.lower()


async def test_a_session_cookie_from_before_signing_out_no_longer_opens_anything(engine, passwords):
    await add_staff(engine, passwords)
    async with dashboard_on(engine, passwords) as (client, _, _):
        response = await sign_in(client)
        token = response.cookies[SESSION_COOKIE].value
        page = await client.get("/admin/leads")
        await client.post("/admin/logout", data={"csrf": session_csrf(await page.text())})
        replayed = await client.get("/admin/leads", allow_redirects=False,
                                    cookies={SESSION_COOKIE: token})
        assert replayed.status == 303


async def test_a_session_ends_when_it_expires_or_the_account_is_removed(engine, passwords):
    await add_staff(engine, passwords)
    async with dashboard_on(engine, passwords, admin_session_hours=1.0) as (client, _, clock):
        await sign_in(client)
        clock.now = NOW + 3600 - 1
        assert (await client.get("/admin/leads", allow_redirects=False)).status == 200
        clock.now = NOW + 3600
        assert (await client.get("/admin/leads", allow_redirects=False)).status == 303
        clock.now = NOW
        await sign_in(client)
        assert (await client.get("/admin/leads", allow_redirects=False)).status == 200
        await engine.store.remove_staff(EMAIL)
        assert (await client.get("/admin/leads", allow_redirects=False)).status == 303


# -- sign-in: one friendly error, lock-out, CSRF, cookies ----------------------------------------


async def test_wrong_password_and_unknown_email_get_the_same_friendly_error(
        engine, passwords, caplog):
    await add_staff(engine, passwords)
    async with dashboard_on(engine, passwords) as (client, _, _):
        wrong = await sign_in(client, password="not-the-password")
        unknown = await sign_in(client, email="nobody@example.org", password="whatever-it-is")
        for response in (wrong, unknown):
            assert response.status == 401
            assert REFUSED.replace("'", "&#39;") in await response.text()
            assert SESSION_COOKIE not in response.cookies
        assert (await client.get("/admin/leads", allow_redirects=False)).status == 303
    assert "not-the-password" not in caplog.text and "nobody@" not in caplog.text


async def test_an_unknown_email_is_checked_against_a_hash_too_so_it_takes_as_long(
        engine, passwords):
    await add_staff(engine, passwords)
    checked: list[str] = []
    real = passwords.verifies

    def recording(password_hash: str, password: str) -> bool:
        checked.append(password_hash)
        return real(password_hash, password)

    with mock.patch.object(passwords, "verifies", recording):
        async with dashboard_on(engine, passwords) as (client, _, _):
            await sign_in(client, email="nobody@example.org", password="whatever-it-is")
            await sign_in(client, password="not-the-password")
    assert len(checked) == 2 and all(h.startswith("$argon2id$") for h in checked)


@pytest.mark.parametrize("failures", [2, 3, 4])  # below, at and above the limit of 3
async def test_an_account_locks_after_the_limit_of_failures_in_a_row(engine, passwords, failures):
    limit = 3
    await add_staff(engine, passwords)
    async with dashboard_on(engine, passwords, admin_max_failures=limit, admin_lockout_minutes=10.0
                            ) as (client, _, clock):
        statuses = [(await sign_in(client, password=f"wrong-password-{n}")).status
                    for n in range(failures)]
        assert statuses == [401] * min(failures, limit - 1) + [429] * (failures - limit + 1)
        right = await sign_in(client)
        if failures < limit:
            assert right.status == 303  # below the limit: the right password still works
            return
        assert right.status == 429 and "paused for 10 minutes" in await right.text()
        assert right.headers["Retry-After"] == "600"
        assert SESSION_COOKIE not in right.cookies
        clock.now = NOW + 600 - 1  # a second before the lock-out ends
        assert (await sign_in(client)).status == 429
        clock.now = NOW + 600
        assert (await sign_in(client)).status == 303


async def test_a_lock_out_is_per_account_and_a_sign_in_clears_the_count(engine, passwords):
    await add_staff(engine, passwords)
    await add_staff(engine, passwords, "ann@example.org")
    async with dashboard_on(engine, passwords, admin_max_failures=2) as (client, _, _):
        assert (await sign_in(client, password="wrong-password-1")).status == 401
        assert (await sign_in(client)).status == 303  # the count starts again
        client.session.cookie_jar.clear()  # signed out
        assert (await sign_in(client, password="wrong-password-2")).status == 401
        assert (await sign_in(client, password="wrong-password-3")).status == 429
        assert (await sign_in(client, email="ann@example.org")).status == 303


@pytest.mark.parametrize("failures", [3, 4, 5])  # below, at and above the limit of 4
async def test_an_address_locks_after_the_limit_of_failures_on_any_accounts(
        engine, passwords, failures):
    limit = 4
    await add_staff(engine, passwords)
    async with dashboard_on(engine, passwords, admin_max_failures=100,
                            admin_max_failures_per_address=limit) as (client, _, _):
        statuses = [(await sign_in(client, email=f"guess{n}@example.org",
                                   password="guessing-passwords")).status
                    for n in range(failures)]
        assert statuses == [401] * min(failures, limit - 1) + [429] * (failures - limit + 1)
        assert (await sign_in(client)).status == (303 if failures < limit else 429)


async def test_sign_in_without_or_with_a_wrong_form_token_is_refused(engine, passwords):
    await add_staff(engine, passwords)
    async with dashboard_on(engine, passwords) as (client, _, _):
        await login_form(client)  # the cookie half is there; the form half is not
        missing = await client.post("/admin/login", allow_redirects=False,
                                    data={"email": EMAIL, "password": PASSWORD})
        assert missing.status == 403
        wrong = await sign_in(client, csrf="not-the-token")
        assert wrong.status == 403 and "had expired" in await wrong.text()
        assert CSRF.search(await wrong.text()) is not None  # a fresh form to try again
        client.session.cookie_jar.clear()  # a form posted from elsewhere: no cookie half
        token = "a" * 43
        forged = await client.post("/admin/login", allow_redirects=False,
                                   data={"csrf": token, "email": EMAIL, "password": PASSWORD})
        assert forged.status == 403
        assert (await client.get("/admin/leads", allow_redirects=False)).status == 303


async def test_forms_of_a_session_without_or_with_a_wrong_token_are_refused(engine, passwords):
    await add_staff(engine, passwords)
    async with dashboard_on(engine, passwords) as (client, _, _):
        await sign_in(client)
        assert (await client.post("/admin/logout", data={})).status == 403
        assert (await client.post("/admin/logout", data={"csrf": "wrong"})).status == 403
        assert (await client.get("/admin/leads", allow_redirects=False)).status == 200


@pytest.mark.parametrize("public_url", ["", "https://bot.example.org"])
async def test_the_session_cookie_is_httponly_strict_expiring_and_secure_over_https(
        engine, passwords, public_url):
    await add_staff(engine, passwords)
    async with dashboard_on(engine, passwords, public_url=public_url, admin_session_hours=2.0
                            ) as (client, _, _):
        form = await client.get("/admin/login")
        login_cookie = form.cookies[LOGIN_COOKIE]
        response = await client.post(  # sent by hand: a client sends Secure ones on https only
            "/admin/login", allow_redirects=False, cookies={LOGIN_COOKIE: login_cookie.value},
            data={"csrf": session_csrf(await form.text()), "email": EMAIL, "password": PASSWORD})
        cookie = response.cookies[SESSION_COOKIE]
    for made in (cookie, login_cookie):
        assert made["httponly"] is True and made["samesite"] == "Strict"
        assert bool(made["secure"]) is bool(public_url)  # over plain http only to this machine
    assert cookie["path"] == "/admin" and cookie["max-age"] == str(2 * 3600)
    assert len(cookie.value) >= 43  # 256 random bits


async def test_the_token_in_the_database_is_not_the_cookie(engine, passwords):
    await add_staff(engine, passwords)
    async with dashboard_on(engine, passwords) as (client, _, _):
        token = (await sign_in(client)).cookies[SESSION_COOKIE].value
    assert await engine.store.staff_session(token, NOW) is None  # only its hash is kept


def test_over_plain_http_only_this_machine_is_answered():
    def request_from(address: str) -> web.Request:
        transport = mock.Mock()
        transport.get_extra_info.side_effect = (
            lambda name, default=None: (address, 40000) if name == "peername" else default)
        return make_mocked_request("GET", "/admin/login", transport=transport)

    assert from_this_machine(request_from("127.0.0.1"))
    assert from_this_machine(request_from("::1"))
    assert not from_this_machine(request_from("203.0.113.7"))
    assert not from_this_machine(request_from("192.168.1.20"))


async def test_pages_carry_a_strict_policy_and_no_inline_script_or_style(engine, passwords):
    await add_staff(engine, passwords)
    async with dashboard_on(engine, passwords) as (client, _, _):
        await sign_in(client)
        for path in ("/admin/login", *PAGES[1:-1]):
            response = await client.get(path)
            headers = response.headers
            assert headers["Content-Security-Policy"].startswith("default-src 'self'")
            assert headers["Cache-Control"] == "no-store"
            assert headers["X-Frame-Options"] == "DENY"
            text = await response.text()
            assert "<script" not in text and " style=" not in text, path
            assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "") \
                or path == "/admin/messages"  # the practice's links, shown not fetched
        css = await client.get("/admin/static/admin.css")
        assert css.status == 200 and "@import" not in await css.text()


# -- leads -------------------------------------------------------------------------------------


async def screened_lead(engine: TurnRunner, user: str = "alex", channel: str = "test") -> None:
    """A person finishes the knee check (hip mobility) and asks to be contacted."""
    person = DialogClient(engine, user, channel=channel)
    await answer_safety_questions_no(person)
    await finish_with_hip_mobility(person)
    await person.click("/contact")
    await person.click("consent")
    await person.send("Sam Rivera")
    await person.send("sam.rivera@example.com")
    assert person.last.state == "contact_saved"


async def test_the_leads_table_shows_a_lead_from_a_screening_and_whether_they_booked(
        engine, passwords):
    await add_staff(engine, passwords)
    await screened_lead(engine)
    (lead,) = await engine.store.leads()
    async with dashboard_on(engine, passwords) as (client, _, _):
        await sign_in(client)
        text = await (await client.get("/admin/leads")).text()
        row = text[text.index("<tbody>"):text.index("</tbody>")]
        for shown in ("Sam Rivera", "sam.rivera@example.com", "test", "Hip mobility",
                      "Knee pain check", "not yet", 'data-status="new">New<'):
            assert shown in row, shown
        # The consent's text version ("2+8180611b") is for an audit, not for staff reading
        assert lead.consent_version and lead.consent_version not in row
        await engine.store.record("booked", "test", "alex", "knee", "calendly", at=NOW)
        text = await (await client.get("/admin/leads")).text()
        assert "<td>booked</td>" in text


async def test_a_lead_typed_as_markup_is_shown_as_text(engine, passwords):
    await add_staff(engine, passwords)
    await engine.store.save_lead(Lead("web", "x", "<script>alert(1)</script>", "a@b.co", "",
                                      "<b>ad</b>", "knee", (), None, NOW))
    async with dashboard_on(engine, passwords) as (client, _, _):
        await sign_in(client)
        text = await (await client.get("/admin/leads")).text()
    assert "<script>alert" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;b&gt;ad&lt;/b&gt;" in text


async def test_the_csv_has_the_export_columns_and_booking_and_no_cell_runs_as_a_formula(
        engine, passwords):
    await add_staff(engine, passwords)
    await engine.store.save_lead(Lead("web", "x", "=cmd|' /C calc'!A0", "-1+1@example.org",
                                      "+14155552671", "@SUM(A1)", "knee", ("hip_mobility",),
                                      None, NOW, "3", None, "3+abc"))
    await engine.store.record("booked", "web", "x", "knee", "cal.com", at=NOW)
    async with dashboard_on(engine, passwords) as (client, _, _):
        await sign_in(client)
        response = await client.get("/admin/leads.csv")
        assert response.headers["Content-Type"].startswith("text/csv")
        assert "attachment" in response.headers["Content-Disposition"]
        (row,) = list(csv.DictReader(io.StringIO(await response.text())))
    assert list(row) == ["created_at", "name", "email", "phone", "channel", "source", "flow",
                         "drivers", "red_flag", "urgency", "flow_version", "consent_version",
                         "progress", "booking", "status"]
    assert row["name"] == "'=cmd|' /C calc'!A0"
    assert row["email"] == "'-1+1@example.org"
    assert row["phone"] == "tel:+14155552671", "whole, as text, no apostrophe"
    assert row["source"] == "'@SUM(A1)"
    assert (row["drivers"], row["flow"], row["booking"], row["status"]) == (
        "Hip mobility", "Knee pain check", "booked", "new"), "words, not ids"


@pytest.mark.parametrize("value, safe", [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@x", "'@x"), ("\tx", "'\tx"),
    ("\rx", "'\rx"), ("a=1", "a=1"), ("", ""), ("'=1", "'=1"), ("Sam", "Sam"),
])
def test_a_cell_starting_like_a_formula_is_quoted(value, safe):
    assert safe_cell(value) == safe


# -- the funnel --------------------------------------------------------------------------------


async def test_the_funnel_shows_the_numbers_stats_prints_and_draws_them(engine, passwords):
    await add_staff(engine, passwords)
    for user in ("a", "b"):
        person = DialogClient(engine, user, channel="telegram")
        await answer_safety_questions_no(person)
        await finish_with_hip_mobility(person)
    flagged = DialogClient(engine, "c", channel="discord")
    await flagged.send("/start")
    for choice in (*TO_HOT_SWOLLEN, "yes"):  # a hot swollen knee: a red-flag exit
        await flagged.click(choice)
    await screened_lead(engine, "d", channel="web")
    stats = await engine.store.stats()
    printed = {tuple(line.split()[:2]): line.split()[2:]
               for line in funnel_table(stats).splitlines()[1:]}
    columns = funnel_table(stats).splitlines()[0].split()[2:]
    async with dashboard_on(engine, passwords) as (client, _, _):
        await sign_in(client)
        text = await (await client.get("/admin/funnel")).text()
        only_discord = await (await client.get("/admin/funnel?channel=discord")).text()
        nonsense = await (await client.get("/admin/funnel?channel=<x>&flow=nope")).text()
    shown = {"started": "started", "finished": "finished", "red_flag_exits": "red_flag_exits",
             "booking_clicks": "booking_clicks", "booked": "booked", "leads": "leads"}
    table = text[text.index('id="by-channel"'):]
    for (channel, flow), counts in printed.items():
        match = re.search(rf'<td class="text">{channel}</td><td class="text">{flow}</td>(.*?)</tr>',
                          table)
        assert match is not None, channel
        cells = dict(re.findall(r'data-column="(\w+)">(\d+)<', match[1]))
        for column in shown:
            assert cells[column] == counts[columns.index(column)], (channel, column)
    assert text.count('class="bar bar-') == 6 * len({week_of(r.day) for r in stats})
    assert "<svg" in text and 'role="img"' in text
    by_week = only_discord[only_discord.index('id="by-week"'):]
    assert re.search(r'data-column="red_flag_exits">1<', by_week)
    assert re.search(r'data-column="started">1<', by_week)
    assert ">telegram</td>" not in only_discord
    everything = text[text.index('id="by-week"'):text.index('id="by-channel"')]
    assert everything in nonsense  # an unknown filter shows everything


def test_weeks_start_on_monday_and_the_axis_ends_on_a_round_number():
    assert week_of("2026-11-25") == "2026-11-23" and week_of("2026-11-23") == "2026-11-23"
    assert week_of("2026-11-22") == "2026-11-16"
    assert [axis(n) for n in (0, 1, 2, 3, 5, 6, 10, 11, 21, 99, 100, 101)] == [
        (1, 1), (1, 1), (2, 1), (3, 1), (5, 1), (6, 2), (10, 2), (15, 5), (25, 5), (100, 20),
        (100, 20), (150, 50)]
    drawn = chart([("2026-11-16", {"started": 4, "leads": 1}), ("2026-11-23", {"started": 2})])
    assert len(drawn.bars) == 12 and [value for _, value in drawn.ticks] == [0, 1, 2, 3, 4]
    tallest = max(drawn.bars, key=lambda bar: bar.height)
    assert tallest.label == "Week of 2026-11-16: Started 4" and tallest.y == drawn.ticks[4][0]
    assert [value for _, value in chart([("w", {"leads": 11})]).ticks] == [0, 5, 10, 15]
    assert chart([]).bars == [] and funnel([]).rows() == []


# -- flows and messages ------------------------------------------------------------------------


async def test_the_message_preview_shows_every_state_of_every_flow(engine, passwords):
    await add_staff(engine, passwords)
    async with dashboard_on(engine, passwords) as (client, _, _):
        await sign_in(client)
        text = await (await client.get("/admin/messages")).text()
    for flow in engine.flows.values():
        assert f'id="flow-{flow.id}"' in text
        for state in flow.states.values():
            if not state.route:  # routing states decide, they are never shown
                assert f'id="message-{flow.id}-{state.id}"' in text, state.id
    assert 'class="error"' not in text  # every message renders with the sample answers
    exit_state = next(s for s in engine.flows["knee"].states.values() if s.red_flag)
    article = text[text.index(f'id="message-knee-{exit_state.id}"'):]
    article = article[:article.index("</article>")]
    assert "red-flag exit" in article and "calendly" not in article.lower()
    assert "<strong>" in text and "**" not in text  # bold as the chat shows it


async def test_each_flow_is_drawn_with_every_state_and_transition(engine, passwords):
    await add_staff(engine, passwords)
    async with dashboard_on(engine, passwords) as (client, _, _):
        await sign_in(client)
        listing = await (await client.get("/admin/flows")).text()
        for flow in engine.flows.values():
            assert f'href="/admin/flows/{flow.id}"' in listing
            text = await (await client.get(f"/admin/flows/{flow.id}")).text()
            for state in flow.states:
                assert f'id="state-{state}"' in text
            drawn = layout(flow)
            assert text.count('<path class="edge') == len(drawn.edges)
        assert (await client.get("/admin/flows/nope")).status == 404


def test_a_flow_diagram_keeps_layers_and_nodes_apart(engine):
    for flow in engine.flows.values():
        drawn = layout(flow)
        assert {node.id for node in drawn.nodes} == set(flow.states)
        start = next(node for node in drawn.nodes if node.id == flow.start)
        assert start.kind == "start" and start.y == min(node.y for node in drawn.nodes)
        rows: dict[float, list] = {}
        for node in drawn.nodes:
            rows.setdefault(node.y, []).append(node)
            assert node.x >= 0 and node.x + node.width <= drawn.width
        for row in rows.values():
            row.sort(key=lambda node: node.x)
            assert all(a.x + a.width < b.x for a, b in itertools.pairwise(row))
        assert all(edge.back or edge.path.startswith("M") for edge in drawn.edges)


# -- staff accounts ----------------------------------------------------------------------------


@pytest.mark.parametrize("length, accepted", [
    (MIN_PASSWORD - 1, False), (MIN_PASSWORD, True), (MIN_PASSWORD + 1, True),
    (MAX_PASSWORD - 1, True), (MAX_PASSWORD, True), (MAX_PASSWORD + 1, False),
])
def test_a_password_must_be_long_enough_and_not_too_long(length, accepted):
    password = "p" * length
    if accepted:
        assert check_password(password) == password
    else:
        with pytest.raises(AccountError):
            check_password(password)


@pytest.mark.parametrize("typed, email", [
    ("Pat@Example.ORG", "pat@example.org"), ("  pat@example.org ", "pat@example.org"),
    ("notanemail", None), ("pat@", None), ("@example.org", None), ("pat@@example.org", None),
])
def test_a_staff_email_is_checked_and_normalised(typed, email):
    if email is None:
        with pytest.raises(AccountError):
            staff_email(typed)
    else:
        assert staff_email(typed) == email


def bot_cli(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
    env |= {"BOT_DATA_DIR": str(tmp_path / "data"), "BOT_SETTINGS_FILE": os.devnull}
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=60, check=False,
                          start_new_session=True)  # no terminal: getpass reads stdin


@pytest.mark.process
def test_staff_commands_add_list_and_remove_accounts(tmp_path):
    added = bot_cli(tmp_path, "staff", "add", "Pat@Example.org", "--password-stdin",
                    stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert "pat@example.org" in added.stdout and "/admin/login" in added.stdout
    again = bot_cli(tmp_path, "staff", "add", "pat@example.org", "--password-stdin",
                    stdin=PASSWORD + "\n")
    assert again.returncode == 1 and "exists already" in again.stderr
    asked = bot_cli(tmp_path, "staff", "add", "ann@example.org", stdin=f"{PASSWORD}\n" * 2)
    assert asked.returncode == 0, asked.stderr
    listed = bot_cli(tmp_path, "staff", "list")
    assert listed.returncode == 0
    assert [line.split()[0] for line in listed.stdout.splitlines()] == [
        "ann@example.org", "pat@example.org"]
    removed = bot_cli(tmp_path, "staff", "remove", "pat@example.org")
    assert removed.returncode == 0
    gone = bot_cli(tmp_path, "staff", "remove", "pat@example.org")
    assert gone.returncode == 1 and "no staff account" in gone.stderr
    assert "pat@" not in bot_cli(tmp_path, "staff", "list").stdout
    for result in (added, again, asked, listed, removed, gone):
        assert PASSWORD not in result.stdout + result.stderr


@pytest.mark.process
async def test_the_bot_and_staff_add_hash_passwords_at_the_production_argon2_cost(
        engine, tmp_path):
    """Every other story hashes at the tests' cost (tests/harness/passwords.py)."""
    assert add_admin(web.Application(), engine, engine.settings).passwords.cost == PRODUCTION_COST
    assert PRODUCTION_COST.memory_cost >= 64 * 1024 and PRODUCTION_COST.time_cost >= 3
    assert extract_parameters(hash_password(PASSWORD)) == PRODUCTION_COST
    added = bot_cli(tmp_path, "staff", "add", EMAIL, "--password-stdin", stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    store = SQLiteStore(tmp_path / "data" / "bot.sqlite3")
    await store.open()
    try:
        stored = await store.staff_password_hash(EMAIL)
    finally:
        await store.close()
    assert stored is not None and extract_parameters(stored) == PRODUCTION_COST


@pytest.mark.process
@pytest.mark.parametrize("args, stdin, problem", [
    (("x@example.org", "--password-stdin"), "p" * (MIN_PASSWORD - 1) + "\n", "at least 12"),
    (("x@example.org", "--password-stdin"), "p" * (MAX_PASSWORD + 1) + "\n", "at most 1024"),
    (("not-an-email", "--password-stdin"), PASSWORD + "\n", "not a valid email"),
    (("x@example.org",), f"{PASSWORD}\nsomething-else-entirely\n", "differ"),
])
def test_staff_add_refuses_a_short_password_a_bad_email_and_two_different_passwords(
        tmp_path, args, stdin, problem):
    result = bot_cli(tmp_path, "staff", "add", *args, stdin=stdin)
    assert result.returncode == 2 and problem in result.stderr
    assert "no staff accounts" in bot_cli(tmp_path, "staff", "list").stdout


@pytest.mark.process
def test_staff_add_takes_a_password_of_exactly_the_minimum_length(tmp_path):
    result = bot_cli(tmp_path, "staff", "add", "x@example.org", "--password-stdin",
                     stdin="p" * MIN_PASSWORD + "\n")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("attempts, most", [(1, 1), (2, 2), (3, 2), (6, 2)])
async def test_at_most_two_password_checks_run_at_once(engine, passwords, attempts, most):
    """A check takes tens of megabytes: a flood of sign-ins waits its turn."""
    running, seen = [0], [0]
    lock = threading.Lock()

    def slow_check(password_hash: str, password: str) -> bool:
        with lock:
            running[0] += 1
            seen[0] = max(seen[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return False

    sign_in_rules = SignIn(engine.store, Limits(100, 100, 60.0), passwords)
    with mock.patch.object(passwords, "verifies", slow_check):
        outcomes = await asyncio.gather(*(
            sign_in_rules.attempt(f"x{n}@example.org", "guess-guess-guess", "127.0.0.1", NOW)
            for n in range(attempts)))
    assert seen[0] == most and set(outcomes) == {Outcome.REFUSED}


@pytest.mark.parametrize("trusted", [False, True])
async def test_behind_a_trusted_proxy_failures_count_per_forwarded_address(
        engine, passwords, trusted):
    await add_staff(engine, passwords)
    web_chat = replace(engine.settings.web_chat, trust_forwarded_for=trusted)
    async with dashboard_on(engine, passwords, admin_max_failures=100,
                            admin_max_failures_per_address=2,
                            web_chat=web_chat) as (client, _, _):
        async def attempt(forwarded: str, password: str = "guessing-passwords") -> int:
            token = await login_form(client)
            response = await client.post(
                "/admin/login", allow_redirects=False, headers={"X-Forwarded-For": forwarded},
                data={"csrf": token, "email": EMAIL, "password": password})
            client.session.cookie_jar.clear()
            return response.status

        assert await attempt("203.0.113.1") == 401
        assert await attempt("198.51.100.9, 203.0.113.1") == 429  # the proxy's entry is last
        # Another person behind the proxy: their own count when the proxy is trusted; when it
        # is not, the header is ignored and everyone shares the proxy's address.
        assert await attempt("203.0.113.2", PASSWORD) == (303 if trusted else 429)

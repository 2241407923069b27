"""The practice's dashboard in a real browser (Debian's Chromium, headless) against
`python -m bot run` on 127.0.0.1: a person leaves their details in the web chat box, a staff
member signs in (and mistypes once), finds the lead, downloads the CSV, reads the funnel chart
and the message preview; no serious accessibility violation on any page, nothing fetched from
anywhere else and no policy violation logged."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe

from bot.store.sqlite import SQLiteStore
from tests.browser import WebServer, new_page, save_screenshot, wait_until
from tests.conftest import HIP_MOBILITY_RUN, TO_PAIN_QUESTIONS

pytestmark = [pytest.mark.browser, pytest.mark.process]  # Chromium, `python -m bot run`
EMAIL = "pat@example.org"
PASSWORD = "knees-are-innocent-42"
SERIOUS = ("serious", "critical")
TURN_TIMEOUT = 10_000  # ms
# Earlier weeks' counts, newest first: started, finished, red-flag exits, booking clicks,
# booked calls, leads (split two to one between Telegram and Discord).
EARLIER = ((21, 15, 2, 9, 5, 4), (18, 12, 1, 7, 4, 3), (15, 9, 2, 5, 2, 2), (9, 6, 1, 3, 1, 1))
PAGES = ("/admin/leads", "/admin/funnel", "/admin/flows", "/admin/flows/knee",
         "/admin/messages")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    """The bot with one staff account, and one lead left in its web chat box by a person."""
    folder = tmp_path_factory.mktemp("dashboard_server")
    with WebServer.started(folder, BOT_WEB_CHAT__SESSION_BURST="500") as started:
        added = started.cli("staff", "add", EMAIL, "--password-stdin", stdin=PASSWORD + "\n")
        assert added.returncode == 0, added.stderr
        yield started


@pytest.fixture(scope="module")
def lead_left_in_chat(browser: Any, server: WebServer) -> str:
    """A person does the whole knee check in the chat box and asks to be contacted."""
    page = new_page(browser)
    page.goto(server.url + "/chat")
    page.wait_for_selector(".choices button[data-choice='begin']")
    for choice in (*TO_PAIN_QUESTIONS, *HIP_MOBILITY_RUN, "/contact", "consent"):
        press(page, choice)
    type_answer(page, "Robin Lee")
    type_answer(page, "robin.lee@example.com")
    page.context.close()
    return "Robin Lee"


def press(page: Any, choice: str) -> None:
    """Click a choice of the current question and wait until the answer is shown."""
    button = page.locator(f".choices button[data-choice='{choice}']").last
    turn = button.get_attribute("data-turn")
    button.click()
    wait_until(page, "turn => !document.body.hasAttribute('aria-busy') && "
               "!document.querySelector(`.choices button[data-turn='${turn}']`)",
               arg=turn, timeout=TURN_TIMEOUT)


def type_answer(page: Any, text: str) -> None:
    """Type an answer and wait for the bot's next message."""
    before = page.locator(".msg.bot").count()
    page.fill("#answer", text)
    page.click("#send")
    wait_until(page, "n => !document.body.hasAttribute('aria-busy') && "
               "document.querySelectorAll('.msg.bot').length > n", arg=before,
               timeout=TURN_TIMEOUT)


class Watched:
    """A page and what it asked for and logged (a CSP violation is logged as an error)."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.requests: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def only_to(self, server: WebServer) -> None:
        for url in self.requests:
            parts = urlsplit(url)
            assert f"{parts.scheme}://{parts.netloc}" == server.url, url


def signed_in(browser: Any, server: WebServer, **context: Any) -> Watched:
    """A fresh browser, signed in as the staff member, on the leads page."""
    watched = Watched(new_page(browser, **context))
    page = watched.page
    page.goto(server.url + "/admin/leads")
    assert page.url == server.url + "/admin/login"  # nobody without an account sees anything
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(server.url + "/admin/leads")
    return watched


def serious_violations(page: Any) -> list[str]:
    results = Axe().run(page)
    return [f"{v['id']}: {v['help']} ({len(v['nodes'])})"
            for v in results.response["violations"] if v["impact"] in SERIOUS]


def test_a_wrong_password_shows_the_friendly_error_and_no_dashboard(browser, server):
    watched = Watched(new_page(browser))
    page = watched.page
    page.goto(server.url + "/admin/login")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    alert = page.get_by_role("alert")
    assert "do not match a staff account" in alert.inner_text()
    assert page.url == server.url + "/admin/login"
    assert page.get_by_label("Email").input_value() == EMAIL  # kept; the password is not
    assert page.get_by_label("Password").input_value() == ""
    assert "bot_admin_session" not in [cookie["name"] for cookie in page.context.cookies()]
    page.goto(server.url + "/admin/funnel")
    assert page.url == server.url + "/admin/login"
    assert serious_violations(page) == []
    watched.only_to(server)
    assert all("401 (Unauthorized)" in error for error in watched.errors)  # the refusal only
    page.context.close()


def test_staff_sign_in_and_find_the_lead_left_in_the_chat_box(browser, server,
                                                               lead_left_in_chat):
    watched = signed_in(browser, server)
    page = watched.page
    row = page.locator("table.leads tbody tr", has_text=lead_left_in_chat)
    assert row.count() == 1
    cells = row.inner_text()
    for shown in ("robin.lee@example.com", "web", "Hip mobility", "Knee", "not yet"):
        assert shown in cells, shown
    cookie = next(c for c in page.context.cookies() if c["name"] == "bot_admin_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/admin"
    assert page.evaluate("document.cookie") == ""  # out of reach of any script
    assert serious_violations(page) == []
    watched.only_to(server)
    assert watched.errors == []
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(server.url + "/admin/login")
    page.goto(server.url + "/admin/leads")
    assert page.url == server.url + "/admin/login"
    page.context.close()


def test_the_leads_csv_downloads_with_the_lead(browser, server, lead_left_in_chat):
    watched = signed_in(browser, server)
    with watched.page.expect_download() as download:
        watched.page.get_by_role("link", name="Download CSV").click()
    assert download.value.suggested_filename == "leads.csv"
    text = open(download.value.path(), encoding="utf-8").read()  # noqa: SIM115
    rows = list(csv.DictReader(io.StringIO(text)))
    (lead,) = [row for row in rows if row["name"] == lead_left_in_chat]
    assert lead["email"] == "robin.lee@example.com" and lead["channel"] == "web"
    assert lead["drivers"] == "Hip mobility" and lead["booking"] == ""  # words, not ids
    watched.page.context.close()


def test_staff_search_open_a_lead_set_its_status_and_add_a_note(browser, server,
                                                                 lead_left_in_chat):
    watched = signed_in(browser, server)
    page = watched.page
    page.get_by_label("Search").fill("robin")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/admin/leads?q=robin*")
    rows = page.locator("table.leads tbody tr")
    assert rows.count() == 1 and "New" in rows.first.inner_text()
    page.get_by_role("link", name=lead_left_in_chat).click()
    page.wait_for_selector("h1:has-text('Robin Lee')")
    answers = page.locator("table.answers")
    assert "Hip mobility" in page.inner_text("main")
    assert answers.locator("tbody tr").count() > 10, "what they answered, in plain words"
    assert "hip_mobility" not in page.inner_text("main"), "no raw ids"
    assert serious_violations(page) == []

    page.get_by_label("Status").select_option("contacted")
    page.get_by_role("button", name="Save status").click()
    page.wait_for_selector("#status-now:has-text('Contacted')")
    page.get_by_label("Add a note").fill("Called, left a voicemail <b>Thursday</b>")
    page.get_by_role("button", name="Add note").click()
    notes = page.locator("#notes li")
    notes.nth(1).wait_for()
    assert f"{EMAIL}: set the status to Contacted" in notes.nth(0).inner_text()
    assert "Called, left a voicemail <b>Thursday</b>" in notes.nth(1).inner_text(), "as text"

    page.get_by_role("link", name="All leads").click()
    page.get_by_label("Status").select_option("contacted")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**status=contacted*")
    assert page.locator("table.leads tbody tr", has_text=lead_left_in_chat).count() == 1
    page.get_by_label("Status").select_option("new")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**status=new*")
    assert page.locator("table.leads tbody tr", has_text=lead_left_in_chat).count() == 0
    watched.only_to(server)
    assert watched.errors == []
    page.context.close()


async def _record_earlier_weeks(database: Path) -> None:
    store = SQLiteStore(database)
    now = time.time()
    for weeks_ago, (started, finished, flagged, clicks, booked, leads) in enumerate(EARLIER):
        at = now - (weeks_ago + 1) * 7 * 86400
        for channel, share in (("telegram", 2), ("discord", 1)):
            for kind, count, detail in (("started", started, ""), ("finished", finished, ""),
                                        ("red_flag", flagged, ""), ("link_click", clicks, "book"),
                                        ("booked", booked, "calendly"), ("lead", leads, "")):
                for number in range(count * share // 3 or (1 if count and share == 2 else 0)):
                    await store.record(kind, channel, f"earlier-{weeks_ago}-{number}", "knee",
                                       detail, at=at)
    await store.close()


def test_the_funnel_chart_is_drawn_with_its_table(browser, server, lead_left_in_chat):
    # Earlier weeks on Telegram and Discord, recorded straight into the server's store: the
    # chart over several weeks, as a practice sees it after a month.
    with ThreadPoolExecutor(1) as thread:  # Playwright's own loop runs in this thread
        thread.submit(asyncio.run, _record_earlier_weeks(server.data_dir / "bot.sqlite3")
                      ).result()
    watched = signed_in(browser, server, viewport={"width": 1100, "height": 900})
    page = watched.page
    page.get_by_role("link", name="Funnel").click()
    page.wait_for_url(server.url + "/admin/funnel")
    chart = page.locator("svg.bars")
    assert chart.is_visible()
    started = page.locator("rect.bar-started").first
    assert started.bounding_box()["height"] > 10  # drawn, not an empty frame
    assert page.locator("rect.bar").count() % 6 == 0
    colour = started.evaluate("bar => getComputedStyle(bar).fill")
    assert colour not in ("", "none", "rgb(0, 0, 0)")  # the stylesheet, allowed by the CSP
    assert page.locator("#by-week tbody tr").count() == 1 + len(EARLIER)
    newest = page.locator("#by-week tbody tr").last.inner_text().split()
    assert newest[1:3] != ["0", "0"]  # this week: the screening done in the chat box
    # Each step's conversion from the one before, under its count
    finished = page.locator('#by-week tfoot td[data-column="finished"] .rate')
    assert finished.inner_text().endswith("%")
    assert page.get_by_text("A screening starts at its first answer").is_visible()
    save_screenshot(page, "dashboard", publish=True, full_page=True)
    assert serious_violations(page) == []
    watched.only_to(server)
    assert watched.errors == []
    page.context.close()


def test_the_message_preview_and_flow_diagram_show_every_message_and_state(
        browser, server, lead_left_in_chat):
    watched = signed_in(browser, server)
    page = watched.page
    page.get_by_role("link", name="Messages").click()
    page.wait_for_url(server.url + "/admin/messages")
    welcome = page.locator("#message-knee-welcome")
    assert "knee" in welcome.locator(".bubble").inner_text().lower()
    assert welcome.locator(".choice").count() >= 1
    assert welcome.locator(".bubble strong").count() >= 1  # bold, as the chat shows it
    assert page.locator("article.message").count() > 50
    assert page.locator("article.message-red_flag").count() >= 1
    page.goto(server.url + "/admin/flows/knee")
    assert page.locator("svg.diagram g.node").count() > 50
    box = page.locator("#state-welcome rect").bounding_box()
    assert box is not None and box["width"] > 0
    save_screenshot(page, "dashboard-flow")
    watched.only_to(server)
    assert watched.errors == []
    page.context.close()


@pytest.mark.parametrize("path", PAGES)
def test_dashboard_pages_have_no_serious_accessibility_violations(browser, server, path):
    watched = signed_in(browser, server)
    watched.page.goto(server.url + path)
    assert serious_violations(watched.page) == []
    watched.only_to(server)
    assert watched.errors == []
    watched.page.context.close()

"""The web chat in a real browser (Debian's Chromium, headless) against `python -m bot run` on
127.0.0.1: the embedded chat box on a practice's page, the full page, keyboard only, a reload,
a red-flag exit, narrow and zoomed screens, accessibility (axe-core), and that nothing is
fetched from anywhere but the bot."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.browser import WebServer, free_port, new_page, save_screenshot, wait_until
from tests.conftest import HIP_MOBILITY_RUN, TO_PAIN_QUESTIONS

BOOKING_HOST = "calendly.example.com"  # the embedded default booking link's host
RED_FLAG_RUN = ("begin", "me", "adult", "no", "new", "no", "yes")  # swollen recently, hot: yes
SERIOUS = ("serious", "critical")
TURN_TIMEOUT = 10_000  # ms


# -- the practice's own site, embedding the chat box with one tag ----------------------------


@dataclass
class PracticeSite:
    """A practice's article page on another origin (another port) with the embed tag."""

    url: str
    bot_url: str = ""
    server: http.server.ThreadingHTTPServer | None = field(default=None, repr=False)

    def page(self, inline: bool = False) -> bytes:
        """The article; `inline`: the chat shown open in a box at its end (`data-target`)."""
        target = "<div id='knee-chat'></div>" if inline else ""
        return (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            "<title>Knee Pain Is Not Because Of Your Knee</title></head><body><main>"
            "<h1>Knee Pain Is Not Because Of Your Knee</h1>"
            "<p>Chronic knee pain is usually driven from elsewhere: the foot and ankle, the hip,"
            " and how you move.</p>"
            f"<p>Need help figuring out where to start with your knee pain?</p>{target}</main>"
            f"<script src='{self.bot_url}/chat/embed.js' async "
            "data-label='Start the knee pain check' data-title='Knee pain check'"
            f"{' data-target=#knee-chat' if inline else ''}></script>"
            "</body></html>"
        ).encode()


@pytest.fixture(scope="module")
def practice_site() -> Iterator[PracticeSite]:
    port = free_port()
    site = PracticeSite(f"http://127.0.0.1:{port}")

    class Article(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = site.page(inline=self.path == "/inline")
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    site.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Article)
    thread = threading.Thread(target=site.server.serve_forever, daemon=True)
    thread.start()
    yield site
    site.server.shutdown()
    site.server.server_close()


@pytest.fixture(scope="module")
def chat_server(
    tmp_path_factory: pytest.TempPathFactory, practice_site: PracticeSite
) -> Iterator[WebServer]:
    """The bot, allowing the practice's site to embed it; bursts high enough for a test that
    clicks faster than any person."""
    folder = tmp_path_factory.mktemp("chat_server")
    with WebServer.started(folder, BOT_WEB_CHAT__ALLOWED_ORIGINS=practice_site.url,
                           BOT_WEB_CHAT__SESSION_BURST="500") as server:
        practice_site.bot_url = server.url
        yield server


# -- a person in the chat ------------------------------------------------------------------------


@dataclass
class Visit:
    """A page (or the chat's frame in a practice's page), what it asked for, what it logged."""

    page: Any
    chat: Any  # the Page or Frame the chat runs in
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)

    def press(self, choice: str) -> None:
        """Click a choice of the current question and wait for the answer to be shown."""
        button = self.chat.locator(f".choices button[data-choice='{choice}']").last
        turn = button.get_attribute("data-turn")
        button.click()
        self.wait_for_answer(turn)

    def wait_for_answer(self, turn: str | None) -> None:
        wait_until(self.chat, "turn => !document.body.hasAttribute('aria-busy') && "
                   "!document.querySelector(`.choices button[data-turn='${turn}']`)",
                   arg=turn, timeout=TURN_TIMEOUT)

    def current_turn(self) -> str | None:
        return self.chat.locator(".choices button").last.get_attribute("data-turn")

    def last_message_text(self) -> str:
        return str(self.chat.locator(".msg.bot").last.inner_text())

    def links(self) -> list[tuple[str, str]]:
        anchors = self.chat.locator(".msg.bot .link-button")
        return [(str(a.inner_text()), str(a.get_attribute("href"))) for a in anchors.all()]

    def no_horizontal_scroll(self) -> bool:
        return bool(self.chat.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"))


def watch(page: Any, chat: Any = None) -> Visit:
    visit = Visit(page, chat or page)
    page.on("request", lambda request: visit.requests.append(request.url))
    page.on("console", lambda m: visit.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: visit.errors.append(str(error)))
    page.on("response", lambda r: visit.headers.setdefault(urlsplit(r.url).path,
                                                             dict(r.headers)))
    return visit


def open_chat(browser: Any, server: WebServer, **context: Any) -> Visit:
    """The full-page chat in a fresh browser (no storage), at the welcome."""
    visit = watch(new_page(browser, **context))
    visit.page.goto(server.url + "/chat")
    visit.page.wait_for_selector(".choices button[data-choice='begin']")
    return visit


def left_only_to(visit: Visit, *origins: str) -> None:
    """Every request the page made went to one of these origins (all on 127.0.0.1)."""
    for url in visit.requests:
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}" in origins, url
        assert parts.hostname == "127.0.0.1", url


def serious_violations(page: Any) -> list[str]:
    results = Axe().run(page)
    return [f"{v['id']}: {v['help']} ({len(v['nodes'])})"
            for v in results.response["violations"] if v["impact"] in SERIOUS]


# -- the tests -----------------------------------------------------------------------------------


def test_whole_screening_in_the_embedded_chat_box_by_clicking(
    browser: Any, chat_server: WebServer, practice_site: PracticeSite
) -> None:
    page = new_page(browser, viewport={"width": 1100, "height": 900})
    visit = watch(page)
    page.goto(practice_site.url)
    opener = page.get_by_role("button", name="Start the knee pain check")
    assert opener.get_attribute("aria-expanded") == "false"
    opener.click()
    assert opener.get_attribute("aria-expanded") == "true"
    frame = page.frame_locator("iframe[title='Knee pain check']")
    frame.locator(".choices button[data-choice='begin']").wait_for()
    visit.chat = page.frame(url=lambda url: url.startswith(chat_server.url + "/chat"))
    # Opening it moved focus into it, onto the first answer.
    wait_until(visit.chat,
               "document.activeElement && document.activeElement.dataset.choice === 'begin'")
    for choice in (*TO_PAIN_QUESTIONS, *HIP_MOBILITY_RUN):
        visit.press(choice)
        if choice == "everyday":  # a pick-several question, one picked: the README's picture
            save_screenshot(page, "chat", publish=True)
    assert "hip" in visit.last_message_text().lower()
    labels = [label for label, _ in visit.links()]
    assert any(BOOKING_HOST in href for _, href in visit.links()), labels
    save_screenshot(page, "chat-result")
    policy = visit.headers["/chat"]["content-security-policy"]
    assert "default-src 'self'" in policy and f"frame-ancestors 'self' {practice_site.url}" \
        in policy
    assert visit.headers["/chat"]["x-content-type-options"] == "nosniff"
    left_only_to(visit, chat_server.url, practice_site.url)
    assert visit.errors == []  # a CSP violation would be logged here
    page.keyboard.press("Escape")  # Escape in the chat closes it, focus back on the opener
    wait_until(page, "document.activeElement && document.activeElement.tagName === 'BUTTON' "
                     "&& document.activeElement.getAttribute('aria-expanded') === 'false'")
    page.context.close()


def test_whole_screening_by_keyboard_only_with_focus_on_each_new_question(
    browser: Any, chat_server: WebServer
) -> None:
    visit = open_chat(browser, chat_server)
    page = visit.page
    for choice in (*TO_PAIN_QUESTIONS, *HIP_MOBILITY_RUN):
        if choice == "skip":  # the pain level: typed, not skipped; the text field has focus
            assert page.evaluate("document.activeElement.id") == "answer"
            page.keyboard.type("6")
            turn = visit.current_turn()
            page.keyboard.press("Enter")
            visit.wait_for_answer(turn)
            continue
        assert page.evaluate(
            "[...document.querySelectorAll('.msg.bot')].pop().contains(document.activeElement)"
        ), f"focus is not on the new question before {choice!r}"
        _tab_to(page, f"document.activeElement.dataset.choice === '{choice}'")
        turn = visit.current_turn()
        page.keyboard.press("Enter")
        visit.wait_for_answer(turn)
    mine = [text.replace("You:", "").strip() for text in page.locator(".msg.me").all_inner_texts()]
    assert mine.count("6") == 1  # what was typed is shown once
    assert any(BOOKING_HOST in href for _, href in visit.links())
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    assert visit.errors == []
    page.context.close()


def _tab_to(page: Any, condition: str, most: int = 30) -> None:
    for _ in range(most):
        if page.evaluate(condition):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached: {condition}")


def test_reload_in_the_middle_resumes_at_the_current_question(
    browser: Any, chat_server: WebServer
) -> None:
    visit = open_chat(browser, chat_server)
    for choice in TO_PAIN_QUESTIONS[:5]:
        visit.press(choice)
    question, turn = visit.last_message_text(), visit.current_turn()
    visit.page.reload()
    visit.page.wait_for_selector(".choices button")
    assert visit.last_message_text() == question and visit.current_turn() == turn
    visit.press("no")  # and it goes on from there
    assert visit.last_message_text() != question
    visit.page.context.close()


def test_red_flag_exit_shows_advice_and_no_booking_button(
    browser: Any, chat_server: WebServer
) -> None:
    visit = open_chat(browser, chat_server)
    for choice in RED_FLAG_RUN:
        visit.press(choice)
    advice = visit.last_message_text().lower()
    assert "doctor" in advice or "medical" in advice or "urgent" in advice
    assert not any(BOOKING_HOST in href for _, href in visit.links())
    visit.page.fill("#answer", "can I book a call?")
    visit.page.click("#send")
    wait_until(visit.page, "document.querySelectorAll('.msg.me').length >= 1 && "
                           "!document.body.hasAttribute('aria-busy')")
    assert not any(BOOKING_HOST in href for _, href in visit.links())
    assert not visit.page.locator(f"a[href*='{BOOKING_HOST}']").count()
    visit.page.context.close()


def test_person_who_presses_an_old_button_in_another_tab_sees_current_question(
    browser: Any, chat_server: WebServer
) -> None:
    first = open_chat(browser, chat_server)
    second = watch(first.page.context.new_page())  # same browser storage: same conversation
    second.page.goto(chat_server.url + "/chat")
    second.page.wait_for_selector(".choices button[data-choice='begin']")
    first.press("begin")
    first.press("me")
    second.press("begin")  # shown before the other tab answered it
    assert second.last_message_text() == first.last_message_text()
    assert second.current_turn() == first.current_turn()
    first.page.context.close()


def test_chat_fits_a_320_pixel_wide_screen_without_sideways_scrolling(
    browser: Any, chat_server: WebServer
) -> None:
    visit = open_chat(browser, chat_server, viewport={"width": 320, "height": 640})
    for choice in (*TO_PAIN_QUESTIONS, *HIP_MOBILITY_RUN[:9]):
        visit.press(choice)
        assert visit.no_horizontal_scroll(), f"scrolls sideways after {choice!r}"
    save_screenshot(visit.page, "chat-320px", full_page=True)
    visit.page.context.close()


def test_chat_at_200_percent_zoom_keeps_everything_reachable(
    browser: Any, chat_server: WebServer
) -> None:
    # 1280 x 800 at 200%: a 640 x 400 CSS-pixel viewport at twice the pixel density.
    visit = open_chat(browser, chat_server, viewport={"width": 640, "height": 400},
                      device_scale_factor=2)
    for choice in TO_PAIN_QUESTIONS[:4]:
        visit.press(choice)
        assert visit.no_horizontal_scroll()
        # the focused button is not hidden under the typing area stuck to the bottom
        assert visit.page.evaluate(
            "document.activeElement.getBoundingClientRect().bottom <= "
            "document.querySelector('#compose').getBoundingClientRect().top + 1")
    assert visit.page.locator("#send").is_visible() and visit.page.locator("#answer").is_visible()
    save_screenshot(visit.page, "chat-200-percent")
    visit.page.context.close()


def test_chat_has_no_serious_accessibility_violations(
    browser: Any, chat_server: WebServer
) -> None:
    visit = open_chat(browser, chat_server)
    assert serious_violations(visit.page) == []
    for choice in (*TO_PAIN_QUESTIONS, *HIP_MOBILITY_RUN[:7]):
        visit.press(choice)
    visit.press("everyday")  # a pick-several question, one picked
    assert visit.page.locator("button[aria-pressed='true']").count() == 1
    assert serious_violations(visit.page) == []
    log = visit.page.locator("#log")
    assert log.get_attribute("role") == "log" and log.get_attribute("aria-live") == "polite"
    visit.page.context.close()


def test_person_sending_too_fast_is_asked_to_wait_and_keeps_what_they_typed(
    browser: Any, tmp_path: Path
) -> None:
    with WebServer.started(tmp_path, BOT_WEB_CHAT__SESSION_BURST="3",
                           BOT_WEB_CHAT__SESSION_PER_MINUTE="1") as server:
        visit = open_chat(browser, server)  # resume and /start: two of the three
        visit.press("begin")  # the third
        visit.page.fill("#answer", "my knee hurts on stairs")
        visit.page.click("#send")
        status = visit.page.locator("#status")
        status.wait_for()
        assert "wait a few seconds" in status.inner_text()
        assert visit.page.input_value("#answer") == "my knee hurts on stairs"
        visit.page.context.close()


def test_embedded_chat_box_fits_a_320_pixel_wide_phone(
    browser: Any, chat_server: WebServer, practice_site: PracticeSite
) -> None:
    page = new_page(browser, viewport={"width": 320, "height": 640})
    visit = watch(page)
    page.goto(practice_site.url)
    page.get_by_role("button", name="Start the knee pain check").click()
    page.frame_locator("iframe").locator(".choices button[data-choice='begin']").wait_for()
    visit.chat = page.frame(url=lambda url: url.startswith(chat_server.url + "/chat"))
    for choice in TO_PAIN_QUESTIONS[:3]:
        visit.press(choice)
    box = page.locator("iframe").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 320
    assert page.evaluate("document.documentElement.scrollWidth <= 320")
    assert visit.no_horizontal_scroll()  # inside the chat box too
    save_screenshot(page, "chat-embedded-320px")
    assert visit.errors == []
    page.context.close()


def test_chat_shown_inline_in_the_article_leaves_focus_alone_until_used(
    browser: Any, chat_server: WebServer, practice_site: PracticeSite
) -> None:
    page = new_page(browser)
    visit = watch(page)
    page.goto(practice_site.url + "/inline")
    frame = page.frame_locator("#knee-chat iframe[title='Knee pain check']")
    frame.locator(".choices button[data-choice='begin']").wait_for()
    visit.chat = page.frame(url=lambda url: url.startswith(chat_server.url + "/chat"))
    assert page.evaluate("document.activeElement === document.body")  # reading, not chatting
    assert not page.get_by_role("button", name="Start the knee pain check").count()
    visit.press("begin")
    assert visit.chat.evaluate("document.activeElement.dataset.choice") == "me"
    left_only_to(visit, chat_server.url, practice_site.url)
    assert visit.errors == []
    page.context.close()

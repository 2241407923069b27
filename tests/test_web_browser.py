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

from tests.browser import WebServer, new_page, save_screenshot, wait_until
from tests.conftest import HIP_MOBILITY_RUN, TO_PAIN_QUESTIONS
from tests.harness.ports import free_port

pytestmark = [pytest.mark.browser, pytest.mark.process]  # Chromium, `python -m bot run`
BOOKING_HOST = "calendly.example.com"  # the embedded default booking link's host
RED_FLAG_RUN = ("begin", "me", "adult", "no", "new", "no", "yes")  # swollen recently, hot: yes
SERIOUS = ("serious", "critical")
TURN_TIMEOUT = 10_000  # ms
# The first button of the newest bot message (its text and address), its background, and the
# background of that message's last link.
FIRST_BUTTON_OF_LAST_MESSAGE = """() => {
  const message = [...document.querySelectorAll('.msg.bot')].pop();
  const first = message.querySelector('.link-button, .choices button');
  const links = message.querySelectorAll('.link-button');
  const background = (node) => getComputedStyle(node).backgroundColor;
  return [{text: first.textContent, href: first.getAttribute('href') || ''},
          background(first), background(links[links.length - 1])];
}"""


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
            f"<p>Need help figuring out where to start with your knee pain?</p>{target}"
            + ("<p>A foot that lacks stability lets the arch collapse, so the knee falls"
               " inward; a hip that lacks mobility makes the knee take on extra motion.</p>"
               * 40) + "</main>"
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
    opener = page.locator("[data-pt-chat-launcher]")
    assert opener.get_attribute("aria-expanded") == "false"
    assert opener.inner_text() == "Start the knee pain check"
    opener.click()
    assert opener.get_attribute("aria-expanded") == "true"
    frame = page.frame_locator("iframe[title='Knee pain check']")
    frame.locator(".choices button[data-choice='begin']").wait_for()
    visit.chat = page.frame(url=lambda url: url.startswith(chat_server.url + "/chat"))
    # Opening it moved focus into it: onto the welcome, whose first answer the typing area
    # hides in a box this size (focus is never out of sight); Tab is the first answer.
    wait_until(visit.chat, "document.activeElement && document.activeElement.matches('.msg.bot')"
               " && document.activeElement.contains(document.querySelector("
               "\"button[data-choice='begin']\"))")
    page.keyboard.press("Tab")
    wait_until(visit.chat,
               "document.activeElement && document.activeElement.dataset.choice === 'begin'")
    for choice in (*TO_PAIN_QUESTIONS, *HIP_MOBILITY_RUN):
        visit.press(choice)
        if choice == "everyday":  # a pick-several question, one picked: the README's picture
            save_screenshot(page, "chat", publish=True)
    assert "hip" in visit.last_message_text().lower()
    labels = [label for label, _ in visit.links()]
    assert any(BOOKING_HOST in href for _, href in visit.links()), labels
    first, filled, outlined = visit.chat.evaluate(FIRST_BUTTON_OF_LAST_MESSAGE)
    assert first["text"].startswith("Book a complimentary call") and BOOKING_HOST in first["href"]
    assert filled != outlined, "the booking is a filled button, the other links outlined"
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
    for choice in (*TO_PAIN_QUESTIONS, *HIP_MOBILITY_RUN[:14]):  # to the first self-checks
        visit.press(choice)
        assert visit.no_horizontal_scroll()
        # what has focus is never hidden under the typing area stuck to the bottom: the first
        # answer, or, under a question too long to show with it (a self-check's steps), the
        # question itself, its start in view
        assert visit.page.evaluate(
            "(() => { const shown = document.activeElement.getBoundingClientRect();"
            " const compose = document.querySelector('#compose').getBoundingClientRect();"
            " const log = document.querySelector('#log').getBoundingClientRect();"
            " if (document.querySelector('#compose').contains(document.activeElement))"
            " return true;"  # the text field, for a typed answer
            " return shown.top >= log.top - 1 && (shown.bottom <= compose.top + 1"
            " || document.activeElement.classList.contains('msg')); })()"), choice
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


# -- issue 28: the chat box as good as the widgets clinics know, at phone and desktop width ------

WIDTHS = (320, 375, 1280)
HEIGHT = {320: 568, 375: 667, 1280: 800}
NARROW = 640  # px: below it the open chat box fills the screen
PICK_SEVERAL_RUN = (*TO_PAIN_QUESTIONS, *HIP_MOBILITY_RUN[:7])  # to "when does it hurt?"
PRACTICE = "Get Your Fix Physical Therapy"


def _viewport(width: int) -> dict[str, int]:
    return {"width": width, "height": HEIGHT[width]}


def _screen_name(width: int) -> str:
    return "phone" if width < NARROW else "desktop"


def _visible_in_log(chat: Any, selector: str) -> bool:
    """The element is inside the conversation's visible part and nothing covers its middle."""
    return bool(chat.evaluate("""selector => {
        const node = [...document.querySelectorAll(selector)].pop();
        const log = document.getElementById('log').getBoundingClientRect();
        const box = node.getBoundingClientRect();
        if (box.top < log.top - 1 || box.bottom > log.bottom + 1) return false;
        const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
        return node === hit || node.contains(hit);
    }""", selector))


def _newest_message_starts_in_view(chat: Any) -> bool:
    """The newest bot message's first line is at the top of the conversation's view (or
    lower, when all of it is in view and there is nothing further to scroll)."""
    return bool(chat.evaluate("""() => {
        const log = document.getElementById('log');
        const node = [...log.querySelectorAll('.msg.bot')].pop();
        const top = node.getBoundingClientRect().top - log.getBoundingClientRect().top;
        const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 2;
        return top >= 0 && (top <= 24 || (atEnd && top < log.clientHeight - 40));
    }"""))


def _all_violations(page: Any) -> list[str]:
    results = Axe().run(page)
    return [f"{v['id']}: {v['help']} ({len(v['nodes'])})" for v in results.response["violations"]]


def _open_the_box(page: Any, site: PracticeSite, server: WebServer) -> Visit:
    visit = watch(page)
    page.goto(site.url)
    page.locator("[data-pt-chat-launcher]").click()
    page.frame_locator("iframe").locator(".choices button[data-choice='begin']").wait_for()
    visit.chat = page.frame(url=lambda url: url.startswith(server.url + "/chat"))
    return visit


@pytest.mark.parametrize("width", WIDTHS)
def test_chat_box_has_a_header_opens_at_the_greeting_and_closes(
    browser: Any, chat_server: WebServer, practice_site: PracticeSite, width: int
) -> None:
    page = new_page(browser, viewport=_viewport(width))
    visit = _open_the_box(page, practice_site, chat_server)
    chat = visit.chat
    # The header: the practice's name, its logo, a close button.
    assert chat.locator("header h1").inner_text() == PRACTICE
    logo = chat.locator("header img.chat-logo")
    assert logo.is_visible() and chat.evaluate(
        "document.querySelector('.chat-logo').naturalWidth > 0")
    close = chat.get_by_role("button", name="Close the chat")
    assert close.is_visible()
    # It opens at the start of the greeting, not scrolled into it.
    assert _newest_message_starts_in_view(chat)
    save_screenshot(page, f"web-start-{_screen_name(width)}", publish=width != 320)
    launcher = page.locator("[data-pt-chat-launcher]")
    panel = page.locator("#pt-screening-chat-panel").bounding_box()
    assert panel is not None
    if width < NARROW:  # a phone: the whole screen, the launcher out of the way
        assert (panel["x"], panel["y"]) == (0, 0)
        assert (panel["width"], panel["height"]) == (width, HEIGHT[width])
        assert not launcher.is_visible()
        page.mouse.move(width / 2, HEIGHT[width] / 2)
        page.mouse.wheel(0, 600)  # the page behind does not scroll
        page.wait_for_timeout(200)
        assert page.evaluate("window.scrollY") == 0
        assert page.evaluate("getComputedStyle(document.documentElement).overflow") == "hidden"
        assert page.evaluate("document.querySelector('main').inert")  # no Tab into the page
    else:  # a desktop: a box in the corner; the launcher now closes it
        assert panel["width"] < width / 2 and panel["x"] > width / 2
        assert launcher.is_visible() and "Close the chat" in launcher.inner_text()
        assert launcher.get_attribute("aria-expanded") == "true"
        box = page.locator("iframe").bounding_box()
        assert box is not None
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        for _ in range(4):  # scrolling the chat past its end leaves the page where it is
            page.mouse.wheel(0, 800)
            page.wait_for_timeout(100)
        assert page.evaluate("window.scrollY") == 0
        # its name is the words alone (the x is not read out)
        assert page.get_by_role("button", name="Close the chat", exact=True).count() == 1
    assert serious_violations(page) == []  # the practice's page with the box open
    assert _all_violations(chat) == []  # the box itself: none at all
    close.focus()  # by keyboard: the header's x closes it
    page.keyboard.press("Enter")
    wait_until(page, "document.activeElement && "
                     "document.activeElement.hasAttribute('data-pt-chat-launcher')")
    assert launcher.is_visible() and launcher.inner_text() == "Start the knee pain check"
    assert launcher.get_attribute("aria-expanded") == "false"
    assert not page.locator("#pt-screening-chat-panel").is_visible()
    assert page.evaluate("getComputedStyle(document.documentElement).overflow") != "hidden"
    assert not page.evaluate("document.querySelector('main').inert")
    page.mouse.wheel(0, 600)  # the page scrolls again
    wait_until(page, "window.scrollY > 0")
    left_only_to(visit, chat_server.url, practice_site.url)
    assert visit.errors == []
    page.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_pick_several_keeps_done_in_view_and_the_result_offers_no_check_in(
    browser: Any, chat_server: WebServer, practice_site: PracticeSite, width: int
) -> None:
    page = new_page(browser, viewport=_viewport(width))
    visit = _open_the_box(page, practice_site, chat_server)
    chat = visit.chat
    for choice in PICK_SEVERAL_RUN:
        visit.press(choice)
        assert _newest_message_starts_in_view(chat), f"after {choice!r}"
    done = ".msg.bot .choices button[data-choice='done']"
    assert _visible_in_log(chat, done)  # as the question opens, at its start
    options = chat.locator(".msg.bot .choices:not(.done-row) button").all()
    assert len(options) >= 5
    for option in options:  # each option reachable, none covered by Done or the typing area
        option.scroll_into_view_if_needed()
        choice = option.get_attribute("data-choice")
        assert _visible_in_log(chat, f".choices button[data-choice='{choice}']"), choice
        assert _visible_in_log(chat, done), f"Done out of view at {choice!r}"
    chat.locator(".choices button[data-choice='everyday']").click()  # picked: shown so
    wait_until(chat, "document.querySelector(\"button[data-choice='everyday']\")"
                     ".getAttribute('aria-pressed') === 'true'")
    picked = chat.locator("button[data-choice='everyday']")
    assert picked.evaluate("b => getComputedStyle(b).backgroundColor") != \
        chat.locator("button[aria-pressed='false']").first.evaluate(
            "b => getComputedStyle(b).backgroundColor")
    assert _visible_in_log(chat, done)
    # Back, Start over and Delete my data stay in view, under the conversation
    assert chat.evaluate("""() => {
        const tools = document.querySelector('.tools').getBoundingClientRect();
        const log = document.getElementById('log').getBoundingClientRect();
        return tools.top >= log.bottom && tools.bottom <= innerHeight + 1;
    }""")
    save_screenshot(page, f"web-pick-several-{_screen_name(width)}", publish=width != 320)
    assert _all_violations(chat) == []  # axe-core in the chat box's frame
    for choice in HIP_MOBILITY_RUN[8:]:
        visit.press(choice)
    assert "hip" in visit.last_message_text().lower()
    # The web cannot send a check-in later: the result does not offer one.
    assert not chat.locator(".choices button[data-choice='/remind']").count()
    assert "remind me" not in chat.locator("#log").inner_text().lower()
    assert any(BOOKING_HOST in href for _, href in visit.links())
    save_screenshot(page, f"web-result-{_screen_name(width)}", publish=width != 320)
    left_only_to(visit, chat_server.url, practice_site.url)
    assert visit.errors == []
    page.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_urgent_advice_is_marked_and_offers_to_call_the_emergency_number(
    browser: Any, chat_server: WebServer, width: int
) -> None:
    visit = open_chat(browser, chat_server, viewport=_viewport(width))
    page = visit.page
    for choice in RED_FLAG_RUN:
        visit.press(choice)
    urgent = page.locator(".msg.bot.urgent")
    assert urgent.count() == 1 and urgent.get_attribute("role") == "alert"
    assert urgent.locator(".urgent-label").inner_text().lower() == "urgent"
    ordinary = page.locator(".msg.bot:not(.urgent)").first
    style = "n => getComputedStyle(n).backgroundColor + getComputedStyle(n).borderLeftWidth"
    assert urgent.evaluate(style) != ordinary.evaluate(style)
    call = urgent.get_by_role("link", name="Call 911")  # the US default: phone_region
    assert call.get_attribute("href") == "tel:911"
    assert _newest_message_starts_in_view(page)
    assert _visible_in_log(page, ".msg.urgent .call-button")  # in view without scrolling
    assert not any(BOOKING_HOST in href for _, href in visit.links())
    save_screenshot(page, f"web-red-flag-{_screen_name(width)}", publish=width != 320)
    assert _all_violations(page) == []
    assert visit.errors == []
    left_only_to(visit, chat_server.url)
    page.context.close()


def test_emergency_number_and_look_come_from_the_practice_settings(
    browser: Any, tmp_path: Path, practice_site: PracticeSite
) -> None:
    logo = tmp_path / "logo.svg"
    logo.write_text("<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 10 10'>"
                    "<circle cx='5' cy='5' r='5' fill='#6a1b9a'/></svg>")
    with WebServer.started(tmp_path, BOT_PHONE_REGION="GB",
                           BOT_WEB_CHAT__BRAND_COLOR="#6A1B9A",
                           BOT_WEB_CHAT__LOGO_FILE=str(logo),
                           BOT_WEB_CHAT__LAUNCHER_LABEL="Ask about your knee",
                           BOT_WEB_CHAT__LAUNCHER_POSITION="left",
                           BOT_WEB_CHAT__ALLOWED_ORIGINS=practice_site.url,
                           BOT_WEB_CHAT__SESSION_BURST="500") as server:
        visit = open_chat(browser, server, viewport=_viewport(375))
        page = visit.page
        assert page.evaluate("getComputedStyle(document.documentElement)"
                             ".getPropertyValue('--brand').trim()") == "#6a1b9a"
        assert page.locator(".chat-logo").get_attribute("src") == "/chat/logo"
        assert page.evaluate("document.querySelector('.chat-logo').naturalWidth > 0")
        assert not page.locator("#close").is_visible()  # the full page has nothing to close
        for choice in RED_FLAG_RUN:
            visit.press(choice)
        assert page.locator(".call-button").get_attribute("href") == "tel:999"  # the UK's
        left_only_to(visit, server.url)
        page.context.close()
        # The launcher on the practice's page: its words, its corner, its colour, its font.
        site = new_page(browser, viewport=_viewport(1280))
        saved = practice_site.bot_url
        practice_site.bot_url = server.url
        try:
            site.goto(practice_site.url)
            launcher = site.locator("[data-pt-chat-launcher]")
            launcher.wait_for()
        finally:
            practice_site.bot_url = saved
        # the page's data-label wins over the setting; the corner and colour are the setting's
        assert launcher.inner_text() == "Start the knee pain check"
        box = launcher.bounding_box()
        assert box is not None and box["x"] < 100
        assert launcher.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(106, 27, 154)"
        assert "system-ui" in launcher.evaluate("b => getComputedStyle(b).fontFamily")
        site.context.close()


def test_typing_indicator_shows_while_the_bot_answers(
    browser: Any, chat_server: WebServer
) -> None:
    visit = open_chat(browser, chat_server, viewport=_viewport(375))
    page = visit.page
    turn = visit.current_turn()
    shown = page.evaluate("""() => {
        document.querySelector(".choices button[data-choice='begin']").click();
        const dots = document.querySelector('#log .typing');
        return Boolean(dots) && dots.getAttribute('aria-hidden') === 'true'
            && document.getElementById('log').getAttribute('aria-busy') === 'true';
    }""")
    assert shown
    visit.wait_for_answer(turn)
    assert not page.locator("#log .typing").count()
    assert page.locator("#log").get_attribute("aria-busy") is None
    page.context.close()

"""Browser tests' shared parts: Debian's Chromium driven by Playwright, and the real bot server.

How to use them (the fixtures are in tests/harness/browsers.py):

    def test_something(browser: Browser, web_server: WebServer) -> None:
        page = new_page(browser)                      # a fresh context: no storage, no cookies
        page.goto(web_server.url + "/chat")
        ...
        save_screenshot(page, "chat")                 # test-artifacts/chat.png

- `browser` (module scope): one headless Chromium (`/usr/bin/chromium`) per test module;
  open a context or page per test (`new_page`) and close it when done. A module that uses it
  has no async tests: while Playwright's sync API is open, pytest-asyncio cannot run its loop.
- `web_server` (module scope): `python -m bot run` in a subprocess on 127.0.0.1 and a free
  port, on SQLite in a temporary data folder, with no platform tokens (so only the web server
  and the web chat run). It has `.url` (e.g. `http://127.0.0.1:41234`), `.data_dir`, `.env`
  (the full environment the server runs with: run `python -m bot ...` with it to act on the
  same data, e.g. `web_server.cli("staff", "add", "a@b.c")`) and `.log` (what it printed).
- A server with other settings: `with WebServer.started(tmp_path, BOT_X="y") as server:`.

Playwright's own browser downloads are never used (`playwright install` is not run): the
browser is Debian's package, which `.ci/run` installs when it is missing.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.settings import ROOT
from tests.harness.ports import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)
ARTIFACTS = ROOT / "test-artifacts"  # gitignored: screenshots a CI run keeps
# The committed screenshots the README shows (docs/screenshots/) are written only when this
# variable names a folder: `make screenshots` does, a test run does not (it changes no
# tracked file; the dashboard's dates differ every day).
PUBLISH_TO = "SCREENSHOTS_PUBLISH_DIR"
START_TIMEOUT = 30.0  # seconds for the server to answer /readyz
STOP_TIMEOUT = 10.0
# What the shared `web_server` runs with beyond the defaults (BOT_* variables): a test clicks
# through a screening faster than any person, so one browser's burst is raised.
BROWSER_TEST_SETTINGS: dict[str, str] = {"BOT_WEB_CHAT__SESSION_BURST": "500"}


def launch_browser(playwright: Any) -> Any:
    """Headless Debian Chromium, with nothing that phones home."""
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"the browser tests need Debian's Chromium at {CHROMIUM}: "
                           "apt-get install chromium (.ci/run installs it when missing)")
    return playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_ARGS)
    )


def wait_until(target: Any, predicate: str, arg: Any = None, timeout: float = 10_000) -> None:
    """Wait until `predicate` (a JavaScript expression, or a function of `arg`) is true in a
    page or frame, asking from the test every 50 ms up to `timeout` ms. Playwright's own
    `wait_for_function` re-runs it inside the page through eval, which the bot's
    Content-Security-Policy (no 'unsafe-eval') refuses as soon as the first try is false."""
    waited = 0
    while not target.evaluate(predicate, arg):
        if waited >= timeout:
            raise AssertionError(f"not true within {timeout / 1000:g} s: {predicate}")
        target.wait_for_timeout(50)
        waited += 50


def new_page(browser: Any, **context_options: Any) -> Any:
    """A page in a fresh browser context (its own storage); close it with `page.context.close()`.

    Context options are Playwright's (`viewport={"width": 320, "height": 640}`,
    `device_scale_factor=2`, ...)."""
    options: dict[str, Any] = {"viewport": {"width": 1024, "height": 768}} | context_options
    return browser.new_context(**options).new_page()


def save_screenshot(page: Any, name: str, publish: bool = False, **options: Any) -> Path:
    """A PNG in test-artifacts/; when `publish` and $SCREENSHOTS_PUBLISH_DIR names a folder
    (`make screenshots`), there too, for the README."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), **options)
    published = os.environ.get(PUBLISH_TO)
    if publish and published:
        folder = Path(published)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.png").write_bytes(path.read_bytes())
    return path


def server_env(data_dir: Path, port: int, **settings: str) -> dict[str, str]:
    """The environment of a test server: no BOT_* variable of the developer's, no settings
    file, SQLite in `data_dir`, and the `settings` given (`BOT_WEB_CHAT__ENABLED="false"`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
    return env | {
        "BOT_SETTINGS_FILE": os.devnull,
        "BOT_DATA_DIR": str(data_dir),
        "BOT_WEB_HOST": "127.0.0.1",
        "BOT_WEB_PORT": str(port),
    } | settings


@dataclass
class WebServer:
    """The bot's server (`python -m bot run`) running in a subprocess on 127.0.0.1."""

    url: str
    data_dir: Path
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def log(self) -> str:
        """What the server printed so far (stdout and stderr)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def cli(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        """`python -m bot <args>` on the server's settings and data (e.g. `staff add`)."""
        return subprocess.run(
            [sys.executable, "-m", "bot", *args], cwd=ROOT, env=self.env, input=stdin,
            capture_output=True, text=True, timeout=60, check=False,
        )

    @classmethod
    @contextlib.contextmanager
    def started(cls, folder: Path, command: str = "run", **settings: str) -> Iterator[WebServer]:
        """Start `python -m bot <command>` with `settings` (BOT_* variables), wait until it is
        ready, and stop it (SIGTERM) afterwards."""
        data_dir = folder / "data"
        port = free_port()
        env = server_env(data_dir, port, **settings)
        server = cls(f"http://127.0.0.1:{port}", data_dir, env, folder / "server.log")
        with server.log_path.open("wb") as log:
            server.process = subprocess.Popen(
                [sys.executable, "-m", "bot", command], cwd=ROOT, env=env,
                stdout=log, stderr=subprocess.STDOUT,
            )
            try:
                server._wait_ready()
                yield server
            finally:
                server._stop()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"the bot server exited {self.process.returncode}:\n{self.log}")
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the bot server was not ready in {START_TIMEOUT} s:\n{self.log}")

    def _stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

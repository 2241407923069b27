"""Lead alerts where staff already are: by email through a real local SMTP server (aiosmtpd,
STARTTLS or TLS, signed in) and by a signed webhook to a local HTTP receiver that fails and then
recovers; each alert delivered once through the outbox, retried while the receiver is down,
with health details only when the practice turns them on."""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import ssl
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from bot.app import build_engine
from bot.core.effects import EMAIL_PLACE, WEBHOOK_PLACE
from bot.handoff.alerts import DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER
from bot.handoff.hooks import WebhookAlerts
from bot.handoff.mail import EmailAlerts
from bot.run import alert_notifiers, wiring_of
from bot.settings import Alerts, SecretStr, Settings, SettingsError, load_settings, sections
from bot.tools.client import DialogClient
from bot.turns.runner import TurnRunner
from bot.turns.wiring import Wiring
from tests.conftest import answer_safety_questions_no, finish_with_hip_mobility
from tests.harness.ports import free_port

DESK = "front-desk@practice.example"
SENDER = "bot@practice.example"
PUBLIC = "https://bot.practice.example"
SECRET = "a-shared-secret-for-the-crm"
HEALTH = ("Hip mobility", "Likely contributors")  # what the screening found
START = 1_900_000_000.0
# The implicit-TLS server requires sign-in on a connection that is TLS from the start, which
# aiosmtpd cannot tell apart from a plain one and warns about.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


# -- a real SMTP server on 127.0.0.1 ----------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (the alert settings trust it as their CA)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True)
    return cert, key


class Mailbox:
    """What the SMTP server accepted: each message with its envelope."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 OK"


def sign_in(server: Any, session: Any, envelope: Any, mechanism: str,
            auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"bot" \
        and auth_data.password == b"app-password"
    return AuthResult(success=ok)


@dataclass
class SmtpServer:
    port: int
    security: str
    certificate: tuple[Path, Path]
    mailbox: Mailbox = field(default_factory=Mailbox)
    controller: Controller | None = None

    def start(self) -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*map(str, self.certificate))
        # Implicit TLS: the whole connection is encrypted (aiosmtpd's "require TLS for AUTH"
        # looks for STARTTLS only, so it is left off there).
        tls = {"ssl_context": context, "auth_require_tls": False} if self.security == "tls" \
            else {"tls_context": context, "require_starttls": True, "auth_require_tls": True}
        self.controller = Controller(
            self.mailbox, hostname="127.0.0.1", port=self.port, authenticator=sign_in,
            auth_required=True, **tls)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture(params=["starttls", "tls"])
def smtp(request: pytest.FixtureRequest, certificate: tuple[Path, Path]) -> Iterator[SmtpServer]:
    server = SmtpServer(free_port(), request.param, certificate)
    server.start()
    yield server
    server.stop()


def email_settings(settings: Settings, smtp: SmtpServer, health: bool = False) -> Settings:
    config = sections.EmailAlerts(host="127.0.0.1", port=smtp.port, security=smtp.security,
                           username="bot", password=SecretStr("app-password"), sender=SENDER,
                           to=(DESK,), ca_file=smtp.certificate[0])
    return replace(settings, public_url=PUBLIC,
                   alerts=Alerts(email=config, health_details=health))


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


def alerting(engine: TurnRunner, settings: Settings, clock: Clock) -> TurnRunner:
    """A process wired as `python -m bot run` wires one with these alert settings."""
    runner = build_engine(settings, engine.store, clock, wiring_of(settings))
    for name, notifier in alert_notifiers(settings, clock).items():
        runner.outboxes["staff:" + name] = notifier
    return runner


async def leave_details(person: DialogClient) -> None:
    """Screen (hip mobility), then ask to be contacted, with consent."""
    await answer_safety_questions_no(person)
    await finish_with_hip_mobility(person)
    await person.click("/contact")
    await person.click("consent")
    await person.send("Sam Rivera")
    await person.send("sam@example.com")
    assert person.last.state == "contact_saved"


def body_of(message: email.message.EmailMessage) -> str:
    return message.get_content()  # type: ignore[attr-defined, no-any-return]


# -- email ------------------------------------------------------------------------------------


async def test_a_new_lead_reaches_the_front_desk_by_email_once_without_health_details(
    engine: TurnRunner, smtp: SmtpServer
) -> None:
    settings = email_settings(engine.settings, smtp)
    runner = alerting(engine, settings, Clock())
    assert runner.wiring.alert_places == {EMAIL_PLACE}
    person = DialogClient(runner, "alex", channel="web")

    await leave_details(person)
    await runner.deliveries.send_due()

    ((sender, recipients, message),) = smtp.mailbox.received
    assert (sender, recipients) == (SENDER, [DESK])
    assert message["Subject"] == "Get Your Fix Physical Therapy: New contact request via web"
    assert message["Reply-To"] == "sam@example.com", "a reply goes to the person"
    body = body_of(message)
    assert "Name: Sam Rivera" in body and "Email: sam@example.com" in body
    assert f"{PUBLIC}/admin/leads/web/alex" in body, "the lead page, one click away"
    assert not any(words in body for words in HEALTH), "no health details unless turned on"
    assert "not in this email" in body


async def test_a_practice_that_turns_health_details_on_gets_the_screening_in_the_email(
    engine: TurnRunner, smtp: SmtpServer
) -> None:
    runner = alerting(engine, email_settings(engine.settings, smtp, health=True), Clock())
    await leave_details(DialogClient(runner, "alex"))

    ((_, _, message),) = smtp.mailbox.received
    assert "Likely contributors: Hip mobility." in body_of(message)


async def test_an_email_alert_waits_while_the_mail_server_is_down_then_arrives_once(
    engine: TurnRunner, certificate: tuple[Path, Path]
) -> None:
    smtp = SmtpServer(free_port(), "starttls", certificate)  # not started: nothing listens
    clock = Clock()
    runner = alerting(engine, email_settings(engine.settings, smtp), clock)

    await leave_details(DialogClient(runner, "alex"))
    for _ in range(3):  # refused each time; each retry further off
        clock.now += 600
        assert await runner.deliveries.send_due() == 0
    smtp.start()
    try:
        clock.now += 600
        assert await runner.deliveries.send_due() == 1
        clock.now += 3600
        assert await runner.deliveries.send_due() == 0, "sent once, never again"
    finally:
        smtp.stop()
    assert len(smtp.mailbox.received) == 1


async def test_a_wrong_mail_password_is_retried_not_dropped_so_fixing_it_still_delivers(
    engine: TurnRunner, smtp: SmtpServer
) -> None:
    settings = email_settings(engine.settings, smtp)
    wrong = replace(settings.alerts.email, password=SecretStr("typo"))
    clock = Clock()
    runner = alerting(engine, replace(settings, alerts=replace(settings.alerts, email=wrong)),
                      clock)
    await leave_details(DialogClient(runner, "alex"))
    assert smtp.mailbox.received == []

    runner.outboxes["staff:email"] = EmailAlerts(settings)  # the password fixed, restarted
    clock.now += 600
    assert await runner.deliveries.send_due() == 1
    assert len(smtp.mailbox.received) == 1


async def test_booked_and_cancelled_calls_reach_the_front_desk_by_email(
    engine: TurnRunner, smtp: SmtpServer
) -> None:
    runner = alerting(engine, email_settings(engine.settings, smtp), Clock())
    await DialogClient(runner, "alex", channel="telegram").send("/start")
    conversation = await runner.store.load("telegram", "alex")
    assert conversation is not None

    await runner.booked(conversation.booking_ref, "booked", "calendly", "event-1")
    await runner.booked(conversation.booking_ref, "booking_cancelled", "calendly", "event-2")
    await runner.deliveries.send_due()

    # (a long subject is folded onto a line of its own: the space that starts it is folding)
    subjects = [message["Subject"].strip() for _, _, message in smtp.mailbox.received]
    assert subjects == [
        "Get Your Fix Physical Therapy: Someone booked a call via telegram (calendly)",
        "Get Your Fix Physical Therapy: Someone cancelled their call via telegram (calendly)",
    ]


# -- a signed webhook to a receiver that fails, then recovers ---------------------------------


@dataclass
class Receiver:
    """A CRM's webhook endpoint: answers each post with the next scripted status."""

    url: str = ""
    statuses: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    posts: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.posts.append((dict(request.headers), await request.read()))
        status, headers = self.statuses.pop(0) if self.statuses else (200, {})
        return web.Response(status=status, headers=headers)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    app = web.Application()
    app.router.add_post("/hooks/leads", found.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    found.url = f"http://127.0.0.1:{port}/hooks/leads"
    yield found
    await runner.cleanup()


def webhook_settings(settings: Settings, receiver: Receiver, health: bool = False) -> Settings:
    hook = sections.WebhookAlerts(url=receiver.url, secret=SecretStr(SECRET))
    return replace(settings, public_url=PUBLIC, alerts=Alerts(webhook=hook,
                                                              health_details=health))


def verified(headers: dict[str, str], body: bytes) -> bool:
    """What the receiver does: recompute the signature over `<timestamp>.<body>`."""
    stamp = headers[TIMESTAMP_HEADER]
    digest = hmac.new(SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(headers[SIGNATURE_HEADER], "sha256=" + digest.hexdigest())


async def closed(runner: TurnRunner) -> None:
    for name in (WEBHOOK_PLACE,):
        notifier = runner.outboxes.get("staff:" + name)
        if isinstance(notifier, WebhookAlerts):
            await notifier.close()


async def test_a_lead_is_posted_signed_retried_while_the_crm_is_down_and_delivered_once(
    engine: TurnRunner, receiver: Receiver
) -> None:
    receiver.statuses = [(503, {"Retry-After": "7"}), (500, {})]  # down, then recovers
    clock = Clock()
    runner = alerting(engine, webhook_settings(engine.settings, receiver), clock)
    try:
        await leave_details(DialogClient(runner, "alex", channel="web"))
        assert len(receiver.posts) == 1, "tried at once: 503, come back in 7 s"
        failed_at = clock.now

        clock.now = failed_at + 6.9  # below what the receiver asked: not yet
        assert await runner.deliveries.send_due() == 0 and len(receiver.posts) == 1
        clock.now = failed_at + 7.0  # at it: tried again (500)
        assert await runner.deliveries.send_due() == 0 and len(receiver.posts) == 2
        clock.now += 1.3  # above the second backoff (1 s, with jitter at most 1.2 s)
        assert await runner.deliveries.send_due() == 1 and len(receiver.posts) == 3
        clock.now += 3600
        assert await runner.deliveries.send_due() == 0 and len(receiver.posts) == 3
    finally:
        await closed(runner)

    assert all(verified(headers, body) for headers, body in receiver.posts)
    stamps = [int(headers[TIMESTAMP_HEADER]) for headers, _ in receiver.posts]
    assert stamps == [int(failed_at), int(failed_at + 7.0), int(failed_at + 8.3)], \
        "signed when sent, so a receiver can refuse old ones"
    assert len({headers[DELIVERY_HEADER] for headers, _ in receiver.posts}) == 1, \
        "one alert: the same delivery id on every attempt"
    headers, body = receiver.posts[-1]
    assert headers["X-Bot-Event"] == "lead" and headers["Content-Type"] == "application/json"
    alert = json.loads(body)
    assert alert["kind"] == "lead" and alert["health_details"] is False
    assert alert["person"] == {"channel": "web", "user_id": "alex", "name": "Sam Rivera",
                               "email": "sam@example.com"}
    assert alert["lead_url"] == f"{PUBLIC}/admin/leads/web/alex"
    assert not any(words in body.decode() for words in HEALTH)


async def test_a_tampered_or_resigned_body_does_not_verify(engine: TurnRunner,
                                                           receiver: Receiver) -> None:
    runner = alerting(engine, webhook_settings(engine.settings, receiver), Clock())
    try:
        await leave_details(DialogClient(runner, "alex"))
    finally:
        await closed(runner)
    ((headers, body),) = receiver.posts
    assert verified(headers, body)
    assert not verified(headers, body.replace(b"Sam Rivera", b"Eve"))
    assert not verified({**headers, TIMESTAMP_HEADER: str(int(START) + 1)}, body)


async def test_a_webhook_the_receiver_refuses_for_good_is_dropped_after_one_try(
    engine: TurnRunner, receiver: Receiver
) -> None:
    receiver.statuses = [(410, {})]  # the Zap was deleted
    clock = Clock()
    runner = alerting(engine, webhook_settings(engine.settings, receiver), clock)
    try:
        await leave_details(DialogClient(runner, "alex"))
        clock.now += 3600
        assert await runner.deliveries.send_due() == 0
    finally:
        await closed(runner)
    assert len(receiver.posts) == 1


async def test_a_practice_that_turns_health_details_on_gets_them_in_the_webhook(
    engine: TurnRunner, receiver: Receiver
) -> None:
    runner = alerting(engine, webhook_settings(engine.settings, receiver, health=True), Clock())
    try:
        await leave_details(DialogClient(runner, "alex"))
    finally:
        await closed(runner)
    ((_, body),) = receiver.posts
    alert = json.loads(body)
    assert alert["health_details"] is True and "Likely contributors: Hip mobility." in alert["text"]


async def test_relayed_chat_and_forgets_stay_in_the_staff_rooms(
    engine: TurnRunner, receiver: Receiver
) -> None:
    settings = webhook_settings(engine.settings, receiver)
    runner = build_engine(settings, engine.store, Clock(),
                          Wiring(staff_places=frozenset({"test"}),
                                 alert_places=frozenset({WEBHOOK_PLACE})))
    runner.outboxes["staff:webhook"] = WebhookAlerts(settings)
    kept: list[str] = []

    class Room:
        async def notify(self, notice: Any) -> None:
            kept.append(notice.kind)

    runner.outboxes["staff:test"] = Room()
    person = DialogClient(runner, "alex")
    try:
        await person.send("/start")
        await person.send("/talk")
        await person.send("is anyone there?")
    finally:
        await closed(runner)
    assert kept == ["talk_request", "relay_message"]
    assert [json.loads(body)["kind"] for _, body in receiver.posts] == ["talk_request"]


# -- settings ---------------------------------------------------------------------------------


def test_alert_settings_that_cannot_work_are_refused_in_one_line_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BOT_ALERTS__EMAIL__HOST", "smtp.practice.example")
    monkeypatch.setenv("BOT_ALERTS__WEBHOOK__URL", "https://hooks.zapier.example/catch/1")
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert refused.value.lines == [
        "alerts.email.sender (BOT_ALERTS__EMAIL__SENDER): must be set when alerts.email.host is",
        "alerts.email.to (BOT_ALERTS__EMAIL__TO): must be set when alerts.email.host is",
        "alerts.webhook.secret (BOT_ALERTS__WEBHOOK__SECRET): must be set when "
        "alerts.webhook.url is: every post is signed",
    ]
    monkeypatch.setenv("BOT_ALERTS__EMAIL__SENDER", SENDER)
    monkeypatch.setenv("BOT_ALERTS__EMAIL__TO", f"{DESK}, owner@practice.example")
    monkeypatch.setenv("BOT_ALERTS__WEBHOOK__SECRET", SECRET)
    settings = load_settings()
    assert settings.alerts.email.to == (DESK, "owner@practice.example")
    assert wiring_of(settings).alert_places == {EMAIL_PLACE, WEBHOOK_PLACE}
    for name in ("EMAIL__HOST", "WEBHOOK__URL"):
        monkeypatch.delenv(f"BOT_ALERTS__{name}")
    assert wiring_of(load_settings()).alert_places == frozenset()


@pytest.mark.parametrize(("security", "ok"), [("starttls", True), ("tls", True),
                                              ("none", False)])
def test_alert_email_is_never_sent_unencrypted(security: str, ok: bool) -> None:
    given = {"email": {"host": "smtp.practice.example", "sender": SENDER, "to": [DESK],
                       "security": security}}
    if ok:
        assert load_settings(alerts=given).alerts.email.security == security
    else:
        with pytest.raises(SettingsError, match="security"):
            load_settings(alerts=given)


async def test_without_a_staff_room_a_talk_request_is_heard_by_email_and_the_person_told_how(
    engine: TurnRunner, smtp: SmtpServer
) -> None:
    runner = alerting(engine, email_settings(engine.settings, smtp), Clock())
    person = DialogClient(runner, "alex", channel="web")
    await person.send("/start")

    await person.send("talk to a person")

    assert "/contact" in person.text and "can't reply in this chat" in person.text
    assert person.last.state == "welcome", "no chat with staff is opened: nobody would answer"
    ((_, _, message),) = smtp.mailbox.received
    assert message["Subject"].strip() == (
        "Get Your Fix Physical Therapy: Someone would like to talk to a person via web")
    assert "through the contact details they left" in body_of(message)
    assert [kind for kind, *_ in await runner.store.events("web", "alex")] == ["talk_request"]

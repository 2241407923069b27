"""Booked calls, attributed: the booking link's opaque reference, the prefill setting, and the
booking providers' signed webhooks over real HTTP (Calendly and Cal.com), on both stores."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from bot.core import records
from bot.handoff.booking_webhooks import CALCOM_HEADER, CALENDLY_HEADER
from bot.handoff.reports import funnel_table
from bot.server import create_app, serve
from bot.settings import SecretStr
from bot.tools.client import DialogClient
from bot.turns.runner import TurnRunner
from tests.conftest import wired

SECRET = "whsec-test-secret"
NOW = 1_800_000_000.0
EMAIL, NAME = "alex.person@example.org", "Alex Persona"
HEALTH_WORDS = ("knee", "hip", "pain", "contributor", "ankle", "foot", "red")


@pytest.fixture
async def booking(engine: TurnRunner) -> AsyncIterator[tuple[TurnRunner, str, list[float]]]:
    """The engine behind the bot's web server, with a webhook secret and a clock to move."""
    clock = [NOW]
    engine.clock = lambda: clock[0]
    engine.settings = replace(engine.settings, booking_webhook_secret=SecretStr(SECRET))
    # Some process delivers to Telegram people; staff places on Telegram and Discord.
    engine = wired(engine, delivered=("telegram",), staff_places=("telegram", "discord"))
    runner = await serve(create_app(engine), "127.0.0.1", 0)
    yield engine, f"http://127.0.0.1:{runner.addresses[0][1]}", clock
    await runner.cleanup()


async def screened(engine: TurnRunner, user: str = "alex", channel: str = "telegram") -> str:
    """A person who started the knee check (on Telegram); their screening's reference."""
    await DialogClient(engine, user, channel=channel).send("/start")
    conversation = await engine.store.load(channel, user)
    assert conversation is not None and conversation.booking_ref
    return conversation.booking_ref


def calendly_body(event: str, ref: str, invitee: str = "inv-1", **extra: object) -> bytes:
    payload = {"uri": f"https://api.calendly.com/scheduled_events/ev/invitees/{invitee}",
               "email": EMAIL, "name": NAME, "tracking": {"utm_content": ref}, **extra}
    return json.dumps({"event": event, "created_at": "2027-01-15T10:00:00Z",
                       "payload": payload}).encode()


def calendly_signature(body: bytes, at: float, secret: str = SECRET) -> str:
    stamp = str(int(at))
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def calcom_body(trigger: str, ref: str, uid: str = "bk-1") -> bytes:
    payload = {"uid": uid, "metadata": {"ref": ref},
               "attendees": [{"email": EMAIL, "name": NAME}]}
    return json.dumps({"triggerEvent": trigger, "payload": payload}).encode()


def calcom_signature(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def post(base: str, path: str, body: bytes, headers: dict[str, str]) -> int:
    async with aiohttp.ClientSession() as http, http.post(
        base + path, data=body, headers={"Content-Type": "application/json", **headers}
    ) as answer:
        return answer.status


async def calendly(base: str, body: bytes, at: float) -> int:
    return await post(base, "/webhooks/calendly", body,
                      {CALENDLY_HEADER: calendly_signature(body, at)})


async def booking_events(engine: TurnRunner, user: str = "alex") -> list[tuple[str, str, str]]:
    return [(kind, flow, detail) for kind, flow, detail, _ in
            await engine.store.events("telegram", user) if kind.startswith("book")]


# -- the link -----------------------------------------------------------------------------------


async def test_the_booking_link_carries_an_opaque_reference_and_no_health_details(engine):
    person = DialogClient(engine, "alex", channel="telegram")
    await person.send("/start")
    reply = await person.send("book")
    (link,) = reply.messages[0].links
    query = parse_qs(urlsplit(link.url).query)
    ref = (await engine.store.load("telegram", "alex")).booking_ref
    assert query["utm_content"] == [ref] and len(ref) == 16
    assert not any(word in ref.lower() for word in HEALTH_WORDS[1:]), "random, not a word"
    assert query["a1"] == ["Booked from the knee pain check on Telegram"]
    assert (query["utm_source"], query["utm_medium"], query["utm_campaign"]) == (
        ["telegram"], ["chatbot"], ["knee"])
    assert await engine.store.booking_ref(ref) == ("telegram", "alex", "knee")


async def test_prefill_none_sends_nothing_and_cal_com_gets_the_reference_as_metadata(engine):
    practice = replace(
        engine.settings.practice, booking_prefill="none", booking_provider="cal.com",
        booking_url="https://cal.com/your-practice/call")
    engine.compose.settings = replace(engine.settings, practice=practice)
    person = DialogClient(engine, "alex", channel="telegram")
    await person.send("/start")
    (link,) = (await person.send("book")).messages[0].links
    query = parse_qs(urlsplit(link.url).query)
    assert "notes" not in query and "a1" not in query
    assert query["metadata[ref]"] == [(await engine.store.load("telegram", "alex")).booking_ref]


async def test_a_forget_deletes_the_reference(engine):
    ref = await screened(engine)
    person = DialogClient(engine, "alex", channel="telegram")
    await person.send("/forget")
    await person.click("forget_yes")
    assert await engine.store.load("telegram", "alex") is None
    assert await engine.store.booking_ref(ref) is None


# -- the webhooks -------------------------------------------------------------------------------


async def test_calendly_booked_cancelled_and_rescheduled_are_recorded_and_attributed(booking):
    engine, base, _ = booking
    ref = await screened(engine)
    assert await calendly(base, calendly_body("invitee.created", ref), NOW) == 200
    assert await calendly(base, calendly_body("invitee.canceled", ref), NOW) == 200
    moved_away = calendly_body("invitee.canceled", ref, "inv-2", rescheduled=True)
    assert await calendly(base, moved_away, NOW) == 200  # the old half: not counted
    moved = calendly_body("invitee.created", ref, "inv-3", old_invitee="https://x/inv-2")
    assert await calendly(base, moved, NOW) == 200
    assert await booking_events(engine) == [
        (records.BOOKED, "knee", "calendly"), (records.BOOKING_CANCELLED, "knee", "calendly"),
        (records.BOOKING_RESCHEDULED, "knee", "calendly")]
    stats = {(r.channel, r.flow, r.kind, r.detail): r.count for r in await engine.store.stats()}
    assert stats[("telegram", "knee", "booked", "calendly")] == 1
    table = funnel_table(await engine.store.stats(), by_day=True)
    head, row = table.splitlines()
    columns = dict(zip(head.split(), row.split(), strict=True))
    assert [columns[c] for c in ("booked", "booking_cancelled", "booking_rescheduled")] == [
        "1", "1", "1"] and columns["channel"] == "telegram"


async def test_cal_com_events_are_recorded_and_attributed(booking):
    engine, base, _ = booking
    ref = await screened(engine)
    for trigger, uid in (("BOOKING_CREATED", "a"), ("BOOKING_RESCHEDULED", "b"),
                         ("BOOKING_CANCELLED", "b")):
        body = calcom_body(trigger, ref, uid)
        assert await post(base, "/webhooks/cal.com", body,
                          {CALCOM_HEADER: calcom_signature(body)}) == 200
    assert await booking_events(engine) == [
        (records.BOOKED, "knee", "cal.com"), (records.BOOKING_RESCHEDULED, "knee", "cal.com"),
        (records.BOOKING_CANCELLED, "knee", "cal.com")]


async def test_unsigned_wrongly_signed_and_unknown_webhooks_are_refused_and_replays_change_nothing(
    booking, caplog
):
    engine, base, _ = booking
    ref = await screened(engine)
    body = calendly_body("invitee.created", ref)
    caplog.set_level(logging.DEBUG)
    assert await post(base, "/webhooks/calendly", body, {}) == 401
    wrong = calendly_signature(body, NOW, secret="not-the-secret")
    assert await post(base, "/webhooks/calendly", body, {CALENDLY_HEADER: wrong}) == 401
    tampered = body.replace(b"inv-1", b"inv-9")
    signed = {CALENDLY_HEADER: calendly_signature(body, NOW)}
    assert await post(base, "/webhooks/calendly", tampered, signed) == 401
    assert await post(base, "/webhooks/cal.com", calcom_body("BOOKING_CREATED", ref), {}) == 401
    bad = calcom_body("BOOKING_CREATED", ref)
    assert await post(base, "/webhooks/cal.com", bad,
                      {CALCOM_HEADER: calcom_signature(bad, "nope")}) == 401
    unknown = calendly_body("invitee.created", "no-such-reference", "inv-5")
    assert await calendly(base, unknown, NOW) == 400
    assert await booking_events(engine) == []
    direct = json.loads(calendly_body("invitee.created", "", "inv-6"))
    del direct["payload"]["tracking"]  # booked on the practice's page, not from a screening
    direct_body = json.dumps(direct).encode()
    assert await calendly(base, direct_body, NOW) == 200  # ignored: never retried for nothing
    assert await booking_events(engine) == []
    assert await calendly(base, body, NOW) == 200
    # The same event again (the provider's retry after an answer it never got): answered 200 so
    # the retries stop, and applied once only.
    assert await calendly(base, body, NOW + 1) == 200
    assert await booking_events(engine) == [(records.BOOKED, "knee", "calendly")]
    logged = caplog.text
    assert "refused" in logged
    assert EMAIL not in logged and NAME not in logged and ref not in logged


@pytest.mark.parametrize(("age", "status"), [(179, 200), (180, 200), (181, 401), (-181, 401)])
async def test_a_calendly_signature_is_good_for_three_minutes(booking, age, status):
    engine, base, clock = booking
    ref = await screened(engine)
    body = calendly_body("invitee.created", ref)
    clock[0] = NOW + age
    assert await calendly(base, body, NOW) == status
    assert len(await booking_events(engine)) == (1 if status == 200 else 0)


async def test_without_a_secret_every_webhook_is_refused(booking):
    engine, base, _ = booking
    ref = await screened(engine)
    engine.settings = replace(engine.settings, booking_webhook_secret=None)
    assert await calendly(base, calendly_body("invitee.created", ref), NOW) == 401


async def test_the_person_gets_a_confirmation_and_each_staff_place_a_notice(booking):
    engine, base, _ = booking
    ref = await screened(engine)
    assert await calendly(base, calendly_body("invitee.created", ref), NOW) == 200
    waiting = await engine.store.due(["telegram", "staff:telegram", "staff:discord"], NOW + 60)
    by_channel = {o.address.channel: o for o in waiting}
    assert set(by_channel) == {"telegram", "staff:telegram", "staff:discord"}
    confirmation = by_channel["telegram"].message.text
    assert "is booked" in confirmation and engine.settings.practice.name in confirmation
    notice = by_channel["staff:discord"].notice
    assert notice is not None and notice.kind == "booked"
    assert (notice.channel, notice.user_id) == ("telegram", "alex")
    assert "booked a call" in notice.text and "calendly" in notice.text


async def test_a_person_on_a_channel_nobody_delivers_to_gets_no_queued_message(booking):
    engine, base, _ = booking
    ref = await screened(engine, channel="console")
    assert await calendly(base, calendly_body("invitee.canceled", ref), NOW) == 200
    assert await engine.store.undelivered("console", "alex") == 0
    assert await engine.store.due(["staff:telegram"], NOW + 60) != []  # staff are still told
    events = await engine.store.events("console", "alex")
    assert [e[:3] for e in events if e[0] != "started"] == [
        (records.BOOKING_CANCELLED, "knee", "calendly")]

"""The honest funnel, as a story with exact numbers: a screening starts at its first answer,
the contact form is not a screening, leads and bookings count for the screening they came
from, and each step shows its conversion from the one before; the dashboard, `stats` and the
leads CSV agree."""

from __future__ import annotations

import csv
import io
import re

from bot.handoff.reports import conversion, funnel_table
from bot.tools.client import DialogClient
from bot.turns.runner import TurnRunner
from tests.conftest import answer_safety_questions_no, finish_with_hip_mobility
from tests.harness.passwords import Passwords
from tests.test_admin import add_staff, dashboard_on, sign_in


async def screen(engine: TurnRunner, user: str, channel: str) -> DialogClient:
    person = DialogClient(engine, user, channel=channel)
    await answer_safety_questions_no(person)
    await finish_with_hip_mobility(person)
    return person


def printed(table: str) -> dict[tuple[str, str], dict[str, str]]:
    """`stats`' table as {(channel, flow): {column: cell}}."""
    head, *lines = [line.split() for line in table.splitlines()]
    return {tuple(line[:2]): dict(zip(head[2:], line[2:], strict=True)) for line in lines}


def cells(html: str, table_id: str, row_head: str) -> dict[str, str]:
    """The dashboard's counts and rates in one row of one of its tables."""
    table = html[html.index(f'id="{table_id}"'):]
    row = re.search(rf"{row_head}(.*?)</tr>", table, re.S)
    assert row is not None, row_head
    found = dict(re.findall(r'data-column="(\w+)">(\d+)', row[1]))
    found |= {f"{k}_%": v for k, v in re.findall(r'data-rate="(\w+)">([^<]+)<', row[1])}
    return found


async def test_two_screen_one_also_leaves_details_one_books_and_every_number_agrees(
    engine: TurnRunner, passwords: Passwords
) -> None:
    await add_staff(engine, passwords)
    sam = await screen(engine, "sam", "web")  # screens, then uses the contact form
    await sam.click("/contact")
    await sam.click("consent")
    await sam.send("Sam Rivera")
    await sam.send("sam@example.com")
    await screen(engine, "kim", "telegram")  # screens, then books a call
    kim_saved = await engine.store.load("telegram", "kim")
    assert kim_saved is not None
    await engine.booked(kim_saved.booking_ref, "booked", "calendly", "event-1")
    await DialogClient(engine, "lee", channel="web").send("/start")  # opens the chat, no answer

    stats = printed(funnel_table(await engine.store.stats()))
    assert set(stats) == {("web", "knee"), ("telegram", "knee")}, "no 'contact' screening"
    web, telegram = stats[("web", "knee")], stats[("telegram", "knee")]
    assert (web["started"], web["finished"], web["leads"], web["booked"]) == ("1", "1", "1", "0")
    assert (telegram["started"], telegram["finished"], telegram["leads"],
            telegram["booked"]) == ("1", "1", "0", "1")
    assert (web["finished_%"], web["leads_%"], web["booked_%"]) == ("100%", "100%", "-")
    assert telegram["leads_%"] == "0%", "finished, left no details"
    assert conversion({"finished": 2, "leads": 1}, "leads") == "50%"

    async with dashboard_on(engine, passwords) as (client, _, _):
        await sign_in(client)
        page = await (await client.get("/admin/funnel")).text()
        leads_csv = await (await client.get("/admin/leads.csv")).text()

    for channel, counts in stats.items():
        shown = cells(page, "by-channel", rf'<td class="text">{channel[0]}</td><td class="text">'
                      rf'{channel[1]}</td>')
        for column in ("started", "finished", "leads", "booked", "finished_%", "leads_%"):
            assert shown[column] == counts[column], (channel, column)
    totals = cells(page, "by-week", r"<tfoot>")
    assert (totals["started"], totals["finished"], totals["leads"], totals["booked"]) == (
        "2", "2", "1", "1")
    assert (totals["finished_%"], totals["leads_%"]) == ("100%", "50%")
    (lead,) = list(csv.DictReader(io.StringIO(leads_csv)))
    assert (lead["channel"], lead["flow"], lead["name"]) == ("web", "Knee pain check", "Sam Rivera")

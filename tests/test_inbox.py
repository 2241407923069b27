"""The lead inbox: leads listed with status, searched and filtered; a lead's page shows the
screening in plain words in the practice's time zone; staff set the status and add notes,
each kept with who and when."""

from __future__ import annotations

import re
from dataclasses import replace

from bot.tools.client import DialogClient
from bot.turns.runner import TurnRunner
from tests.harness.passwords import Passwords
from tests.test_admin import EMAIL, add_staff, dashboard_on, screened_lead, sign_in

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def contact_only(engine: TurnRunner, user: str, name: str) -> None:
    person = DialogClient(engine, user, channel="web")
    await person.send("/contact")
    await person.send("yes")
    await person.send(name)
    await person.send("(415) 555-2671")


async def test_staff_find_a_lead_read_the_screening_set_status_and_add_notes(
    engine: TurnRunner, passwords: Passwords
) -> None:
    await add_staff(engine, passwords)
    await screened_lead(engine, "alex", channel="telegram")  # Sam Rivera, hip mobility
    await contact_only(engine, "kim", "Kim Lee")
    practice_time = replace(engine.settings.followups, timezone="America/New_York")
    async with dashboard_on(engine, passwords, followups=practice_time) as (client, _, _):
        await sign_in(client)
        listing = await (await client.get("/admin/leads")).text()
        found = await (await client.get("/admin/leads?q=rivera")).text()
        page = await (await client.get("/admin/leads/telegram/alex")).text()
        csrf = CSRF.findall(page)[-1]
        saved = await client.post("/admin/leads/telegram/alex", allow_redirects=False,
                                  data={"csrf": csrf, "status": "contacted"})
        await client.post("/admin/leads/telegram/alex", data={"csrf": csrf,
                                                              "note": "Left a voicemail"})
        forged = await client.post("/admin/leads/telegram/alex", data={"status": "booked"})
        after = await (await client.get("/admin/leads/telegram/alex")).text()
        contacted = await (await client.get("/admin/leads?status=contacted")).text()
        fresh = await (await client.get("/admin/leads?status=new")).text()
        missing = await client.get("/admin/leads/telegram/nobody")

    assert "Sam Rivera" in listing and "Kim Lee" in listing and "EST" in listing
    assert "Sam Rivera" in found and "Kim Lee" not in found and "1 lead of 2" in found
    assert "Hip mobility" in page and "What they answered" in page
    assert "How long have you had" in page or "pain_duration" not in page
    assert saved.status == 303 and forged.status == 403
    assert 'id="status-now">Contacted<' in after
    assert f"{EMAIL}: set the status to <strong>Contacted</strong>" in after
    assert f"{EMAIL}: <span class=\"note-text\">Left a voicemail</span>" in after
    assert "Sam Rivera" in contacted and "Kim Lee" not in contacted
    assert "Kim Lee" in fresh and "Sam Rivera" not in fresh
    assert missing.status == 404
    notes = await engine.store.lead_notes("telegram", "alex")
    assert [(kind, text, who) for kind, text, who, _ in notes] == [
        ("status", "contacted", EMAIL), ("note", "Left a voicemail", EMAIL)]
    await engine.store.delete("telegram", "alex")  # a forget takes the notes too
    assert await engine.store.lead_notes("telegram", "alex") == []

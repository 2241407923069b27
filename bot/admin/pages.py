"""The dashboard's pages: sign-in and sign-out, leads (and their CSV), the funnel, the flows'
diagrams and every message of every flow."""

from __future__ import annotations

import logging

from aiohttp import web

from bot.admin.accounts import Outcome
from bot.admin.auth import (
    CSRF_FIELD,
    LOGIN_COOKIE,
    LOGIN_FORM_LIFETIME,
    LOGIN_PATH,
    SESSION_COOKIE,
    STAFF,
    Staff,
    clear_cookie,
    new_token,
    request_address,
    same,
    set_cookie,
    signed_in,
    token_hash,
)
from bot.admin.dashboard import DASHBOARD, PREFIX
from bot.admin.diagram import layout
from bot.admin.funnel import SHOWN, chart, funnel
from bot.admin.leads import lead_rows, leads_csv
from bot.admin.preview import preview
from bot.handoff.reports import conversion

LEADS_PATH = f"{PREFIX}/leads"
REFUSED = "That email and password do not match a staff account."
LOCKED = ("Too many failed sign-ins. For your security, signing in is paused for "
          "{minutes} minutes; then try again.")
LOGIN_EXPIRED = "The sign-in form had expired. Please sign in again."
MAX_EMAIL = 320  # characters kept of what was typed, to show it back in the form

log = logging.getLogger(__name__)


def _staff(request: web.Request) -> Staff:
    staff = request[STAFF]
    assert isinstance(staff, Staff)
    return staff


async def home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther(LEADS_PATH)


async def login_form(request: web.Request) -> web.StreamResponse:
    """The sign-in form, with a fresh CSRF token in it and in a cookie beside it."""
    if await signed_in(request) is not None:
        raise web.HTTPSeeOther(LEADS_PATH)
    return _fresh_form(request)


def _fresh_form(request: web.Request, status: int = 200, error: str = "") -> web.Response:
    """The sign-in form with a new CSRF token, in the page and in a cookie beside it."""
    token = new_token()
    response = request.app[DASHBOARD].page("login.html", status=status, csrf=token,
                                           error=error, email="")
    set_cookie(response, request, LOGIN_COOKIE, token, LOGIN_FORM_LIFETIME, path=LOGIN_PATH)
    return response


async def login(request: web.Request) -> web.StreamResponse:
    """Check the form's token, then the email and password; one answer for an unknown email
    and a wrong password. Neither the password nor the email typed is ever logged."""
    dashboard = request.app[DASHBOARD]
    form = await request.post()
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not same(str(form.get(CSRF_FIELD, "")), expected):
        return _fresh_form(request, status=403, error=LOGIN_EXPIRED)  # nothing was checked
    email = str(form.get("email", ""))[:MAX_EMAIL]
    password = str(form.get("password", ""))
    now = dashboard.clock()
    address = request_address(request, dashboard)
    outcome = await dashboard.sign_in.attempt(email, password, address, now)
    if outcome is not Outcome.SIGNED_IN:
        log.warning("dashboard: a sign-in was %s", outcome.value)
        minutes = round(dashboard.settings.admin_lockout_minutes)
        error = REFUSED if outcome is Outcome.REFUSED else LOCKED.format(minutes=minutes)
        status = 401 if outcome is Outcome.REFUSED else 429
        page = dashboard.page("login.html", status=status, csrf=expected, error=error,
                              email=email)
        if outcome is Outcome.LOCKED:  # at most this long: the pause runs from the last failure
            page.headers["Retry-After"] = str(round(dashboard.settings.admin_lockout_minutes * 60))
        return page
    token, csrf = new_token(), new_token()
    lifetime = int(dashboard.settings.admin_session_hours * 3600)
    email = email.strip().lower()
    await dashboard.engine.store.start_staff_session(token_hash(token), email, csrf, now,
                                                     now + lifetime)
    log.info("dashboard: a staff member signed in")
    response = web.Response(status=303, headers={"Location": LEADS_PATH})
    set_cookie(response, request, SESSION_COOKIE, token, lifetime)
    clear_cookie(response, request, LOGIN_COOKIE, path=LOGIN_PATH)
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    """End the session here and on the server."""
    await request.app[DASHBOARD].engine.store.end_staff_session(_staff(request).token_hash)
    response = web.Response(status=303, headers={"Location": LOGIN_PATH})
    clear_cookie(response, request, SESSION_COOKIE)
    return response


async def leads_download(request: web.Request) -> web.StreamResponse:
    dashboard = request.app[DASHBOARD]
    store = dashboard.engine.store
    rows = lead_rows(await store.leads(), await store.booking_events(),
                     await store.latest_progress())
    text = leads_csv(rows, dashboard.engine.flows, await store.lead_statuses())
    return web.Response(
        text=text, content_type="text/csv", charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="leads.csv"'},
    )


async def funnel_page(request: web.Request) -> web.StreamResponse:
    dashboard = request.app[DASHBOARD]
    rows = await dashboard.engine.store.stats()
    everything = funnel(rows)
    channel = request.query.get("channel", "")
    flow = request.query.get("flow", "")
    channel = channel if channel in everything.channels else ""
    flow = flow if flow in everything.flows else ""
    chosen = funnel(rows, channel, flow)
    weeks = chosen.by_week()
    return dashboard.page(
        "funnel.html", staff=_staff(request), page="funnel", chart=chart(weeks), weeks=weeks,
        rows=chosen.rows(), totals=chosen.totals(), shown=SHOWN, rate=conversion,
        channels=everything.channels,
        flows=everything.flows, channel=channel, flow=flow,
    )


async def flows_page(request: web.Request) -> web.StreamResponse:
    dashboard = request.app[DASHBOARD]
    flows = dashboard.engine.flows
    return dashboard.page("flows.html", staff=_staff(request), page="flows",
                          flows=[flows[name] for name in sorted(flows)])


async def flow_diagram(request: web.Request) -> web.StreamResponse:
    dashboard = request.app[DASHBOARD]
    flow = dashboard.engine.flows.get(request.match_info["flow"])
    if flow is None:
        raise web.HTTPNotFound(text="No such flow.")
    return dashboard.page("diagram.html", staff=_staff(request), page="flows",
                          flow=flow, diagram=layout(flow))


async def messages(request: web.Request) -> web.StreamResponse:
    dashboard = request.app[DASHBOARD]
    engine = dashboard.engine
    flows = [engine.flows[name] for name in sorted(engine.flows)]
    return dashboard.page("messages.html", staff=_staff(request), page="messages",
                          previews=[(flow, preview(engine, flow)) for flow in flows])


def add_routes(admin: web.Application) -> None:
    admin.router.add_get("/", home)
    admin.router.add_get("/login", login_form, name="login")
    admin.router.add_post("/login", login, name="login")  # the same resource: open too
    admin.router.add_post("/logout", logout)
    admin.router.add_get("/leads.csv", leads_download)
    admin.router.add_get("/funnel", funnel_page)
    admin.router.add_get("/flows", flows_page)
    admin.router.add_get("/flows/{flow}", flow_diagram)
    admin.router.add_get("/messages", messages)

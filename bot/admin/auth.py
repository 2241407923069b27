"""Who is signed in: sessions (a random token in a cookie, its hash on the server), CSRF tokens
on every form, the security headers, and the rule that nobody without a session sees anything.

The session cookie is HttpOnly, SameSite=Strict and expires; it is Secure whenever the bot is
reached over https (`BOT_PUBLIC_URL` is https, or the request came over TLS). Over plain http
the dashboard answers only people on this machine (127.0.0.1 / ::1: a developer, or an SSH
tunnel), because a cookie sent without TLS could be read on the way.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.admin.dashboard import DASHBOARD, PREFIX, Dashboard
from bot.core.address import client_address

SESSION_COOKIE = "bot_admin_session"
LOGIN_COOKIE = "bot_admin_login"  # the sign-in form's CSRF token, before there is a session
LOGIN_PATH = f"{PREFIX}/login"
LOGIN_FORM_LIFETIME = 3600  # seconds a sign-in form stays usable
MAX_TOKEN = 100  # characters; longer cookies are not looked up
CSRF_FIELD = "csrf"
OPEN_ROUTES = ("login", "static")  # the only routes answered without a session
CSP = ("default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; "
       "object-src 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",  # leads are personal data: no copy in any cache
    "Cross-Origin-Opener-Policy": "same-origin",
}
HTTPS_NEEDED = ("The dashboard is served over https only (set BOT_PUBLIC_URL to the bot's "
                "https address), or over http to this machine itself.")
FORM_EXPIRED = "This form has expired or was not sent from the dashboard. Reload it and try again."
STAFF = web.RequestKey("staff", object)


@dataclass(frozen=True)
class Staff:
    """The signed-in staff member of a request."""

    email: str
    csrf: str
    token_hash: str


def token_hash(token: str) -> str:
    """What the server keeps of a session token: its SHA-256 (the token is random, 256 bits,
    so a fast hash is enough; the database never holds a usable cookie)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def same(given: str, expected: str) -> bool:
    """Compare two tokens in constant time; an empty one never matches."""
    return (bool(given and expected) and given.isascii()
            and hmac.compare_digest(given.encode(), expected.encode()))


def is_secure(request: web.Request, dashboard: Dashboard) -> bool:
    """The browser reaches the bot over https (directly, or through a proxy at BOT_PUBLIC_URL)."""
    return request.secure or dashboard.settings.public_url.startswith("https://")


def from_this_machine(request: web.Request) -> bool:
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False


def request_address(request: web.Request, dashboard: Dashboard) -> str:
    """Whose failed sign-ins to count (bot/core/address.py, as the web chat's limits read it)."""
    return client_address(request.headers, request.remote,
                          dashboard.settings.web_chat.trust_forwarded_for)


def set_cookie(response: web.StreamResponse, request: web.Request, name: str, value: str,
               max_age: int, path: str = PREFIX) -> None:
    """A cookie only this site's dashboard pages get, out of reach of scripts."""
    response.set_cookie(name, value, max_age=max_age, path=path, httponly=True,
                        samesite="Strict", secure=is_secure(request, request.app[DASHBOARD]))


def clear_cookie(response: web.StreamResponse, request: web.Request, name: str,
                 path: str = PREFIX) -> None:
    """Expire a cookie with the same attributes it was set with (a browser keeps a Secure one
    that a plain deletion does not match)."""
    response.del_cookie(name, path=path, httponly=True, samesite="Strict",
                        secure=is_secure(request, request.app[DASHBOARD]))


async def signed_in(request: web.Request) -> Staff | None:
    """The staff member whose session cookie this request carries, if it is still valid."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token or len(token) > MAX_TOKEN or not token.isascii():  # ours are ASCII
        return None
    dashboard = request.app[DASHBOARD]
    hashed = token_hash(token)
    found = await dashboard.engine.store.staff_session(hashed, dashboard.clock())
    return Staff(found[0], found[1], hashed) if found else None


def _route_name(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return (resource.name or "") if resource is not None else ""


@web.middleware
async def staff_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every page but sign-in and the stylesheet needs a session (GET: to the sign-in page;
    anything else: 403), and every form sent needs the session's CSRF token."""
    dashboard = request.app[DASHBOARD]
    if not is_secure(request, dashboard) and not from_this_machine(request):
        raise web.HTTPForbidden(text=HTTPS_NEEDED)
    if _route_name(request) in OPEN_ROUTES:
        return await handler(request)
    staff = await signed_in(request)
    if staff is None:
        if request.method in ("GET", "HEAD"):
            raise web.HTTPSeeOther(LOGIN_PATH)
        raise web.HTTPForbidden(text="Sign in first.")
    if request.method not in ("GET", "HEAD"):
        form = await request.post()
        if not same(str(form.get(CSRF_FIELD, "")), staff.csrf):
            raise web.HTTPForbidden(text=FORM_EXPIRED)
    request[STAFF] = staff
    return await handler(request)


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """A strict Content-Security-Policy and no caching on every dashboard response."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)

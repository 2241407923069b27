"""Alerts by an outgoing webhook: a `StaffNotifier` that posts each alert as signed JSON to
another system (a CRM, Zapier, Make, n8n), through the outbox (which retries with backoff,
honouring Retry-After, while the receiver is down)."""

from __future__ import annotations

import time
from collections.abc import Callable

import aiohttp

from bot.core.effects import TIMED_OUT, DeliveryFailed, StaffNotice, failure_kind
from bot.handoff.alerts import signed_headers, webhook_body
from bot.settings import Settings

POST_TIMEOUT = 15.0  # seconds (under the outbox's limit for one send)
RETRIED = frozenset({408, 425, 429})  # besides 5xx: the receiver may take it later


class WebhookAlerts:
    """Posts each alert to `alerts.webhook.url`, signed with `alerts.webhook.secret`."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.clock = clock
        self._session: aiohttp.ClientSession | None = None

    async def notify(self, notice: StaffNotice) -> None:
        """Post one alert, signed when it is sent. Raises DeliveryFailed: to retry on a
        connection failure, a timeout, 408, 425, 429 or 5xx; for good on any other refusal."""
        config = self.settings.alerts.webhook
        assert config.secret is not None  # the settings refuse a webhook without one
        body = webhook_body(self.settings, notice)
        headers = signed_headers(config.secret.get_secret_value(), int(self.clock()), body,
                                 notice)
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=POST_TIMEOUT)
            self._session = aiohttp.ClientSession(timeout=timeout)
        try:
            async with self._session.post(config.url, data=body, headers=headers,
                                          allow_redirects=False) as response:
                status = response.status
                retry_after = _seconds(response.headers.get("Retry-After", ""))
        except (aiohttp.ClientError, TimeoutError) as error:
            kind = TIMED_OUT if isinstance(error, TimeoutError) else ""
            raise DeliveryFailed(type(error).__name__, kind=kind) from None
        if 200 <= status < 300:
            return
        permanent = status < 500 and status not in RETRIED
        raise DeliveryFailed(f"HTTP {status}", retry_after=retry_after, permanent=permanent,
                             kind=failure_kind(status))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _seconds(value: str) -> float | None:
    """Retry-After in seconds (the HTTP-date form is read as "no advice")."""
    return float(value) if value.strip().isdigit() else None

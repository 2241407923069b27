"""Alerts by email: a `StaffNotifier` that sends each alert once over SMTP with STARTTLS or TLS,
through the outbox (which retries with backoff while the server cannot take it)."""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl

from bot.core.effects import TIMED_OUT, DeliveryFailed, StaffNotice
from bot.handoff.alerts import email_message
from bot.settings import Settings

log = logging.getLogger(__name__)
SMTP_TIMEOUT = 15.0  # seconds for each step of talking to the server (under the outbox's limit)
AUTH_FAILED = 535  # a wrong user name or password: fixable in settings, so retried meanwhile


class EmailAlerts:
    """Sends each alert to the practice's addresses (`alerts.email`)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        config = settings.alerts.email
        cafile = str(config.ca_file) if config.ca_file else None
        self.tls = ssl.create_default_context(cafile=cafile)

    async def notify(self, notice: StaffNotice) -> None:
        """Send one alert. Raises DeliveryFailed, by reason only (an alert names a person):
        for good when the server refuses the message itself, to retry otherwise."""
        message = email_message(self.settings, notice)
        try:
            await asyncio.to_thread(self._send, message)
        except smtplib.SMTPRecipientsRefused:
            raise DeliveryFailed("every recipient was refused", permanent=True) from None
        except smtplib.SMTPResponseException as error:
            permanent = error.smtp_code >= 500 and error.smtp_code != AUTH_FAILED
            raise DeliveryFailed(f"SMTP {error.smtp_code}", permanent=permanent) from None
        except (OSError, smtplib.SMTPException) as error:  # down, refused, TLS, cut off
            kind = TIMED_OUT if isinstance(error, TimeoutError) else ""
            raise DeliveryFailed(type(error).__name__, kind=kind) from None

    def _send(self, message: object) -> None:
        config = self.settings.alerts.email
        smtp: smtplib.SMTP
        if config.security == "tls":
            smtp = smtplib.SMTP_SSL(config.host, config.port, timeout=SMTP_TIMEOUT,
                                    context=self.tls)
        else:
            smtp = smtplib.SMTP(config.host, config.port, timeout=SMTP_TIMEOUT)
        with smtp:
            if config.security == "starttls":
                smtp.starttls(context=self.tls)
            if config.username:
                password = config.password.get_secret_value() if config.password else ""
                smtp.login(config.username, password)
            smtp.send_message(message)  # type: ignore[arg-type]

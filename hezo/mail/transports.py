"""Transports: how a queued message leaves, by SMTP or as an ``.eml`` file.

A transport has ``send(message)`` and may have ``close()``. It raises
``DeliveryError`` when one message is refused and ``TransportUnavailable``
when the server cannot be reached; error texts are safe to store and log.
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path

from ..config import default_instance_path
from ..models.audit import OutboxMessage

log = logging.getLogger(__name__)

DEFAULT_SENDER = "myHEZO <no-reply@myhezo.pl>"
MAX_ERROR_LENGTH = 1000


class DeliveryError(Exception):
    """A message could not be delivered; its text is safe to store and log."""


class TransportUnavailable(DeliveryError):
    """The mail server cannot be reached: nothing else is tried in this pass."""


def describe_error(exc: BaseException) -> str:
    """A short text for ``last_error``: the exception type and message."""
    text = str(exc).strip()
    name = type(exc).__name__
    return (f"{name}: {text}" if text else name)[:MAX_ERROR_LENGTH]


def build_email(message: OutboxMessage, sender: str) -> EmailMessage:
    """The MIME message for an outbox row: UTF-8 plain text, encoded headers."""
    email = EmailMessage()  # email.policy.default: RFC 2047 words, no CR/LF
    email["From"] = sender
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Date"] = format_datetime(message.created_at)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "myhezo.pl"
    # Stable per message, so a rare repeated delivery is recognisable; case
    # mail has the one stored at queueing, which replies are matched against.
    email["Message-ID"] = (
        message.message_id
        or f"<outbox.{message.id}.{message.created_at:%Y%m%d%H%M%S}@{domain}>"
    )
    if message.reply_to:
        email["Reply-To"] = message.reply_to
    email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies
    email.set_content(message.body_text, cte="quoted-printable")
    return email


class SmtpTransport:
    """Sends through an SMTP server, one connection per delivery pass.

    ``starttls`` upgrades a plain connection, ``use_ssl`` connects with TLS from
    the start (port 465); both verify the server certificate. Failures to
    connect, greet, start TLS or log in raise ``TransportUnavailable``; a
    refusal of one message raises ``DeliveryError``. Error texts never contain
    the password.
    """

    def __init__(
        self,
        host: str,
        port: int | None = None,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 10,
        sender: str = DEFAULT_SENDER,
        *,
        use_ssl: bool = False,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ):
        if starttls and use_ssl:
            raise ValueError("choose STARTTLS or SSL, not both")
        self.host = host
        self.port = int(port) if port else (465 if use_ssl else 587 if starttls else 25)
        self.username = username or None
        self.password = password or None
        self.starttls = starttls
        self.use_ssl = use_ssl
        self.timeout = float(timeout)
        self.sender = sender
        self.envelope_sender = parseaddr(sender)[1]
        if not self.envelope_sender:
            raise ValueError("the sender has no e-mail address")
        self.ssl_context = ssl_context
        self.local_hostname = local_hostname
        self._smtp: smtplib.SMTP | None = None
        if (
            self.username
            and not (starttls or use_ssl)
            and host not in ("localhost", "127.0.0.1", "::1")
        ):
            log.warning(
                "outbox: SMTP login to %s without TLS sends the password in clear text",
                host,
            )

    def send(self, message: OutboxMessage) -> None:
        """Deliver one outbox message (reusing the pass's connection)."""
        email = build_email(message, self.sender)
        smtp = self._smtp or self._connect()
        try:
            smtp.send_message(
                email, from_addr=self.envelope_sender, to_addrs=[message.recipient]
            )
        except (
            smtplib.SMTPRecipientsRefused,
            smtplib.SMTPSenderRefused,
            smtplib.SMTPDataError,
            smtplib.SMTPNotSupportedError,
        ) as exc:
            raise DeliveryError(self._scrub(describe_error(exc))) from exc
        except OSError as exc:  # disconnected, timed out, reset...
            self._drop()
            raise TransportUnavailable(self._scrub(describe_error(exc))) from exc

    def close(self) -> None:
        """End the connection of this pass, if any."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except OSError:
            pass
        finally:
            smtp.close()

    def _connect(self) -> smtplib.SMTP:
        context = self.ssl_context or ssl.create_default_context()
        if self.use_ssl:
            smtp = smtplib.SMTP_SSL(
                local_hostname=self.local_hostname,
                timeout=self.timeout,
                context=context,
            )
        else:
            smtp = smtplib.SMTP(
                local_hostname=self.local_hostname, timeout=self.timeout
            )
        try:
            smtp.connect(self.host, self.port)
            smtp.ehlo()
            if self.starttls:
                smtp.starttls(context=context)
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self.password or "")
        except OSError as exc:  # smtplib.SMTPException is an OSError too
            smtp.close()
            raise TransportUnavailable(self._scrub(describe_error(exc))) from exc
        self._smtp = smtp
        return smtp

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()

    def _scrub(self, text: str) -> str:
        if self.password:
            text = text.replace(self.password, "***")
        return text


class FileTransport:
    """Writes each message as ``<created>-<id>.eml`` into ``folder`` (development).

    Files are readable by their owner only: bodies may hold one-time links.
    """

    def __init__(self, folder: str | os.PathLike, sender: str = DEFAULT_SENDER):
        self.folder = Path(folder)
        self.sender = sender

    def send(self, message: OutboxMessage) -> Path:
        """Write the message; returns the path of the ``.eml`` file."""
        data = build_email(message, self.sender).as_bytes()
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.folder / f"{message.created_at:%Y%m%d-%H%M%S}-{message.id}.eml"
        partial = path.with_suffix(".part")
        try:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(partial, path)
        except OSError as exc:
            raise TransportUnavailable(describe_error(exc)) from exc
        return path


def transport_from_config(config) -> SmtpTransport | FileTransport:
    """SMTP when ``SMTP_HOST`` is set, else ``.eml`` files in OUTBOX_FILE_FOLDER.

    Keys read (with defaults): SMTP_HOST (None), SMTP_PORT (25; 587 with
    STARTTLS, 465 with SSL), SMTP_USERNAME (None), SMTP_PASSWORD (None),
    SMTP_STARTTLS (False), SMTP_SSL (False), SMTP_TIMEOUT (10 s),
    MAIL_FROM ("myHEZO <no-reply@myhezo.pl>"), OUTBOX_FILE_FOLDER
    (<instance>/mail).
    """
    sender = config.get("MAIL_FROM") or DEFAULT_SENDER
    host = config.get("SMTP_HOST")
    if host:
        return SmtpTransport(
            host,
            config.get("SMTP_PORT") or None,
            username=config.get("SMTP_USERNAME"),
            password=config.get("SMTP_PASSWORD"),
            starttls=_as_bool(config.get("SMTP_STARTTLS", False)),
            timeout=float(config.get("SMTP_TIMEOUT", 10)),
            sender=sender,
            use_ssl=_as_bool(config.get("SMTP_SSL", False)),
        )
    folder = config.get("OUTBOX_FILE_FOLDER") or default_instance_path() / "mail"
    return FileTransport(folder, sender=sender)


def _as_bool(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)

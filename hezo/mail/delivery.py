"""E-mail outbox: mail is written with the change that caused it, sent by a worker.

``queue_mail`` renders a plain-text template and inserts an ``OutboxMessage`` in
the caller's transaction, so a rolled-back change sends nothing and a committed
one is never lost. ``deliver_pending`` (run by ``run_worker`` / the
``outbox-worker`` command) sends due messages with retries and exponential
backoff; several workers may run at once without sending a message twice.

Delivery is at least once: a worker that dies after the SMTP server accepted a
message but before it was marked sent delivers it again once its claim lapses
(``CLAIM_LEASE``, 25 s: a crash delays the mail it held by well under a
minute). The repeat carries the same Message-ID, so mail clients can tell.

Message bodies may hold one-time links: they are never logged. Logs name a
message by its id and the recipient's domain only.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import smtplib
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path

import click
from flask import Flask, current_app, has_app_context, render_template

from ..config import default_instance_path
from ..db import UNAVAILABLE_ERRORS, db, utcnow
from ..i18n import in_language
from ..models.audit import OutboxMessage

log = logging.getLogger(__name__)

DEFAULT_SENDER = "myHEZO <no-reply@myhezo.pl>"
#: First retry delay; doubled after each failed attempt up to RETRY_CAP.
RETRY_BASE = timedelta(seconds=30)
RETRY_CAP = timedelta(hours=1)
#: From this many failed attempts on, every failure is logged as an error.
ALARM_AFTER_ATTEMPTS = 12
#: How long a claimed message is reserved for the worker sending it: after a
#: worker's crash, the wait before another one sends it. Shorter than the first
#: back-off, so a crash never delays mail more than a failed attempt would;
#: longer than a normal send (milliseconds; one stalled SMTP command fails at
#: SMTP_TIMEOUT, 10 s). A send slower than the lease may be made twice.
CLAIM_LEASE = timedelta(seconds=25)
MAX_ERROR_LENGTH = 1000

_TEMPLATE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*\Z")
# CR, LF and every other character that may end a line or hide in a header.
_FORBIDDEN_IN_ADDRESS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


class DeliveryError(Exception):
    """A message could not be delivered; its text is safe to store and log."""


class TransportUnavailable(DeliveryError):
    """The mail server cannot be reached: nothing else is tried in this pass."""


@dataclass
class DeliveryReport:
    """What one ``deliver_pending`` pass did."""

    sent: int = 0
    #: Failed attempts recorded (to be retried after the backoff).
    failed: int = 0
    #: Due messages another worker claimed first.
    skipped: int = 0
    #: Due messages left for the next pass because a stop was requested.
    deferred: int = 0


# --- queueing ----------------------------------------------------------------


def queue_mail(
    recipient: str,
    template: str,
    language: str,
    *,
    dedupe_key: str | None = None,
    **context,
) -> OutboxMessage | None:
    """Render ``templates/mail/<template>.txt`` in ``language`` and queue it.

    The rendered template's first line is the subject, the second line must be
    blank and the rest is the plain-text body. ``context`` goes to the template
    (``config`` is there as in every Flask template).

    Needs an application context (a request, a CLI command or
    ``app.app_context()``) and a database connection. It opens no transaction
    and never commits: call it inside the ``db.atomic()`` block of the change
    that causes the mail, so both are written or neither is.

    With ``dedupe_key``, a message with that key already in the outbox (sent or
    not) makes this a no-op returning ``None``; the check is the INSERT itself
    (``ON CONFLICT DO NOTHING``), so concurrent callers cannot both queue it.

    Raises ``ValueError`` for a recipient with CR/LF or other control
    characters, an unknown language or a malformed template.
    """
    _check_recipient(recipient)
    if dedupe_key is not None and not 0 < len(dedupe_key) <= 128:
        raise ValueError("dedupe_key must have 1 to 128 characters")
    subject, body = render_mail(template, language, **context)
    now = utcnow()
    values = {
        OutboxMessage.created_at: now,
        OutboxMessage.recipient: recipient,
        OutboxMessage.subject: subject,
        OutboxMessage.body_text: body,
        OutboxMessage.dedupe_key: dedupe_key,
        OutboxMessage.attempts: 0,
        OutboxMessage.next_attempt_at: now,
        OutboxMessage.last_error: "",
    }
    if dedupe_key is None:
        message = OutboxMessage.create(**{f.name: v for f, v in values.items()})
    else:
        inserted = (
            OutboxMessage.insert(values)
            .on_conflict(action="NOTHING", conflict_target=[OutboxMessage.dedupe_key])
            .as_rowcount()
            .execute()
        )
        if inserted != 1:
            log.info(
                "outbox: %s to @%s already queued (%s), not again",
                template,
                _domain(recipient),
                dedupe_key,
            )
            return None
        message = OutboxMessage.get(OutboxMessage.dedupe_key == dedupe_key)
    log.debug(
        "outbox: queued message %s (%s) to @%s",
        message.id,
        template,
        _domain(recipient),
    )
    return message


def queue_staff_mail(
    template: str, *, dedupe_key: str | None = None, **context
) -> OutboxMessage | None:
    """``queue_mail`` to the engineers' team address (``ENGINEERS_EMAIL``), in
    Polish, the engineers' language; same transaction rules and dedupe."""
    return queue_mail(
        current_app.config["ENGINEERS_EMAIL"],
        template,
        "pl",
        dedupe_key=dedupe_key,
        **context,
    )


def render_mail(template: str, language: str, **context) -> tuple[str, str]:
    """Render a mail template in ``language``; returns ``(subject, body)``.

    The locale (and ``g.lang``, which ``url_for`` and ``current_language()``
    follow) is switched for the rendering only, also inside a request in
    another language.
    """
    if not has_app_context():
        raise RuntimeError("rendering mail needs an application context")
    if not _TEMPLATE_NAME.match(template):
        raise ValueError(f"bad mail template name: {template!r}")
    if language not in current_app.config["LANGUAGES"]:
        raise ValueError(f"unsupported language: {language!r}")
    with in_language(language):
        text = render_template(f"mail/{template}.txt", **context)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if len(lines) < 3 or lines[1].strip():
        raise ValueError(
            f"mail/{template}.txt must render a subject line, a blank line, a body"
        )
    # Any whitespace (including line separators from the context) becomes one space.
    subject = " ".join(lines[0].split())
    max_subject = OutboxMessage.subject.max_length or 255
    if len(subject) > max_subject:
        subject = subject[: max_subject - 1] + "…"
    body = "\n".join(lines[2:]).strip("\n").rstrip() + "\n"
    if not subject or not body.strip():
        raise ValueError(f"mail/{template}.txt rendered an empty subject or body")
    return subject, body


def _check_recipient(recipient: str) -> None:
    if not isinstance(recipient, str) or not recipient:
        raise ValueError("recipient is required")
    if _FORBIDDEN_IN_ADDRESS.search(recipient):
        raise ValueError("recipient contains a line break or control character")
    if len(recipient) > (OutboxMessage.recipient.max_length or 254):
        raise ValueError("recipient is too long")
    if "@" not in recipient:
        raise ValueError("recipient is not an e-mail address")


def _domain(address: str) -> str:
    return parseaddr(address)[1].rpartition("@")[2] or "?"


# --- delivery ----------------------------------------------------------------


def retry_delay(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: 30 s doubling, max 1 h."""
    exponent = min(max(attempts, 1) - 1, 20)
    return min(RETRY_BASE * (2**exponent), RETRY_CAP)


def deliver_pending(
    now: datetime,
    transport,
    *,
    batch: int = 50,
    stop: Callable[[], bool] | None = None,
    unrecorded: list[tuple[int, datetime]] | None = None,
) -> DeliveryReport:
    """Send up to ``batch`` due messages, oldest first, through ``transport``.

    Due means ``sent_at IS NULL AND next_attempt_at <= now``; ``now`` is an
    aware datetime and advances with the real time spent in this pass.

    Each message is first claimed with one conditional UPDATE (its
    ``next_attempt_at`` moves ``CLAIM_LEASE`` ahead) and sent only if that
    UPDATE changed exactly one row, so concurrent workers never send the same
    message twice. Every statement runs on its own (autocommit); no transaction
    is open while ``transport.send(message)`` talks to the server, and calling
    this inside ``db.atomic()`` is refused with ``RuntimeError``.

    On success ``sent_at`` is set. On failure ``attempts`` goes up by one,
    ``last_error`` records the error and ``next_attempt_at`` moves by
    ``retry_delay(attempts)``. Messages are never deleted and retries never
    stop; from ``ALARM_AFTER_ATTEMPTS`` failures on each one is logged as an
    error. When the transport raises ``TransportUnavailable`` the remaining
    claimed messages of the batch are recorded as failed with the same error
    without another connection attempt.

    ``stop`` is polled between messages; when it returns true the rest is left
    due for the next pass. ``transport.close()`` is called at the end if the
    transport has it.

    ``unrecorded`` (the worker keeps one list across passes) holds messages
    the server accepted but whose ``sent_at`` could not be written (the
    database went away at that moment); they are marked sent first thing in
    the next pass, so the same worker never sends them again.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if db.in_transaction():
        raise RuntimeError("deliver_pending must not run inside a transaction")
    started = time.monotonic()

    def clock() -> datetime:
        return now + timedelta(seconds=time.monotonic() - started)

    unrecorded = [] if unrecorded is None else unrecorded
    while unrecorded:
        message_id, sent_at = unrecorded[0]
        _mark_sent(message_id, sent_at)
        unrecorded.pop(0)

    due = list(
        OutboxMessage.select(OutboxMessage.id)
        .where(OutboxMessage.sent_at.is_null(), OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.id)
        .limit(batch)
        .tuples()
    )
    report = DeliveryReport()
    unavailable: str | None = None
    try:
        for position, (message_id,) in enumerate(due):
            if stop is not None and stop():
                report.deferred += len(due) - position
                break
            if not _claim(message_id, clock()):
                report.skipped += 1
                continue
            message = OutboxMessage.get_by_id(message_id)
            if unavailable is not None:
                _record_failure(message, unavailable, clock())
                report.failed += 1
                continue
            try:
                transport.send(message)
            except Exception as exc:  # any failure is recorded and retried
                error = describe_error(exc)
                _record_failure(message, error, clock())
                report.failed += 1
                if isinstance(exc, TransportUnavailable):
                    unavailable = error
                continue
            sent_at = clock()
            try:
                _record_sent(message, sent_at)
            except UNAVAILABLE_ERRORS:
                unrecorded.append((message.id, sent_at))
                raise
            report.sent += 1
    finally:
        close = getattr(transport, "close", None)
        if callable(close):
            close()
    return report


def _claim(message_id: int, at: datetime) -> bool:
    claimed = (
        OutboxMessage.update(next_attempt_at=at + CLAIM_LEASE)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.sent_at.is_null(),
            OutboxMessage.next_attempt_at <= at,
        )
        .execute()
    )
    return claimed == 1


def _mark_sent(message_id: int, at: datetime) -> int:
    return (
        OutboxMessage.update(sent_at=at)
        .where(OutboxMessage.id == message_id, OutboxMessage.sent_at.is_null())
        .execute()
    )


def _record_sent(message: OutboxMessage, at: datetime) -> None:
    if _mark_sent(message.id, at) != 1:
        log.warning(
            "outbox: message %s to @%s was also sent by another worker",
            message.id,
            _domain(message.recipient),
        )
    else:
        log.info(
            "outbox: sent message %s to @%s", message.id, _domain(message.recipient)
        )


def _record_failure(message: OutboxMessage, error: str, at: datetime) -> None:
    attempts = message.attempts + 1
    delay = retry_delay(attempts)
    (
        OutboxMessage.update(
            attempts=OutboxMessage.attempts + 1,
            last_error=error,
            next_attempt_at=at + delay,
        )
        .where(OutboxMessage.id == message.id, OutboxMessage.sent_at.is_null())
        .execute()
    )
    # The error text may quote the address; the log names the domain only.
    level = logging.ERROR if attempts >= ALARM_AFTER_ATTEMPTS else logging.WARNING
    log.log(
        level,
        "outbox: message %s to @%s failed (attempt %d, %s), retry in %ds",
        message.id,
        _domain(message.recipient),
        attempts,
        error.partition(":")[0],
        delay.total_seconds(),
    )


def describe_error(exc: BaseException) -> str:
    """A short text for ``last_error``: the exception type and message."""
    text = str(exc).strip()
    name = type(exc).__name__
    return (f"{name}: {text}" if text else name)[:MAX_ERROR_LENGTH]


# --- transports --------------------------------------------------------------


def build_email(message: OutboxMessage, sender: str) -> EmailMessage:
    """The MIME message for an outbox row: UTF-8 plain text, encoded headers."""
    email = EmailMessage()  # email.policy.default: RFC 2047 words, no CR/LF
    email["From"] = sender
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Date"] = format_datetime(message.created_at)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "myhezo.pl"
    # Stable per message, so a rare repeated delivery is recognisable.
    email["Message-ID"] = (
        f"<outbox.{message.id}.{message.created_at:%Y%m%d%H%M%S}@{domain}>"
    )
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


# --- worker ------------------------------------------------------------------


def run_worker(
    app: Flask,
    *,
    once: bool = False,
    interval: float = 5.0,
    now: Callable[[], datetime] = utcnow,
) -> None:
    """Deliver pending mail every ``interval`` seconds until stopped.

    Each pass opens a database connection (or reuses the caller's), runs
    ``deliver_pending(now(), transport)`` and closes the connection it opened.
    A full batch is followed by another pass at once. SIGTERM (in the main
    thread) or Ctrl-C stops the loop cleanly: SIGTERM after the message being
    sent, Ctrl-C at once (an interrupted claim lapses after ``CLAIM_LEASE``).
    A failing pass (database down...) is logged and retried after ``interval``.

    ``once=True`` runs a single pass and lets its errors propagate (tests,
    cron). Reads OUTBOX_BATCH_SIZE (50) besides the transport's keys.
    """
    with app.app_context():
        transport = transport_from_config(app.config)
        batch = int(app.config.get("OUTBOX_BATCH_SIZE", 50))
        if isinstance(transport, FileTransport) and not (app.debug or app.testing):
            log.warning(
                "outbox: SMTP_HOST is not set; mail is written to %s and not sent",
                transport.folder,
            )
        unrecorded: list = []  # sent, not yet marked sent: see deliver_pending
        if once:
            _one_pass(now, transport, batch, None, unrecorded)
            return
        stop = threading.Event()
        previous = _install_sigterm(stop)
        log.info("outbox worker started (every %ss)", interval)
        try:
            while not stop.is_set():
                try:
                    report = _one_pass(now, transport, batch, stop.is_set, unrecorded)
                except Exception:  # database down...: keep the worker alive
                    log.exception("outbox: delivery pass failed; retrying")
                    report = None
                busy = report is not None and report.sent + report.failed >= batch
                if not busy:
                    stop.wait(interval)
        except KeyboardInterrupt:
            pass
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        log.info("outbox worker stopped")


def _one_pass(now, transport, batch, stop, unrecorded) -> DeliveryReport:
    opened = db.is_closed()
    db.connect(reuse_if_open=True)
    try:
        report = deliver_pending(
            now(), transport, batch=batch, stop=stop, unrecorded=unrecorded
        )
    finally:
        if opened and not db.is_closed():
            db.close()
    if report.sent or report.failed:
        log.info(
            "outbox: sent %d, failed %d, skipped %d",
            report.sent,
            report.failed,
            report.skipped,
        )
    return report


def _install_sigterm(stop: threading.Event):
    if threading.current_thread() is not threading.main_thread():
        return None

    def _on_sigterm(signum, frame):
        stop.set()

    return signal.signal(signal.SIGTERM, _on_sigterm)


def register_cli(app: Flask) -> None:
    """Add ``outbox-worker [--once] [--interval SECONDS]`` to ``app.cli``."""
    if "outbox-worker" in app.cli.commands:
        return

    @app.cli.command("outbox-worker")
    @click.option("--once", is_flag=True, help="Run one delivery pass and exit.")
    @click.option(
        "--interval",
        type=click.FloatRange(min=0.1),
        default=5.0,
        show_default=True,
        help="Seconds between delivery passes.",
    )
    def outbox_worker(once, interval):
        """Send queued e-mail, retrying failures, until stopped."""
        run_worker(current_app._get_current_object(), once=once, interval=interval)

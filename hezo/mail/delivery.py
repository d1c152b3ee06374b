"""Delivering the outbox: due messages sent with retries and backoff.

``deliver_pending`` (run by ``hezo.mail.worker`` / the ``outbox-worker``
command) sends due messages through a transport (``hezo.mail.transports``)
with retries and exponential backoff; several workers may run at once without
sending a message twice.

Delivery is at least once: a worker that dies after the SMTP server accepted a
message but before it was marked sent delivers it again once its claim lapses
(``CLAIM_LEASE``, 25 s: a crash delays the mail it held by well under a
minute). The repeat carries the same Message-ID, so mail clients can tell.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..db import UNAVAILABLE_ERRORS, db
from ..models.audit import OutboxMessage
from .queue import log_domain
from .transports import TransportUnavailable, describe_error

log = logging.getLogger(__name__)

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
            log_domain(message.recipient),
        )
    else:
        log.info(
            "outbox: sent message %s to @%s", message.id, log_domain(message.recipient)
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
        log_domain(message.recipient),
        attempts,
        error.partition(":")[0],
        delay.total_seconds(),
    )

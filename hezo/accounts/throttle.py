"""Sign-in throttling that a stranger cannot turn into a lock-out (NIST SP
800-63B §5.2.2, SECURITY #21).

Failed password checks are counted per account (by e-mail address, so unknown
addresses behave alike) over the last 24 hours and per client IP over the last
hour; old failures drop out of the count by themselves. After the third failure
of an account its password alone is not answered for a while (1, 2, 4 …
seconds after each further failure, at most 15 minutes): during that time
every attempt goes on to the code step, whatever the password, and only the
password together with a valid second factor opens the account. A guesser
learns nothing from the password step then, and the owner, who has both, is
never kept out. An IP with many failures waits (429) before its next password
is checked at all.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from peewee import fn

from .. import crypto
from ..audit import security_event
from ..db import db
from ..mail.queue import queue_mail, queue_staff_mail
from ..models import ThrottleEvent, User

ACCOUNT_SCOPE, ACCOUNT_WINDOW = "login-account", timedelta(hours=24)
IP_SCOPE, IP_WINDOW = "login-ip", timedelta(hours=1)
MAX_DELAY = timedelta(minutes=15)
#: Failures an IP may make within an hour before it has to wait.
IP_FREE_FAILURES = 20
#: Failures an account may make (typing errors) before the delays start.
ACCOUNT_FREE_FAILURES = 3
#: The owner and staff are told when an account reaches this many failures.
NOTIFY_AFTER = 5


def account_key(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def delay(failures: int, free: int = 0) -> timedelta:
    """How long after the last of ``failures`` the next check waits."""
    over = failures - free
    if over <= 0:
        return timedelta(0)
    return min(timedelta(seconds=2 ** min(over - 1, 20)), MAX_DELAY)


@dataclass
class Count:
    failures: int
    last: datetime | None

    def waiting_until(self, free: int = 0) -> datetime | None:
        if self.last is None:
            return None
        return self.last + delay(self.failures, free)


def _count(scope: str, key: str, window: timedelta, now: datetime) -> Count:
    row = (
        ThrottleEvent.select(
            fn.COUNT(ThrottleEvent.id).alias("n"),
            fn.MAX(ThrottleEvent.created_at).alias("last"),
        )
        .where(
            (ThrottleEvent.scope == scope)
            & (ThrottleEvent.key == key)
            & (ThrottleEvent.created_at > now - window)
        )
        .dicts()
        .get()
    )
    last = row["last"]  # raw: text on SQLite, naive on PostgreSQL
    return Count(row["n"], ThrottleEvent.created_at.python_value(last))


def account_guarded(email: str, now: datetime) -> bool:
    """True while the account's password alone is not checked."""
    count = _count(ACCOUNT_SCOPE, account_key(email), ACCOUNT_WINDOW, now)
    until = count.waiting_until(ACCOUNT_FREE_FAILURES)
    return until is not None and until > now


def ip_wait(ip: str, now: datetime) -> timedelta | None:
    """How long this IP must still wait before its next sign-in attempt."""
    until = _count(IP_SCOPE, ip, IP_WINDOW, now).waiting_until(IP_FREE_FAILURES)
    return until - now if until is not None and until > now else None


def record_failure(email: str, ip: str, now: datetime, user: User | None) -> int:
    """Count a failed sign-in for the account and the IP; returns the account's
    failures in the window. At ``NOTIFY_AFTER`` the owner and staff are told
    (staff once a day per account)."""
    key, ip = account_key(email), ip[:128]
    with db.atomic():
        ThrottleEvent.delete().where(
            (
                (ThrottleEvent.scope == ACCOUNT_SCOPE)
                & (ThrottleEvent.key == key)
                & (ThrottleEvent.created_at <= now - ACCOUNT_WINDOW)
            )
            | (
                (ThrottleEvent.scope == IP_SCOPE)
                & (ThrottleEvent.key == ip)
                & (ThrottleEvent.created_at <= now - IP_WINDOW)
            )
        ).execute()
        ThrottleEvent.create(scope=ACCOUNT_SCOPE, key=key, created_at=now)
        ThrottleEvent.create(scope=IP_SCOPE, key=ip, created_at=now)
        failures = _count(ACCOUNT_SCOPE, key, ACCOUNT_WINDOW, now).failures
        if user is not None and failures == NOTIFY_AFTER:
            queue_mail(
                user.email, "login_failures", user.language, name=user.first_name
            )
            queue_staff_mail(
                "login_failures_for_staff",
                dedupe_key=f"login-failures:{user.id}:{now.date().isoformat()}",
                email=user.email,
                failures=failures,
            )
    if user is not None and failures >= NOTIFY_AFTER:
        security_event("login_throttled", user, failures=failures)
    return failures


def clear_account(email: str) -> None:
    """Forget an account's failures (after a full sign-in or a password reset)."""
    ThrottleEvent.delete().where(
        (ThrottleEvent.scope == ACCOUNT_SCOPE)
        & (ThrottleEvent.key == account_key(email))
    ).execute()


# -- the code step of a guarded sign-in ------------------------------------------


def guarded_ticket(user: User | None) -> str:
    """What the browser carries to the code step of a guarded sign-in: the
    account whose password was right, or none. Encrypted (and different each
    time), so it tells nobody whether the account exists or the password was
    right: Flask's session cookie is signed, not encrypted."""
    return crypto.encrypt_secret(str(user.id if user is not None else 0))


def read_ticket(ticket: str) -> int:
    """The user id of a ticket, 0 for none; ValueError for a ticket not ours."""
    return int(crypto.decrypt_secret(ticket))

"""One-time submission keys: a form posted twice writes once.

Every form that creates something carries a key made when it is rendered (the
``submission_key`` macro). Its view is wrapped in ``one_time``, and calls
``claim()`` just before its write: the key is INSERTed, unique per account, in
the transaction the write then joins, and the answer the view gives is stored
on the key before the commit. A second post of the key gets that answer again
(same redirect and flash message, same fragment) and writes nothing.

A duplicate posted while the first is still running finds no answer yet, so it
goes on to its own ``claim()``; there its INSERT waits for the first's commit
(PostgreSQL's unique index, SQLite's write lock) and fails, and the first's
answer, committed with it, is read. Only the database decides, so this holds
across processes and app instances. If the first fails, its key is rolled back
with it and the next post of the key is a first post.

A post without a key (a page opened before keys existed) is handled as before,
unguarded. Keys expire after a day (``purge_expired``, run by run-reminders).
"""

import json
import re
import secrets
import sys
from datetime import datetime, timedelta
from functools import wraps

from flask import Flask, current_app, flash, g, request, session
from flask_babel import gettext as _
from flask_login import current_user
from peewee import IntegrityError

from .attachments import discard_staged
from .db import db, is_sqlite, utcnow
from .models import SubmissionKey

FIELD = "submission_key"
KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")
LIFETIME = timedelta(days=1)
#: Headers of the first answer given again with it (not cookies, not caching).
KEPT_HEADERS = ("Location", "Content-Type", "Vary")


def new_key() -> str:
    """A fresh key for one rendering of a form (192 random bits)."""
    return secrets.token_urlsafe(24)


def init_app(app: Flask) -> None:
    app.jinja_env.globals["new_submission_key"] = new_key


class AlreadySubmitted(Exception):
    """The key was claimed by a post that has committed meanwhile."""


class _Rollback(Exception):
    """Ends the claim's transaction without committing it."""


def _account() -> int:
    return current_user.id if current_user.is_authenticated else 0


def _answer(account: int, key: str) -> dict | None:
    rows = list(  # read to the end: a half-read cursor keeps SQLite's snapshot
        SubmissionKey.select(SubmissionKey.outcome)
        .where((SubmissionKey.account == account) & (SubmissionKey.key == key))
        .limit(1)
    )
    return json.loads(rows[0].outcome) if rows else None


def _replay(outcome: dict | None):
    if outcome is None:  # expired and purged between the INSERT and this read
        from .web import _render_error

        return _render_error(409, _("This form has already been sent."))
    pending = [tuple(f) for f in session.get("_flashes", [])]
    for category, message in outcome["flashes"]:
        if (category, message) not in pending:  # the first's is still unread
            flash(message, category)
    return current_app.response_class(
        outcome["body"], status=outcome["status"], headers=outcome["headers"]
    )


class _Attempt:
    """The first post of a key: its claim, then its answer."""

    def __init__(self, account: int, key: str):
        self.account, self.key = account, key
        self.transaction = None
        self.flashes_before = 0

    def claim(self, staged=()) -> None:
        # IMMEDIATE: SQLite takes the write lock at BEGIN, waiting for it under
        # the busy timeout, instead of failing on a stale read snapshot.
        transaction = db.atomic("IMMEDIATE") if is_sqlite() else db.atomic()
        transaction.__enter__()
        # Only a transaction that began is ended again: a BEGIN that failed
        # (database gone) leaves none, and its error gets the 503 page.
        self.transaction = transaction
        try:
            SubmissionKey.insert(
                account=self.account, key=self.key, created_at=utcnow()
            ).execute()
        except IntegrityError:
            self._end(sys.exc_info())
            discard_staged(list(staged))
            raise AlreadySubmitted from None
        self.flashes_before = len(session.get("_flashes", []))

    def finish(self, response):
        """Commit the write with its answer, or roll both back on an error."""
        if self.transaction is None:
            return response  # nothing written (an invalid form): key still free
        if response.status_code >= 400:
            self._end((_Rollback, _Rollback(), None))
            return response
        redirect = 300 <= response.status_code < 400
        outcome = {
            "status": response.status_code,
            "headers": [
                (name, value)
                for name, value in response.headers.items()
                if name in KEPT_HEADERS or name.startswith("HX-")
            ],
            "body": "" if redirect else response.get_data(as_text=True),
            "flashes": session.get("_flashes", [])[self.flashes_before :],
        }
        try:
            SubmissionKey.update(outcome=json.dumps(outcome)).where(
                (SubmissionKey.account == self.account)
                & (SubmissionKey.key == self.key)
            ).execute()
        except BaseException:
            self._end(sys.exc_info())
            raise
        self._end((None, None, None))
        return response

    def abandon(self) -> None:
        if self.transaction is not None:
            self._end(sys.exc_info())

    def _end(self, exc_info) -> None:
        transaction, self.transaction = self.transaction, None
        transaction.__exit__(*exc_info)


def one_time(view):
    """Answer a second post of the same submission key as the first was
    answered; the view calls ``claim()`` right before it writes."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        key = request.form.get(FIELD) if request.method == "POST" else None
        if not key:
            return view(*args, **kwargs)
        if not KEY.fullmatch(key):
            from .web import _render_error

            return _render_error(
                400, _("This form could not be read. Reload the page and try again.")
            )
        account = _account()
        outcome = _answer(account, key)
        if outcome is not None:
            return _replay(outcome)
        g.submission = attempt = _Attempt(account, key)
        try:
            response = current_app.make_response(view(*args, **kwargs))
        except AlreadySubmitted:
            return _replay(_answer(account, key))
        except BaseException:
            attempt.abandon()
            raise
        finally:
            g.pop("submission", None)
        return attempt.finish(response)

    return wrapper


def claim(staged=()) -> None:
    """Claim this post's submission key, opening the transaction the write joins.

    Raises ``AlreadySubmitted`` (answered by ``one_time``) when a post of the
    same key committed first; ``staged`` uploads are discarded then. Without a
    key (or outside ``one_time``) it does nothing.
    """
    attempt = g.get("submission")
    if attempt is not None:
        attempt.claim(staged)


def purge_expired(now: datetime) -> int:
    """Delete keys older than a day; returns how many."""
    return (
        SubmissionKey.delete()
        .where(SubmissionKey.created_at < now - LIFETIME)
        .execute()
    )

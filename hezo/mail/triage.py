"""The engineers' triage of mail: new threads and senders the portal cannot place.

An engineer opens a case from a waiting message (the phone/e-mail case form,
prefilled from it: channel "email", the response clock from the mail's
arrival, its .eml and attachments on the first message) or asks the sender to
register. Either is a conditional UPDATE of the waiting row, in the
transaction of its effect: two engineers at once never make two cases of it.
"""

from __future__ import annotations

from functools import cache

from flask import abort, flash, redirect, url_for
from flask_babel import gettext as _
from peewee import SQL, fn

from ..db import db
from ..models.mail import ReceivedMail, UndeliverableAddress
from ..statements import Statement
from .messages import MailTaken
from .queue import queue_mail

SHOWN = 100


def waiting_count() -> int:
    """The e-mails waiting for an engineer (the menu shows it on every staff
    page: a cached statement, ``hezo.statements``)."""
    return _waiting_statement().bind().first()[0]


@cache
def _waiting_statement() -> Statement:
    waiting = ReceivedMail.status == "triage"
    return Statement(ReceivedMail.select(fn.COUNT(SQL("*"))).where(waiting).tuples())


def waiting_mail(mail_id: int | None) -> ReceivedMail | None:
    """The waiting message ``mail_id`` (None without one). Raises ``MailTaken``
    when it was handled meanwhile; 404 for no such message."""
    if mail_id is None:
        return None
    mail = ReceivedMail.get_or_none(ReceivedMail.id == mail_id)
    if mail is None:
        abort(404)
    if mail.status != "triage":
        raise MailTaken()
    return mail


def already_handled():
    """The answer to a post about mail another engineer handled first."""
    flash(_("Another engineer has already handled this e-mail."), "error")
    return redirect(url_for("staff.mail_triage"), 303)


def case_form_defaults(mail: ReceivedMail) -> dict:
    """The phone/e-mail case form's first values for a case from ``mail``."""
    return {
        "channel": "email",
        "subject": mail.subject[:200],
        "description": mail.body,
        "contact_name": mail.from_name,
        "contact_email": mail.from_address,
    }


def waiting_and_rejected(shown: int = SHOWN) -> dict:
    """What the triage page lists: waiting mail (oldest first), the latest
    rejected replies and the addresses that bounced."""
    return {
        "waiting": list(
            ReceivedMail.select()
            .where(ReceivedMail.status == "triage")
            .order_by(ReceivedMail.received_at)
            .limit(shown)
        ),
        "total": waiting_count(),
        "rejected": list(
            ReceivedMail.select()
            .where(ReceivedMail.status == "rejected")
            .order_by(ReceivedMail.received_at.desc())
            .limit(20)
        ),
        "undeliverable": list(
            UndeliverableAddress.select()
            .order_by(UndeliverableAddress.last_bounce_at.desc())
            .limit(50)
        ),
    }


def ask_to_register(mail: ReceivedMail, actor, now) -> bool:
    """Answer a waiting mail with the registration link; False when another
    engineer handled it first (the row is no longer waiting)."""
    with db.atomic():
        updated = (
            ReceivedMail.update(
                status="answered", reason=f"asked to register by {actor.id}"
            )
            .where((ReceivedMail.id == mail.id) & (ReceivedMail.status == "triage"))
            .execute()
        )
        if updated == 1 and mail.from_address:
            queue_mail(
                mail.from_address,
                "mail_register_request",
                "pl",
                subject=mail.subject,
                received_at=mail.received_at,
                now=now,
            )
    return updated == 1

"""Drafts: a registered customer's new e-mail thread waits for them to confirm it.

A mail from the address of an enabled customer user that answers no case
becomes a draft (``ReceivedMail`` with status "draft" and ``user`` that
customer). A draft is not a case: no number, no response clock, not in the
engineers' queue or triage. The customer is told by e-mail, in their
language, with a link to the portal's new-case form prefilled from it (subject,
text; the mail's checked attachments are listed). Choosing the contract and
the serial there opens the case (a case needs both), channel "email", the
response clock from the mail's arrival, the mail's .eml and attachments on its
first message, in the transaction that marks the draft "linked": a conditional
UPDATE, so confirming twice (a double click, two tabs) makes one case. The
customer may discard the draft instead. Only the customer who wrote it ever
sees it (anyone else gets a 404).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache

from flask import abort, current_app, flash, redirect, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from ..attachments import discard_staged, stored_path
from ..db import db
from ..inputs import whole_number
from ..models import User
from ..models.mail import ReceivedMail
from ..statements import Statement, param
from .messages import mail_attachments, parse
from .queue import queue_mail

SHOWN = 20


def may_draft(user: User | None) -> bool:
    """Whether a new thread from ``user``'s address becomes their draft."""
    return user is not None and user.is_enabled and user.role == "customer"


def open_draft(row: ReceivedMail, user: User) -> tuple[str, str, list]:
    """In the intake's transaction: make ``row`` ``user``'s draft and tell them
    (the answer to their own mail, so sent whatever their notification choice)."""
    row.user = user
    queue_mail(
        user.email,
        "mail_draft",
        user.language,
        draft=row,
        subject=row.subject,
        received_at=row.received_at,
        name=user.first_name,
        lang=user.language,
    )
    return "draft", "waits for the customer to confirm it", []


def drafts_of(user) -> list[ReceivedMail]:
    """The customer's drafts waiting for confirmation, newest first."""
    if getattr(user, "role", None) != "customer":
        return []
    return list(_drafts_statement().bind(user=user.id))


@cache
def _drafts_statement() -> Statement:
    """A cached statement (``hezo.statements``): the case list asks for the
    customer's drafts on every page."""
    mine = (ReceivedMail.status == "draft") & (ReceivedMail.user == param("user"))
    return Statement(
        ReceivedMail.select()
        .where(mine)
        .order_by(ReceivedMail.received_at.desc())
        .limit(SHOWN)
    )


def own_draft(value, user) -> ReceivedMail | None:
    """The draft ``value`` (an id, from a form or a link) of ``user``: None
    without one, 404 for anyone else's or no such draft. A confirmed or
    discarded one is returned too (``gone`` answers for it)."""
    if value in (None, ""):
        return None
    number = whole_number(str(value))
    if number is None:
        abort(404)
    draft = ReceivedMail.get_or_none(
        (ReceivedMail.id == number)
        & (ReceivedMail.user == user.id)
        & (ReceivedMail.status.in_(("draft", "linked", "discarded")))
    )
    if draft is None:
        abort(404)
    return draft


def gone(draft: ReceivedMail):
    """The answer for a draft that was confirmed (its case) or discarded."""
    draft = ReceivedMail.get_by_id(draft.id)
    if draft.status == "linked" and draft.case_id:
        flash(_("This e-mail has already been reported as a case."), "info")
        return redirect(url_for("cases.detail", number=draft.case.number), 303)
    if draft.reason == EXPIRED:
        flash(
            ngettext(
                "This e-mail draft has expired: it was not confirmed within "
                "%(num)d day. Report the case here, or write to us again.",
                "This e-mail draft has expired: it was not confirmed within "
                "%(num)d days. Report the case here, or write to us again.",
                current_app.config["DRAFT_KEEP_DAYS"],
            ),
            "info",
        )
        return redirect(url_for("cases.new"), 303)
    flash(_("This e-mail draft has been discarded."), "info")
    return redirect(url_for("cases.index"), 303)


#: The reason of a draft nobody confirmed in time (``expire_drafts``).
EXPIRED = "expired: not confirmed in time"


def expire_drafts(now: datetime) -> int:
    """Discard the drafts waiting longer than ``DRAFT_KEEP_DAYS`` (run by
    run-reminders): a draft is a question to its customer, not a case, and
    an old one would only open a case with a clock from long ago. Returns
    how many."""
    limit = now - timedelta(days=current_app.config["DRAFT_KEEP_DAYS"])
    with db.atomic():
        return (
            ReceivedMail.update(status="discarded", reason=EXPIRED)
            .where(
                (ReceivedMail.status == "draft") & (ReceivedMail.received_at < limit)
            )
            .execute()
        )


def form_defaults(draft: ReceivedMail | None) -> dict:
    """The new-case form's first values taken from the draft."""
    if draft is None:
        return {}
    return {"subject": draft.subject[:200], "description": draft.body}


def confirming(draft: ReceivedMail | None, actor, now, link) -> dict:
    """``open_case``'s options for a case confirmed from ``draft`` (else only
    ``now``): channel "email", the clock from the mail's arrival, the mail
    linked in the case's transaction by ``link`` (``cases.services.link_mail``,
    which raises ``MailTaken`` when it was confirmed or discarded meanwhile:
    nothing is written then)."""
    if draft is None:
        return {"now": now}
    return {
        "now": draft.received_at,
        "channel": "email",
        "then": lambda case, message: link(
            draft, case, message, actor, waiting="draft"
        ),
    }


def discard(draft: ReceivedMail, user) -> bool:
    """Discard the customer's draft; False when it was no longer waiting."""
    with db.atomic():
        return (
            ReceivedMail.update(status="discarded", reason="discarded by the customer")
            .where(
                (ReceivedMail.id == draft.id)
                & (ReceivedMail.user == user.id)
                & (ReceivedMail.status == "draft")
            )
            .execute()
        ) == 1


def draft_files(draft: ReceivedMail) -> tuple[list[str], list[str]]:
    """The names of the mail's attachments the case will keep (the upload
    checks applied), and the refusals of the others."""
    path = stored_path(draft.eml_sha256)
    if not draft.eml_sha256 or not path.is_file():
        return [], []
    files, refused = mail_attachments(parse(path.read_bytes()))
    discard_staged(files)
    return [f.filename for f in files], refused

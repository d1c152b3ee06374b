"""Reminders, safe to run as often as you like (``hezo run-reminders``, e.g. from cron).

Each reminder is queued with a dedupe key naming the case and the deadline, so
the outbox's unique key makes a second run a no-op and a moved deadline a new
reminder. What is sent:

- to the customer, 2 days before the faulty unit is due back, and once it is late;
- to the engineers' address, when a response clock has 15 minutes or less left.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from .. import settings
from ..db import db
from ..models import SupportCase
from .queue import queue_mail

RETURN_NOTICE = timedelta(days=2)
RESPONSE_WARNING = timedelta(minutes=15)


@dataclass
class ReminderReport:
    return_soon: int = 0
    return_overdue: int = 0
    response_breach: int = 0


def _recipient(case: SupportCase) -> tuple[str, str] | None:
    contact = case.contact_user if case.contact_user_id else case.reporter
    if contact is not None:
        return contact.email, contact.language
    if case.contact_email:
        return case.contact_email, "pl"
    return None


def _remind(case, kind: str, deadline: datetime, recipient, template: str) -> bool:
    key = f"{kind}:{case.id}:{deadline.isoformat()}"
    address, language = recipient
    return (
        queue_mail(address, template, language, dedupe_key=key, case=case, due=deadline)
        is not None
    )


def run_reminders(now: datetime) -> ReminderReport:
    """Queue the reminders that are due at ``now``; returns what was newly queued."""
    report = ReminderReport()
    awaiting = SupportCase.select().where(
        (SupportCase.status == "awaiting_return")
        & SupportCase.returned_at.is_null()
        & (SupportCase.return_due_at <= now + RETURN_NOTICE)
    )
    with db.atomic():
        for case in awaiting:
            recipient = _recipient(case)
            if recipient is None:
                continue
            if case.return_due_at < now:
                report.return_overdue += _remind(
                    case,
                    "return-overdue",
                    case.return_due_at,
                    recipient,
                    "return_overdue",
                )
            else:
                report.return_soon += _remind(
                    case, "return-soon", case.return_due_at, recipient, "return_soon"
                )
        engineers = (settings.value("ENGINEERS_EMAIL"), "pl")
        for case in SupportCase.select().where(
            SupportCase.first_response_at.is_null()
            & (SupportCase.status.in_(("new", "in_verification")))
            & (SupportCase.response_due_at <= now + RESPONSE_WARNING)
        ):
            report.response_breach += _remind(
                case,
                "response-breach",
                case.response_due_at,
                engineers,
                "response_breach",
            )
    return report

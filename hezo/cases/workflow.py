"""The case life cycle: which status may follow which, and what each one starts.

``new`` → ``in_verification`` → ``resolved`` or ``validated`` → ``replacement_sent``
→ ``awaiting_return`` → ``closed``; ``waiting_for_customer`` interrupts
verification and stops the clocks until the customer answers. Validation starts
the delivery clock, delivery the return clock. Every change is a StatusChange
row (who, when) that the customer sees as the status history.
"""

from datetime import datetime

from .. import sla
from ..catalogue import get_plan
from ..db import db
from ..models import StatusChange, SupportCase, User
from ..outbox import queue_mail

TRANSITIONS = {
    "new": ("in_verification", "waiting_for_customer", "resolved"),
    "in_verification": ("waiting_for_customer", "resolved", "validated"),
    "waiting_for_customer": ("in_verification", "resolved"),
    "resolved": ("closed", "in_verification"),
    "validated": ("replacement_sent",),
    "replacement_sent": ("awaiting_return",),
    "awaiting_return": ("closed",),
    "closed": (),
}


class TransitionError(ValueError):
    """A status change the life cycle does not allow, or missing shipment data."""


def allowed(case: SupportCase) -> tuple[str, ...]:
    return TRANSITIONS.get(case.status, ())


def resume_clocks(case: SupportCase, now: datetime, actor: User, note: str) -> dict:
    """Field changes that end a wait for the customer (clocks pushed by the pause).

    Records the status change back to ``in_verification``; the caller writes
    the returned fields (and recomputes ``next_due_at``).
    """
    window = get_plan(case.contract.service_code).window
    changes = {"status": "in_verification", "paused_at": None}
    if case.paused_at is not None:
        changes["paused_seconds"] = case.paused_seconds + int(
            sla.window_time_between(case.paused_at, now, window).total_seconds()
        )
        if case.first_response_at is None and case.response_due_at:
            changes["response_due_at"] = sla.resume_due(
                case.response_due_at, case.paused_at, now, window
            )
    StatusChange.create(
        case=case,
        from_status=case.status,
        to_status="in_verification",
        actor=actor,
        note=note,
        created_at=now,
    )
    for name, value in changes.items():
        setattr(case, name, value)
    return changes


def transition(
    case: SupportCase,
    actor: User,
    to: str,
    now: datetime,
    *,
    carrier: str = "",
    waybill: str = "",
    delivered_at: datetime | None = None,
    return_waybill: str = "",
    note: str = "",
) -> None:
    """Move the case to ``to``, starting or stopping the clocks that go with it.

    Raises TransitionError when ``to`` may not follow the current status or
    the shipment data it needs is missing. The reporter is told by e-mail.
    """
    if to not in allowed(case):
        raise TransitionError("transition")
    changes = _effects(case, to, now, carrier, waybill, delivered_at, return_waybill)
    with db.atomic():
        if case.status == "waiting_for_customer":
            changes = resume_clocks(case, now, actor, note) | changes
            if to == "in_verification":
                to = ""  # already recorded by resume_clocks
        if to:
            StatusChange.create(
                case=case,
                from_status=case.status,
                to_status=to,
                actor=actor,
                note=note,
                created_at=now,
            )
            changes["status"] = to
        for name, value in changes.items():
            setattr(case, name, value)
        from .services import next_due

        case.next_due_at = changes["next_due_at"] = next_due(case)
        changes["last_activity_at"] = now
        SupportCase.update(**changes).where(SupportCase.id == case.id).execute()
        _notify(case)


def _effects(case, to, now, carrier, waybill, delivered_at, return_waybill) -> dict:
    code = case.contract.service_code
    if to == "waiting_for_customer":
        return {"paused_at": now}
    if to == "validated":
        return {"validated_at": now, "delivery_due_at": sla.delivery_due(now, code)}
    if to == "replacement_sent":
        if not (carrier.strip() and waybill.strip()):
            raise TransitionError("shipment")
        return {
            "shipped_at": now,
            "carrier": carrier.strip(),
            "waybill": waybill.strip(),
        }
    if to == "awaiting_return":
        if delivered_at is None or delivered_at > now:
            raise TransitionError("delivery")
        return {
            "delivered_at": delivered_at,
            "return_due_at": sla.return_due(delivered_at),
        }
    if to == "closed" and case.status == "awaiting_return":
        if not return_waybill.strip():
            raise TransitionError("return")
        return {"returned_at": now, "return_waybill": return_waybill.strip()}
    return {}


def _notify(case: SupportCase) -> None:
    reporter = case.reporter
    if reporter and reporter.notify_by_email:
        queue_mail(reporter.email, "case_status", reporter.language, case=case)
    elif case.contact_email and not case.reporter_id and case.channel != "migrated":
        queue_mail(case.contact_email, "case_status", "pl", case=case)

"""The case life cycle: which status may follow which, and what each one starts.

``new`` → ``in_verification`` → ``resolved`` or ``validated`` → ``replacement_sent``
→ ``awaiting_return`` → ``closed``; ``waiting_for_customer`` interrupts
verification and stops the clocks until the customer answers. Validation starts
the delivery clock, delivery the return clock. Every change is a StatusChange
row (who, when) that the customer sees as the status history.

A customer's reply ends a wait for them, and reopens a case resolved or closed
within 14 days (to ``in_verification``); the customer may also mark a case
solved, confirm a resolution (closing it) or reopen it (``closing.py``).
Every move and assignment is applied only from the state its author saw (a
conditional UPDATE): of two engineers moving the same case at the same moment,
one wins and the other is told.
"""

from datetime import datetime, timedelta

from .. import sla
from ..catalogue import ServicePlan, get_plan
from ..db import db
from ..mail.queue import queue_mail
from ..models import CaseSatisfaction, StatusChange, SupportCase, User
from . import watchers

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


def next_due(case: SupportCase):
    """The earliest clock still running on the case, or None.

    Response until the first engineer reply; delivery from validation until
    the replacement is delivered; return from delivery until the faulty unit
    is back. No clock runs while the case waits for the customer.
    """
    if case.status in ("waiting_for_customer", "resolved", "closed"):
        return None
    candidates = []
    if case.first_response_at is None:
        candidates.append(case.response_due_at)
    if case.status in ("validated", "replacement_sent"):
        candidates.append(case.delivery_due_at)
    if case.status == "awaiting_return" and case.returned_at is None:
        candidates.append(case.return_due_at)
    candidates = [c for c in candidates if c is not None]
    return min(candidates) if candidates else None


def clock_plan_of(service_code: str, terms: str | None) -> ServicePlan:
    """The service terms a case's clocks follow: those it opened with
    (``terms``), else (a case from before they were stored) the catalogue's."""
    current = get_plan(service_code)
    if terms:
        return ServicePlan.from_terms(terms, current)
    if current is None:
        raise ValueError(f"unknown service code {service_code!r}")
    return current


def clock_plan(case: SupportCase) -> ServicePlan:
    """The terms of ``case``'s clocks (``clock_plan_of``): changing the
    variant later never moves the clocks of a case already open."""
    return clock_plan_of(case.contract.service_code, case.service_terms)


def allowed(case: SupportCase) -> tuple[str, ...]:
    return TRANSITIONS.get(case.status, ())


class StaleCase(Exception):
    """The case is no longer in the state the actor saw: nothing was written."""


#: A customer's reply within this time of resolving or closing reopens the case;
#: later the reply form offers a new case that refers to this one.
REOPEN_WITHIN = timedelta(days=14)
#: Where a reopened case goes: an engineer looks at it again before anything else.
REOPENED_STATUS = "in_verification"
SETTLED = ("resolved", "closed")


def resume_clocks(case: SupportCase, now: datetime) -> dict:
    """Field changes that end a wait for the customer (clocks pushed by the pause)."""
    window = clock_plan(case).hours
    changes = {"status": "in_verification", "paused_at": None}
    if case.paused_at is not None:
        changes["paused_seconds"] = case.paused_seconds + int(
            sla.window_time_between(case.paused_at, now, window).total_seconds()
        )
        if case.first_response_at is None and case.response_due_at:
            changes["response_due_at"] = sla.resume_due(
                case.response_due_at, case.paused_at, now, window
            )
    return changes


def move(
    case: SupportCase,
    seen: str,
    changes: dict,
    steps: list[str],
    actor: User,
    now: datetime,
    note: str = "",
) -> None:
    """Write ``changes`` only if the case is still in status ``seen``.

    One conditional UPDATE (``WHERE status = seen``), so of two moves from the
    same state exactly one applies, on SQLite and PostgreSQL alike; then the
    history rows, one per status of ``steps`` (from ``seen`` on). Raises
    StaleCase, with ``case`` unchanged, when another move came first. Call it
    inside the transaction that writes the e-mails, so a loser writes nothing.
    """
    before = {name: getattr(case, name) for name in (*changes, "next_due_at")}
    for name, value in changes.items():
        setattr(case, name, value)
    case.next_due_at = next_due(case)
    values = changes | {"next_due_at": case.next_due_at, "last_activity_at": now}
    applied = (
        SupportCase.update(**values)
        .where((SupportCase.id == case.id) & (SupportCase.status == seen))
        .execute()
    )
    if applied != 1:
        for name, value in before.items():
            setattr(case, name, value)
        raise StaleCase(seen)
    case.last_activity_at = now
    for from_status, to_status in zip((seen, *steps), steps, strict=False):
        StatusChange.create(
            case=case,
            from_status=from_status,
            to_status=to_status,
            actor=actor,
            note=note,
            created_at=now,
        )


def transition(
    case: SupportCase,
    actor: User,
    to: str,
    now: datetime,
    *,
    seen: str | None = None,
    carrier: str = "",
    waybill: str = "",
    delivered_at: datetime | None = None,
    return_waybill: str = "",
    note: str = "",
) -> None:
    """Move the case to ``to``, starting or stopping the clocks that go with it.

    ``seen`` is the status the engineer saw (default: the one ``case`` was
    read with); raises StaleCase, writing nothing, when the case is no longer
    in it. Raises TransitionError when ``to`` may not follow the current
    status or the shipment data it needs is missing. The reporter is told by
    e-mail.
    """
    seen = case.status if seen is None else seen
    if seen != case.status:
        raise StaleCase(seen)
    if to not in allowed(case):
        raise TransitionError("transition")
    changes = _effects(case, to, now, carrier, waybill, delivered_at, return_waybill)
    steps = [to]
    if case.status == "waiting_for_customer":
        changes = resume_clocks(case, now) | changes
        steps = ["in_verification", to] if to != "in_verification" else steps
    with db.atomic():
        move(case, seen, changes | {"status": to}, steps, actor, now, note)
        _notify(case)
        if to == "closed":  # one satisfaction question, queued with the close
            ask_satisfaction(case)


def reassign(case: SupportCase, engineer: User | None, seen: int | None) -> None:
    """Give the case to ``engineer`` (nobody when None) if it is still assigned
    to ``seen`` (the engineer's id the page showed; None for nobody): one
    conditional UPDATE. Raises StaleCase, writing nothing, otherwise."""
    current = (
        SupportCase.assignee.is_null()
        if seen is None
        else (SupportCase.assignee == seen)
    )
    applied = (
        SupportCase.update(assignee=engineer)
        .where((SupportCase.id == case.id) & current)
        .execute()
    )
    if applied != 1:
        raise StaleCase(seen)
    case.assignee = engineer


def customer_reply_moves(
    case: SupportCase, actor: User, now: datetime, settled: datetime | None
) -> str:
    """What a customer's (or partner's) reply does to the status, applied.

    It ends a wait for the customer, or reopens a case resolved or closed
    within REOPEN_WITHIN (``settled`` is when; see ``settled_at``). Returns
    "answered", "reopened" or "" (nothing moved; also when an engineer moved
    the case at the same moment: their move stands). Call inside the reply's
    transaction; the move has a savepoint of its own.
    """
    if case.status == "waiting_for_customer":
        kind, changes, note = "answered", resume_clocks(case, now), "customer_answered"
    elif case.status in SETTLED and is_reopenable(settled, now):
        kind, changes, note = "reopened", {"status": REOPENED_STATUS}, "reopened"
    else:
        return ""
    try:
        with db.atomic():
            move(case, case.status, changes, [changes["status"]], actor, now, note)
    except StaleCase:
        return ""
    return kind


def settled_at(case: SupportCase, history=None) -> datetime | None:
    """When the case reached its current status, if resolved or closed.

    Read from ``history`` (the case's StatusChange rows, oldest first) when
    given, else from the database; a settled case without its history row
    counts from its last activity.
    """
    if case.status not in SETTLED:
        return None
    if history is None:
        history = (
            StatusChange.select(StatusChange.to_status, StatusChange.created_at)
            .where(StatusChange.case == case.id)
            .order_by(StatusChange.created_at, StatusChange.id)
        )
    moments = [c.created_at for c in history if c.to_status == case.status]
    return moments[-1] if moments else case.last_activity_at


def is_reopenable(settled: datetime | None, now: datetime) -> bool:
    """Whether a reply at ``now`` still reopens a case settled at ``settled``."""
    return settled is not None and now - settled <= REOPEN_WITHIN


def _effects(case, to, now, carrier, waybill, delivered_at, return_waybill) -> dict:
    if to == "waiting_for_customer":
        return {"paused_at": now}
    if to == "validated":
        plan = clock_plan(case)
        return {"validated_at": now, "delivery_due_at": sla.delivery_due(now, plan)}
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
    if watchers.notify(case, "case_status"):
        return
    if (
        case.contact_email
        and not (case.reporter_id or case.contact_user_id)
        and case.channel != "migrated"
    ):
        queue_mail(case.contact_email, "case_status", "pl", case=case)


def ask_satisfaction(case: SupportCase) -> None:
    """Queue the satisfaction question to the case's contact, in their
    language, once per case (a case closed again asks nothing more). Call
    inside the closing transaction."""
    user = watchers.contact_of(case)
    if user is None or not (user.is_enabled and user.notify_by_email):
        return
    if CaseSatisfaction.select().where(CaseSatisfaction.case == case.id).exists():
        return
    queue_mail(
        user.email,
        "case_satisfaction",
        user.language,
        dedupe_key=f"satisfaction:{case.id}",
        case=case,
        name=user.first_name,
        lang=user.language,
    )

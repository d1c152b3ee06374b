"""Closing the loop from the customer's side, and the satisfaction question.

The customer (of the case's company, or the partner that reported the case)
marks an open case solved (→ ``resolved``), confirms an engineer's resolution
(``resolved`` → ``closed``) or reopens a settled case within
``workflow.REOPEN_WITHIN`` (→ ``in_verification``). Each is a StatusChange
(who, when) applied with ``workflow.move``'s conditional UPDATE, so of two
tabs one wins and the other gets ``StaleCase``; the engineers are told by
e-mail in the same transaction. Closing a case (the customer's confirmation
or an engineer's move) queues one question by e-mail: how satisfied were you,
1–5, answered once per case on the case page.
"""

from datetime import datetime

from peewee import JOIN, Case, IntegrityError, fn

from ..db import db
from ..mail.queue import queue_mail
from ..models import CaseSatisfaction, SupportCase, User
from . import workflow
from .services import engineers_address
from .workflow import StaleCase

#: What each of the customer's buttons does to the status.
ACTIONS = {
    "solved": "resolved",
    "confirm": "closed",
    "reopen": workflow.REOPENED_STATUS,
}
#: The open statuses a customer may mark solved: before any hardware moved.
SOLVABLE = ("new", "in_verification", "waiting_for_customer")
#: The history's note of each (``vocabulary.STATUS_NOTES``) when none was written.
NOTES = {
    "solved": "customer_solved",
    "confirm": "customer_confirmed",
    "reopen": "customer_reopened",
}
RATINGS = (1, 2, 3, 4, 5)


class ClosingError(ValueError):
    """Not allowed now: ``"action"`` (not from this status) or ``"settled"``
    (settled more than REOPEN_WITHIN ago: a follow-up case is the way on)."""


class AlreadyAnswered(Exception):
    """The case's satisfaction question has been answered: nothing was written."""


def may_close_loop(case: SupportCase, viewer) -> bool:
    """The customer's people (the page is theirs already) and the partner that
    reported the case; not engineers (their panel moves the status)."""
    if viewer.role == "partner":
        return case.reporting_partner_id == viewer.company_id
    return viewer.role == "customer" and viewer.company_id == case.company_id


def actions(case: SupportCase, settled: datetime | None, now: datetime) -> tuple:
    """The customer's moves open now (``settled``: ``workflow.settled_at``)."""
    if case.status in SOLVABLE:
        return ("solved",)
    reopen = ("reopen",) if workflow.is_reopenable(settled, now) else ()
    if case.status == "resolved":
        return ("confirm", *reopen)
    return reopen if case.status == "closed" else ()


def customer_move(
    case: SupportCase,
    actor: User,
    action: str,
    now: datetime,
    seen: str,
    note: str = "",
) -> None:
    """Apply the customer's ``action`` if the case is still in status ``seen``.

    Raises StaleCase (nothing written) when it is not, or another move came
    first; ClosingError when the action is not open now.
    """
    if seen != case.status:
        raise StaleCase(seen)
    settled = workflow.settled_at(case)
    if action not in actions(case, settled, now):
        late = action == "reopen" and case.status in workflow.SETTLED
        raise ClosingError("settled" if late else "action")
    to = ACTIONS[action]
    changes, steps = {"status": to}, [to]
    if case.status == "waiting_for_customer":  # the answer is: it is solved
        changes = workflow.resume_clocks(case, now) | changes
        steps = ["in_verification", to]
    with db.atomic():
        workflow.move(
            case, seen, changes, steps, actor, now, note.strip() or NOTES[action]
        )
        _tell_engineers(case, actor, action, note.strip())
        if to == "closed":
            workflow.ask_satisfaction(case)


def _tell_engineers(case, actor, action, note) -> None:
    """The assigned engineer (the team address when nobody is, or they take
    no e-mail) hears of the customer's move, in their language."""
    recipient, language = engineers_address(case)
    queue_mail(
        recipient,
        "case_closing_for_staff",
        language,
        case=case,
        author=actor.full_name,
        action=action,
        note=note,
        lang=language,
    )


def answer_of(case: SupportCase) -> CaseSatisfaction | None:
    return CaseSatisfaction.get_or_none(CaseSatisfaction.case == case.id)


def answer(
    case: SupportCase, actor: User, rating: int, comment: str, now: datetime
) -> CaseSatisfaction:
    """Keep the customer's answer. Raises ClosingError("action") unless the
    case is closed, AlreadyAnswered when it has been answered (also by a
    request at the same moment: the unique case decides)."""
    if case.status != "closed":
        raise ClosingError("action")
    if rating not in RATINGS:
        raise ValueError(rating)
    try:
        with db.atomic():
            return CaseSatisfaction.create(
                case=case,
                rating=rating,
                comment=comment.strip(),
                author=actor,
                engineer=case.assignee_id,
                service_code=case.contract.service_code,
                created_at=now,
            )
    except IntegrityError:
        raise AlreadyAnswered() from None


def results(start: datetime, end: datetime) -> list:
    """Staff's figures of the answers given in [start, end): per engineer and
    service, the count, the average and how many gave each rating. One query
    whatever the number of cases."""
    S = CaseSatisfaction
    per_rating = [
        fn.SUM(Case(None, [(S.rating == r, 1)], 0)).alias(f"r{r}") for r in RATINGS
    ]
    return list(
        S.select(
            S.engineer,
            User.first_name,
            User.last_name,
            S.service_code,
            fn.COUNT(S.id).alias("count"),
            fn.AVG(S.rating).alias("average"),
            *per_rating,
        )
        .join(User, JOIN.LEFT_OUTER, on=(S.engineer == User.id))
        .where((S.created_at >= start) & (S.created_at < end))
        .group_by(S.engineer, User.first_name, User.last_name, S.service_code)
        .order_by(User.last_name, User.first_name, S.service_code)
        .dicts()
    )

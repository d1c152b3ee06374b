"""Case selects scoped to the viewer: the scope is in the query, never after it.

Customers see their company's cases; partners only cases on contracts they
sold whose customer currently shares them; staff see all. Anything else is
answered as if it did not exist.
"""

from flask import abort
from peewee import JOIN, fn, prefetch

from ..models import (
    Attachment,
    Company,
    ConsentEvent,
    Contract,
    Device,
    Message,
    StatusChange,
    SupportCase,
    User,
)
from ..models.cases import OPEN_STATUSES

PAGE_SIZE = 20


def scope(query, viewer):
    """Restrict a query over SupportCase (joined to Contract) to ``viewer``'s cases."""
    if viewer.is_staff:
        return query
    if viewer.role == "customer":
        return query.where(SupportCase.company == viewer.company_id)
    if viewer.role == "partner":
        return query.where(
            (Contract.partner == viewer.company_id) & (SupportCase.is_shared)
        )  # noqa: E712
    return query.where(False)


def with_parts():
    """Cases with their contract, device and company joined (one row each)."""
    return (
        SupportCase.select(SupportCase, Contract, Device, Company)
        .join(Contract)
        .switch(SupportCase)
        .join(Device)
        .switch(SupportCase)
        .join(Company)
    )


def get_case_or_404(number: str, viewer) -> SupportCase:
    """The case with its contract, device and company, if ``viewer`` may see it."""
    query = with_parts().where(SupportCase.number == number)
    case = scope(query, viewer).first()
    if case is None:
        abort(404)
    return case


def case_list(
    viewer, status: str = "", q: str = "", page: int = 1, customer_id: int | None = None
):
    """One page of the viewer's cases, open ones first, then by last activity.

    Returns (cases, total). Two queries whatever the number of cases; without
    a search the count reads ``support_case`` alone.
    """
    query = with_parts()
    query = _narrow(scope(query, viewer), status, customer_id)
    if q.strip():
        term = q.strip()
        like = f"%{term.lower()}%"
        query = query.where(
            (fn.LOWER(SupportCase.subject) ** like)
            | (fn.LOWER(SupportCase.number) ** like)
            | (Device.serial == term.upper())
            | (fn.LOWER(Contract.number) ** like)
        )
        total = query.count()
    elif viewer.role == "customer":
        # The joins cannot change the count: leave them out of it.
        total = _narrow(
            SupportCase.select().where(SupportCase.company == viewer.company_id),
            status,
            customer_id,
        ).count()
    else:
        total = query.count()
    if status:
        newest = query.order_by(SupportCase.last_activity_at.desc(), SupportCase.id)
        return list(newest.paginate(page, PAGE_SIZE)), total
    return _open_first(query, page), total


def _open_first(query, page: int) -> list[SupportCase]:
    """One page of open cases, then closed ones, each newest activity first.

    Two index walks (company, last activity) that stop after a page, instead
    of sorting all of a company's cases by an "is open" expression.
    """
    is_open = SupportCase.status.in_(OPEN_STATUSES)
    order = (SupportCase.last_activity_at.desc(), SupportCase.id)
    start = (page - 1) * PAGE_SIZE
    open_total = query.where(is_open).count()
    rows = []
    if start < open_total:
        rows = list(
            query.where(is_open).order_by(*order).offset(start).limit(PAGE_SIZE)
        )
    if len(rows) < PAGE_SIZE:
        rows += list(
            query.where(~is_open)
            .order_by(*order)
            .offset(max(start - open_total, 0))
            .limit(PAGE_SIZE - len(rows))
        )
    return rows


def _narrow(query, status: str, customer_id: int | None):
    if customer_id:
        query = query.where(SupportCase.company == customer_id)
    if status == "open":
        return query.where(SupportCase.status.in_(OPEN_STATUSES))
    if status:
        return query.where(SupportCase.status == status)
    return query


def thread(case: SupportCase, viewer) -> list[Message]:
    """The dialogue oldest first with its attachments; internal notes for staff only."""
    messages = Message.select().where(Message.case == case)
    if not viewer.is_staff:
        messages = messages.where(Message.is_internal == False)  # noqa: E712
    messages = messages.order_by(Message.created_at, Message.id)
    files = Attachment.select()
    return prefetch(messages, files)


def case_files(case: SupportCase, viewer) -> list[Attachment]:
    """Attachments of the case the viewer may download (not those of internal notes)."""
    query = (
        Attachment.select(Attachment)
        .join(Message, JOIN.LEFT_OUTER)
        .where(Attachment.case == case)
        .order_by(Attachment.created_at, Attachment.id)
    )
    if not viewer.is_staff:
        query = query.where(Message.id.is_null() | (Message.is_internal == False))  # noqa: E712
    return list(query)


def get_file_or_404(case: SupportCase, attachment_id: int, viewer) -> Attachment:
    for attachment in case_files(case, viewer):
        if attachment.id == attachment_id:
            return attachment
    abort(404)


def consent_history(case: SupportCase) -> list[ConsentEvent]:
    return list(
        ConsentEvent.select(ConsentEvent, User, Company)
        .join(User, JOIN.LEFT_OUTER)
        .switch(ConsentEvent)
        .join(Company)
        .where(ConsentEvent.case == case)
        .order_by(ConsentEvent.created_at.desc(), ConsentEvent.id.desc())
    )


def status_history(case: SupportCase) -> list[StatusChange]:
    return list(
        StatusChange.select()
        .where(StatusChange.case == case)
        .order_by(StatusChange.created_at, StatusChange.id)
    )


def reportable_contracts(company_id: int, today) -> list[Contract]:
    """Active contracts of the company, for the new-case form."""
    return list(
        Contract.select()
        .where(
            (Contract.customer == company_id)
            & (Contract.start_date <= today)
            & (Contract.end_date >= today)
        )
        .order_by(Contract.number)
    )


def contract_serials(contract_id: int) -> list[Device]:
    return list(
        Device.select().where(Device.contract == contract_id).order_by(Device.serial)
    )

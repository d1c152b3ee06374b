"""Case selects scoped to the viewer: the scope is in the query, never after it.

Customers see their company's cases; partners only cases on contracts they
sold whose customer currently shares them; staff see all. Anything else is
answered as if it did not exist.
"""

from collections import defaultdict

from flask import abort
from peewee import JOIN, SQL, fn

from ..db import one_row
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


Partner = Company.alias()


def _joined(*columns):
    """``columns`` of cases joined to their contract, device and company."""
    return (
        SupportCase.select(*columns)
        .join(Contract)
        .switch(SupportCase)
        .join(Device)
        .switch(SupportCase)
        .join(Company)
    )


def with_parts():
    """Cases with their contract (and its partner), device and company joined."""
    return (
        _joined(SupportCase, Contract, Partner, Device, Company)
        .switch(Contract)
        .join(Partner, JOIN.LEFT_OUTER, on=(Contract.partner == Partner.id))
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

    Returns (cases, total). One statement whatever the number of cases: the
    rows, with only the columns a list shows, carrying the counts (a second on
    the page where open cases give way to closed ones, and when a page is
    empty).
    """
    query = _narrow(scope(_joined(*LIST_COLUMNS), viewer), status, customer_id)
    counted = query
    if q.strip():
        term = q.strip()
        like = f"%{term.lower()}%"
        query = counted = query.where(
            (fn.LOWER(SupportCase.subject) ** like)
            | (fn.LOWER(SupportCase.number) ** like)
            | (Device.serial == term.upper())
            | (fn.LOWER(Contract.number) ** like)
        )
    elif viewer.role == "customer":
        # The joins cannot change the counts: leave them out of them.
        counted = _narrow(
            SupportCase.select().where(SupportCase.company == viewer.company_id),
            status,
            customer_id,
        )
    start = (page - 1) * PAGE_SIZE
    if status:
        newest = query.order_by(SupportCase.last_activity_at.desc(), SupportCase.id)
        rows, (total, _open) = _counted_page(newest, counted, start, PAGE_SIZE)
        return rows, total
    return _open_first(query, counted, start)


#: What a case list shows of each case (the rest of its 34 columns is left
#: in the database: building 20 full rows of four models cost more than the page).
LIST_COLUMNS = (
    SupportCase.id,
    SupportCase.number,
    SupportCase.subject,
    SupportCase.status,
    SupportCase.severity,
    SupportCase.escalated_at,
    SupportCase.last_activity_at,
    SupportCase.company,
    SupportCase.contract,
    SupportCase.device,
    Contract.id,
    Contract.number,
    Device.id,
    Device.serial,
    Company.id,
    Company.name,
)


def _counts(counted) -> tuple:
    """How many cases ``counted`` selects (``n_all``) and how many of them are
    open (``n_open``), as two uncorrelated subqueries. ``COUNT(*)``, not of a
    column: PostgreSQL then answers from the index."""
    count = fn.COUNT(SQL("*"))
    is_open = SupportCase.status.in_(OPEN_STATUSES)
    return (
        counted.select(count).order_by().alias("n_all"),
        counted.select(count).where(is_open).order_by().alias("n_open"),
    )


def _counted_page(query, counted, start: int, size: int):
    """Rows ``start`` to ``start + size`` of ``query`` and the counts of
    ``counted`` (all, open), in one statement: the counts ride on each row,
    and the database computes them once. Only an empty page reads them apart.
    """
    rows = list(query.select_extend(*_counts(counted)).offset(start).limit(size))
    if rows:
        return rows, (rows[0].n_all, rows[0].n_open)
    counts = one_row(*_counts(counted))
    return rows, (counts["n_all"], counts["n_open"])


def _open_first(query, counted, start: int) -> tuple[list[SupportCase], int]:
    """A page of open cases, then closed ones, each newest activity first, and
    the total.

    Index walks (company, last activity) that stop after a page, instead of
    sorting all of a company's cases by an "is open" expression.
    """
    is_open = SupportCase.status.in_(OPEN_STATUSES)
    order = (SupportCase.last_activity_at.desc(), SupportCase.id)
    rows, (total, open_total) = _counted_page(
        query.where(is_open).order_by(*order), counted, start, PAGE_SIZE
    )
    if len(rows) < PAGE_SIZE:
        rows += list(
            query.where(~is_open)
            .order_by(*order)
            .offset(max(start - open_total, 0))
            .limit(PAGE_SIZE - len(rows))
        )
    return rows, total


def _narrow(query, status: str, customer_id: int | None):
    if customer_id:
        query = query.where(SupportCase.company == customer_id)
    if status == "open":
        return query.where(SupportCase.status.in_(OPEN_STATUSES))
    if status:
        return query.where(SupportCase.status == status)
    return query


def thread(case: SupportCase, viewer, files: list[Attachment]) -> list[Message]:
    """The dialogue oldest first, each message with its ``attachments`` out of
    ``files`` (the case's files the viewer may see: ``case_files``); internal
    notes for staff only.
    """
    messages = Message.select().where(Message.case == case)
    if not viewer.is_staff:
        messages = messages.where(Message.is_internal == False)  # noqa: E712
    messages = list(messages.order_by(Message.created_at, Message.id))
    by_message = defaultdict(list)
    for attachment in files:
        by_message[attachment.message_id].append(attachment)
    for message in messages:
        message.attachments = by_message.get(message.id, [])
    return messages


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
        ConsentEvent.select(
            ConsentEvent, User.id, User.first_name, User.last_name, Company
        )
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

"""Case selects scoped to the viewer: the scope is in the query, never after it.

Customers see their company's cases; partners only cases on contracts they
sold whose customer currently shares them or that they reported themselves;
staff see all. Anything else is answered as if it did not exist.
"""

from collections import defaultdict
from functools import cache
from typing import NamedTuple

from flask import abort
from peewee import JOIN, SQL, Column, fn

from ..audit import access_denied
from ..db import fetch_all, scalars
from ..identifiers import normalize_serial
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
from ..models.accounts import STAFF_ROLES
from ..models.cases import OPEN_STATUSES
from ..statements import Statement, param

PAGE_SIZE = 20


def partner_visible(partner_company_id):
    """A partner's cases (a condition over SupportCase joined to Contract): on
    contracts it sold, while the customer shares them, or reported by the
    partner itself. Consent rules only the cases the customer reported."""
    return (Contract.partner == partner_company_id) & (
        (SupportCase.is_shared == True)  # noqa: E712
        | (SupportCase.reporting_partner == partner_company_id)
    )


def scope(query, viewer):
    """Restrict a query over SupportCase (joined to Contract) to ``viewer``'s cases."""
    return scope_of(query, viewer.role, viewer.company_id)


def scope_of(query, role: str, company_id):
    """``scope`` for a viewer of ``role`` in company ``company_id``."""
    if role in STAFF_ROLES:
        return query
    if role == "customer":
        return query.where(SupportCase.company == company_id)
    if role == "partner":
        return query.where(partner_visible(company_id))
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


#: What the app reads of a case's contract, partner, device and company (all
#: of the case): each column costs in building the statement and the rows.
PARTS = (
    Contract.id,
    Contract.number,
    Contract.legacy_number,
    Contract.service_code,
    Contract.partner,
    Partner.id,
    Partner.name,
    Device.id,
    Device.serial,
    Device.product,
    Company.id,
    Company.name,
)


def with_parts():
    """Cases with their contract (and its partner), device and company joined."""
    return (
        _joined(SupportCase, *PARTS)
        .switch(Contract)
        .join(Partner, JOIN.LEFT_OUTER, on=(Contract.partner == Partner.id))
    )


def get_case_or_404(number: str, viewer) -> SupportCase:
    """The case with its contract, device and company, if ``viewer`` may see it."""
    case = _case_page(viewer, number, upto=1)[0].first()
    if case is None:
        _not_found(viewer, "case", number)
    return case


def _not_found(viewer, kind: str, object_id) -> None:
    """404 for an object out of the viewer's scope (or none at all: the two
    look alike from here), logged as a refused access."""
    access_denied(viewer, object=kind, object_id=object_id)
    abort(404)


def case_list(
    viewer, status: str = "", q: str = "", page: int = 1, customer_id: int | None = None
):
    """One page of the viewer's cases, open ones first, then by last activity.

    Returns (cases, total). One statement whatever the number of cases: the
    rows, with only the columns a list shows, carrying the counts (a second on
    the page where open cases give way to closed ones, and when a page is
    empty).
    """
    term = q.strip()
    status_kind = status if status in ("", "open") else "one"
    start = (page - 1) * PAGE_SIZE
    plain = None  # the viewer's cases without the joins, for the counts
    if not term and viewer.role == "customer":
        plain = SupportCase.select().where(SupportCase.company == viewer.company_id)
    if plain is not None and customer_id is None:
        # A customer's list without a search, the page most opened: its
        # statements' text is built once (hezo.statements), not per request.
        first, rest = _customer_list_statements(status_kind)
        values = {"company": viewer.company_id, "status": status}
        first = first.bind_from(values | {"offset": start, "limit": PAGE_SIZE})

        def rest_of(offset, limit):
            return rest.bind_from(values | {"offset": offset, "limit": limit})

        counted = _narrow(plain, status_kind, status, None)
        return _one_page(first, rest_of, counted, status_kind, start)
    first, rest, counted = _list_queries(
        scope(_joined(*LIST_COLUMNS), viewer),
        status_kind,
        status,
        term,
        customer_id,
        plain,
    )
    first = first.offset(start).limit(PAGE_SIZE)
    return _one_page(
        first,
        lambda offset, limit: rest.offset(offset).limit(limit),
        counted,
        status_kind,
        start,
    )


def _list_queries(
    query, status_kind: str, status, term: str = "", customer_id=None, plain=None
):
    """The case list's selects over ``query`` (the viewer's cases): the first
    rows (open cases first unless a status is chosen) carrying the counts,
    the rest (closed cases after the open ones), and what is counted (over
    ``plain`` when given: the same cases without the joins, which cannot
    change the counts). Without offsets and limits."""
    query = _narrow(query, status_kind, status, customer_id)
    counted = query
    if plain is not None:
        counted = _narrow(plain, status_kind, status, customer_id)
    if term:
        like = term.lower()
        query = counted = query.where(
            fn.LOWER(SupportCase.subject).contains(like)
            | fn.LOWER(SupportCase.number).contains(like)
            | (Device.serial == normalize_serial(term))
            | fn.LOWER(Contract.number).contains(like)
        )
    # Open cases first is two index walks on (company, last activity) that
    # stop after a page, not a sort of all of a company's cases by "is open".
    order = (SupportCase.last_activity_at.desc(), SupportCase.id)
    is_open = SupportCase.status.in_(OPEN_STATUSES)
    first = query if status_kind else query.where(is_open)
    first = first.order_by(*order).select_extend(*_counts(counted))
    rest = query.where(~is_open).order_by(*order)
    return first, rest, counted


@cache
def _customer_list_statements(status_kind: str) -> tuple[Statement, Statement]:
    """A customer's list without a search as cached statements, with the
    parameters ``company``, ``status`` (for one status), ``offset`` and
    ``limit``: the first rows with the counts, and the rest."""
    company = param("company")
    query = scope_of(_joined(*LIST_COLUMNS), "customer", company)
    plain = SupportCase.select().where(SupportCase.company == company)
    first, rest, _counted = _list_queries(
        query, status_kind, param("status"), plain=plain
    )
    return tuple(
        Statement(q.offset(param("offset")).limit(param("limit")))
        for q in (first, rest)
    )


def _one_page(first, rest_of, counted, status_kind: str, start: int):
    """(rows, total) of a page: ``first``'s rows (carrying the counts), then,
    open cases first without a chosen status, ``rest_of(offset, limit)``'s."""
    rows = list(first)
    if rows:
        total, open_total = rows[0].n_all, rows[0].n_open
    else:
        (row,) = scalars(*_counts(counted))
        total, open_total = row["n_all"], row["n_open"]
    if not status_kind and len(rows) < PAGE_SIZE:
        rows.extend(rest_of(max(start - open_total, 0), PAGE_SIZE - len(rows)))
    return rows, total


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


def _narrow(query, status_kind: str, status: str, customer_id):
    if customer_id:
        query = query.where(SupportCase.company == customer_id)
    if status_kind == "open":
        return query.where(SupportCase.status.in_(OPEN_STATUSES))
    if status_kind == "one":
        return query.where(SupportCase.status == status)
    return query


class CaseRecord(NamedTuple):
    """What a case page shows besides the case itself."""

    files: list[Attachment]  # those the viewer may download
    messages: list[Message]  # oldest first, each with its ``attachments``
    consents: list[ConsentEvent]  # newest first
    history: list[StatusChange]  # oldest first
    related: list[SupportCase]  # the case it follows and those following it


def get_case_with_record_or_404(number: str, viewer) -> tuple[SupportCase, CaseRecord]:
    """The case (as ``get_case_or_404``) and its record, read together (one
    round trip on PostgreSQL): the record's selects find the case by number,
    and their rows are dropped when the viewer may not see the case."""
    found, *parts = fetch_all(*_case_page(viewer, number))
    if not found:
        _not_found(viewer, "case", number)
    return found[0], _record(*parts)


def case_record(case: SupportCase, viewer) -> CaseRecord:
    """The record of a case already read (and so already allowed)."""
    _case, *record = _case_page(viewer, case.number)
    return _record(*fetch_all(*record))


def _case_page(viewer, number: str, upto: int | None = None) -> list:
    """The case page's selects for ``viewer``, bound to case ``number``: the
    case (in the viewer's scope), its files, messages, consent history, status
    history and related cases (the first ``upto`` of them)."""
    values = {"number": number, "company": viewer.company_id}
    statements = _case_page_statements(viewer.role)[:upto]
    return [statement.bind_from(values) for statement in statements]


def case_version_or_404(number: str, viewer) -> tuple:
    """What a kept case page (``hezo.kept_pages``) of case ``number`` is kept
    for, if ``viewer`` may see it (404 otherwise): its id, number and
    ``revision`` (raised by the database on every change of the case's row
    and of its record: migration 0014) and the contract, partner, device and
    company values the page shows (``PARTS``). One narrow row, not the ~60
    columns and five objects of ``get_case_or_404``."""
    row = (
        _case_version_statement(viewer.role)
        .bind(number=number, company=viewer.company_id)
        .first()
    )
    if row is None:
        _not_found(viewer, "case", number)
    return row


@cache
def _case_version_statement(role: str) -> Statement:
    return Statement(
        scope_of(
            _joined(SupportCase.id, SupportCase.number, _REVISION, *PARTS)
            .switch(Contract)
            .join(Partner, JOIN.LEFT_OUTER, on=(Contract.partner == Partner.id))
            .where(SupportCase.number == param("number")),
            role,
            param("company"),
        )
        .limit(1)
        .tuples()
    )


#: Raised by the database on every change of a case and its record
#: (migration 0014); not a model field, which ``save()`` would write back.
_REVISION = Column(SupportCase._meta.table, "revision")


@cache
def _case_page_statements(role: str) -> tuple[Statement, ...]:
    """Cached statements (``hezo.statements``) of the case page for viewers
    of ``role``, with the parameters ``number`` and (in the viewer's scope)
    ``company``: building the text of their ~90 columns and joins took longer
    than the page may take beyond the floor (bench/PAGES.md)."""
    number = param("number")
    case = scope_of(
        with_parts().where(SupportCase.number == number),
        role,
        param("company"),
    )
    case_id = SupportCase.select(SupportCase.id).where(SupportCase.number == number)
    queries = (case.limit(1), *_record_queries(case_id, role, param("company")))
    return tuple(map(Statement, queries))


def _record_queries(case, role: str, company) -> tuple:
    """Selects of the record of ``case`` (a select of its id) for a viewer
    of ``role`` in ``company``."""
    staff = role in STAFF_ROLES
    return (
        _files(case, staff),
        _messages(case, staff),
        ConsentEvent.select(
            ConsentEvent, User.id, User.first_name, User.last_name, Company
        )
        .join(User, JOIN.LEFT_OUTER)
        .switch(ConsentEvent)
        .join(Company)
        .where(ConsentEvent.case == case)
        .order_by(ConsentEvent.created_at.desc(), ConsentEvent.id.desc()),
        StatusChange.select()
        .where(StatusChange.case == case)
        .order_by(StatusChange.created_at, StatusChange.id),
        _related(case, role, company),
    )


def _related(case, role: str, company):
    """The case that ``case`` follows and the cases that follow it, those the
    viewer may see (numbers only)."""
    earlier, later = SupportCase.alias(), SupportCase.alias()
    return scope_of(
        SupportCase.select(SupportCase.id, SupportCase.number, SupportCase.follows)
        .join(Contract)
        .where(
            # The ids of both sides first (each an index lookup), then their
            # rows: with the two conditions or'ed in the WHERE, the databases
            # read every case of the company instead (about 1 ms for 1,500).
            SupportCase.id.in_(
                later.select(later.id).where(later.follows == case)
                | earlier.select(earlier.follows).where(earlier.id == case)
            )
        ),
        role,
        company,
    ).order_by(SupportCase.id)


def _messages(case, staff: bool):
    """The dialogue, oldest first; internal notes for staff only (each column
    read costs on a 100-message page: those a dialogue shows)."""
    messages = (
        Message.select(
            Message.id,
            Message.author_name,
            Message.body,
            Message.is_internal,
            Message.is_from_staff,
            Message.created_at,
            # The author's role, for the dialogue's "customer · partner · engineer".
            fn.COALESCE(User.role, "").alias("author_role"),
        )
        .join(User, JOIN.LEFT_OUTER, on=(Message.author == User.id))
        .where(Message.case == case)
    )
    if not staff:
        messages = messages.where(Message.is_internal == False)  # noqa: E712
    return messages.order_by(Message.created_at, Message.id)


def _files(case, staff: bool):
    """Attachments the viewer may download (not those of internal notes)."""
    files = (
        Attachment.select(Attachment)
        .join(Message, JOIN.LEFT_OUTER)
        .where(Attachment.case == case)
    )
    if not staff:
        files = files.where(Message.id.is_null() | (Message.is_internal == False))  # noqa: E712
    return files.order_by(Attachment.created_at, Attachment.id)


def _record(files, messages, consents, history, related) -> CaseRecord:
    by_message = defaultdict(list)
    for attachment in files:
        by_message[attachment.message_id].append(attachment)
    for message in messages:
        message.attachments = by_message.get(message.id, [])
    return CaseRecord(files, messages, consents, history, related)


def get_file_or_404(case: SupportCase, attachment_id: int, viewer) -> Attachment:
    """An attachment of the case the viewer may download."""
    attachment = (
        _files(case, viewer.is_staff).where(Attachment.id == attachment_id).first()
    )
    if attachment is None:
        _not_found(viewer, "attachment", attachment_id)
    return attachment


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


def engineers() -> list[User]:
    """Enabled engineers and admins by surname (id and name only): whom the
    staff panel of a case offers to assign it to (and the queue to filter by)."""
    return list(engineers_query())


def engineers_query():
    return (
        User.select(User.id, User.first_name, User.last_name)
        .where(User.role.in_(("engineer", "admin")) & User.is_enabled)
        .order_by(User.last_name)
    )

"""Selects for the engineers' queue; a constant number of queries per page."""

from datetime import datetime, timedelta
from functools import cache, lru_cache
from typing import NamedTuple

from peewee import JOIN, SQL, Case, Select, fn

from ..cases.queries import engineers_query
from ..catalogue import SERVICES, WINDOWS
from ..db import db, fetch_all, scalars
from ..identifiers import normalize_serial
from ..inputs import whole_number
from ..models import Company, Contract, Device, SupportCase, User
from ..models.cases import OPEN_STATUSES
from ..statements import Statement, param
from . import status_counts

PAGE_SIZE = 50
DUE_SOON = timedelta(minutes=15)
Assignee = User.alias()
FILTER_NAMES = ("status", "severity", "window", "assignee", "escalated", "replied")
SEARCH_LENGTH = 100


def severity_rank():
    return Case(SupportCase.severity, [("critical", 0), ("major", 1)], 2)


#: What a queue row shows (a case has 34 columns; 50 full rows of five models
#: cost more to build than the page takes to render).
QUEUE_COLUMNS = (
    SupportCase.id,
    SupportCase.number,
    SupportCase.subject,
    SupportCase.status,
    SupportCase.severity,
    SupportCase.next_due_at,
    SupportCase.escalated_at,
    SupportCase.customer_replied_at,
    SupportCase.company,
    SupportCase.contract,
    SupportCase.device,
    SupportCase.assignee,
    Contract.id,
    Contract.service_code,
    Device.id,
    Company.id,
    Company.name,
    Assignee.id,
    Assignee.first_name,
    Assignee.last_name,
)


class QueuePage(NamedTuple):
    cases: list[SupportCase]
    total: int  # of the filtered queue
    counts: dict  # see counts()
    engineers: list[User]


def queue_page(filters: dict, viewer_id: int, page: int, now: datetime) -> QueuePage:
    """Open cases, what is due first on top (critical first among equals), a
    page of them, with the queue's counts and the engineers to filter by: one
    round trip on PostgreSQL.

    ``filters`` may hold status, severity, window ("8x5", "24x7" or
    "custom": any other agreed hours), assignee
    ("me", "none" or a user id), escalated ("1"), replied ("1": the
    customer wrote since an engineer last answered) and q (a search, see
    ``_search``); others are ignored. The
    total is counted only when something is filtered (else it is the open
    count). The count and the choice of the page's rows read ``support_case``
    alone (through the ``(next_due_at, severity)`` index); only the 50 rows
    shown are joined to their contract, device, company and engineer.
    """
    ids, filtered = _queue_ids(filters, viewer_id)
    start = (page - 1) * PAGE_SIZE
    # The unfiltered queue, the page most opened, runs cached statements
    # (hezo.statements): their text is built once, not per request.
    rows = _queue_rows(ids, start) if filtered else _unfiltered_rows(start).bind()
    statements = [
        _counts_statement().bind(now=now, soon=now + DUE_SOON),
        rows,
        _engineers_statement().bind(),
    ]
    if filtered:
        statements.append(
            Select(columns=[fn.COUNT(SQL("*"))]).from_(ids.alias("q")).bind(db).tuples()
        )
    (counts,), cases, engineers, *counted = fetch_all(*statements)
    counts["open"] = sum(counts[status] for status in OPEN_STATUSES)
    for name in ("breached", "due_soon"):  # as shown: "1000+" at the cap
        n = counts[name]
        counts[f"{name}_shown"] = f"{COUNT_CAP}+" if n >= COUNT_CAP else str(n)
    total = counted[0][0][0] if filtered else counts["open"]
    return QueuePage(cases, total, counts, engineers)


def _queue_ids(filters: dict, viewer_id: int) -> tuple:
    """The ids of the open cases ``filters`` select, and whether any filter
    was given (an unknown value is no filter)."""
    ids = SupportCase.select(SupportCase.id).where(
        SupportCase.status.in_(OPEN_STATUSES)
    )
    conditions = []
    if filters.get("status") in OPEN_STATUSES:
        conditions.append(SupportCase.status == filters["status"])
    if filters.get("severity") in ("critical", "major", "minor"):
        conditions.append(SupportCase.severity == filters["severity"])
    window = filters.get("window")
    if window in WINDOWS:
        codes = [c for c, plan in SERVICES.items() if plan.window == window]
        conditions.append(
            SupportCase.contract.in_(
                Contract.select(Contract.id).where(Contract.service_code.in_(codes))
            )
        )
    assignee = filters.get("assignee") or ""
    if assignee == "me":
        conditions.append(SupportCase.assignee == viewer_id)
    elif assignee == "none":
        conditions.append(SupportCase.assignee.is_null())
    elif whole_number(assignee) is not None:
        conditions.append(SupportCase.assignee == int(assignee))
    if filters.get("escalated") == "1":
        conditions.append(SupportCase.escalated_at.is_null(False))
    if filters.get("replied") == "1":
        conditions.append(SupportCase.customer_replied_at.is_null(False))
    if (filters.get("q") or "").strip():
        conditions.append(_search(filters["q"].strip()))
    return (ids.where(*conditions) if conditions else ids), bool(conditions)


def _search(term: str):
    """Cases whose number or subject holds ``term`` (any case), whose company's
    name or contract's number holds it, or whose serial is it: a condition on
    ``support_case`` alone (subqueries), so the count still reads one table."""
    like = term.lower()
    return (
        fn.LOWER(SupportCase.number).contains(like)
        | fn.LOWER(SupportCase.subject).contains(like)
        | SupportCase.company.in_(
            Company.select(Company.id).where(fn.LOWER(Company.name).contains(like))
        )
        | SupportCase.contract.in_(
            Contract.select(Contract.id).where(fn.LOWER(Contract.number).contains(like))
        )
        | SupportCase.device.in_(
            Device.select(Device.id).where(Device.serial == normalize_serial(term))
        )
    )


def _queue_rows(ids, start: int):
    """The queue's page of rows from ``start`` among the cases ``ids`` selects.

    The page's bounds are in the text, not parameters: PostgreSQL's plan for
    any bounds (a generic plan) takes 44 ms here, so with parameters it plans
    the statement again at every execution (1 ms) once psycopg prepares it;
    with the bounds written in, it plans once per connection and page.
    """
    order = (
        SupportCase.next_due_at.asc(nulls="LAST"),
        severity_rank(),
        SupportCase.reported_at,
        SupportCase.id,
    )
    page = ids.order_by(*order).offset(SQL(str(int(start)))).limit(SQL(str(PAGE_SIZE)))
    return (
        SupportCase.select(*QUEUE_COLUMNS)
        .join(Contract)
        .switch(SupportCase)
        .join(Device)
        .switch(SupportCase)
        .join(Company)
        .switch(SupportCase)
        .join(Assignee, JOIN.LEFT_OUTER, on=(SupportCase.assignee == Assignee.id))
        .where(SupportCase.id.in_(page))
        .order_by(*order)
    )


@lru_cache(maxsize=64)
def _unfiltered_rows(start: int) -> Statement:
    """The unfiltered queue's page of rows from ``start`` (its bounds in the
    text, see ``_queue_rows``: one cached statement per page)."""
    ids, _filtered = _queue_ids({}, 0)
    return Statement(_queue_rows(ids, start))


@cache
def _engineers_statement() -> Statement:
    return Statement(engineers_query())


@cache
def _counts_statement() -> Statement:
    """Open cases per status (the sums of ``status_counts``, not a count of
    the cases) and how many clocks are breached or due soon (ranges of the
    ``(status, next_due_at)`` index, capped at COUNT_CAP), with the
    parameters ``now`` and ``soon`` (now + DUE_SOON): one statement whose
    cost does not grow with the number of open cases."""
    now = param("now", SupportCase.next_due_at)
    soon = param("soon", SupportCase.next_due_at)
    is_open = SupportCase.status.in_(OPEN_STATUSES)
    due = SupportCase.next_due_at
    clocks = {
        "breached": is_open & (due < now),
        "due_soon": is_open & (due >= now) & (due < soon),
    }
    return Statement(
        scalars(
            *(status_counts.count_of(status).alias(status) for status in OPEN_STATUSES),
            *(
                capped_count(condition).alias(name)
                for name, condition in clocks.items()
            ),
        )
    )


#: The clocks' counts stop here ("1000+"): reading them costs at most this
#: many index entries however many cases are open.
COUNT_CAP = 1000


def capped_count(condition):
    """A scalar subquery: how many cases meet ``condition``, up to COUNT_CAP."""
    first = SupportCase.select(SQL("1")).where(condition).limit(COUNT_CAP)
    return Select(columns=[fn.COUNT(SQL("*"))]).from_(first.alias("capped"))


def company_by_nip(nip: str) -> Company | None:
    from ..identifiers import normalize_nip

    return Company.get_or_none(Company.nip == (normalize_nip(nip) or ""))


def company_customers(company: Company) -> list[User]:
    return list(
        User.select()
        .where((User.company == company) & (User.role == "customer"))
        .order_by(User.last_name)
    )

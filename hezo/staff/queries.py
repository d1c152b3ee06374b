"""Selects for the engineers' queue; a constant number of queries per page."""

from datetime import datetime, timedelta
from functools import cache, lru_cache
from typing import NamedTuple

from peewee import JOIN, SQL, Case, Select, fn

from ..catalogue import SERVICES
from ..db import Baked, db, fetch_all, scalars, slot
from ..inputs import whole_number
from ..models import Company, Contract, Device, SupportCase, User
from ..models.cases import OPEN_STATUSES

PAGE_SIZE = 50
DUE_SOON = timedelta(minutes=15)
Assignee = User.alias()
FILTER_NAMES = ("status", "severity", "window", "assignee", "escalated", "replied")


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

    ``filters`` may hold status, severity, window ("8x5"/"24x7"), assignee
    ("me", "none" or a user id), escalated ("1") and replied ("1": the
    customer wrote since an engineer last answered); others are ignored. The
    total is counted only when something is filtered (else it is the open
    count). The count and the choice of the page's rows read ``support_case``
    alone (through the ``(next_due_at, severity)`` index); only the 50 rows
    shown are joined to their contract, device, company and engineer.
    """
    wanted = _wanted(filters)
    _ids, count = _queue_ids(*wanted)
    values = dict(
        status=filters.get("status"),
        severity=filters.get("severity"),
        assignee=int(filters["assignee"]) if wanted[3] == "id" else None,
        viewer=viewer_id,
        now=now,
        soon=now + DUE_SOON,
    )
    statements = [
        _counts_statement().bind(**values),
        _queue_rows(wanted, (page - 1) * PAGE_SIZE).bind(**values),
        _engineers_statement().bind(),
    ]
    filtered = any(wanted)
    if filtered:
        statements.append(count.bind(**values))
    (counts,), cases, engineers, *counted = fetch_all(*statements)
    counts["open"] = sum(counts[status] for status in OPEN_STATUSES)
    total = counted[0][0][0] if filtered else counts["open"]
    return QueuePage(cases, total, counts, engineers)


def _wanted(filters: dict) -> tuple:
    """The kind of each filter given (what shapes the statements): status and
    severity (given or not), window, assignee ("me", "none", "id" or "") and
    escalated and replied."""
    assignee = filters.get("assignee") or ""
    if assignee not in ("me", "none"):
        assignee = "id" if whole_number(assignee) is not None else ""
    return (
        filters.get("status") in OPEN_STATUSES,
        filters.get("severity") in ("critical", "major", "minor"),
        filters.get("window") if filters.get("window") in ("8x5", "24x7") else "",
        assignee,
        filters.get("escalated") == "1",
        filters.get("replied") == "1",
    )


@cache
def _queue_ids(
    status: bool,
    severity: bool,
    window: str,
    assignee: str,
    escalated: bool,
    replied: bool,
):
    """The ids of the open cases one combination of filters selects, and their
    count, baked. Slots: ``status``, ``severity``, ``assignee``, ``viewer``."""
    ids = SupportCase.select(SupportCase.id).where(
        SupportCase.status.in_(OPEN_STATUSES)
    )
    if status:
        ids = ids.where(SupportCase.status == slot("status"))
    if severity:
        ids = ids.where(SupportCase.severity == slot("severity"))
    if window:
        codes = [c for c, plan in SERVICES.items() if plan.window == window]
        ids = ids.where(
            SupportCase.contract.in_(
                Contract.select(Contract.id).where(Contract.service_code.in_(codes))
            )
        )
    if assignee == "me":
        ids = ids.where(SupportCase.assignee == slot("viewer"))
    elif assignee == "none":
        ids = ids.where(SupportCase.assignee.is_null())
    elif assignee == "id":
        ids = ids.where(SupportCase.assignee == slot("assignee"))
    if escalated:
        ids = ids.where(SupportCase.escalated_at.is_null(False))
    if replied:
        ids = ids.where(SupportCase.customer_replied_at.is_null(False))
    count = Select(columns=[fn.COUNT(SQL("*"))]).from_(ids.alias("q")).bind(db)
    return ids, Baked(count.tuples())


@lru_cache(maxsize=512)
def _queue_rows(wanted: tuple, start: int) -> Baked:
    """The queue's page of rows from ``start`` for the filters ``wanted``, baked.

    The page's bounds are in the text, not parameters: PostgreSQL's plan for
    any bounds (a generic plan) takes 44 ms here, so with parameters it plans
    the statement again at every execution (1 ms); with the bounds written in,
    it plans once per connection and page.
    """
    ids, _count = _queue_ids(*wanted)
    order = (
        SupportCase.next_due_at.asc(nulls="LAST"),
        severity_rank(),
        SupportCase.reported_at,
        SupportCase.id,
    )
    page = ids.order_by(*order).offset(SQL(str(int(start)))).limit(SQL(str(PAGE_SIZE)))
    return Baked(
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


@cache
def _counts_statement() -> Baked:
    """Open cases per status, and how many clocks are breached or due soon
    (slots ``now`` and ``soon``): one statement of counts over the
    ``(status, next_due_at)`` index, each a range of it (cheaper than grouping
    20,000 open cases on both databases)."""
    is_open = SupportCase.status.in_(OPEN_STATUSES)
    due = SupportCase.next_due_at
    now = slot("now", SupportCase.next_due_at)
    ranges = {status: SupportCase.status == status for status in OPEN_STATUSES}
    ranges["breached"] = is_open & (due < now)
    ranges["due_soon"] = is_open & (due >= now) & (due < slot("soon", due))
    return Baked(
        scalars(
            *(
                SupportCase.select(fn.COUNT(SQL("*"))).where(condition).alias(name)
                for name, condition in ranges.items()
            )
        )
    )


def engineers() -> list[User]:
    """Enabled engineers and admins by surname (id and name only)."""
    return list(_engineers_statement().bind())


@cache
def _engineers_statement() -> Baked:
    return Baked(
        User.select(User.id, User.first_name, User.last_name)
        .where(User.role.in_(("engineer", "admin")) & User.is_enabled)
        .order_by(User.last_name)
    )


def company_by_nip(nip: str) -> Company | None:
    from ..identifiers import normalize_nip

    return Company.get_or_none(Company.nip == (normalize_nip(nip) or ""))


def company_customers(company: Company) -> list[User]:
    return list(
        User.select()
        .where((User.company == company) & (User.role == "customer"))
        .order_by(User.last_name)
    )

"""Selects for the engineers' queue; a constant number of queries per page."""

from datetime import datetime, timedelta

from peewee import JOIN, SQL, Case, fn

from ..catalogue import SERVICES
from ..db import one_row
from ..models import Company, Contract, Device, SupportCase, User
from ..models.cases import OPEN_STATUSES

PAGE_SIZE = 50
DUE_SOON = timedelta(minutes=15)
Assignee = User.alias()
FILTER_NAMES = ("status", "severity", "window", "assignee", "escalated")


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


def queue(filters: dict, viewer_id: int, page: int = 1, open_total: int | None = None):
    """Open cases, what is due first on top (critical first among equals).

    ``filters`` may hold status, severity, window ("8x5"/"24x7"), assignee
    ("me", "none" or a user id) and escalated ("1"). Returns (cases, total);
    ``open_total`` (from ``counts()``) is the total when nothing is filtered.
    The count and the choice of the page's rows read ``support_case`` alone
    (through the ``(next_due_at, severity)`` index); only the 50 rows shown
    are joined to their contract, device, company and engineer.
    """
    ids = _filter(
        SupportCase.select(SupportCase.id).where(SupportCase.status.in_(OPEN_STATUSES)),
        filters,
        viewer_id,
    )
    filtered = any(filters.get(name) for name in FILTER_NAMES)
    total = ids.count() if filtered or open_total is None else open_total
    order = (
        SupportCase.next_due_at.asc(nulls="LAST"),
        severity_rank(),
        SupportCase.reported_at,
        SupportCase.id,
    )
    rows = (
        SupportCase.select(*QUEUE_COLUMNS)
        .join(Contract)
        .switch(SupportCase)
        .join(Device)
        .switch(SupportCase)
        .join(Company)
        .switch(SupportCase)
        .join(Assignee, JOIN.LEFT_OUTER, on=(SupportCase.assignee == Assignee.id))
        .where(SupportCase.id.in_(ids.order_by(*order).paginate(page, PAGE_SIZE)))
        .order_by(*order)
    )
    return list(rows), total


def _filter(query, filters: dict, viewer_id: int):
    if filters.get("status") in OPEN_STATUSES:
        query = query.where(SupportCase.status == filters["status"])
    if filters.get("severity") in ("critical", "major", "minor"):
        query = query.where(SupportCase.severity == filters["severity"])
    if filters.get("window") in ("8x5", "24x7"):
        codes = [c for c, plan in SERVICES.items() if plan.window == filters["window"]]
        query = query.where(
            SupportCase.contract.in_(
                Contract.select(Contract.id).where(Contract.service_code.in_(codes))
            )
        )
    assignee = filters.get("assignee")
    if assignee == "me":
        query = query.where(SupportCase.assignee == viewer_id)
    elif assignee == "none":
        query = query.where(SupportCase.assignee.is_null())
    elif assignee and assignee.isdigit():
        query = query.where(SupportCase.assignee == int(assignee))
    if filters.get("escalated") == "1":
        query = query.where(SupportCase.escalated_at.is_null(False))
    return query


def counts(now: datetime) -> dict:
    """Open cases per status and in all (``"open"``), plus how many clocks are
    breached or due soon.

    One statement of counts over the ``(status, next_due_at)`` index, each a
    range of it (cheaper than grouping 20,000 open cases on both databases).
    """
    is_open = SupportCase.status.in_(OPEN_STATUSES)
    due = SupportCase.next_due_at
    ranges = {status: SupportCase.status == status for status in OPEN_STATUSES}
    ranges["breached"] = is_open & (due < now)
    ranges["due_soon"] = is_open & (due >= now) & (due < now + DUE_SOON)
    result = one_row(
        *(
            SupportCase.select(fn.COUNT(SQL("*"))).where(condition).alias(name)
            for name, condition in ranges.items()
        )
    )
    result["open"] = sum(result[status] for status in OPEN_STATUSES)
    return result


def engineers() -> list[User]:
    """Enabled engineers and admins by surname (id and name only)."""
    return list(
        User.select(User.id, User.first_name, User.last_name)
        .where(User.role.in_(("engineer", "admin")) & User.is_enabled)
        .order_by(User.last_name)
    )


def company_by_nip(nip: str) -> Company | None:
    from ..register_import import normalize_nip

    return Company.get_or_none(Company.nip == (normalize_nip(nip) or ""))


def company_customers(company: Company) -> list[User]:
    return list(
        User.select()
        .where((User.company == company) & (User.role == "customer"))
        .order_by(User.last_name)
    )

"""What the report's page, its CSV and its PDF show: the month and the
viewer's scope from the query string, the figures as text."""

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from flask import abort, request, url_for
from flask_babel import format_decimal, lazy_gettext

from .. import sla
from ..db import utcnow
from ..inputs import month_arg, whole_number
from ..models import Company
from . import charts, figures

#: Rows per breakdown on the page (the largest groups); the CSV has them all.
PAGE_ROWS = 25
TITLES = {
    "customer": lazy_gettext("Per customer"),
    "contract": lazy_gettext("Per contract"),
    "service": lazy_gettext("Per service"),
    "engineer": lazy_gettext("Per engineer"),
}
#: What each viewer sees broken down: customers their contracts and services.
STAFF_DIMENSIONS = ("customer", "contract", "service", "engineer")
ONE_CUSTOMER_DIMENSIONS = ("contract", "service", "engineer")
CUSTOMER_DIMENSIONS = ("contract", "service")


@dataclass(frozen=True)
class Scope:
    year: int
    month: int
    company: Company | None  # None: every customer (staff only)
    is_staff: bool

    @property
    def text(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        """The month's first and next month's first moments, Warsaw time."""
        year, month = self.year, self.month
        start = datetime(year, month, 1, tzinfo=sla.WARSAW)
        return start, datetime(year + month // 12, month % 12 + 1, 1, tzinfo=sla.WARSAW)

    @property
    def dimensions(self) -> tuple[str, ...]:
        if not self.is_staff:
            return CUSTOMER_DIMENSIONS
        return STAFF_DIMENSIONS if self.company is None else ONE_CUSTOMER_DIMENSIONS

    def company_label(self) -> str:
        if self.company is None:
            return str(lazy_gettext("All customers"))
        return self.company.name

    def query(self) -> dict:
        args = {"month": self.text}
        if self.is_staff and self.company is not None:
            args["customer"] = self.company.id
        return args


def scope_of(user) -> Scope:
    """``?month=YYYY-MM`` (this month when absent or not one); staff's
    ``?customer=<company id>`` (404 for one that does not exist). A
    customer's scope is always its own company: the parameter is ignored."""
    year, month = month_arg()
    if user.role == "customer":
        return Scope(year, month, user.company, False)
    raw = request.args.get("customer", "").strip()
    if not raw:
        return Scope(year, month, None, True)
    number = whole_number(raw)
    company = None if number is None else Company.get_or_none(Company.id == number)
    if company is None:
        abort(404)
    return Scope(year, month, company, True)


def report_of(scope: Scope) -> figures.Report:
    company = None if scope.company is None else scope.company.id
    return figures.month_report(*scope.bounds, utcnow(), company)


def pct(value: float | None) -> str:
    return "—" if value is None else format_decimal(value, "0.0") + " %"


def hours(value: float | None) -> str:
    return "—" if value is None else format_decimal(value, "0.00")


def average(value: float | None) -> str:
    return "—" if value is None else format_decimal(value, "0.00")


def largest(rows: list[figures.Row], limit: int | None) -> list[figures.Row]:
    ordered = sorted(rows, key=lambda r: -r.cases)
    return ordered if limit is None else ordered[:limit]


def context(
    scope: Scope,
    report: figures.Report,
    limit: int | None,
    dimensions: tuple[str, ...] | None = None,
) -> dict:
    """The template's figures: the month's total and each breakdown (its
    ``limit`` largest groups) with the chart of its response met %."""
    sections = []
    for dim in dimensions or scope.dimensions:
        rows = largest(report.groups[dim], limit)
        chart = charts.bar_chart(
            [
                (label_of(dim, r), r.response_met_pct, pct(r.response_met_pct))
                for r in rows
            ]
        )
        sections.append(
            {
                "dim": dim,
                "title": TITLES[dim],
                "rows": rows,
                "all": len(report.groups[dim]),
                "chart": chart,
            }
        )
    return {
        "scope": scope,
        "report": report,
        "total": report.total,
        "sections": sections,
        "pct": pct,
        "target": charts.TARGET_PCT,
        "hours": hours,
        "average": average,
        "label_of": label_of,
        "customer_link": lambda row: url_for(
            "reports.index", month=scope.text, customer=row.key
        ),
    }


def label_of(dim: str, row: figures.Row) -> str:
    if dim == "engineer" and row.key is None:
        return str(lazy_gettext("nobody assigned"))
    return row.label


CSV_HEADER = (
    lazy_gettext("Month"),
    lazy_gettext("Breakdown"),
    lazy_gettext("Group"),
    lazy_gettext("Cases"),
    lazy_gettext("Responses due"),
    lazy_gettext("Responses on time"),
    lazy_gettext("Response within 1 hour met (%)"),
    lazy_gettext("Median response (window hours)"),
    lazy_gettext("90th percentile response (window hours)"),
    lazy_gettext("Deliveries due"),
    lazy_gettext("Deliveries on time"),
    lazy_gettext("Delivery met (%)"),
    lazy_gettext("Returns overdue"),
    lazy_gettext("Escalations"),
    lazy_gettext("Satisfaction answers"),
    lazy_gettext("Satisfaction average"),
)


def _cell(value: str) -> str:
    """A text cell a spreadsheet would run as a formula starts with a quote."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _number(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def report_csv(scope: Scope, report: figures.Report) -> str:
    """Every group of every breakdown shown (not only the page's largest):
    semicolons, numbers with a dot, a BOM so spreadsheets read UTF-8."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([str(h) for h in CSV_HEADER])
    lines = [(str(lazy_gettext("Month")), scope.company_label(), report.total)]
    for dim in scope.dimensions:
        lines += [(str(TITLES[dim]), label_of(dim, r), r) for r in report.groups[dim]]
    for breakdown, label, r in lines:
        writer.writerow(
            [
                scope.text,
                breakdown,
                _cell(label),
                r.cases,
                r.response_decided,
                r.response_met,
                _number(r.response_met_pct, 1),
                _number(r.median_hours, 2),
                _number(r.p90_hours, 2),
                r.delivery_decided,
                r.delivery_met,
                _number(r.delivery_met_pct, 1),
                r.returns_overdue,
                r.escalations,
                r.answers,
                _number(r.satisfaction, 2),
            ]
        )
    return "\ufeff" + out.getvalue()

"""Staff's satisfaction results: the answers of one month per engineer and
service (count, average, how many gave each rating), one query."""

from datetime import datetime

from flask import render_template
from flask_babel import format_decimal

from .. import sla
from ..cases import closing
from ..inputs import month_arg
from ..security import staff_required
from . import bp


def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    """The month's first and next month's first moments, Warsaw time."""
    start = datetime(year, month, 1, tzinfo=sla.WARSAW)
    following = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=sla.WARSAW)
    return start, following


@bp.get("/satisfaction")
@staff_required
def satisfaction():
    """``?month=YYYY-MM`` (Warsaw time; this month when absent or not one)."""
    year, month = month_arg()
    rows = closing.results(*month_bounds(year, month))
    for row in rows:
        row["average_text"] = format_decimal(float(row["average"]), "0.00")
        row["distribution"] = [row[f"r{r}"] or 0 for r in closing.RATINGS]
    return render_template(
        "staff/satisfaction.html",
        rows=rows,
        month=f"{year:04d}-{month:02d}",
        ratings=closing.RATINGS,
        total=sum(row["count"] for row in rows),
    )

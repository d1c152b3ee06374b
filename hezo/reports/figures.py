"""The service-level figures of one month, counted by the database.

Every figure is of the cases *reported* in the month (Warsaw time), whatever
happened to them later, so a month's row is comparable with the next one's;
a clock still running when the report is read counts neither as met nor as
missed (it is "pending").

- Response: met when the first engineer reply came by ``response_due_at``
  (1 hour of the contract's request window, pushed later by the waits for
  the customer); missed when it came later or has not come and the due time
  has passed. The response time is *window time* between ``reported_at`` and
  ``first_response_at``: on 8x5 only 9:00-17:00 of Polish business days counts
  (``sla.window_time_between``), on 24x7 all of it. Median and 90th
  percentile are linear interpolation between the closest ranks (what
  PostgreSQL's ``percentile_cont`` gives).
- Delivery (replacement or engineer on site): met when ``delivered_at`` is at
  or before ``delivery_due_at``; missed when later, or not delivered and due.
- Returns overdue: the faulty unit came back after ``return_due_at``, or has
  not come back and the due time has passed.
- Escalations: cases escalated. Satisfaction: the answers to those cases.

One SQL statement computes every breakdown (the month as a whole, per
customer, contract, service and engineer): window time is counted with a
calendar of the days concerned written into the statement (a constant table
of a few dozen rows per window: each UTC day's open parts of that window, at
most two since a Warsaw day's window may start on one UTC day and end on the
next, and the window seconds before the day, so a moment's position in
window time is a join on its window and day number), and the percentiles
with ``ROW_NUMBER()`` over each group. One more statement finds the windows
of the month's cases and how far the calendar must reach. So the number of
queries does not grow with the number of cases, and no case is read into
Python.
"""

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from .. import sla
from ..catalogue import SERVICES, ServicePlan, Window
from ..db import db, is_sqlite
from ..models import SupportCase

DIMENSIONS = ("customer", "contract", "service", "engineer")
DAY = 86400
#: Integer (numerator, denominator) of the percentiles shown.
PERCENTILES = {"median_seconds": (1, 2), "p90_seconds": (9, 10)}


@dataclass
class Row:
    """The figures of one group of cases (the month, or one customer...)."""

    key: str | None
    label: str
    cases: int = 0
    responded: int = 0
    response_decided: int = 0
    response_met: int = 0
    median_seconds: float | None = None
    p90_seconds: float | None = None
    delivery_decided: int = 0
    delivery_met: int = 0
    returns_overdue: int = 0
    escalations: int = 0
    answers: int = 0
    satisfaction: float | None = None

    @property
    def response_met_pct(self) -> float | None:
        return _pct(self.response_met, self.response_decided)

    @property
    def delivery_met_pct(self) -> float | None:
        return _pct(self.delivery_met, self.delivery_decided)

    @property
    def median_hours(self) -> float | None:
        return None if self.median_seconds is None else self.median_seconds / 3600

    @property
    def p90_hours(self) -> float | None:
        return None if self.p90_seconds is None else self.p90_seconds / 3600


@dataclass
class Report:
    start: datetime
    end: datetime
    total: Row
    groups: dict[str, list[Row]] = field(default_factory=dict)


def _pct(part: int, whole: int) -> float | None:
    return None if not whole else 100.0 * part / whole


def _epoch(column: str) -> str:
    """Whole UTC seconds since 1970 of a stored (naive UTC) timestamp."""
    if is_sqlite():
        return f"CAST(strftime('%s', {column}) AS INTEGER)"
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM {column})) AS BIGINT)"


def _param(moment: datetime):
    """A bound timestamp as the column stores it (naive UTC; text on SQLite)."""
    naive = moment.astimezone(UTC).replace(tzinfo=None)
    return str(naive) if is_sqlite() else naive


def _seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def calendar(
    first: date, last: date, windows: list[Window]
) -> list[tuple[int, int, int, int, int, int, int]]:
    """(window number, day number, first open part's start and length, second
    part's start and length, window seconds before the day) for every window
    (numbered from 1) and every UTC day from ``first`` to ``last``. A
    window's Warsaw day (``sla.day_window``, so a day of the clock change is
    as long as it really is) lies in at most two UTC days, so no UTC day has
    more than two open parts; a missing part has start and length 0."""
    zero = datetime.combine(first, time(0), tzinfo=UTC)
    rows = []
    for n, window in enumerate(windows, 1):
        parts, day = [], first - sla.ONE_DAY
        while day <= last + sla.ONE_DAY:
            if sla.is_open_day(day, window):
                parts.append(sla.day_window(day, window))
            day += sla.ONE_DAY
        before = 0
        for number in range((last - first).days + 1):
            lo = zero + timedelta(days=number)
            hi = lo + sla.ONE_DAY
            inside = [
                (_seconds(max(a, lo)), int((min(b, hi) - max(a, lo)).total_seconds()))
                for a, b in parts
                if a < hi and b > lo
            ]
            assert len(inside) <= 2, (window, lo)
            inside += [(0, 0)] * (2 - len(inside))
            (o1, l1), (o2, l2) = inside
            rows.append((n, number, o1, l1, o2, l2, before))
            before += l1 + l2
    return rows


def _clamped(moment: str, opens: str, length: str) -> str:
    return (
        f"CASE WHEN {moment} <= {opens} THEN 0"
        f" WHEN {moment} >= {opens} + {length} THEN {length}"
        f" ELSE {moment} - {opens} END"
    )


def _window_position(alias: str, moment: str) -> str:
    """SQL of a moment's window seconds since the calendar's start, of its
    epoch seconds ``moment`` and its row ``alias`` of the calendar."""
    first = _clamped(moment, f"{alias}.o1", f"{alias}.l1")
    second = _clamped(moment, f"{alias}.o2", f"{alias}.l2")
    return f"({alias}.before_s + {first} + {second})"


def _percentile(name: str, numerator: int, denominator: int) -> str:
    low = f"((n - 1) * {numerator}) / {denominator}"
    modulo = "%" if is_sqlite() else "%%"  # psycopg's placeholders use %
    rest = f"(((n - 1) * {numerator}) {modulo} {denominator})"
    return (
        f"CASE WHEN MAX(n) = 0 THEN NULL ELSE SUM(CASE"
        f" WHEN rn = {low} + 1 THEN secs * ({denominator} - {rest})"
        f" WHEN rn = {low} + 2 THEN secs * {rest} ELSE 0 END)"
        f" * 1.0 / {denominator} END AS {name}"
    )


#: Each breakdown's number in the statement and its group key over ``b``.
KEYS = {
    "all": (0, "0"),
    "customer": (1, "b.company_id"),
    "contract": (2, "b.contract_id"),
    "service": (3, "b.service_n"),
    "engineer": (4, "b.assignee_id"),
}


def _cases_when(column: str, pairs: list[tuple[str, int]]) -> str:
    """SQL of the number paired with ``column``'s value (bound parameters
    named as in ``pairs``), NULL when none is."""
    if not pairs:
        return "NULL"
    whens = " ".join(f"WHEN :{name} THEN {number}" for name, number in pairs)
    return f"CASE {column} {whens} END"


def _statement(
    days: list, company_filter: bool, services: list, terms: list, codes: list
) -> str:
    """Steps: ``raw`` the month's cases as numbers (read once, materialised),
    ``base`` their response time in window seconds (two lookups in the
    calendar of the case's window; window 0 is counted in real time),
    ``grouped`` each case once per breakdown, ``ranked`` its rank by
    response time in its group, then the groups' sums and percentiles, and
    the names of customers, contracts and engineers joined last.
    ``services`` pairs each service code's parameter with its number,
    ``terms`` each stored terms' parameter with its window's number and
    ``codes`` each service code's parameter with its window's number."""
    values = ", ".join("(" + ", ".join(map(str, row)) + ")" for row in days)
    service_n = _cases_when("ct.service_code", services)
    window_n = (
        f"COALESCE({_cases_when('c.service_terms', terms)},"
        f" {_cases_when('ct.service_code', codes)}, 1)"
    )
    unions = " UNION ALL ".join(
        f"SELECT {n} AS dim, {key} AS gkey, b.* FROM base b" for n, key in KEYS.values()
    )
    percentiles = ", ".join(_percentile(n, *p) for n, p in PERCENTILES.items())
    where_company = " AND c.company_id = :company" if company_filter else ""
    day_of = "(r.{} - :zero) / " + str(DAY)
    return f"""
WITH cal (win_n, day_n, o1, l1, o2, l2, before_s) AS (VALUES {values}),
raw AS MATERIALIZED (
  SELECT c.company_id, c.contract_id, c.assignee_id,
    COALESCE({service_n}, 0) AS service_n, {window_n} AS win_n,
    {_epoch("c.reported_at")} AS reported_s,
    {_epoch("c.first_response_at")} AS responded_s,
    CASE WHEN c.response_due_at IS NOT NULL AND (c.first_response_at IS NOT NULL
      OR c.response_due_at < :now) THEN 1 ELSE 0 END AS r_decided,
    CASE WHEN c.first_response_at IS NOT NULL
      AND c.first_response_at <= c.response_due_at THEN 1 ELSE 0 END AS r_met,
    CASE WHEN c.first_response_at IS NOT NULL THEN 1 ELSE 0 END AS r_done,
    CASE WHEN c.delivery_due_at IS NOT NULL AND (c.delivered_at IS NOT NULL
      OR c.delivery_due_at < :now) THEN 1 ELSE 0 END AS d_decided,
    CASE WHEN c.delivered_at IS NOT NULL
      AND c.delivered_at <= c.delivery_due_at THEN 1 ELSE 0 END AS d_met,
    CASE WHEN c.return_due_at IS NOT NULL AND ((c.returned_at IS NULL
      AND c.return_due_at < :now) OR c.returned_at > c.return_due_at)
      THEN 1 ELSE 0 END AS overdue,
    CASE WHEN c.escalated_at IS NOT NULL THEN 1 ELSE 0 END AS escalated,
    s.rating
  FROM support_case c
  JOIN contract ct ON ct.id = c.contract_id
  LEFT JOIN case_satisfaction s ON s.case_id = c.id
  WHERE c.reported_at >= :start AND c.reported_at < :end{where_company}
),
base AS MATERIALIZED (
  SELECT r.company_id, r.contract_id, r.assignee_id, r.service_n,
    r.r_decided, r.r_met, r.r_done, r.d_decided, r.d_met, r.overdue,
    r.escalated, r.rating,
    CASE WHEN r.responded_s IS NULL THEN NULL
      WHEN r.responded_s < r.reported_s THEN 0
      WHEN r.win_n = 0 THEN r.responded_s - r.reported_s
      ELSE {_window_position("fr", "r.responded_s")}
        - {_window_position("rp", "r.reported_s")} END AS secs
  FROM raw r
  LEFT JOIN cal rp ON rp.win_n = r.win_n
    AND rp.day_n = {day_of.format("reported_s")}
  LEFT JOIN cal fr ON fr.win_n = r.win_n
    AND fr.day_n = {day_of.format("responded_s")}
),
grouped AS ({unions}),
ranked AS (
  SELECT g.*,
    ROW_NUMBER() OVER (PARTITION BY dim, gkey
      ORDER BY CASE WHEN secs IS NULL THEN 1 ELSE 0 END, secs) AS rn,
    COUNT(secs) OVER (PARTITION BY dim, gkey) AS n
  FROM grouped g
),
totals AS (
  SELECT dim, gkey, COUNT(*) AS cases,
    SUM(r_done) AS responded, SUM(r_decided) AS response_decided,
    SUM(r_met) AS response_met, {percentiles},
    SUM(d_decided) AS delivery_decided, SUM(d_met) AS delivery_met,
    SUM(overdue) AS returns_overdue, SUM(escalated) AS escalations,
    COUNT(rating) AS answers, AVG(rating * 1.0) AS satisfaction
  FROM ranked
  GROUP BY dim, gkey
)
SELECT t.*, CASE t.dim WHEN 1 THEN co.name WHEN 2 THEN ct.number
    WHEN 4 THEN u.first_name || ' ' || u.last_name END AS label
FROM totals t
LEFT JOIN company co ON t.dim = 1 AND co.id = t.gkey
LEFT JOIN contract ct ON t.dim = 2 AND ct.id = t.gkey
LEFT JOIN "user" u ON t.dim = 4 AND u.id = t.gkey
"""


PLACEHOLDER = re.compile(r":(zero|now|start|end|company|[st]\d+)\b")


def _positional(sql: str, params: dict) -> tuple[str, list]:
    """``:name`` placeholders as the driver's positional ones, in order."""
    order = []
    mark = "?" if is_sqlite() else "%s"

    def swap(match):
        order.append(params[match.group(1)])
        return mark

    return PLACEHOLDER.sub(swap, sql), order


def _month_terms(start: datetime, end: datetime, company: int | None):
    """The terms the month's cases opened with (None for cases without) and
    the latest first response to them (the calendar's end), per terms."""
    sql = (
        "SELECT service_terms, MAX(first_response_at) FROM support_case"
        " WHERE reported_at >= :start AND reported_at < :end"
        + (" AND company_id = :company" if company is not None else "")
        + " GROUP BY service_terms"
    )
    params = {"start": _param(start), "end": _param(end), "company": company}
    rows = db.execute_sql(*_positional(sql, params)).fetchall()
    terms = [stored for stored, _value in rows if stored is not None]
    # The column's own conversion: text on SQLite, naive UTC on both.
    moments = [SupportCase.first_response_at.python_value(v) for _s, v in rows]
    return terms, max((m for m in moments if m is not None), default=None)


def _window_of(terms: str) -> Window | None:
    try:
        window = ServicePlan.from_terms(terms, None).hours
    except (ValueError, KeyError, TypeError):
        return None
    return window if window.is_valid() else None


def month_report(
    start: datetime, end: datetime, now: datetime, company: int | None = None
) -> Report:
    """The figures of the cases reported in [start, end) (of one customer
    company when ``company`` is its id): two queries whatever their number."""
    stored, last = _month_terms(start, end, company)
    first_day = start.astimezone(UTC).date()
    last_day = max(end.astimezone(UTC).date(), last.date() if last else first_day)
    # The catalogue as it is now: custom variants made since start-up too.
    codes = tuple(sorted(SERVICES))
    windows = [sla.STANDARD]

    def number(window: Window | None) -> int | None:
        if window is None:
            return None
        if window.continuous:
            return 0
        if window not in windows:
            windows.append(window)
        return windows.index(window) + 1

    params = {
        "zero": _seconds(datetime.combine(first_day, time(0), tzinfo=UTC)),
        "now": _param(now),
        "start": _param(start),
        "end": _param(end),
        "company": company,
    }
    services, by_terms, by_code = [], [], []
    for i, code in enumerate(codes, 1):
        params[f"s{i}"] = code
        services.append((f"s{i}", i))
        by_code.append((f"s{i}", number(SERVICES[code].hours)))
    for i, terms in enumerate(stored, 1):
        window_n = number(_window_of(terms))
        if window_n is not None:
            params[f"t{i}"] = terms
            by_terms.append((f"t{i}", window_n))
    days = calendar(first_day, last_day, windows)
    sql = _statement(days, company is not None, services, by_terms, by_code)
    cursor = db.execute_sql(*_positional(sql, params))
    names = [d[0] for d in cursor.description]
    groups: dict[str, list[Row]] = {dim: [] for dim in DIMENSIONS}
    total = Row(key=None, label="")
    dimensions = {n: dim for dim, (n, _key) in KEYS.items()}
    for values in cursor.fetchall():
        record = dict(zip(names, values, strict=True))
        dim = dimensions[record.pop("dim")]
        key, label = record.pop("gkey"), record.pop("label") or ""
        if dim == "service":
            label = codes[key - 1] if key else "?"
        row = Row(
            key=None if key is None else str(key),
            label=label,
            **{name: _number(name, value) for name, value in record.items()},
        )
        if dim == "all":
            total = row
        else:
            groups[dim].append(row)
    for rows in groups.values():
        rows.sort(key=lambda r: (r.key is None, r.label.casefold(), r.key or ""))
    return Report(start=start, end=end, total=total, groups=groups)


FLOATS = ("median_seconds", "p90_seconds", "satisfaction")


def _number(name: str, value):
    if value is None:
        return None if name in FLOATS else 0
    return float(value) if name in FLOATS else int(value)

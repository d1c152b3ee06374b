"""Service clocks: when a case's response, delivery and return fall due.

Pure functions: they read only their arguments and the service catalogue, never
the database or the current time (callers pass ``now``). Every datetime in or
out is timezone-aware; naive input raises ``ValueError`` and results are UTC.

Rules (``shared/formats/README.md``, ``DESIGN.md`` "Service clocks"):

- The request window of a plan is ``"8x5"`` or ``"24x7"``. 8x5 means
  9:00-17:00 Europe/Warsaw wall-clock time, Monday to Friday, except Polish
  public holidays; the window is half-open, so 17:00 itself is closed. 24x7
  counts continuously.
- Response: 1 hour of window time after the case is reported. A case reported
  outside the window starts counting when the window next opens.
- Delivery / on-site, from validation: ``NBD`` is 17:00 of the next business
  day after the (Warsaw) calendar day of validation; ``8H`` / ``4H`` are 8 or 4
  hours of window time; a plan without replacement has no delivery clock.
- Return: the faulty unit is due 7 calendar days after delivery.
- Waiting for the customer stops the clock: the due time moves later by the
  window time that elapsed while paused.

Window arithmetic is done per local day, so each day's window is 9:00-17:00
whatever the UTC offset; DST changes happen at night, never inside a window.
24x7 arithmetic is done in UTC, so the lost and repeated hours count as real time.

Contracts on a custom variant (``catalogue.py``) have their own window
(weekdays, opening and closing hour, whether public holidays and the office's
closed days count), response time and replacement time (``NBD`` or any number
of hours); every function taking a ``window`` accepts a ``catalogue.Window``
or the name of a standard one. A window open all day on every day that ignores
holidays is 24x7 (real time). The office's closed days are skipped like
public holidays by windows that skip holidays, and are no business days. NBD
on a window that skips holidays ends at that window's close on its next open
day after the validation day; on any other window (24x7) at 17:00 of the next
business day, as for 8x5.

Holidays come from the ``holidays`` package; pyproject requires >=0.100, which
already lists Christmas Eve (Wigilia, a public holiday since 2025) — a test
guards that, so no local addition is needed.
"""

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from .catalogue import (
    NAMED_WINDOWS,
    NEXT_BUSINESS_DAY,
    ServicePlan,
    Window,
    get_plan,
    replacement_hours,
)
from .catalogue import closed_days as office_closed_days

WARSAW = ZoneInfo("Europe/Warsaw")
RESPONSE_TIME = timedelta(hours=1)
RETURN_PERIOD = timedelta(days=7)
DUE_SOON = timedelta(minutes=15)
ONE_DAY = timedelta(days=1)
STANDARD = NAMED_WINDOWS["8x5"]


@lru_cache(maxsize=64)
def local_day(moment: datetime) -> date:
    """The calendar day in Warsaw of an aware ``moment`` (contracts' periods,
    case numbers' years and business days are Polish calendar days)."""
    return moment.astimezone(WARSAW).date()


def polish_holidays(year: int) -> frozenset[date]:
    """The dates of Polish public holidays in ``year`` (cached per year)."""
    return frozenset(holidays.Poland(years=year))


def is_business_day(day: date) -> bool:
    """True for Monday to Friday unless ``day`` is a Polish public holiday
    or a day the office is closed."""
    return is_open_day(day, STANDARD)


def is_open_day(day: date, window: Window) -> bool:
    """Whether ``window`` opens on ``day`` at all: one of its weekdays and,
    for a window that skips holidays, neither a Polish public holiday nor a
    day the office is closed."""
    if str(day.isoweekday()) not in window.days:
        return False
    if window.holidays:
        return day not in polish_holidays(day.year) and day not in office_closed_days()
    return True


def next_business_day(day: date) -> date:
    """The first business day strictly after ``day``."""
    day += ONE_DAY
    while not is_business_day(day):
        day += ONE_DAY
    return day


def _require_aware(*moments: datetime) -> None:
    for moment in moments:
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"naive datetime {moment!r}: a timezone is required")


def _window(window: "Window | str") -> Window:
    """``window`` itself, or the standard window of that name."""
    if isinstance(window, Window):
        if not window.is_valid():
            raise ValueError(f"invalid request window {window!r}")
        return window
    if window not in NAMED_WINDOWS:
        raise ValueError(f"unknown request window {window!r}")
    return NAMED_WINDOWS[window]


def _plan(service: "ServicePlan | str") -> ServicePlan:
    if isinstance(service, ServicePlan):
        return service
    plan = get_plan(service)
    if plan is None:
        raise ValueError(f"unknown service code {service!r}")
    return plan


def _hour(day: date, hour: int) -> datetime:
    """``hour`` o'clock Warsaw time on ``day`` in UTC (24: the next midnight;
    an hour skipped by the spring change counts as the hour after it)."""
    if hour == 24:
        day, hour = day + ONE_DAY, 0
    return datetime.combine(day, time(hour), tzinfo=WARSAW).astimezone(UTC)


def day_window(day: date, window: Window | None = None) -> tuple[datetime, datetime]:
    """The window of ``day`` (8x5 by default) in UTC, so its length is real
    time across a DST change (the caller checks the day)."""
    window = window or STANDARD
    return _hour(day, window.opens), _hour(day, window.closes)


def add_window_time(
    start: datetime, duration: timedelta, window: "Window | str"
) -> datetime:
    """The earliest instant ``t >= start`` with ``window_time_between(start, t)``
    equal to ``duration``, in UTC.

    24x7: ``start + duration`` in real (UTC) time. 8x5: ``duration`` is spent
    only inside business-day windows, so a start outside the window counts from
    the next opening, and a due time that uses a window up exactly ends at
    17:00 rather than at the next 9:00. A zero duration returns ``start``.
    Raises ``ValueError`` for naive ``start``, negative ``duration`` or an
    unknown window.
    """
    _require_aware(start)
    window = _window(window)
    if duration < timedelta(0):
        raise ValueError("duration must not be negative")
    start = start.astimezone(UTC)
    if window.continuous or not duration:
        return start + duration
    remaining = duration
    day = local_day(start)
    while True:
        if is_open_day(day, window):
            opens, closes = day_window(day, window)
            begin = max(start, opens)
            if begin < closes:
                if remaining <= closes - begin:
                    return (begin + remaining).astimezone(UTC)
                remaining -= closes - begin
        day += ONE_DAY


def window_opens(moment: datetime, window: "Window | str") -> datetime:
    """When the request window is next open from ``moment``, in UTC: ``moment``
    itself inside the window (always on 24x7), else the next 8x5 opening (9:00
    Warsaw on the next business day, or today's if it is still ahead). A case
    reported at ``moment`` starts its response clock then. Raises ``ValueError``
    for naive input or an unknown window.
    """
    _require_aware(moment)
    window = _window(window)
    moment = moment.astimezone(UTC)
    if window.continuous:
        return moment
    day = local_day(moment)
    while True:
        if is_open_day(day, window):
            opens, closes = day_window(day, window)
            if moment < closes:
                return max(moment, opens.astimezone(UTC))
        day += ONE_DAY


def window_time_between(a: datetime, b: datetime, window: "Window | str") -> timedelta:
    """How much window time lies in ``[a, b)``.

    24x7: ``b - a`` in real time. 8x5: only the parts inside business-day
    windows. Raises ``ValueError`` for naive input, ``b`` before ``a`` or an
    unknown window.
    """
    _require_aware(a, b)
    window = _window(window)
    if b < a:
        raise ValueError("the end lies before the start")
    if window.continuous:
        return b - a
    total = timedelta(0)
    day, last = local_day(a), local_day(b)
    while day <= last:
        if is_open_day(day, window):
            opens, closes = day_window(day, window)
            lo, hi = max(a, opens), min(b, closes)
            if hi > lo:
                total += hi - lo
        day += ONE_DAY
    return total


def response_due(reported_at: datetime, service: "ServicePlan | str") -> datetime:
    """When an engineer must have contacted the reporter, in UTC: the plan's
    response time (1 hour for the packages) of its window time after
    ``reported_at`` (outside the window it starts at the next opening).
    ``service`` is a plan or a service code. Raises ``ValueError`` for naive
    input or an unknown service code.
    """
    _require_aware(reported_at)
    plan = _plan(service)
    duration = RESPONSE_TIME * plan.response_hours
    return add_window_time(reported_at, duration, plan.hours)


def delivery_due(
    validated_at: datetime, service: "ServicePlan | str"
) -> datetime | None:
    """When the replacement or engineer must be on site, in UTC, or None for a
    plan without hardware replacement.

    ``NBD``: 17:00 Warsaw of the first business day strictly after the Warsaw
    calendar day of ``validated_at``, whatever the time of day or the window —
    so validation on Friday at 16:59 or 18:00, Saturday or Sunday is all due on
    Monday (a business day) at 17:00, and validation on a holiday is due the
    business day after it. ``8H`` / ``4H``: that many hours of the plan's
    window time (real time on 24x7). Raises ``ValueError`` for naive input or an
    unknown service code.
    """
    _require_aware(validated_at)
    plan = _plan(service)
    if plan.replacement == "":
        return None
    if plan.replacement == NEXT_BUSINESS_DAY:
        window = plan.hours if plan.hours.holidays else STANDARD
        day = local_day(validated_at) + ONE_DAY
        while not is_open_day(day, window):
            day += ONE_DAY
        return day_window(day, window)[1].astimezone(UTC)
    duration = timedelta(hours=replacement_hours(plan.replacement))
    return add_window_time(validated_at, duration, plan.hours)


def return_due(delivered_at: datetime) -> datetime:
    """When the faulty unit must be back, in UTC: the same Warsaw wall-clock time
    7 calendar days after ``delivered_at`` (so 167 or 169 real hours across a DST
    change; weekends and holidays count). A wall-clock time that does not exist
    on the due day (02:xx on the last Sunday of March) resolves an hour later.
    Raises ``ValueError`` for naive input.
    """
    _require_aware(delivered_at)
    local = delivered_at.astimezone(WARSAW)
    # Aware + timedelta with the same tzinfo is wall-clock arithmetic.
    return (local + RETURN_PERIOD).astimezone(UTC)


def resume_due(
    due_at: datetime, paused_at: datetime, resumed_at: datetime, window: "Window | str"
) -> datetime:
    """``due_at`` pushed later by the window time between ``paused_at`` and
    ``resumed_at`` (all of it on 24x7, only the in-window part on 8x5), in UTC.

    A pause with no window time in it leaves ``due_at`` unchanged. The push is
    counted from ``due_at`` in the same window, so 1 hour added to a 16:30 due
    time on 8x5 lands at 9:30 on the next business day. Raises ``ValueError``
    for naive input, ``resumed_at`` before ``paused_at`` or an unknown window.
    """
    _require_aware(due_at)
    paused = window_time_between(paused_at, resumed_at, window)
    return add_window_time(due_at, paused, window)


def breach_state(
    due_at: datetime | None, now: datetime, warn_before: timedelta = DUE_SOON
) -> str:
    """``"breached"`` once ``now`` is past ``due_at``; ``"due_soon"`` from
    ``warn_before`` ahead of it up to and including ``due_at`` itself; otherwise
    ``"ok"``. No due time (None) is always ``"ok"``. Raises ``ValueError`` for
    naive input.
    """
    _require_aware(now)
    if due_at is None:
        return "ok"
    _require_aware(due_at)
    if now > due_at:
        return "breached"
    if now >= due_at - warn_before:
        return "due_soon"
    return "ok"

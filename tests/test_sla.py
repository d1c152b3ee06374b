"""Service clocks (hezo/sla.py), hand-worked against the real Polish calendar.

Expected values are written in Warsaw wall-clock time and converted to UTC.
"""

from datetime import UTC, date, datetime, timedelta

import pytest

from hezo.catalogue import SERVICES
from hezo.sla import (
    WARSAW,
    add_window_time,
    breach_state,
    delivery_due,
    is_business_day,
    next_business_day,
    response_due,
    resume_due,
    return_due,
    window_time_between,
)

NBD_8X5 = "PW-AHR-NBD"
TAC_24X7 = "PW-TAC"
HOUR = timedelta(hours=1)


def waw(*args: int, fold: int = 0) -> datetime:
    """A Warsaw wall-clock time as an aware UTC datetime."""
    return datetime(*args, tzinfo=WARSAW, fold=fold).astimezone(UTC)


# --- calendar ---------------------------------------------------------------


def test_business_day_christmas_eve_is_holiday_from_2025():
    assert not is_business_day(date(2025, 12, 24))
    assert not is_business_day(date(2026, 12, 24))


def test_business_day_christmas_eve_2024_is_working_day():
    assert is_business_day(date(2024, 12, 24))


def test_business_day_good_friday_is_working_day():
    assert is_business_day(date(2026, 4, 3))


@pytest.mark.parametrize(
    "day",
    [date(2026, 4, 6), date(2026, 5, 1), date(2027, 5, 3), date(2026, 6, 4)],
    ids=["easter-monday", "1-may", "3-may", "corpus-christi"],
)
def test_business_day_movable_and_fixed_holidays_excluded(day):
    assert not is_business_day(day)


def test_next_business_day_skips_christmas_2026():
    assert next_business_day(date(2026, 12, 23)) == date(2026, 12, 28)


# --- response, 8x5 ----------------------------------------------------------


def test_response_due_friday_1630_rolls_to_monday_0930():
    assert response_due(waw(2026, 1, 16, 16, 30), NBD_8X5) == waw(2026, 1, 19, 9, 30)


def test_response_due_saturday_starts_monday_at_opening():
    assert response_due(waw(2026, 1, 17, 12, 0), NBD_8X5) == waw(2026, 1, 19, 10, 0)


def test_response_due_at_0900_is_1000():
    assert response_due(waw(2026, 1, 20, 9, 0), NBD_8X5) == waw(2026, 1, 20, 10, 0)


def test_response_due_at_1700_is_next_business_day_1000():
    assert response_due(waw(2026, 1, 20, 17, 0), NBD_8X5) == waw(2026, 1, 21, 10, 0)


def test_response_due_friday_1700_is_monday_1000():
    assert response_due(waw(2026, 1, 16, 17, 0), NBD_8X5) == waw(2026, 1, 19, 10, 0)


def test_response_due_before_opening_starts_at_0900():
    assert response_due(waw(2026, 1, 20, 6, 15), NBD_8X5) == waw(2026, 1, 20, 10, 0)


def test_response_due_at_1600_ends_at_1700_same_day():
    assert response_due(waw(2026, 1, 20, 16, 0), NBD_8X5) == waw(2026, 1, 20, 17, 0)


def test_response_due_evening_before_easter_monday_is_tuesday():
    assert response_due(waw(2026, 4, 5, 20, 0), NBD_8X5) == waw(2026, 4, 7, 10, 0)


def test_response_due_good_friday_1630_skips_easter_monday():
    assert response_due(waw(2026, 4, 3, 16, 30), NBD_8X5) == waw(2026, 4, 7, 9, 30)


def test_response_due_before_1_may_skips_it():
    # Thursday 30 April 2026; Friday 1 May is a holiday.
    assert response_due(waw(2026, 4, 30, 16, 30), NBD_8X5) == waw(2026, 5, 4, 9, 30)


def test_response_due_before_3_may_skips_it():
    # Friday 30 April 2027; Monday 3 May is a holiday.
    assert response_due(waw(2027, 4, 30, 16, 30), NBD_8X5) == waw(2027, 5, 4, 9, 30)


def test_response_due_23_december_2026_skips_christmas():
    # 24 (Thu), 25 (Fri), 26 (Sat) December are holidays, 27 is Sunday.
    due = response_due(waw(2026, 12, 23, 16, 45), NBD_8X5)
    assert due == waw(2026, 12, 28, 9, 45)


def test_response_due_23_december_2025_skips_christmas_eve():
    # Tuesday; 24-26 December 2025 (Wed-Fri) are all holidays.
    due = response_due(waw(2025, 12, 23, 16, 45), NBD_8X5)
    assert due == waw(2025, 12, 29, 9, 45)


def test_response_due_23_december_2024_christmas_eve_still_working():
    due = response_due(waw(2024, 12, 23, 16, 45), NBD_8X5)
    assert due == waw(2024, 12, 24, 9, 45)


def test_response_due_8x5_window_follows_summer_time():
    # 9:00 CEST is 07:00 UTC, not 08:00.
    assert response_due(waw(2026, 3, 30, 8, 0), NBD_8X5) == waw(2026, 3, 30, 10, 0)
    assert waw(2026, 3, 30, 10, 0) == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)


def test_response_due_accepts_any_timezone():
    reported = datetime(2026, 1, 16, 15, 30, tzinfo=UTC)  # 16:30 Warsaw
    assert response_due(reported, NBD_8X5) == waw(2026, 1, 19, 9, 30)


def test_response_due_returns_utc():
    assert response_due(waw(2026, 1, 20, 10, 0), NBD_8X5).tzinfo is UTC


def test_response_due_unknown_service_code_rejected():
    with pytest.raises(ValueError, match="unknown service code"):
        response_due(waw(2026, 1, 20, 10, 0), "NOPE")


# --- response, 24x7 ---------------------------------------------------------


def test_response_due_24x7_saturday_night_counts_at_once():
    assert response_due(waw(2026, 1, 17, 23, 30), TAC_24X7) == waw(2026, 1, 18, 0, 30)


def test_response_due_24x7_dst_start_skips_lost_hour():
    due = response_due(waw(2026, 3, 29, 1, 30), TAC_24X7)
    assert due == waw(2026, 3, 29, 3, 30)
    assert due == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_response_due_24x7_dst_end_repeats_hour():
    # 02:30 CEST (first time) + 1 hour = 02:30 CET (second time).
    due = response_due(waw(2026, 10, 25, 2, 30, fold=0), TAC_24X7)
    assert due == waw(2026, 10, 25, 2, 30, fold=1)
    assert due == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)


# --- delivery ---------------------------------------------------------------

VALIDATED = waw(2026, 1, 20, 14, 0)  # Tuesday
DELIVERY_CASES = {
    "PW-TAC": None,
    "PW-AHR-NBD": waw(2026, 1, 21, 17, 0),
    "PW-ONSITE-NBD": waw(2026, 1, 21, 17, 0),
    "AHB-8x5-NBD": waw(2026, 1, 21, 17, 0),
    "SOS-8x5-NBD": waw(2026, 1, 21, 17, 0),
    "PW-AHR-4H": waw(2026, 1, 20, 18, 0),
    "PW-ONSITE-4H": waw(2026, 1, 20, 18, 0),
    "AHB-24x7-8H": waw(2026, 1, 20, 22, 0),
    "SOS-24x7-8H": waw(2026, 1, 20, 22, 0),
}


def test_delivery_due_cases_cover_catalogue():
    assert set(DELIVERY_CASES) == set(SERVICES)


@pytest.mark.parametrize(("code", "expected"), DELIVERY_CASES.items())
def test_delivery_due_per_service_code(code, expected):
    assert delivery_due(VALIDATED, code) == expected


def test_delivery_due_nbd_validated_friday_evening_is_monday():
    assert delivery_due(waw(2026, 1, 16, 18, 0), NBD_8X5) == waw(2026, 1, 19, 17, 0)


def test_delivery_due_nbd_validated_saturday_is_monday():
    assert delivery_due(waw(2026, 1, 17, 11, 0), NBD_8X5) == waw(2026, 1, 19, 17, 0)


def test_delivery_due_nbd_validated_before_opening_is_next_day():
    assert delivery_due(waw(2026, 1, 20, 7, 0), NBD_8X5) == waw(2026, 1, 21, 17, 0)


def test_delivery_due_nbd_before_christmas_2026_is_28_december():
    assert delivery_due(waw(2026, 12, 23, 10, 0), NBD_8X5) == waw(2026, 12, 28, 17, 0)


def test_delivery_due_nbd_validated_on_easter_monday_is_tuesday():
    assert delivery_due(waw(2026, 4, 6, 12, 0), NBD_8X5) == waw(2026, 4, 7, 17, 0)


def test_delivery_due_4h_24x7_across_dst_start():
    due = delivery_due(waw(2026, 3, 29, 0, 30), "PW-AHR-4H")
    assert due == waw(2026, 3, 29, 5, 30)


def test_delivery_due_8h_24x7_runs_through_weekend_night():
    due = delivery_due(waw(2026, 1, 16, 20, 0), "SOS-24x7-8H")
    assert due == waw(2026, 1, 17, 4, 0)


# --- add_window_time --------------------------------------------------------


def test_add_window_time_8x5_8h_spans_two_days():
    due = add_window_time(waw(2026, 1, 19, 13, 0), 8 * HOUR, "8x5")
    assert due == waw(2026, 1, 20, 13, 0)


def test_add_window_time_8x5_4h_friday_afternoon_is_monday():
    due = add_window_time(waw(2026, 1, 16, 15, 0), 4 * HOUR, "8x5")
    assert due == waw(2026, 1, 19, 11, 0)


def test_add_window_time_8x5_full_window_ends_at_close():
    due = add_window_time(waw(2026, 1, 20, 9, 0), 8 * HOUR, "8x5")
    assert due == waw(2026, 1, 20, 17, 0)


def test_add_window_time_8x5_zero_outside_window_returns_start():
    start = waw(2026, 1, 17, 12, 0)
    assert add_window_time(start, timedelta(0), "8x5") == start


def test_add_window_time_negative_rejected():
    with pytest.raises(ValueError, match="negative"):
        add_window_time(waw(2026, 1, 20, 10, 0), -HOUR, "8x5")


def test_add_window_time_unknown_window_rejected():
    with pytest.raises(ValueError, match="window"):
        add_window_time(waw(2026, 1, 20, 10, 0), HOUR, "9x6")


# --- window_time_between ----------------------------------------------------


def test_window_time_between_8x5_over_weekend():
    span = window_time_between(waw(2026, 1, 16, 16, 0), waw(2026, 1, 19, 10, 0), "8x5")
    assert span == 2 * HOUR


def test_window_time_between_8x5_over_christmas_2025():
    start, end = waw(2025, 12, 23, 12, 0), waw(2025, 12, 29, 12, 0)
    assert window_time_between(start, end, "8x5") == 8 * HOUR


def test_window_time_between_8x5_inside_one_window():
    span = window_time_between(waw(2026, 1, 20, 10, 0), waw(2026, 1, 20, 11, 15), "8x5")
    assert span == timedelta(hours=1, minutes=15)


def test_window_time_between_24x7_dst_night_is_real_time():
    span = window_time_between(waw(2026, 3, 29, 0, 0), waw(2026, 3, 29, 4, 0), "24x7")
    assert span == 3 * HOUR


def test_window_time_between_end_before_start_rejected():
    with pytest.raises(ValueError, match="before"):
        window_time_between(waw(2026, 1, 20, 11, 0), waw(2026, 1, 20, 10, 0), "8x5")


def test_window_time_between_inverts_add_window_time():
    start = waw(2026, 12, 23, 15, 20)
    due = add_window_time(start, timedelta(hours=11, minutes=5), "8x5")
    assert window_time_between(start, due, "8x5") == timedelta(hours=11, minutes=5)


# --- return -----------------------------------------------------------------


def test_return_due_seven_days_same_wall_clock():
    assert return_due(waw(2026, 1, 20, 14, 0)) == waw(2026, 1, 27, 14, 0)


def test_return_due_across_dst_start_keeps_wall_clock():
    due = return_due(waw(2026, 3, 25, 12, 0))
    assert due == waw(2026, 4, 1, 12, 0)
    assert due - waw(2026, 3, 25, 12, 0) == timedelta(hours=167)


def test_return_due_across_dst_end_keeps_wall_clock():
    due = return_due(waw(2026, 10, 20, 12, 0))
    assert due == waw(2026, 10, 27, 12, 0)
    assert due - waw(2026, 10, 20, 12, 0) == timedelta(hours=169)


def test_return_due_counts_weekends_and_holidays():
    assert return_due(waw(2026, 12, 21, 10, 0)) == waw(2026, 12, 28, 10, 0)


# --- pause / resume ---------------------------------------------------------


def test_resume_due_8x5_counts_only_window_part():
    # Paused Mon 16:00 - Tue 09:30: 1 h on Monday + 30 min on Tuesday.
    due = resume_due(
        waw(2026, 1, 20, 10, 0), waw(2026, 1, 19, 16, 0), waw(2026, 1, 20, 9, 30), "8x5"
    )
    assert due == waw(2026, 1, 20, 11, 30)


def test_resume_due_8x5_pause_over_weekend_only_unchanged():
    due_at = waw(2026, 1, 19, 10, 0)
    paused, resumed = waw(2026, 1, 17, 9, 0), waw(2026, 1, 18, 20, 0)
    assert resume_due(due_at, paused, resumed, "8x5") == due_at


def test_resume_due_8x5_push_rolls_into_next_business_day():
    due = resume_due(
        waw(2026, 1, 16, 16, 30),
        waw(2026, 1, 16, 10, 0),
        waw(2026, 1, 16, 11, 0),
        "8x5",
    )
    assert due == waw(2026, 1, 19, 9, 30)


def test_resume_due_8x5_zero_pause_keeps_due_at_close():
    due_at = waw(2026, 1, 16, 17, 0)
    instant = waw(2026, 1, 16, 12, 0)
    assert resume_due(due_at, instant, instant, "8x5") == due_at


def test_resume_due_24x7_counts_real_time_across_dst():
    # 01:00 CET to 04:00 CEST on 29 March 2026 is 2 real hours.
    due = resume_due(
        waw(2026, 3, 29, 6, 0), waw(2026, 3, 29, 1, 0), waw(2026, 3, 29, 4, 0), "24x7"
    )
    assert due == waw(2026, 3, 29, 8, 0)


def test_resume_due_resumed_before_paused_rejected():
    with pytest.raises(ValueError, match="before"):
        resume_due(
            waw(2026, 1, 20, 12, 0),
            waw(2026, 1, 20, 11, 0),
            waw(2026, 1, 20, 10, 0),
            "8x5",
        )


# --- breach_state -----------------------------------------------------------

DUE = waw(2026, 1, 20, 10, 0)


def test_breach_state_no_due_is_ok():
    assert breach_state(None, DUE) == "ok"


def test_breach_state_well_before_is_ok():
    assert breach_state(DUE, DUE - timedelta(minutes=16)) == "ok"


def test_breach_state_within_warning_is_due_soon():
    assert breach_state(DUE, DUE - timedelta(minutes=15)) == "due_soon"


def test_breach_state_at_due_time_is_due_soon():
    assert breach_state(DUE, DUE) == "due_soon"


def test_breach_state_past_due_is_breached():
    assert breach_state(DUE, DUE + timedelta(seconds=1)) == "breached"


def test_breach_state_custom_warning():
    assert breach_state(DUE, DUE - HOUR, warn_before=2 * HOUR) == "due_soon"


# --- naive input ------------------------------------------------------------

NAIVE = datetime(2026, 1, 20, 10, 0)
AWARE = waw(2026, 1, 20, 10, 0)


@pytest.mark.parametrize(
    "call",
    [
        lambda: response_due(NAIVE, NBD_8X5),
        lambda: delivery_due(NAIVE, NBD_8X5),
        lambda: delivery_due(NAIVE, TAC_24X7),
        lambda: return_due(NAIVE),
        lambda: add_window_time(NAIVE, HOUR, "24x7"),
        lambda: window_time_between(AWARE, NAIVE, "8x5"),
        lambda: resume_due(NAIVE, AWARE, AWARE, "8x5"),
        lambda: resume_due(AWARE, NAIVE, AWARE, "24x7"),
        lambda: breach_state(AWARE, NAIVE),
        lambda: breach_state(NAIVE, AWARE),
        lambda: breach_state(None, NAIVE),
    ],
    ids=[
        "response_due",
        "delivery_due-nbd",
        "delivery_due-none",
        "return_due",
        "add_window_time",
        "window_time_between",
        "resume_due-due_at",
        "resume_due-paused_at",
        "breach_state-now",
        "breach_state-due_at",
        "breach_state-none-due",
    ],
)
def test_naive_datetime_rejected(call):
    with pytest.raises(ValueError, match="naive"):
        call()


def test_local_day_is_the_warsaw_calendar_day():
    # 23:30 UTC on New Year's Eve is already 1 January in Warsaw (UTC+1), and
    # 22:30 UTC on a summer day is the next day (UTC+2): contracts' periods and
    # case numbers' years follow the Polish calendar, not UTC.
    from hezo.sla import local_day

    assert local_day(datetime(2025, 12, 31, 23, 30, tzinfo=UTC)) == date(2026, 1, 1)
    assert local_day(datetime(2026, 7, 1, 22, 30, tzinfo=UTC)) == date(2026, 7, 2)
    assert local_day(datetime(2026, 7, 1, 21, 59, tzinfo=UTC)) == date(2026, 7, 1)

"""The queue's counts per status come from the rows the database's triggers
write as cases change, not from counting the open cases: right after every
kind of write, and a handful of rows to read however many cases are open."""

from datetime import timedelta

import pytest
from peewee import fn

from hezo.db import utcnow
from hezo.models import SupportCase
from hezo.models.cases import OPEN_STATUSES
from hezo.staff import queries, status_counts
from hezo.staff.status_counts import DELTA

from .factories import login
from .test_staff import make_world, new_case, set_due


@pytest.fixture
def world(dbconn):
    return make_world()


def shown_counts(now=None):
    page = queries.queue_page({}, 0, 1, now or utcnow())
    return {s: page.counts[s] for s in OPEN_STATUSES}, page.total


def true_counts():
    rows = (
        SupportCase.select(SupportCase.status, fn.COUNT(SupportCase.id))
        .group_by(SupportCase.status)
        .tuples()
    )
    counted = dict.fromkeys(OPEN_STATUSES, 0) | dict(rows)
    return {s: counted[s] for s in OPEN_STATUSES}


def delta_rows() -> int:
    return DELTA.select(fn.COUNT(DELTA.status)).scalar()


def test_counts_follow_every_kind_of_write(world):
    from hezo.cases.workflow import transition

    cases = [new_case(world, subject=f"Sprawa {i}") for i in range(6)]
    assert shown_counts() == (true_counts(), 6)
    transition(cases[0], world["engineer"], "in_verification", utcnow())
    transition(cases[1], world["engineer"], "in_verification", utcnow())
    # A write the portal's code never made (a console, a script): counted too.
    SupportCase.update(status="waiting_for_customer").where(
        SupportCase.id == cases[2].id
    ).execute()
    SupportCase.update(status="closed").where(SupportCase.id == cases[3].id).execute()
    SupportCase.get_by_id(cases[4].id).delete_instance(recursive=True)
    counts, total = shown_counts()
    assert counts == true_counts()
    assert counts["new"] == 1 and counts["in_verification"] == 2 and total == 4


def test_folding_leaves_one_row_per_status_and_the_same_counts(world):
    from hezo.cases.workflow import transition

    for i in range(30):
        case = new_case(world, subject=f"Sprawa {i}")
        if i % 3 == 0:
            transition(case, world["engineer"], "in_verification", utcnow())
    before = shown_counts()
    assert delta_rows() > 30
    status_counts.fold()
    assert delta_rows() <= 2  # new and in_verification: a row each
    assert shown_counts() == before
    status_counts.rebuild()
    assert shown_counts() == before == (true_counts(), 30)


def test_run_reminders_folds_the_counts(app, world):
    for i in range(5):
        new_case(world, subject=f"Sprawa {i}")
    result = app.test_cli_runner().invoke(args=["run-reminders"])
    assert result.exit_code == 0, result.output
    assert delta_rows() == 1 and shown_counts()[0]["new"] == 5


def test_clock_counts_stop_at_the_cap(client, world, monkeypatch):
    monkeypatch.setattr(queries, "COUNT_CAP", 3)
    now = utcnow()
    for i in range(4):
        set_due(new_case(world, subject=f"Po terminie {i}"), now - timedelta(hours=1))
    set_due(new_case(world, subject="Zaraz"), now + timedelta(minutes=5))
    login(client, world["engineer"], lang="en")
    html = client.get("/en/staff/").get_data(as_text=True)
    assert 'data-testid="count-breached">breached: 3+<' in html
    assert ">due within 15 minutes: 1<" in html
    assert ">new: 5<" in html  # the status counts are exact

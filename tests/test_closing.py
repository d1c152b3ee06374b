"""Closing the loop from the customer's side: mark solved, confirm an
engineer's resolution, reopen within 14 days (a follow-up case after);
each a recorded status change, race-safe, the engineers told; then one
satisfaction question per case, and staff's results per engineer, service
and month."""

from datetime import datetime, timedelta

import pytest
from playhouse.test_utils import count_queries

from hezo import sla
from hezo.cases import closing
from hezo.cases.workflow import transition
from hezo.db import utcnow
from hezo.models import CaseSatisfaction, OutboxMessage, StatusChange, SupportCase

from .factories import login, make_company, make_contract, make_user
from .test_staff import make_world, new_case
from .test_staff_races import at_once


@pytest.fixture
def world(dbconn):
    return make_world()


@pytest.fixture
def customer(client, world):
    login(client, world["customer"])
    return client


def history(case):
    return [
        (c.from_status, c.to_status, c.actor_id, c.note)
        for c in StatusChange.select()
        .where(StatusChange.case == case)
        .order_by(StatusChange.id)
    ]


def status(case):
    return SupportCase.get_by_id(case.id).status


def close_loop(client, case, action, seen=None, htmx=False, **extra):
    headers = {"HX-Request": "true"} if htmx else {}
    data = {"action": action, "seen": seen or status(case)} | extra
    return client.post(f"/pl/cases/{case.number}/closing", data=data, headers=headers)


def resolved_case(world, when=None):
    case = new_case(world)
    transition(case, world["engineer"], "resolved", when or utcnow())
    return SupportCase.get_by_id(case.id)


# -- who may do what -------------------------------------------------------------


def test_the_customer_marks_an_open_case_solved_with_a_note(world, customer):
    case = new_case(world)
    page = customer.get(f"/pl/cases/{case.number}").get_data(as_text=True)
    assert 'value="solved"' in page and 'value="confirm"' not in page
    response = close_loop(customer, case, "solved", note="Restart pomógł.")
    assert response.status_code == 303
    assert status(case) == "resolved"
    assert history(case)[-1] == (
        "new",
        "resolved",
        world["customer"].id,
        "Restart pomógł.",
    )
    [told] = [m for m in OutboxMessage.select() if "Restart pomógł." in m.body_text]
    assert told.recipient == "serwis@example.pl" or "@" in told.recipient
    assert case.number in told.subject
    page = customer.get(f"/pl/cases/{case.number}").get_data(as_text=True)
    assert 'value="confirm"' in page and 'value="reopen"' in page


def test_the_customer_confirms_the_resolution_and_is_asked_once(world, customer):
    case = resolved_case(world)
    before = OutboxMessage.select().count()
    response = close_loop(customer, case, "confirm", htmx=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    # The closing section with the question, focus on it, the summary, the
    # stepper and the history out of band, one announcement.
    assert 'id="satisfaction-title" tabindex="-1" autofocus' in html
    for region in ('id="case-summary" hx-swap-oob', 'id="history" hx-swap-oob'):
        assert region in html
    assert 'id="case-live" hx-swap-oob="innerHTML">' in html
    assert status(case) == "closed"
    assert history(case)[-1][:3] == ("resolved", "closed", world["customer"].id)
    new = list(OutboxMessage.select().where(OutboxMessage.id > 0))[before:]
    asked = [m for m in new if m.recipient == world["customer"].email]
    [question] = asked
    assert f"/pl/cases/{case.number}#satisfaction" in question.body_text
    assert len(new) == 2  # the engineers' news and the question
    # Closed again after a reopening: not asked a second time.
    close_loop(customer, case, "reopen")
    transition(SupportCase.get_by_id(case.id), world["engineer"], "resolved", utcnow())
    close_loop(customer, case, "confirm")
    assert (
        OutboxMessage.select()
        .where(OutboxMessage.recipient == world["customer"].email)
        .where(OutboxMessage.body_text.contains("#satisfaction"))
        .count()
        == 1
    )


def test_an_engineer_closing_the_case_asks_in_the_contacts_language(world):
    world["customer"].language = "en"
    world["customer"].save()
    case = new_case(world)
    transition(case, world["engineer"], "resolved", utcnow())
    transition(case, world["engineer"], "closed", utcnow())
    [question] = [
        m
        for m in OutboxMessage.select().where(
            OutboxMessage.recipient == world["customer"].email
        )
        if "#satisfaction" in m.body_text
    ]
    assert "how did we do" in question.subject.lower()
    assert f"/en/cases/{case.number}#satisfaction" in question.body_text


def test_engineers_and_other_companies_cannot_close_the_loop(app, world):
    case = resolved_case(world)
    other = make_user(company=make_company("7010000000", "Inna"))
    for person in (world["engineer"], other):
        client = app.test_client()
        login(client, person)
        response = close_loop(client, case, "confirm", seen="resolved")
        assert response.status_code in (403, 404)
    assert status(case) == "resolved"


def test_a_partner_closes_the_loop_only_on_a_case_it_reported(app, world):
    partner_user = make_user(role="partner", company=world["contract"].partner)
    case = resolved_case(world)
    client = app.test_client()
    login(client, partner_user)
    SupportCase.update(is_shared=True).where(SupportCase.id == case.id).execute()
    assert close_loop(client, case, "confirm", seen="resolved").status_code == 404
    SupportCase.update(reporting_partner=world["contract"].partner).where(
        SupportCase.id == case.id
    ).execute()
    assert close_loop(client, case, "confirm", seen="resolved").status_code == 303
    assert history(case)[-1][2] == partner_user.id


def test_moves_the_status_does_not_allow_are_refused_with_a_message(world, customer):
    case = new_case(world)
    response = close_loop(customer, case, "confirm")
    assert response.status_code == 409
    assert "w obecnym statusie" in response.get_data(as_text=True)
    assert close_loop(customer, case, "dance").status_code == 400
    assert close_loop(customer, case, "solved", seen="bogus").status_code == 400
    assert close_loop(customer, case, "solved", note="x" * 3000).status_code == 422
    assert status(case) == "new"
    # After a replacement was validated the customer does not mark it solved.
    transition(case, world["engineer"], "in_verification", utcnow())
    transition(case, world["engineer"], "validated", utcnow())
    assert close_loop(customer, case, "solved").status_code == 409
    assert status(case) == "validated"


def test_marking_solved_ends_a_wait_for_the_customer(world, customer):
    case = new_case(world)
    transition(case, world["engineer"], "waiting_for_customer", utcnow())
    assert close_loop(customer, case, "solved").status_code == 303
    assert [h[1] for h in history(case)[-2:]] == ["in_verification", "resolved"]
    assert SupportCase.get_by_id(case.id).paused_at is None


# -- the 14 days ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "reopens"),
    [
        (timedelta(days=14) - timedelta(minutes=1), True),
        (timedelta(days=14) + timedelta(minutes=1), False),
    ],
)
def test_reopening_within_14_days_and_a_follow_up_case_after(
    world, customer, age, reopens
):
    case = resolved_case(world, when=utcnow() - age)
    page = customer.get(f"/pl/cases/{case.number}").get_data(as_text=True)
    assert ('value="reopen"' in page) is reopens
    assert ("follows=" + case.number in page) is not reopens
    response = close_loop(customer, case, "reopen")
    if reopens:
        assert response.status_code == 303
        assert status(case) == "in_verification"
        assert history(case)[-1][3] == "customer_reopened"
    else:
        assert response.status_code == 409
        assert "zbyt dawno" in response.get_data(as_text=True)
        assert status(case) == "resolved"


def two_tabs(app, user) -> list:
    """Two clients signed in as ``user``: two tabs, or two devices."""
    clients = [app.test_client(), app.test_client()]
    for client in clients:
        login(client, user)
    return clients


# -- two tabs ---------------------------------------------------------------------


def test_two_tabs_confirming_at_once_one_change_one_clear_409(app, world):
    case = resolved_case(world)
    clients = two_tabs(app, world["customer"])
    url = f"/pl/cases/{case.number}/closing"
    data = {"action": "confirm", "seen": "resolved"}
    before = OutboxMessage.select().count()
    responses = at_once([(c, url, data) for c in clients])
    assert sorted(r.status_code for r in responses) == [303, 409]
    [loser] = [r for r in responses if r.status_code == 409]
    assert "w międzyczasie" in loser.get_data(as_text=True)
    assert [h[1] for h in history(case)].count("closed") == 1
    assert OutboxMessage.select().count() == before + 2  # one news, one question


def test_a_stale_tab_with_htmx_gets_the_case_as_it_is_now(world, customer):
    case = resolved_case(world)
    assert close_loop(customer, case, "confirm").status_code == 303
    response = close_loop(customer, case, "reopen", seen="resolved", htmx=True)
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "w międzyczasie" in html and 'id="case-summary" hx-swap-oob' in html
    assert status(case) == "closed"


# -- the satisfaction question ----------------------------------------------------


def answer(client, case, rating="5", comment=""):
    return client.post(
        f"/pl/cases/{case.number}/satisfaction",
        data={"rating": rating, "comment": comment},
    )


def test_the_question_is_answered_once_per_case(world, customer):
    case = resolved_case(world)
    assert answer(customer, case).status_code == 409  # not closed yet
    close_loop(customer, case, "confirm")
    assert answer(customer, case, rating="7").status_code == 422
    assert answer(customer, case, rating="4", comment="Szybko.").status_code == 303
    again = answer(customer, case, rating="1")
    assert again.status_code == 409
    assert "już udzielono" in again.get_data(as_text=True)
    [kept] = CaseSatisfaction.select()
    assert (kept.rating, kept.comment, kept.author_id) == (
        4,
        "Szybko.",
        world["customer"].id,
    )
    page = customer.get(f"/pl/cases/{case.number}").get_data(as_text=True)
    assert 'data-testid="satisfaction-answer"' in page and 'name="rating"' not in page


def test_two_answers_at_once_keep_one(app, world):
    case = resolved_case(world)
    transition(case, world["engineer"], "closed", utcnow())
    clients = two_tabs(app, world["customer"])
    url = f"/pl/cases/{case.number}/satisfaction"
    responses = at_once(
        [(c, url, {"rating": r}) for c, r in zip(clients, ("2", "5"), strict=True)]
    )
    assert sorted(r.status_code for r in responses) == [303, 409]
    assert CaseSatisfaction.select().count() == 1


# -- staff's results ----------------------------------------------------------------


def answered_case(world, engineer, rating, when, contract=None):
    case = new_case(world, contract=contract)
    SupportCase.update(assignee=engineer, status="closed").where(
        SupportCase.id == case.id
    ).execute()
    case = SupportCase.get_by_id(case.id)
    closing.answer(case, world["customer"], rating, "", when)


def test_staff_results_per_engineer_service_and_month(app, world):
    ewa = make_user(role="engineer", company=None)
    ewa.first_name = "Ewa"
    ewa.save()
    jan = world["engineer"]
    other = make_contract(
        customer=world["company"], service_code="PW-AHR-NBD", serials=("SN-9",)
    )
    march = datetime(2026, 3, 15, 12, tzinfo=sla.WARSAW)
    # Hand-counted: Ewa on PW-AHR-4H: 5, 4, 4 (avg 4.33); Ewa on PW-NBD: 2;
    # Jan on PW-AHR-4H: 1. One answer in April (not counted in March).
    for rating in (5, 4, 4):
        answered_case(world, ewa, rating, march)
    answered_case(world, ewa, 2, march, contract=other)
    answered_case(world, jan, 1, march)
    answered_case(world, jan, 5, datetime(2026, 4, 1, 0, 30, tzinfo=sla.WARSAW))
    client = app.test_client()
    login(client, make_user(role="engineer", company=None))

    def results(month):
        with count_queries() as counted:
            page = client.get(f"/pl/staff/satisfaction?month={month}")
        assert page.status_code == 200
        return page.get_data(as_text=True), counted.count

    html, queries = results("2026-03")
    rows = closing.results(
        datetime(2026, 3, 1, tzinfo=sla.WARSAW), datetime(2026, 4, 1, tzinfo=sla.WARSAW)
    )
    figures = {
        (r["first_name"], r["service_code"]): (
            r["count"],
            round(float(r["average"]), 2),
            [r[f"r{k}"] for k in (1, 2, 3, 4, 5)],
        )
        for r in rows
    }
    assert figures == {
        ("Ewa", "PW-AHR-4H"): (3, 4.33, [0, 0, 0, 2, 1]),
        ("Ewa", "PW-AHR-NBD"): (1, 2.0, [0, 1, 0, 0, 0]),
        ("Jan", "PW-AHR-4H"): (1, 1.0, [1, 0, 0, 0, 0]),
    }
    assert "4,33" in html and "5 odpowiedzi" in html
    april, _ = results("2026-04")
    assert "1 odpowiedź" in april and "4,33" not in april
    # More cases, the same number of queries.
    for _ in range(6):
        answered_case(world, jan, 3, march)
    assert results("2026-03")[1] == queries
    assert client.get("/pl/staff/satisfaction?month=2026-13").status_code == 200


def test_an_engineers_resolution_brings_the_confirm_button_with_the_poll(
    world, customer
):
    case = new_case(world)
    page = customer.get(f"/pl/cases/{case.number}").get_data(as_text=True)
    state = page.split('id="case-state" name="state" value="')[1].split('"')[0]
    transition(case, world["engineer"], "resolved", utcnow())
    poll = customer.get(
        f"/pl/cases/{case.number}/thread?state={state}",
        headers={"HX-Request": "true"},
    ).get_data(as_text=True)
    closing_part = poll.split('<section id="closing" hx-swap-oob="true"')[1]
    assert 'value="confirm"' in closing_part and 'value="solved"' not in closing_part

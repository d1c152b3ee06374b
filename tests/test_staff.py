import io
import re
from datetime import timedelta

import pytest
from playhouse.test_utils import count_queries

from hezo.cases.services import open_case, post_message
from hezo.cases.workflow import TransitionError, transition
from hezo.db import utcnow
from hezo.mail.reminders import run_reminders
from hezo.models import Device, OutboxMessage, StatusChange, SupportCase

from .factories import (
    login,
    make_company,
    make_contract,
    make_user,
    phone_case_form,
)


@pytest.fixture
def world(dbconn):
    return make_world()


def make_world() -> dict:
    """A customer company with a 4-hour contract sold by NetPartner, one of
    its users and an engineer."""
    partner = make_company("1860913901", "NetPartner S.A.")
    company = make_company("5260181596", "Żółw Sp. z o.o.")
    contract = make_contract(
        customer=company,
        partner=partner,
        service_code="PW-AHR-4H",
        serials=("SN-1", "SN-2"),
    )
    return {
        "company": company,
        "contract": contract,
        "customer": make_user(company=company),
        "engineer": make_user(role="engineer", company=None),
    }


def new_case(world, severity="major", subject="Awaria", when=None, contract=None):
    contract = contract or world["contract"]
    device = Device.select().where(Device.contract == contract).order_by(Device.serial)
    return open_case(
        actor=world["customer"],
        contract=contract,
        device=device.first(),
        subject=subject,
        description="opis",
        severity=severity,
        contact_phone="",
        share_with=None,
        files=[],
        now=when or utcnow(),
    )


def test_queue_shows_the_case_due_first_on_top(client, world):
    now = utcnow()
    new_case(world, "minor", "Pytanie", when=now - timedelta(minutes=30))
    new_case(world, "critical", "Produkcja stoi", when=now)
    new_case(world, "major", "Później", when=now + timedelta(minutes=5))
    login(client, world["engineer"])
    html = client.get("/pl/staff/").get_data(as_text=True)
    assert html.index("Pytanie") < html.index("Produkcja stoi") < html.index("Później")


def test_critical_comes_first_when_due_at_the_same_time(client, world):
    now = utcnow()
    new_case(world, "minor", "Drobne", when=now)
    new_case(world, "critical", "Krytyczne", when=now)
    login(client, world["engineer"])
    html = client.get("/pl/staff/").get_data(as_text=True)
    assert html.index("Krytyczne") < html.index("Drobne")


def test_queue_is_for_staff_only(client, world):
    login(client, world["customer"])
    assert client.get("/pl/staff/").status_code == 404
    assert client.get("/pl/staff/cases/new").status_code == 404


def test_engineer_reply_stops_the_response_clock(dbconn, world):
    case = new_case(world)
    assert SupportCase.get_by_id(case.id).next_due_at == case.response_due_at
    post_message(case, world["engineer"], "Dzień dobry", [], utcnow())
    case = SupportCase.get_by_id(case.id)
    assert case.first_response_at is not None and case.next_due_at is None


def test_internal_note_never_reaches_the_customer(client, app, world):
    from pypdf import PdfReader

    case = new_case(world)
    post_message(case, world["engineer"], "TAJNA NOTATKA", [], utcnow(), internal=True)
    login(client, world["customer"])
    for url in (f"/pl/cases/{case.number}", f"/pl/cases/{case.number}/thread"):
        for headers in ({}, {"HX-Request": "true"}):
            assert "TAJNA NOTATKA" not in client.get(url, headers=headers).get_data(
                as_text=True
            )
    pdf = client.get(f"/pl/cases/{case.number}/pdf").data
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "TAJNA NOTATKA" not in text
    staff = app.test_client()
    login(staff, world["engineer"])
    assert "TAJNA NOTATKA" in staff.get(f"/pl/cases/{case.number}").get_data(
        as_text=True
    )


def test_customer_cannot_make_a_note_internal(client, world):
    case = new_case(world)
    login(client, world["customer"])
    response = client.post(
        f"/pl/cases/{case.number}/messages", data={"body": "widać?", "internal": "y"}
    )
    assert response.status_code == 303
    from hezo.models import Message

    note = Message.get(Message.body == "widać?")
    assert not note.is_internal


def test_full_life_cycle_starts_each_clock(dbconn, world):
    case = new_case(world)
    now = utcnow()
    engineer = world["engineer"]
    transition(case, engineer, "in_verification", now)
    transition(case, engineer, "validated", now)
    assert case.delivery_due_at == now + timedelta(hours=4)
    assert case.next_due_at == min(case.response_due_at, case.delivery_due_at)
    with pytest.raises(TransitionError):
        transition(case, engineer, "replacement_sent", now)
    transition(case, engineer, "replacement_sent", now, carrier="DHL", waybill="123")
    delivered = now + timedelta(minutes=1)
    transition(
        case,
        engineer,
        "awaiting_return",
        delivered + timedelta(minutes=1),
        delivered_at=delivered,
    )
    assert case.return_due_at == delivered + timedelta(days=7)
    with pytest.raises(TransitionError):
        transition(case, engineer, "closed", now)
    transition(case, engineer, "closed", now, return_waybill="RET-1")
    stored = SupportCase.get_by_id(case.id)
    assert stored.status == "closed" and stored.return_waybill == "RET-1"
    assert [
        s.to_status
        for s in StatusChange.select()
        .where(StatusChange.case == case)
        .order_by(StatusChange.id)
    ] == [
        "new",
        "in_verification",
        "validated",
        "replacement_sent",
        "awaiting_return",
        "closed",
    ]


def test_a_status_cannot_be_skipped(dbconn, world):
    case = new_case(world)
    with pytest.raises(TransitionError):
        transition(
            case,
            world["engineer"],
            "replacement_sent",
            utcnow(),
            carrier="DHL",
            waybill="1",
        )


def test_waiting_for_the_customer_stops_the_clock_until_they_answer(dbconn, world):
    now = utcnow()
    case = new_case(world, when=now)
    due = case.response_due_at
    transition(case, world["engineer"], "waiting_for_customer", now)
    assert SupportCase.get_by_id(case.id).next_due_at is None
    later = now + timedelta(minutes=20)
    post_message(
        SupportCase.get_by_id(case.id),
        world["customer"],
        "Logi w załączniku",
        [],
        later,
    )
    case = SupportCase.get_by_id(case.id)
    assert case.status == "in_verification"
    assert case.response_due_at == due + timedelta(minutes=20)  # 24x7 plan


def test_customer_cannot_change_the_status(client, world):
    case = new_case(world)
    login(client, world["customer"])
    response = client.post(
        f"/pl/staff/cases/{case.number}/transition", data={"status": "closed"}
    )
    assert response.status_code == 404
    assert SupportCase.get_by_id(case.id).status == "new"


def test_engineer_works_the_case_through_the_pages(client, world):
    case = new_case(world)
    login(client, world["engineer"])
    base = f"/pl/staff/cases/{case.number}"
    assert (
        client.post(
            base + "/assign",
            data={"assignee": str(world["engineer"].id), "seen": "none"},
        ).status_code
        == 303
    )
    assert (
        client.post(
            base + "/transition", data={"status": "in_verification", "seen": "new"}
        ).status_code
        == 303
    )
    bad = client.post(
        base + "/transition",
        data={"status": "closed", "seen": "in_verification"},
        headers={"HX-Request": "true"},
    )
    assert bad.status_code == 422 and "<html" not in bad.get_data(as_text=True)
    case = SupportCase.get_by_id(case.id)
    assert case.assignee_id == world["engineer"].id and case.status == "in_verification"
    mails = [
        m.subject
        for m in OutboxMessage.select().where(
            OutboxMessage.recipient == world["customer"].email
        )
    ]
    assert any(case.number in subject for subject in mails)


def test_engineer_opens_a_case_taken_by_phone(client, world):
    login(client, world["engineer"])
    assert client.get("/pl/staff/cases/new?nip=526-018-15-96").status_code == 200
    response = client.post(
        "/pl/staff/cases/new?nip=5260181596",
        data=phone_case_form(world["contract"], "SN-2"),
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    case = SupportCase.get(SupportCase.subject == "Zgłoszenie telefoniczne")
    assert case.channel == "phone" and case.contact_email == "jan.k@example.pl"
    assert not case.is_shared
    assert (
        OutboxMessage.select()
        .where(OutboxMessage.recipient == "jan.k@example.pl")
        .exists()
    )


def test_reminders_are_sent_once(dbconn, world):
    now = utcnow()
    case = new_case(world, when=now - timedelta(days=10))
    engineer = world["engineer"]
    for status, extra in (
        ("in_verification", {}),
        ("validated", {}),
        ("replacement_sent", {"carrier": "DHL", "waybill": "1"}),
    ):
        transition(case, engineer, status, now - timedelta(days=9), **extra)
    transition(
        case,
        engineer,
        "awaiting_return",
        now - timedelta(days=6),
        delivered_at=now - timedelta(days=6),
    )
    first = run_reminders(now)
    assert first.return_soon == 1
    assert run_reminders(now).return_soon == 0
    later = run_reminders(now + timedelta(days=2))
    assert (
        later.return_overdue == 1
        and run_reminders(now + timedelta(days=3)).return_overdue == 0
    )


def test_response_breach_warning_goes_to_engineers_once(app, dbconn, world):
    now = utcnow()
    new_case(world, when=now - timedelta(minutes=50))
    assert run_reminders(now).response_breach == 1
    assert run_reminders(now).response_breach == 0
    assert (
        OutboxMessage.select()
        .where(OutboxMessage.recipient == app.config["ENGINEERS_EMAIL"])
        .count()
        == 2
    )  # + new


@pytest.mark.parametrize("query", ["", "?q=sprawa"])
def test_queue_query_count_does_not_grow(client, world, query):
    new_case(world)
    login(client, world["engineer"])
    with count_queries() as few:
        client.get("/pl/staff/" + query)
    for i in range(30):
        new_case(world, subject=f"Sprawa {i}")
    with count_queries() as many:
        html = client.get("/pl/staff/" + query).get_data(as_text=True)
    assert few.count == many.count
    # The search keeps only the 30 "Sprawa" cases.
    assert html.count('data-testid="queue-row"') == 30 + (not query)


def test_queue_refresh_fragment(client, world):
    new_case(world)
    login(client, world["engineer"])
    response = client.get("/pl/staff/", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert "<html" not in html and 'id="queue"' in html
    assert "HX-Request" in response.headers["Vary"]


def set_due(case, due, **fields):
    SupportCase.update(next_due_at=due, **fields).where(
        SupportCase.id == case.id
    ).execute()


def test_queue_counts_breached_due_soon_and_each_status(client, world):
    now = utcnow()
    set_due(new_case(world, subject="Po terminie"), now - timedelta(minutes=5))
    set_due(new_case(world, subject="Zaraz"), now + timedelta(minutes=5))
    set_due(new_case(world, subject="Później"), now + timedelta(hours=2))
    set_due(new_case(world, subject="Czeka"), None, status="waiting_for_customer")
    set_due(
        new_case(world, subject="Zamknięta"), now - timedelta(days=1), status="closed"
    )
    login(client, world["engineer"], lang="en")
    html = client.get("/en/staff/").get_data(as_text=True)
    assert 'data-testid="count-breached">breached: 1<' in html
    assert ">due within 15 minutes: 1<" in html
    assert ">new: 3<" in html
    assert ">waiting for the customer: 1<" in html
    assert "Czeka" in html and "Zamknięta" not in html


def test_filtered_queue_pages_only_the_matching_cases(client, world):
    for i in range(51):
        new_case(world, "major", f"Sprawa {i}")
    new_case(world, "critical", "Jedyna krytyczna")
    login(client, world["engineer"], lang="en")
    assert "Page 1 of 2" in client.get("/en/staff/").get_data(as_text=True)
    second = client.get("/en/staff/?page=2").get_data(as_text=True)
    assert second.count('data-testid="queue-row"') == 2 and "Page 2 of 2" in second
    html = client.get("/en/staff/?severity=critical").get_data(as_text=True)
    assert html.count('data-testid="queue-row"') == 1
    assert "Jedyna krytyczna" in html and "Page 1 of" not in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=waiting_for_customer", {"Czeka"}),
        ("severity=critical", {"Moja"}),
        ("window=8x5", {"Biurowa"}),
        ("window=custom", {"Własna"}),
        ("window=24x7", {"Moja", "Czeka", "Eskalowana"}),
        ("assignee=me", {"Moja"}),
        ("assignee=none", {"Czeka", "Biurowa", "Własna"}),
        ("assignee=other", {"Eskalowana"}),
        ("escalated=1", {"Eskalowana"}),
        ("severity=critical&assignee=me", {"Moja"}),
        ("severity=minor&assignee=me", set()),
        (
            "status=bogus&window=9x9",
            {"Moja", "Czeka", "Eskalowana", "Biurowa", "Własna"},
        ),
    ],
)
def test_queue_filters_each_select_their_cases(client, world, query, expected):
    other = make_user(role="engineer", company=None, email="inny@hezo.pl")
    office = make_contract(
        customer=world["company"], service_code="PW-AHR-NBD", serials=("SN-8",)
    )
    now = utcnow()
    mine = new_case(world, "critical", "Moja")
    set_due(mine, now, assignee=world["engineer"].id)
    set_due(new_case(world, subject="Czeka"), None, status="waiting_for_customer")
    set_due(
        new_case(world, "minor", "Eskalowana"), now, assignee=other.id, escalated_at=now
    )
    new_case(world, subject="Biurowa", contract=office)
    # A contract of a custom variant (Mon-Fri 8:00-17:00): "other agreed hours".
    from hezo import catalogue_db

    from .test_service_catalogue import NINE_TO_FIVE

    catalogue_db.save_variant(NINE_TO_FIVE, other, now)
    own = make_contract(
        customer=world["company"], service_code=NINE_TO_FIVE.code, serials=("SN-O",)
    )
    new_case(world, subject="Własna", contract=own)
    login(client, world["engineer"], lang="en")
    html = client.get("/en/staff/?" + query.replace("other", str(other.id))).text
    rows = re.findall(r'data-testid="queue-row".*?</tr>', html, re.S)
    shown = {
        s
        for s in ("Moja", "Czeka", "Eskalowana", "Biurowa", "Własna")
        for r in rows
        if s in r
    }
    assert shown == expected and len(rows) == len(expected)


def test_only_the_engineers_case_page_gets_the_staff_panel(app, world):
    from flask import template_rendered

    case = new_case(world)
    seen = []

    def record(sender, template, context, **extra):
        if template.name == "cases/detail.html":
            seen.append({"transitions", "assign_form"} & set(context))

    template_rendered.connect(record, app)
    try:
        for user in (world["customer"], world["engineer"]):
            client = app.test_client()
            login(client, user)
            assert client.get(f"/pl/cases/{case.number}").status_code == 200
    finally:
        template_rendered.disconnect(record, app)
    assert seen == [set(), {"transitions", "assign_form"}]

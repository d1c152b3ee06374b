"""Customer replies reach the engineers: mail, the queue's mark, reopening,
and a new case that links the old one once reopening is over."""

from datetime import timedelta

import pytest

from hezo.cases.services import CaseError, post_message
from hezo.cases.workflow import transition
from hezo.db import utcnow
from hezo.models import Message, OutboxMessage, StatusChange, SupportCase

from .factories import login, make_company, make_contract, make_user
from .test_staff import make_world, new_case


@pytest.fixture
def world(dbconn):
    return make_world()


def mails_to(address):
    return list(
        OutboxMessage.select()
        .where(OutboxMessage.recipient == address)
        .order_by(OutboxMessage.id)
    )


def reply(client, case, body="Nadal nie działa"):
    return client.post(f"/pl/cases/{case.number}/messages", data={"body": body})


def settle(case, engineer, status, when):
    """Resolve (and close, for "closed") the case at ``when``."""
    transition(case, engineer, "resolved", when)
    if status == "closed":
        transition(case, engineer, "closed", when)
    return SupportCase.get_by_id(case.id)


def test_customer_reply_mails_the_assigned_engineer(client, world):
    case = new_case(world)
    engineer = world["engineer"]
    SupportCase.update(assignee=engineer).where(SupportCase.id == case.id).execute()
    login(client, world["customer"])
    assert reply(client, case).status_code == 303
    (mail,) = mails_to(engineer.email)
    assert case.number in mail.subject and "Nowak" in mail.body_text
    assert f"/pl/cases/{case.number}" in mail.body_text
    # The team address has only the new case's notice.
    assert len(mails_to(client.application.config["ENGINEERS_EMAIL"])) == 1


def test_customer_reply_on_an_unassigned_case_mails_the_team(app, client, world):
    case = new_case(world)
    team = app.config["ENGINEERS_EMAIL"]
    before = len(mails_to(team))  # the new-case notice
    login(client, world["customer"])
    reply(client, case)
    mails = mails_to(team)
    assert len(mails) == before + 1 and case.number in mails[-1].subject


def test_reply_mail_is_written_with_the_message(dbconn, world):
    """The outbox row is in the reply's transaction: a refused reply mails nobody."""
    case = settle(
        new_case(world), world["engineer"], "closed", utcnow() - timedelta(days=20)
    )
    count = OutboxMessage.select().count()
    with pytest.raises(CaseError):
        post_message(case, world["customer"], "halo?", [], utcnow())
    assert OutboxMessage.select().count() == count
    assert not Message.select().where(Message.body == "halo?").exists()


def test_queue_marks_a_customer_reply_until_an_engineer_answers(app, client, world):
    case = new_case(world)
    other = new_case(world, subject="Inna sprawa")
    login(client, world["customer"])
    reply(client, case)
    staff = app.test_client()
    login(staff, world["engineer"])
    html = staff.get("/pl/staff/").get_data(as_text=True)
    assert html.count('data-testid="replied"') == 1
    filtered = staff.get("/pl/staff/?replied=1").get_data(as_text=True)
    assert case.number in filtered and other.number not in filtered
    # An internal note is no answer to the customer.
    staff.post(
        f"/pl/cases/{case.number}/messages", data={"body": "notatka", "internal": "y"}
    )
    assert SupportCase.get_by_id(case.id).customer_replied_at is not None
    staff.post(f"/pl/cases/{case.number}/messages", data={"body": "Sprawdzamy"})
    assert SupportCase.get_by_id(case.id).customer_replied_at is None
    assert 'data-testid="replied"' not in staff.get("/pl/staff/").get_data(as_text=True)
    assert case.number not in staff.get("/pl/staff/?replied=1").get_data(as_text=True)


@pytest.mark.parametrize("status", ["resolved", "closed"])
def test_reply_within_14_days_reopens_the_case(client, world, status):
    when = utcnow() - timedelta(days=13, hours=23)
    case = settle(new_case(world), world["engineer"], status, when)
    login(client, world["customer"])
    assert reply(client, case).status_code == 303
    case = SupportCase.get_by_id(case.id)
    assert case.status == "in_verification"
    last = (
        StatusChange.select()
        .where(StatusChange.case == case)
        .order_by(StatusChange.id.desc())
        .first()
    )
    assert (last.from_status, last.to_status) == (status, "in_verification")
    assert last.actor_id == world["customer"].id
    page = client.get(f"/pl/cases/{case.number}").get_data(as_text=True)
    assert "ponownie otwarte odpowiedzią klienta" in page
    mail = mails_to(client.application.config["ENGINEERS_EMAIL"])[-1]
    assert case.number in mail.subject and "ponownie je otworzyła" in mail.body_text


def test_engineer_reply_does_not_reopen(dbconn, world):
    case = settle(new_case(world), world["engineer"], "resolved", utcnow())
    post_message(case, world["engineer"], "Na koniec", [], utcnow())
    assert SupportCase.get_by_id(case.id).status == "resolved"


def test_reply_after_14_days_offers_a_new_linked_case(client, world):
    old = settle(
        new_case(world), world["engineer"], "closed", utcnow() - timedelta(days=15)
    )
    login(client, world["customer"])
    page = client.get(f"/pl/cases/{old.number}").get_data(as_text=True)
    assert (
        'data-testid="reply-closed"' in page and 'id="reply" method="post"' not in page
    )
    refused = reply(client, old, "Znowu to samo")
    assert refused.status_code == 409
    assert 'data-testid="reply-closed"' in refused.get_data(as_text=True)
    fragment = client.post(
        f"/pl/cases/{old.number}/messages",
        data={"body": "Znowu"},
        headers={"HX-Request": "true"},
    )
    assert fragment.status_code == 409 and "<html" not in fragment.get_data(
        as_text=True
    )
    assert not Message.select().where(Message.body.startswith("Znowu")).exists()
    assert SupportCase.get_by_id(old.id).status == "closed"

    offer = (
        f"/pl/cases/new?contract={old.contract.number}&amp;serial=SN-1"
        f"&amp;follows={old.number}"
    )
    assert offer in page
    form = client.get(offer.replace("&amp;", "&")).get_data(as_text=True)
    assert f'name="follows" value="{old.number}"' in form
    response = client.post(
        "/pl/cases/new",
        data={
            "contract": old.contract.number,
            "serial": "SN-1",
            "subject": "Znowu awaria",
            "description": "Ta sama usterka co wcześniej",
            "severity": "major",
            "follows": old.number,
        },
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    new = SupportCase.get(SupportCase.subject == "Znowu awaria")
    assert new.follows_id == old.id
    new_page = client.get(f"/pl/cases/{new.number}").get_data(as_text=True)
    assert f'href="/pl/cases/{old.number}"' in new_page
    old_page = client.get(f"/pl/cases/{old.number}").get_data(as_text=True)
    assert f'href="/pl/cases/{new.number}"' in old_page


def test_a_new_case_cannot_follow_another_companys_case(client, world):
    stranger = make_company("7792433527", "Obca firma")
    foreign = new_case(
        {**world, "customer": make_user(company=stranger)},
        contract=make_contract(customer=stranger, serials=("SN-9",)),
    )
    login(client, world["customer"])
    form = client.get(f"/pl/cases/new?follows={foreign.number}").get_data(as_text=True)
    assert 'name="follows"' not in form and 'data-testid="follows"' not in form
    client.post(
        "/pl/cases/new",
        data={
            "contract": world["contract"].number,
            "serial": "SN-1",
            "subject": "Podpięta?",
            "description": "opis",
            "severity": "minor",
            "follows": foreign.number,
        },
    )
    assert SupportCase.get(SupportCase.subject == "Podpięta?").follows_id is None


def test_partner_sees_no_link_to_a_case_not_shared(app, world):
    partner_user = make_user(role="partner", company=world["contract"].partner)
    old = new_case(world)
    SupportCase.update(is_shared=True).where(SupportCase.id == old.id).execute()
    hidden = new_case(world, subject="Prywatne")
    SupportCase.update(follows=old).where(SupportCase.id == hidden.id).execute()
    client = app.test_client()
    login(client, partner_user)
    page = client.get(f"/pl/cases/{old.number}").get_data(as_text=True)
    assert old.subject in page and hidden.number not in page


def test_reply_racing_an_engineers_move_keeps_their_move(dbconn, world):
    """The customer's page saw "waiting for the customer"; an engineer resolved
    the case meanwhile: the reply is stored and marked, the move stands."""
    case = new_case(world)
    transition(case, world["engineer"], "waiting_for_customer", utcnow())
    seen_by_customer = SupportCase.get_by_id(case.id)
    transition(case, world["engineer"], "resolved", utcnow())
    post_message(seen_by_customer, world["customer"], "Już działa?", [], utcnow())
    case = SupportCase.get_by_id(case.id)
    assert case.status == "resolved" and case.customer_replied_at is not None
    assert [c.to_status for c in case.status_changes.order_by(StatusChange.id)] == [
        "new",
        "waiting_for_customer",
        "in_verification",
        "resolved",
    ]
    assert Message.select().where(Message.body == "Już działa?").exists()

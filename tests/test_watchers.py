"""Colleagues and watchers: the company's people, watchers told like the
contact, a case handed to a colleague, and never anyone of another company."""

import json

import pytest

from hezo.cases import watchers
from hezo.cases.services import post_message
from hezo.cases.workflow import transition
from hezo.db import utcnow
from hezo.models import AuditEvent, CaseWatcher, OutboxMessage, SupportCase, User

from .factories import login, make_company, make_contract, make_user
from .test_staff import make_world, new_case


@pytest.fixture
def world(dbconn):
    world = make_world()
    company = world["company"]
    world["colleague"] = make_user(company=company, language="en", position="CTO")
    world["quiet"] = make_user(company=company, notify_by_email=False)
    world["disabled"] = make_user(company=company, is_enabled=False)
    other = make_company("6281948218", "Obca Firma")
    make_contract(customer=other, serials=("SN-X",))
    world["stranger"] = make_user(company=other)
    world["partner"] = make_user(role="partner", company=world["contract"].partner)
    return world


def told():
    """(recipient, language of the link) of the mails queued since the last
    call, the engineers' own mail left out; the outbox is emptied."""
    rows = sorted(
        (m.recipient, "en" if "/en/cases/" in m.body_text else "pl")
        for m in OutboxMessage.select()
        if "/cases/" in m.body_text and "/staff/" not in m.body_text
    )
    OutboxMessage.delete().execute()
    return rows


def test_colleagues_page_shows_only_the_companys_people(client, world):
    login(client, world["customer"])
    page = client.get("/pl/account/colleagues").get_data(as_text=True)
    assert world["colleague"].full_name in page and "CTO" in page
    assert world["quiet"].full_name in page
    for outsider in ("stranger", "partner", "engineer", "disabled"):
        assert world[outsider].full_name not in page, outsider


def test_a_partner_sees_only_its_own_companys_people(client, world):
    login(client, world["partner"])
    page = client.get("/pl/account/colleagues").get_data(as_text=True)
    assert world["partner"].full_name in page
    assert world["customer"].full_name not in page
    assert world["colleague"].full_name not in page


def test_watchers_get_the_case_mails_once_each_in_their_language(client, world):
    case = new_case(world)
    login(client, world["customer"])
    for who in ("colleague", "quiet", "customer"):
        response = client.post(
            f"/pl/cases/{case.number}/watchers", data={"user": world[who].id}
        )
        assert response.status_code == 303
    assert CaseWatcher.select().count() == 3
    told()
    engineer = world["engineer"]
    expected = sorted(
        [(world["customer"].email, "pl"), (world["colleague"].email, "en")]
    )
    post_message(case, engineer, "Proszę o logi", [], utcnow())
    assert told() == expected
    transition(case, engineer, "in_verification", utcnow())
    assert told() == expected
    # An internal note tells nobody; a removed watcher hears nothing more.
    client.post(f"/pl/cases/{case.number}/watchers/{world['colleague'].id}/remove")
    post_message(case, engineer, "notatka", [], utcnow(), internal=True)
    assert told() == []
    post_message(case, engineer, "Znowu", [], utcnow())
    assert told() == [(world["customer"].email, "pl")]
    actions = [e.action for e in AuditEvent.select().order_by(AuditEvent.id)]
    assert actions.count("watcher_added") == 3 and "watcher_removed" in actions


def test_a_disabled_watcher_is_never_told(world):
    case = new_case(world)
    watchers.add_watcher(case, world["colleague"].id, world["customer"], utcnow())
    User.update(is_enabled=False).where(User.id == world["colleague"].id).execute()
    told()
    post_message(case, world["engineer"], "Odpowiedź", [], utcnow())
    assert told() == [(world["customer"].email, "pl")]


@pytest.mark.parametrize("who", ["stranger", "partner", "engineer", "disabled"])
def test_no_one_outside_the_company_can_watch_or_take_a_case(client, world, who):
    case = new_case(world)
    login(client, world["customer"])
    for path in ("watchers", "contact"):
        for headers in ({}, {"HX-Request": "true"}):
            response = client.post(
                f"/pl/cases/{case.number}/{path}",
                data={"user": world[who].id},
                headers=headers,
            )
            assert response.status_code == 422
            assert "Wybierz osobę ze swojej firmy" in response.get_data(as_text=True)
    assert CaseWatcher.select().count() == 0
    assert SupportCase.get_by_id(case.id).contact_user_id is None


def test_another_companys_customer_cannot_touch_the_case(client, world):
    case = new_case(world)
    login(client, world["stranger"])
    response = client.post(
        f"/pl/cases/{case.number}/watchers", data={"user": world["stranger"].id}
    )
    assert response.status_code == 404
    assert CaseWatcher.select().count() == 0


def test_a_case_handed_to_a_colleague_mails_them_not_the_reporter(client, world):
    case = new_case(world)
    login(client, world["customer"])
    told()
    response = client.post(
        f"/pl/cases/{case.number}/contact",
        data={"user": world["colleague"].id},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "Contact and watchers" in response.get_data(as_text=True) or (
        world["colleague"].full_name in response.get_data(as_text=True)
    )
    case = SupportCase.get_by_id(case.id)
    assert case.contact_user_id == world["colleague"].id
    assert case.contact_email == world["colleague"].email
    assert told() == [(world["colleague"].email, "en")]
    event = AuditEvent.get(AuditEvent.action == "case_contact_changed")
    assert json.loads(event.details) == {
        "old": world["customer"].full_name,
        "new": world["colleague"].full_name,
    }
    post_message(case, world["engineer"], "Dzień dobry", [], utcnow())
    assert told() == [(world["colleague"].email, "en")]
    page = client.get(f"/pl/cases/{case.number}").get_data(as_text=True)
    assert 'id="watchers"' in page


def test_the_watchers_panel_is_not_shown_to_a_partner(client, world):
    case = new_case(world)
    watchers.add_watcher(case, world["colleague"].id, world["customer"], utcnow())
    from hezo.cases.services import set_consent

    set_consent(case, world["customer"], True, utcnow(), world["partner"].company_id)
    login(client, world["partner"])
    page = client.get(f"/pl/cases/{case.number}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="watchers"' not in html
    assert world["colleague"].full_name not in html


def test_the_panel_shows_contact_watchers_and_colleagues_in_one_statement(
    client, world
):
    from playhouse.test_utils import count_queries

    case = new_case(world)
    login(client, world["customer"])

    def page():
        with count_queries() as counted:
            html = client.get(f"/pl/cases/{case.number}").get_data(as_text=True)
        return html, counted.count

    _, before = page()
    watchers.hand_over(case, world["colleague"].id, world["customer"], utcnow())
    watchers.add_watcher(case, world["quiet"].id, world["customer"], utcnow())
    for n in range(5):
        make_user(company=world["company"], first_name=f"Kolega{n}")
    case = SupportCase.get_by_id(case.id)

    with count_queries() as counted:
        seen = watchers.panel(case, world["customer"])
    assert counted.count == 1
    assert seen["contact"].id == world["colleague"].id
    assert [u.id for u in seen["watchers"]] == [world["quiet"].id]
    colleagues = {u.id for u in seen["colleagues"]}
    named = {world[who].id for who in ("customer", "colleague", "quiet")}
    assert named <= colleagues
    assert world["disabled"].id not in colleagues
    assert world["stranger"].id not in colleagues and len(colleagues) == 8

    staff = watchers.panel(case, world["engineer"])
    assert staff["contact"].id == world["colleague"].id and staff["colleagues"] == []
    assert [u.id for u in staff["watchers"]] == [world["quiet"].id]

    # The case page: the same statements with 8 colleagues and a watcher as
    # with none (bench/PAGES.md counts them: 8 on the customer's case page,
    # and the version its kept copy is compared with: hezo.kept_pages).
    html, after = page()
    assert "Kolega4" in html and world["quiet"].full_name in html
    assert after == before <= 9

"""Account care by staff (SECURITY #15, #39) and the user's own session and
notification settings."""

import re

import pytest

from hezo.models import AuditEvent, OutboxMessage, RecoveryCode, User

from .factories import (
    PASSWORD,
    fresh_code,
    login,
    make_company,
    make_contract,
    make_user,
)


@pytest.fixture
def people(dbconn):
    company = make_company("5260181596", "Żółw")
    make_contract(customer=company, number="HZ-2025-000123", serials=("1942Y-40125",))
    return {
        "customer": make_user(company=company),
        "engineer": make_user(role="engineer"),
        "admin": make_user(role="admin"),
    }


def proof(engineer, **changes):
    return {
        "nip": "526-018-15-96",
        "contract": "HZ-2025-000123",
        "serial": "1942y-40125",
        "current": PASSWORD,
        "code": fresh_code(engineer),
    } | changes


def test_staff_resets_the_sign_in_after_re_proof_and_the_customer_sets_it_up(
    app, client, people
):
    customer, engineer = people["customer"], people["engineer"]
    login(client, engineer)
    response = client.post(f"/pl/staff/accounts/{customer.id}", data=proof(engineer))
    assert response.status_code == 303
    stored = User.get_by_id(customer.id)
    assert stored.totp_secret is None and stored.password_hash is None
    assert RecoveryCode.select().where(RecoveryCode.user == customer).count() == 0
    assert AuditEvent.get(AuditEvent.action == "totp_reset_by_staff").actor_id == (
        engineer.id
    )
    body = OutboxMessage.get(OutboxMessage.recipient == customer.email).body_text
    path = re.search(r"https://myhezo.pl(\S+)", body).group(1)
    own = app.test_client()
    assert own.post(path).status_code == 303
    assert own.get("/pl/setup/password").status_code == 200


def test_reset_needs_matching_proof_and_the_engineers_own_code(client, people):
    customer, engineer = people["customer"], people["engineer"]
    login(client, engineer)
    for changes in (
        {"serial": "OTHER"},
        {"nip": "6281948218"},
        {"code": "000000"},
        {"current": "wrong password here"},
    ):
        response = client.post(
            f"/pl/staff/accounts/{customer.id}", data=proof(engineer, **changes)
        )
        assert response.status_code == 422
        User.update(otp_blocked_until=None).execute()
    assert User.get_by_id(customer.id).totp_secret is not None


def test_customer_cannot_reset_anyone(client, people):
    login(client, people["customer"])
    other = make_user(company=people["customer"].company)
    response = client.post(f"/pl/staff/accounts/{other.id}", data={})
    assert response.status_code == 404


def test_disabling_an_account_ends_its_sessions_at_once(app, client, people):
    customer = people["customer"]
    own = app.test_client()
    login(own, customer)
    assert own.get("/pl/contracts/").status_code == 200
    login(client, people["admin"])
    response = client.post(
        f"/pl/staff/accounts/{customer.id}/enabled", data={"enabled": "0"}
    )
    assert response.status_code == 303
    assert own.get("/pl/contracts/").status_code == 302


def test_engineers_cannot_disable_accounts(client, people):
    login(client, people["engineer"])
    response = client.post(
        f"/pl/staff/accounts/{people['customer'].id}/enabled", data={"enabled": "0"}
    )
    assert response.status_code == 404


def test_user_ends_their_other_sessions(app, people):
    first, second = app.test_client(), app.test_client()
    login(first, people["customer"])
    login(second, people["customer"])
    assert second.post("/pl/account/sessions").status_code == 303
    assert second.get("/pl/contracts/").status_code == 200
    assert first.get("/pl/contracts/").status_code == 302


def test_notifications_can_be_turned_off(client, people):
    login(client, people["customer"])
    client.post("/pl/account/notifications", data={"notify": "0"})
    assert not User.get_by_id(people["customer"].id).notify_by_email
    client.post("/pl/account/notifications", data={"notify": "1"})
    assert User.get_by_id(people["customer"].id).notify_by_email


# -- the engineers' account search (issue 12, item 3) ---------------------------


@pytest.fixture
def searchable(dbconn, people):
    company = make_company("7792433527", "Łączność Północ S.A.")
    user = make_user(company=company, email="ewa.kwiatkowska@polnoc.pl")
    User.update(last_name="Kwiatkowska").where(User.id == user.id).execute()
    return user


@pytest.mark.parametrize(
    "query",
    [
        "ewa.kwiat",  # part of the e-mail
        "KWIATKOWSKA",  # last name, other case
        "Jan Kwiat",  # first and last name
        "północ s.a.",  # company name
        "7792433527",
        "779-243-35-27",
        "PL 779 243 35 27",
        "24335",  # part of the NIP
    ],
)
def test_account_search_finds_by_email_name_company_and_nip(
    client, people, searchable, query
):
    login(client, people["engineer"])
    response = client.get("/pl/staff/accounts", query_string={"q": query})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert searchable.email in page
    assert people["customer"].email not in page


def test_account_search_without_a_query_lists_the_newest_accounts(
    client, people, searchable
):
    from datetime import timedelta

    from hezo.db import utcnow

    User.update(created_at=utcnow() - timedelta(days=30)).where(
        User.id == people["customer"].id
    ).execute()
    login(client, people["engineer"])
    response = client.get("/pl/staff/accounts")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert searchable.email in page and people["customer"].email in page
    assert page.index(searchable.email) < page.index(people["customer"].email)


def test_account_search_says_when_nothing_matches(client, people):
    login(client, people["engineer"])
    response = client.get("/en/staff/accounts", query_string={"q": "100%_nobody"})
    assert response.status_code == 200
    assert "No account matches." in response.get_data(as_text=True)

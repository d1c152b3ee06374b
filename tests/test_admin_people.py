"""People in the administrators' console (issue 20, part 2): invite
engineers, administrators and partner users (the invitation e-mailed), list
and filter staff and partner accounts, disable and enable them, reset a lost
authenticator; every action audited; bad input a translated 4xx; a double
submit creates one account and one invitation."""

import json
import re

import pytest

from hezo.models import AuditEvent, AuthToken, OutboxMessage, User

from .factories import PASSWORD, fresh_code, login, make_company, make_user

PARTNER_NIP = "1860913901"
NAMES = ("Inżynier", "Wyłączony", "Firmowy", "Zaproszony")


@pytest.fixture
def world(app, dbconn):
    partner = make_company(PARTNER_NIP, "NetPartner S.A.")
    admin = make_user(role="admin", company=None, email="admin@example.pl")
    client = app.test_client()
    login(client, admin)
    return {"admin": admin, "client": client, "partner": partner}


def invite(client, lang="pl", **fields):
    data = {"role": "engineer", "name": "Jan Kowalski", "email": "jan@hezo.pl"}
    data["language"] = lang
    return client.post(f"/{lang}/admin/people/invite", data=data | fields)


def named(user, first, last):
    user.first_name, user.last_name = first, last
    user.save()
    return user


def audited(action):
    return list(AuditEvent.select().where(AuditEvent.action == action))


@pytest.mark.parametrize("role", ["engineer", "admin"])
def test_an_invited_staff_member_gets_the_e_mail_and_sets_up_the_account(
    app, world, role
):
    response = invite(world["client"], role=role, email="Jan@Hezo.pl")
    assert response.status_code == 303
    user = User.get(User.email == "jan@hezo.pl")
    assert (user.role, user.first_name, user.last_name) == (role, "Jan", "Kowalski")
    assert user.password_hash is None and user.totp_secret is None
    assert response.location.endswith(f"/pl/admin/people/{user.id}")
    (event,) = audited("account_invited")
    assert (event.actor_id, event.object_id) == (world["admin"].id, str(user.id))
    assert json.loads(event.details)["role"] == role
    mail = OutboxMessage.get(OutboxMessage.recipient == "jan@hezo.pl")
    link = re.search(r"https://myhezo\.pl(/pl/invite/\S+)", mail.body_text).group(1)
    page = app.test_client()
    assert page.post(link).status_code == 303
    assert page.get("/pl/setup/password").status_code == 200


def test_a_partner_user_is_invited_for_the_company_of_the_nip(world):
    response = invite(
        world["client"],
        "en",
        role="partner",
        email="ola@netpartner.example.pl",
        name="Ola Nowak",
        nip="PL 186-091-39-01",
    )
    assert response.status_code == 303
    user = User.get(User.email == "ola@netpartner.example.pl")
    assert (user.role, user.company_id, user.language) == (
        "partner",
        world["partner"].id,
        "en",
    )
    mail = OutboxMessage.get(OutboxMessage.recipient == user.email)
    assert "NetPartner S.A." in mail.body_text and "/en/invite/" in mail.body_text


@pytest.mark.parametrize(
    ("fields", "pl", "en"),
    [
        ({"role": "partner", "nip": "5260181596"}, "Nie ma firmy", "No company"),
        ({"role": "partner", "nip": ""}, "Nie ma firmy", "No company"),
        ({"email": "jan@"}, "poprawny adres e-mail", "not a valid e-mail"),
        ({"email": "admin@example.pl"}, "już istnieje", "exists already"),
        ({"name": ""}, "To pole jest wymagane", "This field is required"),
    ],
)
def test_bad_invitations_are_refused_with_a_translated_message(world, fields, pl, en):
    for lang, expected in (("pl", pl), ("en", en)):
        response = invite(world["client"], lang, **fields)
        assert response.status_code == 422
        assert expected in response.get_data(as_text=True)
    assert User.select().count() == 1  # the administrator only
    assert OutboxMessage.select().count() == 0 and audited("account_invited") == []


def test_a_forged_role_is_refused(world):
    assert invite(world["client"], role="customer").status_code == 422
    assert (
        invite(world["client"], role="partner", nip=PARTNER_NIP + "0").status_code
        == 422
    )
    assert User.select().count() == 1


def test_a_double_submitted_invitation_creates_one_account_and_one_e_mail(world):
    key = {"submission_key": "k" * 32}
    first = invite(world["client"], **key)
    second = invite(world["client"], **key)
    assert first.status_code == second.status_code == 303
    assert first.location == second.location
    assert User.select().where(User.email == "jan@hezo.pl").count() == 1
    assert OutboxMessage.select().count() == 1 and len(audited("account_invited")) == 1
    live = AuthToken.select().where(AuthToken.used_at.is_null()).count()
    assert live == 1  # the mailed link still works


def test_the_list_shows_staff_and_partners_with_filters(world):
    engineer = named(make_user(role="engineer"), "Ewa", "Inżynier")
    disabled = named(make_user(role="engineer"), "Piotr", "Wyłączony")
    disabled.is_enabled = False
    disabled.save()
    partner = make_user(role="partner", company=world["partner"])
    customer = named(make_user(), "Klient", "Firmowy")
    invite(world["client"], email="nowy@hezo.pl", name="Nowy Zaproszony")
    client = world["client"]

    def listed(query=""):
        html = client.get("/pl/admin/people" + query).get_data(as_text=True)
        return {
            name
            for name in (
                "Inżynier",
                "Wyłączony",
                partner.email,
                "Firmowy",
                "Zaproszony",
            )
            if name in html
        }

    assert listed() == {"Inżynier", "Wyłączony", partner.email, "Zaproszony"}
    assert listed("?role=partner") == {partner.email}
    assert listed("?state=disabled") == {"Wyłączony"}
    assert listed("?state=invited") == {"Zaproszony"}
    assert listed("?role=engineer&state=active") == {"Inżynier"}
    assert listed(f"?q={PARTNER_NIP[:6]}") == {partner.email}
    assert listed("?q=ewa+in") == {"Inżynier"}
    assert engineer.id and customer.id
    rows = client.get("/pl/admin/people?role=partner", headers={"HX-Request": "true"})
    html = rows.get_data(as_text=True)
    assert html.startswith('<div id="people-rows">') and partner.email in html


def test_disable_and_enable_from_the_console_are_audited(app, world):
    engineer = make_user(role="engineer")
    session = app.test_client()
    login(session, engineer)
    client, url = world["client"], f"/pl/admin/people/{engineer.id}/enabled"
    assert client.post(url, data={"enabled": "0"}).status_code == 303
    assert not User.get_by_id(engineer.id).is_enabled
    assert session.get("/pl/staff/").status_code in (302, 303)  # signed out
    assert client.post(url, data={"enabled": "1"}).status_code == 303
    assert User.get_by_id(engineer.id).is_enabled
    actions = [
        (e.action, e.actor_id)
        for e in AuditEvent.select()
        .where(AuditEvent.action.in_(["account_disabled", "account_enabled"]))
        .order_by(AuditEvent.id)
    ]
    admin = world["admin"].id
    assert actions == [("account_disabled", admin), ("account_enabled", admin)]
    own = f"/pl/admin/people/{world['admin'].id}/enabled"
    assert client.post(own, data={"enabled": "0"}).status_code == 400


def test_a_lost_authenticator_is_reset_after_the_administrators_own_proof(app, world):
    person = make_user(role="partner", company=world["partner"])
    client, url = world["client"], f"/pl/admin/people/{person.id}/authenticator"
    proof = {"current": PASSWORD, "code": fresh_code(world["admin"])}
    proof["submission_key"] = "r" * 32
    assert client.post(url, data=proof).status_code == 303
    assert client.post(url, data=proof).status_code == 303  # twice: one reset
    stored = User.get_by_id(person.id)
    assert stored.totp_secret is None and stored.password_hash is None
    (event,) = audited("totp_reset_by_staff")
    assert event.actor_id == world["admin"].id
    assert (
        OutboxMessage.select().where(OutboxMessage.recipient == person.email).count()
        == 1
    )


def test_a_reset_without_the_administrators_code_is_refused(world):
    person = make_user(role="engineer")
    url = f"/pl/admin/people/{person.id}/authenticator"
    wrong = world["client"].post(url, data={"current": PASSWORD, "code": "000000"})
    assert wrong.status_code == 422
    assert "hasło lub kod są nieprawidłowe" in wrong.get_data(as_text=True)
    assert User.get_by_id(person.id).totp_secret is not None
    assert audited("totp_reset_by_staff") == []


def test_only_administrators_reach_the_people_and_settings_pages(app, world):
    engineer = app.test_client()
    login(engineer, make_user(role="engineer"))
    for path in ("/pl/admin/people", "/pl/admin/people/invite", "/pl/admin/settings"):
        assert engineer.get(path).status_code in (403, 404)
        assert world["client"].get(path).status_code == 200
    assert invite(engineer).status_code in (403, 404)
    assert User.select().where(User.email == "jan@hezo.pl").count() == 0

"""The signed-in user's profile: details, language, notifications, and an
e-mail change confirmed from the new address (the old one told), audited."""

import json
import re
from datetime import timedelta

import pytest

from hezo.accounts import services
from hezo.db import utcnow
from hezo.models import AuditEvent, AuthToken, ExternalIdentity, OutboxMessage, User

from .factories import PASSWORD, fresh_code, login, make_company, make_user, race


def mails_to(address):
    return list(
        OutboxMessage.select()
        .where(OutboxMessage.recipient == address)
        .order_by(OutboxMessage.id)
    )


def profile_events(user):
    return [
        (e.action, json.loads(e.details) if e.details else None)
        for e in AuditEvent.select()
        .where(
            (AuditEvent.object_type == "user") & (AuditEvent.object_id == str(user.id))
        )
        .order_by(AuditEvent.id)
    ]


PROFILE = {
    "first_name": "Anna",
    "last_name": "Kowalska",
    "phone": "+48 600 100 200",
    "position": "Kierowniczka IT",
    "language": "en",
}


def test_profile_edits_are_saved_and_audited_with_old_and_new_values(client, dbconn):
    user = make_user(phone="+48 111 222 333")
    login(client, user)
    response = client.post("/pl/account/profile", data=PROFILE)
    assert response.status_code == 303
    saved = User.get_by_id(user.id)
    assert (saved.full_name, saved.phone, saved.position, saved.language) == (
        "Anna Kowalska",
        "+48 600 100 200",
        "Kierowniczka IT",
        "en",
    )
    events = profile_events(user)
    assert (
        "profile_changed",
        {"field": "phone", "old": "+48 111 222 333", "new": "+48 600 100 200"},
    ) in events
    assert (
        "profile_changed",
        {"field": "language", "old": "pl", "new": "en"},
    ) in events
    assert {e[1]["field"] for e in events} == set(PROFILE)
    assert all(e.actor_id == user.id for e in AuditEvent.select())
    # The same values again: nothing new recorded.
    client.post("/pl/account/profile", data=PROFILE)
    assert len(profile_events(user)) == len(events)
    page = client.get("/pl/account").get_data(as_text=True)
    assert 'value="Kierowniczka IT"' in page


def test_a_bad_profile_is_refused_with_its_message_and_nothing_saved(client, dbconn):
    user = make_user()
    login(client, user)
    response = client.post(
        "/pl/account/profile", data=PROFILE | {"first_name": "", "phone": "abc"}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "To pole jest wymagane." in html
    assert User.get_by_id(user.id).first_name == "Jan"
    assert profile_events(user) == []


def test_the_notification_setting_is_audited(client, dbconn):
    user = make_user(role="partner")
    login(client, user)
    assert "Wyłącz powiadomienia" in client.get("/pl/account").get_data(as_text=True)
    client.post("/pl/account/notifications", data={"notify": "0"})
    assert User.get_by_id(user.id).notify_by_email is False
    assert [a for a, _ in profile_events(user)] == ["notifications_off"]


def test_a_vzam_partner_keeps_the_name_and_address_from_vzam(client, dbconn):
    user = make_user(role="partner")
    ExternalIdentity.create(user=user, issuer="https://vzam.test", subject="s-1")
    login(client, user)
    page = client.get("/pl/account").get_data(as_text=True)
    assert "V-ZAM" in page and 'name="first_name"' not in page
    assert client.post("/pl/account/profile", data=PROFILE).status_code == 303
    saved = User.get_by_id(user.id)
    assert saved.first_name == "Jan" and saved.position == "Kierowniczka IT"
    assert (
        client.post("/pl/account/email", data={"email": "x@example.pl"}).status_code
        == 403
    )


def link_of(mail) -> str:
    return re.search(r"https?://\S+/account/email/(\S+)", mail.body_text).group(0)


def path_of(link: str) -> str:
    return "/" + link.split("/", 3)[3]


def email_change(user, email, password=PASSWORD, code=None):
    """The e-mail form as a user fills it in: the address and fresh proof."""
    code = fresh_code(user) if code is None else code
    return {"email": email, "current": password, "code": code}


@pytest.mark.parametrize(
    "proof",
    [
        {},
        {"current": PASSWORD},
        {"current": "wrong password", "code": "fresh"},
        {"current": PASSWORD, "code": "000000"},
    ],
)
def test_a_stolen_session_alone_cannot_move_the_account(client, dbconn, proof):
    user = make_user(email="stary@example.pl")
    login(client, user)
    data = {"email": "zlodziej@example.pl"} | proof
    if data.get("code") == "fresh":
        data["code"] = fresh_code(user)
    response = client.post("/pl/account/email", data=data)
    assert response.status_code == 422
    assert mails_to("zlodziej@example.pl") == [] and mails_to("stary@example.pl") == []
    assert AuthToken.select().where(AuthToken.purpose == "email_change").count() == 0
    page = client.get("/pl/account").get_data(as_text=True)
    assert 'name="current"' in page and 'name="code"' in page


def test_an_e_mail_change_is_confirmed_from_the_new_address(client, dbconn):
    user = make_user(email="stary@example.pl")
    login(client, user)
    response = client.post(
        "/pl/account/email", data=email_change(user, "Nowy@Example.PL")
    )
    assert response.status_code == 303
    # Nothing changed yet; the new address got the link, the old one the news.
    assert User.get_by_id(user.id).email == "stary@example.pl"
    [confirm] = mails_to("nowy@example.pl")
    [notice] = mails_to("stary@example.pl")
    assert (
        "nowy@example.pl" in notice.body_text
        and "/account/email/" not in notice.body_text
    )
    link = path_of(link_of(confirm))
    # Opening the link (a mail scanner's GET) changes nothing: the button does.
    page = client.get(link)
    assert page.status_code == 200 and "nowy@example.pl" in page.get_data(as_text=True)
    assert User.get_by_id(user.id).email == "stary@example.pl"
    assert client.post(link).status_code == 303
    assert User.get_by_id(user.id).email == "nowy@example.pl"
    events = profile_events(user)
    assert (
        "email_changed",
        {"field": "email", "old": "stary@example.pl", "new": "nowy@example.pl"},
    ) in events
    assert [a for a, _ in events] == ["email_change_requested", "email_changed"]
    # Used once: the link is refused afterwards, in the page's language.
    again = client.post(link)
    assert again.status_code == 400
    assert "Ten link jest nieważny" in again.get_data(as_text=True)


def test_expired_and_forged_links_are_refused(client, dbconn):
    user = make_user(email="stary@example.pl")
    now = utcnow()
    with client.application.test_request_context():
        token = services.request_email_change(user, "nowy@example.pl", user, now)
    AuthToken.update(expires_at=now - timedelta(seconds=1)).execute()
    for path in (f"/en/account/email/{token}", "/en/account/email/" + "A" * 43):
        for method in ("GET", "POST"):
            response = client.open(path, method=method)
            assert response.status_code == 400
            assert "This link is not valid" in response.get_data(as_text=True)
    assert User.get_by_id(user.id).email == "stary@example.pl"


def test_a_newer_link_voids_the_older_one(client, dbconn):
    user = make_user()
    with client.application.test_request_context():
        first = services.request_email_change(user, "a@example.pl", user, utcnow())
        services.request_email_change(user, "b@example.pl", user, utcnow())
    assert client.post(f"/pl/account/email/{first}").status_code == 400


def test_an_address_of_another_account_is_refused(client, dbconn):
    make_user(email="zajety@example.pl")
    user = make_user()
    login(client, user)
    response = client.post(
        "/pl/account/email", data=email_change(user, "ZAJETY@example.pl")
    )
    assert response.status_code == 422
    assert "należy do innego konta" in response.get_data(as_text=True)
    assert mails_to("zajety@example.pl") == []


def test_an_address_taken_before_the_link_is_opened_is_refused(client, dbconn):
    user = make_user(email="stary@example.pl")
    with client.application.test_request_context():
        token = services.request_email_change(user, "nowy@example.pl", user, utcnow())
    make_user(email="nowy@example.pl")
    response = client.post(f"/pl/account/email/{token}")
    assert response.status_code == 409
    assert "należy do innego konta" in response.get_data(as_text=True)
    assert User.get_by_id(user.id).email == "stary@example.pl"


@pytest.mark.parametrize("threads", [2])
def test_two_confirmations_of_one_address_one_wins_never_a_500(app, dbconn, threads):
    company = make_company()
    users = [make_user(company=company) for _ in range(threads)]
    with app.test_request_context():
        tokens = [
            services.request_email_change(u, "wspolny@example.pl", u, utcnow())
            for u in users
        ]
    pending = iter(tokens)

    def confirm():
        client = app.test_client()
        return client.post(f"/pl/account/email/{next(pending)}").status_code

    statuses = race(app, confirm, threads=threads)
    assert sorted(statuses) == [303, 409]
    assert User.select().where(User.email == "wspolny@example.pl").count() == 1


def test_a_name_loses_direction_overrides(client, dbconn):
    """U+202E in a name would show it reversed on every page and e-mail that
    names the person (the watchers panel, a colleague's case, the audit log)."""
    user = make_user()
    login(client, user)
    data = PROFILE | {
        "first_name": "An\u202ena",
        "last_name": "Kowal\u2067ska",
        "position": "Kierow\u202dniczka",
    }
    assert client.post("/pl/account/profile", data=data).status_code == 303
    saved = User.get_by_id(user.id)
    assert (saved.first_name, saved.last_name, saved.position) == (
        "Anna",
        "Kowalska",
        "Kierowniczka",
    )

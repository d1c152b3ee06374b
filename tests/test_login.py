import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from hezo.accounts import services
from hezo.db import utcnow
from hezo.models import OutboxMessage, User

from .factories import PASSWORD, fresh_code, login, make_user, race


@pytest.fixture
def user(dbconn):
    return make_user()


def password_step(client, user, password=PASSWORD):
    return client.post("/pl/login", data={"email": user.email, "password": password})


def body(response):
    """The page without its CSRF tokens (they carry a timestamp)."""
    html = response.get_data(as_text=True)
    return re.sub(r'name="csrf_token"[^>]*|"X-CSRFToken": "[^"]*"', "", html)


def test_password_then_totp_signs_in(client, user):
    response = login(client, user)
    assert response.status_code == 303
    assert client.get("/pl/contracts/").status_code == 200


def test_password_alone_opens_nothing(client, user):
    password_step(client, user)
    response = client.get("/pl/contracts/")
    assert response.status_code == 302 and "/pl/login/code" in response.location


@pytest.mark.parametrize(
    "case", ["unknown", "wrong-password", "disabled", "not-enrolled"]
)
def test_every_login_failure_looks_the_same(client, dbconn, case):
    reference = client.post(
        "/pl/login", data={"email": "nobody@example.pl", "password": "whatever it is"}
    )
    target = {
        "unknown": lambda: None,
        "wrong-password": lambda: make_user(email="a@example.pl"),
        "disabled": lambda: make_user(email="a@example.pl", is_enabled=False),
        "not-enrolled": lambda: make_user(email="a@example.pl", enrolled=False),
    }[case]()
    password = "whatever it is" if case == "wrong-password" else PASSWORD
    response = client.post(
        "/pl/login",
        data={
            "email": target.email if target else "nobody@example.pl",
            "password": password,
        },
    )
    assert response.status_code == reference.status_code == 422
    emails = re.compile(r"(nobody|a)@example\.pl")
    assert emails.sub("X", body(response)) == emails.sub("X", body(reference))


def test_replayed_totp_code_is_refused_like_a_wrong_one(client, user):
    code = fresh_code(user)
    password_step(client, user)
    assert client.post("/pl/login/code", data={"code": code}).status_code == 303
    client.post("/pl/logout")
    password_step(client, user)
    replay = client.post("/pl/login/code", data={"code": code})
    User.update(otp_blocked_until=None).execute()
    wrong = client.post("/pl/login/code", data={"code": "000000"})
    assert replay.status_code == wrong.status_code == 422
    assert body(replay) == body(wrong)


def test_older_code_in_window_is_dead_after_a_newer_one(dbconn, user):
    now = utcnow()
    assert services.verify_second_factor(user, user.totp.at(now), now) == "totp"
    earlier = user.totp.at(now - timedelta(seconds=30))
    assert services.verify_second_factor(user, earlier, now) is None


def test_drift_of_one_step_is_accepted_two_are_not(dbconn):
    now = utcnow()
    for offset, accepted in [(-30, True), (30, True), (-60, False), (60, False)]:
        user = make_user()
        code = user.totp.at(now + timedelta(seconds=offset))
        assert (services.verify_second_factor(user, code, now) is not None) is accepted


def test_concurrent_use_of_one_code_succeeds_once(app, dbconn, user):
    now = utcnow()
    code = user.totp.at(now)
    results = race(app, lambda: services.verify_second_factor(user, code, now))
    assert sorted(map(str, results)) == ["None", "None", "None", "totp"]


def test_recovery_code_works_once(client, dbconn, user):
    codes = services.issue_recovery_codes(user)
    password_step(client, user)
    assert (
        client.post("/pl/login/code", data={"code": codes[0].lower()}).status_code
        == 303
    )
    client.post("/pl/logout")
    password_step(client, user)
    assert client.post("/pl/login/code", data={"code": codes[0]}).status_code == 422
    assert (
        OutboxMessage.select().where(OutboxMessage.recipient == user.email).count() == 1
    )


def test_valid_code_during_back_off_is_refused_then_accepted(dbconn, user):
    now = utcnow()
    assert services.verify_second_factor(user, "000000", now) is None
    assert services.verify_second_factor(user, user.totp.at(now), now) is None
    later = now + timedelta(seconds=2)
    assert services.verify_second_factor(user, user.totp.at(later), later) == "totp"
    assert User.get_by_id(user.id).failed_otps == 0


def test_ten_wrong_codes_lock_the_second_factor(dbconn, user):
    now = utcnow()
    for i in range(10):
        moment = now + timedelta(seconds=2**i)
        services.verify_second_factor(user, "000000", moment)
    locked = User.get_by_id(user.id).otp_blocked_until
    assert locked - moment >= timedelta(minutes=14)


def test_third_wrong_code_is_mailed_to_the_owner(dbconn, user):
    now = utcnow()
    for i in range(3):
        services.verify_second_factor(user, "000000", now + timedelta(seconds=10 * i))
    mail = OutboxMessage.get(OutboxMessage.recipient == user.email)
    assert "authenticator" in mail.subject.lower() or "kod" in mail.subject.lower()


def test_password_back_off_delays_only_that_account(dbconn, user):
    other = make_user()
    now = utcnow()
    for i in range(6):
        services.authenticate_password(user.email, "wrong", now + timedelta(seconds=i))
    # During the back-off the password alone is not answered, right or wrong.
    guarded = services.authenticate_password(
        user.email, PASSWORD, now + timedelta(seconds=6)
    )
    assert guarded.user is None and guarded.ticket is not None
    assert services.authenticate_password(other.email, PASSWORD, now).user is not None
    assert (
        services.authenticate_password(
            user.email, PASSWORD, now + timedelta(seconds=30)
        ).user
        is not None
    )


def test_mfa_pending_state_expires_after_ten_minutes(client, user):
    password_step(client, user)
    with client.session_transaction() as session:
        session["pw_ok_at"] -= 601
        pending = {"mfa_user_id", "pw_ok_at", "mfa_key", "_fresh", "csrf_token"}
        assert set(session) <= pending
    response = client.post("/pl/login/code", data={"code": fresh_code(user)})
    assert response.status_code == 302 and response.location.endswith("/pl/login")


def test_cookie_replayed_after_sign_out_is_refused(app, client, user):
    login(client, user)
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"], domain="localhost")
    client.post("/pl/logout")
    thief = app.test_client()
    thief.set_cookie(cookie.key, cookie.value, domain="localhost")
    response = thief.get("/pl/contracts/")
    assert response.status_code == 302 and "/login" in response.location


def test_sign_out_is_post_only_and_clears_site_data(client, user):
    login(client, user)
    assert client.get("/pl/logout").status_code == 405
    response = client.post("/pl/logout")
    assert response.headers["Clear-Site-Data"] == '"cache", "storage"'


def test_idle_session_expires(client, user):
    login(client, user)
    with client.session_transaction() as session:
        session["seen_at"] -= 31 * 60
    assert client.get("/pl/contracts/").status_code == 302


def test_activity_keeps_the_session_alive_past_the_idle_limit(client, user):
    login(client, user)
    for _ in range(4):  # a request every ten minutes, forty minutes in all
        with client.session_transaction() as session:
            session["seen_at"] -= 10 * 60
        assert client.get("/pl/contracts/").status_code == 200


def test_absolute_session_limit(client, user):
    login(client, user)
    with client.session_transaction() as session:
        session["auth_at"] -= 12 * 3600 + 1
    assert client.get("/pl/contracts/").status_code == 302


def test_password_hash_uses_the_configured_method_and_is_upgraded(app, client, dbconn):
    from werkzeug.security import generate_password_hash

    user = make_user()
    User.update(password_hash=generate_password_hash(PASSWORD, "scrypt")).where(
        User.id == user.id
    ).execute()
    login(client, user)
    stored = User.get_by_id(user.id).password_hash
    assert stored.startswith(app.config["PASSWORD_HASH_METHOD"] + "$")


def test_totp_secret_is_encrypted_at_rest(dbconn, user):
    stored = User.get_by_id(user.id).totp_secret
    assert user.totp.secret not in stored


def test_htmx_request_after_sign_out_gets_401_with_redirect(client, user):
    response = client.get("/pl/contracts/", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/pl/login")


@pytest.mark.parametrize(
    ("page", "back_to"),
    [("/pl/contracts/", "/pl/contracts/"), ("/en/cases/?page=2", "/en/cases/?page=2")],
)
def test_sign_in_leads_back_to_the_exact_page_asked_for(client, page, back_to):
    location = client.get(page).location
    assert urlsplit(location).path.endswith("/login")
    assert parse_qs(urlsplit(location).query)["next"] == [back_to]

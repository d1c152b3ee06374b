"""Session cookies: attributes, renewal at each sign-in step, server-side revocation.

SECURITY.md #33 (cookie attributes), #34 (new session on every authentication
step), #35 (revocation on password change and disabling), #40 (sign-out clears
the cookie with the same attributes) and #78 (the cookie holds ids and times).
"""

import json

import pytest

from hezo.config import Defaults
from hezo.models import User

from .factories import PASSWORD, fresh_code, login, make_user
from .test_security_enrolment import isolated_requests, session_of  # noqa: F401

HTTPS = "https://localhost"
NEW_PASSWORD = "Czerwony tramwaj jedzie przez most"


@pytest.fixture
def config_overrides():
    """The cookie settings production runs with (not whatever the tests use)."""
    names = (
        "SESSION_COOKIE_NAME",
        "SESSION_COOKIE_SECURE",
        "SESSION_COOKIE_HTTPONLY",
        "SESSION_COOKIE_SAMESITE",
    )
    return {name: getattr(Defaults, name) for name in names}


@pytest.fixture
def user(dbconn):
    return make_user()


def set_cookies(response) -> dict[str, list[str]]:
    """Set-Cookie headers by cookie name: the attributes, lower-cased."""
    found = {}
    for header in response.headers.getlist("Set-Cookie"):
        name_value, *attributes = [part.strip() for part in header.split(";")]
        found[name_value.split("=", 1)[0]] = [a.lower() for a in attributes]
    return found


def https_login(client, user):
    """Both sign-in steps over HTTPS; returns both responses."""
    first = client.post(
        "/pl/login", data={"email": user.email, "password": PASSWORD}, base_url=HTTPS
    )
    second = client.post(
        "/pl/login/code", data={"code": fresh_code(user)}, base_url=HTTPS
    )
    return first, second


def cookie_value(app, client) -> str:
    name = app.config["SESSION_COOKIE_NAME"]
    return client.get_cookie(name, domain="localhost").value


def replay(app, value):
    thief = app.test_client()
    thief.set_cookie(app.config["SESSION_COOKIE_NAME"], value, domain="localhost")
    return thief.get("/pl/account")


def refused(response) -> bool:
    return response.status_code == 302 and "/pl/login" in response.location


# -- #33: cookie attributes ----------------------------------------------------


@pytest.mark.parametrize("step", [0, 1], ids=["password-step", "code-step"])
def test_session_cookie_is_secure_httponly_lax_host_only(client, user, step):
    response = https_login(client, user)[step]
    cookies = set_cookies(response)
    assert list(cookies) == ["__Host-session"]
    attributes = cookies["__Host-session"]
    for required in ("secure", "httponly", "samesite=lax", "path=/"):
        assert required in attributes
    assert not any(a.startswith("domain=") for a in attributes)


def test_no_remember_me_cookie_is_set(client, user):
    responses = https_login(client, user)
    assert all(set(set_cookies(r)) <= {"__Host-session"} for r in responses)


def test_sign_out_expires_the_cookie_with_the_same_attributes(client, user):
    https_login(client, user)
    response = client.post("/pl/logout", base_url=HTTPS)
    attributes = set_cookies(response)["__Host-session"]
    assert "max-age=0" in attributes or any(
        a.startswith("expires=thu, 01 jan 1970") for a in attributes
    )
    for required in ("secure", "httponly", "samesite=lax", "path=/"):
        assert required in attributes


# -- #34: a new session at every step ------------------------------------------


def test_session_cookie_changes_at_every_sign_in_step(app, client, user):
    # The anonymous session the login form's CSRF token makes in production
    # (tests switch CSRF off, and a page without a token sets no cookie).
    with client.session_transaction() as anonymous_session:
        anonymous_session["csrf_token"] = "a token of the login form"
    client.get("/pl/login")
    anonymous = cookie_value(app, client)
    client.post("/pl/login", data={"email": user.email, "password": PASSWORD})
    password_ok = cookie_value(app, client)
    client.post("/pl/login/code", data={"code": fresh_code(user)})
    signed_in = cookie_value(app, client)
    assert len({anonymous, password_ok, signed_in}) == 3


def test_password_step_session_holds_no_sign_in(app, client, user):
    client.post("/pl/login", data={"email": user.email, "password": PASSWORD})
    session = session_of(app, client)
    assert "_user_id" not in session and session["mfa_user_id"] == user.id


@pytest.mark.parametrize("when", ["before-password", "before-code"])
def test_session_keys_planted_before_sign_in_are_gone_after(app, client, user, when):
    planted = {
        "planted": "by the attacker",
        "reauth_at": 2**40,
        "enrol": "k",
        "setup_user_id": user.id,
        "setup_at": 2**40,
    }
    if when == "before-code":
        client.post("/pl/login", data={"email": user.email, "password": PASSWORD})
    with client.session_transaction() as session:
        session.update(planted)
    if when == "before-password":
        client.post("/pl/login", data={"email": user.email, "password": PASSWORD})
    assert (
        client.post("/pl/login/code", data={"code": fresh_code(user)}).status_code
        == 303
    )
    assert not set(planted) & set(session_of(app, client))


# -- #78: the cookie holds ids and times only ----------------------------------


def test_signed_in_session_holds_only_ids_and_timestamps(app, client, user):
    login(client, user)
    session = session_of(app, client)
    assert set(session) <= {
        "_user_id",
        "_fresh",
        "_id",
        "auth_at",
        "seen_at",
        "sid",
        "csrf_token",
    }
    assert session["_user_id"] == User.get_by_id(user.id).session_token
    text = json.dumps(session)
    assert user.email not in text and user.last_name not in text


# -- #35: revocation on the server ---------------------------------------------


def test_cookie_replayed_after_sign_out_is_refused(app, client, user):
    login(client, user)
    stolen = cookie_value(app, client)
    assert replay(app, stolen).status_code == 200
    client.post("/pl/logout")
    assert refused(replay(app, stolen))


def test_sign_out_ends_this_session_only(app, user):
    first, second = app.test_client(), app.test_client()
    login(first, user)
    login(second, user)
    signed_out = cookie_value(app, first)
    response = first.post("/pl/logout")
    assert response.status_code == 303
    assert refused(first.get("/pl/account"))
    assert second.get("/pl/account").status_code == 200
    assert refused(replay(app, signed_out))
    assert replay(app, cookie_value(app, second)).status_code == 200


def test_signing_in_again_after_sign_out_works(app, client, user):
    login(client, user)
    client.post("/pl/logout")
    login(client, user)
    assert client.get("/pl/account").status_code == 200


def test_cookie_replayed_after_password_change_is_refused(app, client, user):
    login(client, user)
    stolen = cookie_value(app, client)
    response = client.post(
        "/pl/account/password",
        data={"current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert response.status_code == 303
    assert refused(replay(app, stolen))
    assert client.get("/pl/account").status_code == 200


def test_disabled_user_is_signed_out_on_the_next_request(app, client, user):
    login(client, user)
    stolen = cookie_value(app, client)
    User.update(is_enabled=False).where(User.id == user.id).execute()
    assert refused(client.get("/pl/account"))
    assert refused(replay(app, stolen))

"""CSRF protection with the token check switched on, as in production.

SECURITY.md #32 (HTTPS POSTs need a same-origin Referer) and #41 (CSRFProtect
everywhere; htmx sends the token in ``X-CSRFToken``; a bad token makes htmx
reload the page).
"""

import re

import pytest

from hezo.models import ContactRequest, OutboxMessage

from .factories import PASSWORD, fresh_code, make_user
from .test_security_enrolment import isolated_requests, session_of  # noqa: F401


@pytest.fixture
def config_overrides():
    return {"WTF_CSRF_ENABLED": True}


@pytest.fixture
def user(dbconn):
    return make_user()


def header_token(client, path="/pl/login", **kwargs) -> str:
    """The token htmx sends: from ``<body hx-headers=...>`` of a page."""
    page = client.get(path, **kwargs).get_data(as_text=True)
    return re.search(r'hx-headers=\'\{"X-CSRFToken": "([^"]+)"\}\'', page).group(1)


def form_token(client, path="/pl/login", **kwargs) -> str:
    page = client.get(path, **kwargs).get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def credentials(user) -> dict:
    return {"email": user.email, "password": PASSWORD}


def sign_in(client, user):
    token = header_token(client)
    headers = {"X-CSRFToken": token}
    assert (
        client.post("/pl/login", data=credentials(user), headers=headers).status_code
        == 303
    )
    headers = {"X-CSRFToken": header_token(client, "/pl/login/code")}
    response = client.post(
        "/pl/login/code", data={"code": fresh_code(user)}, headers=headers
    )
    assert response.status_code == 303


# -- #41: every POST needs the token ------------------------------------------------


def test_sign_in_without_token_is_refused(app, client, user):
    client.get("/pl/login")
    response = client.post("/pl/login", data=credentials(user))
    assert response.status_code == 400
    assert "mfa_user_id" not in session_of(app, client)


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/pl/password/forgot", {"email": "jan@example.pl"}),
        (
            "/pl/contact",
            {"name": "Jan", "email": "jan@example.pl", "message": "Hej", "agree": "y"},
        ),
        ("/pl/register", {"nip": "5260181596", "contract": "HZ-1", "serial": "SN-1"}),
    ],
)
def test_public_forms_without_token_do_nothing(client, dbconn, path, data):
    client.get(path)
    assert client.post(path, data=data).status_code == 400
    assert OutboxMessage.select().count() == 0
    assert ContactRequest.select().count() == 0


def test_sign_in_with_the_header_token_from_the_page_succeeds(client, user):
    token = header_token(client)
    response = client.post(
        "/pl/login", data=credentials(user), headers={"X-CSRFToken": token}
    )
    assert response.status_code == 303


def test_sign_in_with_the_form_token_succeeds(client, user):
    token = form_token(client)
    response = client.post("/pl/login", data=credentials(user) | {"csrf_token": token})
    assert response.status_code == 303


def test_token_of_another_session_is_refused(app, client, user):
    foreign = header_token(app.test_client())
    client.get("/pl/login")
    response = client.post(
        "/pl/login", data=credentials(user), headers={"X-CSRFToken": foreign}
    )
    assert response.status_code == 400


def test_htmx_post_with_a_bad_token_asks_for_a_page_reload(client, user):
    client.get("/pl/login")
    response = client.post(
        "/pl/login",
        data=credentials(user),
        headers={"X-CSRFToken": "not-a-token", "HX-Request": "true"},
    )
    assert response.status_code == 400
    assert response.headers["HX-Refresh"] == "true"


def test_sign_out_without_token_keeps_the_session(app, client, user):
    sign_in(client, user)
    assert client.post("/pl/logout").status_code == 400
    assert client.get("/pl/account").status_code == 200
    assert (
        client.post(
            "/pl/logout", headers={"X-CSRFToken": header_token(client, "/pl/account")}
        ).status_code
        == 303
    )
    assert client.get("/pl/account").status_code == 302


def test_token_from_before_sign_in_is_void_after(client, user):
    """The session is renewed at sign-in, and the token with it."""
    before = header_token(client)
    sign_in(client, user)
    response = client.post("/pl/logout", headers={"X-CSRFToken": before})
    assert response.status_code == 400
    assert client.get("/pl/account").status_code == 200


# -- #32: HTTPS POSTs need a same-origin Referer --------------------------------------

HTTPS = "https://localhost"


@pytest.mark.parametrize(
    ("referer", "status"),
    [
        (None, 400),
        ("https://evil.test/pl/login", 400),
        ("http://localhost/pl/login", 400),
        ("https://localhost/pl/login", 303),
    ],
)
def test_https_post_needs_a_same_origin_referer(client, user, referer, status):
    headers = {"X-CSRFToken": header_token(client, base_url=HTTPS)}
    if referer:
        headers["Referer"] = referer
    response = client.post(
        "/pl/login", data=credentials(user), headers=headers, base_url=HTTPS
    )
    assert response.status_code == status


def test_reset_page_keeps_the_referer_same_origin(client, dbconn):
    response = client.get("/pl/password/reset/not-a-real-token")
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_the_sign_in_page_rendered_once_gives_each_visitor_a_token_of_its_own(
    app, user
):
    """The anonymous sign-in page is rendered once per language and reused
    (hezo.web.anonymous_page): each visitor still gets its own token, bound
    to its own session, in the form and in htmx's header alike."""
    from flask import template_rendered

    rendered = []

    def record(sender, template, context, **extra):
        rendered.append(template.name)

    first, second = app.test_client(), app.test_client()
    with template_rendered.connected_to(record, app):
        mine = form_token(first)
        theirs = form_token(second)
        again = header_token(second)
    assert rendered.count("accounts/login.html") == 1
    assert mine != theirs and again != mine
    refused = second.post("/pl/login", data=credentials(user) | {"csrf_token": mine})
    assert refused.status_code == 400
    taken = second.post("/pl/login", data=credentials(user) | {"csrf_token": again})
    assert taken.status_code == 303


def test_a_message_for_the_visitor_is_shown_not_the_shared_page(app, client, user):
    """A flash waiting in the session (here: signed out for inactivity) and a
    ``next`` address make the page be rendered for this visitor."""
    app.test_client().get("/pl/login")  # the shared copy exists
    with client.session_transaction() as session:
        session["expired"] = True
    page = client.get("/pl/login").get_data(as_text=True)
    assert "Wylogowaliśmy Cię z powodu braku aktywności." in page
    page = client.get("/pl/login?next=/pl/cases/").get_data(as_text=True)
    assert 'action="/pl/login?next=/pl/cases/"' in page

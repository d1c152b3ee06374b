"""TOTP enrolment, activation links and invitations.

SECURITY.md #1, #10, #11 (enrolment), #27 (activation links, step order), #28
(only whitelisted fields are bound) and the ``create-user`` / ``invite-partner``
commands. The helpers here are reused by the other ``test_security_*`` modules.
"""

import base64
import html
import json
import re
from datetime import timedelta
from urllib.parse import parse_qs, unquote, urlsplit

import pyotp
import pytest
from flask import has_app_context
from flask.globals import app_ctx
from flask.sessions import SecureCookieSessionInterface
from flask.testing import FlaskClient

from hezo.accounts import services, totp
from hezo.db import utcnow
from hezo.models import (
    AuthToken,
    OutboxMessage,
    PendingEnrolment,
    PendingRegistration,
    User,
)

from .factories import make_company, make_contract, race, start_registration

PASSPHRASE = "Zielone jabłka spadają z gałęzi nad stawem"
CODE_ERROR = re.compile(r'class="field-error"')


# -- helpers -------------------------------------------------------------------


class IsolatedClient(FlaskClient):
    """A test client whose every request gets an app context of its own.

    A request reuses an app context that is already pushed (``dbconn`` pushes one
    for the test body), and with it ``g``, where flask-login caches the signed-in
    user and flask-babel the locale: one browser's request would then see the
    user or language of another's. In production each request has its own.
    """

    def open(self, *args, **kwargs):
        if not has_app_context():
            return super().open(*args, **kwargs)
        outer = app_ctx._get_current_object()
        outer.pop()
        try:
            return super().open(*args, **kwargs)
        finally:
            outer.push()


@pytest.fixture(autouse=True)
def isolated_requests(app):
    app.test_client_class = IsolatedClient


def link_path(text: str) -> str:
    """The path of the first https://myhezo.pl link in ``text``."""
    return re.search(r"https://myhezo\.pl(/\S+)", text).group(1)


def invite(
    email="e@hezo.pl", first="Ewa", last="Inżynier", role="engineer", company=None
):
    """Invite a user as the CLI does (needs ``dbconn``); returns the link's path."""
    return link_path(services.invite_user(role, email, first, last, company, utcnow()))


def shown_key(response) -> str:
    """The secret shown on an enrolment page for typing by hand."""
    page = response.get_data(as_text=True)
    return (
        re.search(r'data-testid="totp-key">([A-Z2-7 ]+)<', page)
        .group(1)
        .replace(" ", "")
    )


def choose_password(client, path, password=PASSPHRASE, **extra):
    """Open an invitation or confirmation link and set the password."""
    assert client.post(path).status_code == 303
    response = client.post(
        "/pl/setup/password", data={"password": password, "confirm": password} | extra
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]


def enrol(client, url="/pl/setup/authenticator", **extra):
    """Scan the enrolment page and confirm it; returns (TOTP, code, response)."""
    authenticator = pyotp.TOTP(shown_key(client.get(url)))
    code = authenticator.at(utcnow())
    response = client.post(url, data={"code": code} | extra)
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return authenticator, code, response


def activate(client, path, password=PASSPHRASE):
    """Invitation link → password → authenticator; returns (TOTP, code, response)."""
    choose_password(client, path, password)
    return enrol(client)


def session_of(app, client) -> dict:
    """The client's Flask session, decoded as anyone holding the cookie could."""
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"], domain="localhost")
    if cookie is None:
        return {}
    return (
        SecureCookieSessionInterface().get_signing_serializer(app).loads(cookie.value)
    )


def recovery_codes_on(response) -> list[str]:
    return re.findall(
        r"<code>([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})</code>",
        response.get_data(as_text=True),
    )


@pytest.fixture
def invitation(dbconn):
    return invite()


@pytest.fixture
def uris(monkeypatch):
    """Every otpauth:// URI drawn as a QR code."""
    seen = []
    draw = totp.qr_svg

    def spy(uri):
        seen.append(uri)
        return draw(uri)

    monkeypatch.setattr(totp, "qr_svg", spy)
    return seen


# -- #1 / #11: the otpauth URI and the enrolment page --------------------------


def test_enrolment_uri_names_issuer_and_account(client, invitation, uris):
    choose_password(client, invitation)
    client.get("/pl/setup/authenticator")
    uri = urlsplit(uris[-1])
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert unquote(uri.path) == "/myHEZO:e@hezo.pl"
    assert parse_qs(uri.query)["issuer"] == ["myHEZO"]


def test_enrolment_on_a_phone_opens_the_app_by_link_and_names_the_qr_code(
    client, invitation, uris
):
    choose_password(client, invitation)
    page = client.get("/pl/setup/authenticator").get_data(as_text=True)
    link = re.search(r'<a [^>]*href="(otpauth://[^"]+)"[^>]*>([^<]+)</a>', page)
    assert link and html.unescape(link.group(1)) == uris[-1]
    assert link.group(2) == "Otwórz w aplikacji uwierzytelniającej"
    svg = re.search(r"<svg [^>]*>", page).group(0)
    assert 'role="img"' in svg and 'aria-labelledby="qr-label"' in svg
    alternative = re.search(r'<p id="qr-label"[^>]*>([^<]+)</p>', page).group(1)
    assert "e@hezo.pl" in alternative
    # The copy button needs JavaScript: hidden until static/js/app.js shows it.
    assert re.search(
        r'<button type="button"[^>]*data-copy="#totp-key"[^>]*hidden>', page
    )


def test_enrolment_uri_uses_sha1_six_digits_and_30_second_steps(
    client, invitation, uris
):
    choose_password(client, invitation)
    client.get("/pl/setup/authenticator")
    params = parse_qs(urlsplit(uris[-1]).query)
    # Absent means the Key URI format's default: SHA1, 6 digits, 30 seconds.
    assert params.get("algorithm", ["SHA1"]) == ["SHA1"]
    assert params.get("digits", ["6"]) == ["6"]
    assert params.get("period", ["30"]) == ["30"]


def test_enrolment_secret_has_160_bits_and_matches_the_shown_key(
    client, invitation, uris
):
    choose_password(client, invitation)
    key = shown_key(client.get("/pl/setup/authenticator"))
    secret = parse_qs(urlsplit(uris[-1]).query)["secret"][0]
    assert secret == key
    assert len(base64.b32decode(secret + "=" * (-len(secret) % 8))) >= 20


def test_two_enrolments_get_different_secrets(app, client, invitation):
    choose_password(client, invitation)
    first = shown_key(client.get("/pl/setup/authenticator"))
    second = shown_key(client.get("/pl/setup/authenticator"))
    other = app.test_client()
    choose_password(other, invite(email="f@hezo.pl", first="Filip", last="Nowy"))
    third = shown_key(other.get("/pl/setup/authenticator"))
    assert len({first, second, third}) == 3


def test_reloaded_enrolment_page_voids_the_secret_shown_before(client, invitation):
    choose_password(client, invitation)
    old = pyotp.TOTP(shown_key(client.get("/pl/setup/authenticator")))
    client.get("/pl/setup/authenticator")
    response = client.post("/pl/setup/authenticator", data={"code": old.now()})
    assert response.status_code == 422
    assert User.get(User.email == "e@hezo.pl").totp_secret is None


def test_enrolment_page_is_not_cached(client, invitation):
    choose_password(client, invitation)
    response = client.get("/pl/setup/authenticator")
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]


def test_enrolment_qr_code_is_inline_svg_without_outside_images(client, invitation):
    choose_password(client, invitation)
    page = client.get("/pl/setup/authenticator").get_data(as_text=True)
    assert re.search(r'<svg [^>]*class="qr"', page)
    # Everything the page loads comes from this site (no QR or chart service).
    loaded = re.findall(r"""<\w+\b[^>]*\ssrc=["']?([^"'\s>]*)""", page)
    assert loaded and all(s.startswith("/") and not s.startswith("//") for s in loaded)


# -- #10: activation only with a valid code; the secret stays server-side ------


def test_wrong_setup_code_activates_nothing(client, invitation):
    choose_password(client, invitation)
    real = pyotp.TOTP(shown_key(client.get("/pl/setup/authenticator")))
    wrong = pyotp.TOTP(pyotp.random_base32()).now()
    assert wrong != real.now()
    response = client.post("/pl/setup/authenticator", data={"code": wrong})
    assert response.status_code == 422
    assert CODE_ERROR.search(response.get_data(as_text=True))
    user = User.get(User.email == "e@hezo.pl")
    assert user.totp_secret is None
    signin = client.application.test_client().post(
        "/pl/login", data={"email": "e@hezo.pl", "password": PASSPHRASE}
    )
    assert signin.status_code == 422


def test_pending_secret_is_not_in_the_session_cookie(app, client, invitation):
    choose_password(client, invitation)
    key = shown_key(client.get("/pl/setup/authenticator"))
    decoded = json.dumps(session_of(app, client))
    assert key not in decoded and key.lower() not in decoded


def test_pending_secret_is_stored_encrypted(client, invitation):
    choose_password(client, invitation)
    key = shown_key(client.get("/pl/setup/authenticator"))
    stored = [row.secret for row in PendingEnrolment.select()]
    assert len(stored) == 1 and key not in stored[0]


def test_setup_code_cannot_be_used_again_to_sign_in(app, client, invitation):
    _, code, _ = activate(client, invitation)
    client.post("/pl/logout")
    assert (
        client.post(
            "/pl/login", data={"email": "e@hezo.pl", "password": PASSPHRASE}
        ).status_code
        == 303
    )
    response = client.post("/pl/login/code", data={"code": code})
    assert response.status_code == 422
    assert client.get("/pl/account").status_code == 302


# -- #27: activation links and the order of the steps --------------------------


def test_invitation_link_works_once(app, client, invitation):
    assert client.post(invitation).status_code == 303
    thief = app.test_client()
    assert thief.get(invitation).status_code == 400
    assert thief.post(invitation).status_code == 400


def test_concurrent_use_of_one_invitation_succeeds_once(app, invitation):
    token = invitation.rsplit("/", 1)[1]
    results = race(app, lambda: services.consume_token(token, "invite", utcnow()))
    assert sorted(type(r).__name__ for r in results) == [
        "NoneType",
        "NoneType",
        "NoneType",
        "User",
    ]


def test_concurrent_use_of_one_confirmation_link_creates_one_account(
    app, client, dbconn
):
    contract = make_contract(customer=make_company("5260181596"), serials=("SN-77",))
    start_registration(client, contract, "SN-77")
    token = link_path(OutboxMessage.get().body_text).rsplit("/", 1)[1]
    results = race(app, lambda: services.confirm_registration(token, utcnow()))
    assert sorted(type(r).__name__ for r in results) == [
        "NoneType",
        "NoneType",
        "NoneType",
        "User",
    ]
    assert User.select().count() == 1


def test_opening_invitation_by_get_neither_uses_it_nor_starts_setup(client, invitation):
    assert client.get(invitation).status_code == 200
    response = client.get("/pl/setup/password")
    assert response.status_code == 302 and response.location.startswith("/pl/login")
    assert client.post(invitation).status_code == 303


def test_expired_invitation_link_is_refused(client, invitation):
    AuthToken.update(expires_at=utcnow() - timedelta(seconds=1)).execute()
    assert client.get(invitation).status_code == 400
    assert client.post(invitation).status_code == 400
    assert client.get("/pl/setup/password").status_code == 302


def test_expired_registration_link_is_refused(client, dbconn):
    contract = make_contract(customer=make_company("5260181596"), serials=("SN-77",))
    start_registration(client, contract, "SN-77")
    path = link_path(OutboxMessage.get().body_text)
    PendingRegistration.update(expires_at=utcnow() - timedelta(seconds=1)).execute()
    assert client.post(path).status_code == 400
    assert not User.select().where(User.email == "jan@example.pl").exists()


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("step", ["password", "authenticator"])
def test_setup_steps_before_activation_go_to_sign_in(client, dbconn, method, step):
    response = getattr(client, method)(
        f"/pl/setup/{step}", data={"code": "123456", "password": "x" * 20}
    )
    assert response.status_code == 302
    assert urlsplit(response.location).path == "/pl/login"


def test_authenticator_step_cannot_skip_the_password(client, invitation):
    assert client.post(invitation).status_code == 303
    for response in (
        client.get("/pl/setup/authenticator"),
        client.post("/pl/setup/authenticator", data={"code": "123456"}),
    ):
        assert response.status_code == 302
        assert response.location.endswith("/pl/setup/password")
    assert PendingEnrolment.select().count() == 0


def test_setup_state_expires_after_thirty_minutes(client, invitation):
    assert client.post(invitation).status_code == 303
    with client.session_transaction() as session:
        session["setup_at"] -= 1801
    response = client.get("/pl/setup/password")
    assert response.status_code == 302 and "/pl/login" in response.location


def test_setup_cookie_replayed_after_activation_changes_nothing(
    app, client, invitation
):
    assert client.post(invitation).status_code == 303
    name = app.config["SESSION_COOKIE_NAME"]
    setup_cookie = client.get_cookie(name, domain="localhost").value
    choose_password_only = {"password": PASSPHRASE, "confirm": PASSPHRASE}
    client.post("/pl/setup/password", data=choose_password_only)
    enrol(client)
    before = User.get(User.email == "e@hezo.pl").password_hash
    thief = app.test_client()
    thief.set_cookie(name, setup_cookie, domain="localhost")
    other = "Inne hasło do konta, całkiem długie"
    response = thief.post(
        "/pl/setup/password", data={"password": other, "confirm": other}
    )
    assert response.status_code == 404
    assert User.get(User.email == "e@hezo.pl").password_hash == before


# -- #28: only whitelisted fields reach the models -----------------------------

EXTRA = {
    "role": "admin",
    "company": "2",
    "company_id": "2",
    "is_enabled": "0",
    "is_staff": "1",
    "totp_secret": "JBSWY3DPEHPK3PXP",
    "email": "x@evil.test",
}


def test_registration_ignores_role_company_and_flags(client, dbconn):
    mine = make_company("5260181596")
    make_company("6281948218")
    contract = make_contract(customer=mine, serials=("SN-77",))
    client.post(
        "/pl/register",
        data={"nip": "5260181596", "contract": contract.number, "serial": "SN-77"}
        | EXTRA,
    )
    contact = {
        "first_name": "Jan",
        "last_name": "Kowalski",
        "phone": "+48 600 100 200",
        "language": "pl",
    }
    client.post(
        "/pl/register/contact", data=EXTRA | contact | {"email": "jan@example.pl"}
    )
    path = link_path(
        OutboxMessage.get(OutboxMessage.recipient == "jan@example.pl").body_text
    )
    choose_password(client, path, **EXTRA)
    enrol(client, **EXTRA)
    user = User.get(User.email == "jan@example.pl")
    assert (user.role, user.company_id, user.is_enabled) == ("customer", mine.id, True)
    assert User.select().count() == 1


def test_invitation_setup_ignores_role_and_flags(client, invitation):
    choose_password(client, invitation, **EXTRA)
    enrol(client, **EXTRA)
    user = User.get(User.email == "e@hezo.pl")
    assert (user.role, user.company_id, user.is_enabled) == ("engineer", None, True)
    assert client.get("/pl/contracts/").status_code == 404


# -- invitations from the command line -----------------------------------------


def test_create_user_prints_a_link_that_ends_signed_in_as_engineer(
    app, runner, client, dbconn
):
    result = runner.invoke(
        args=[
            "create-user",
            "--role",
            "engineer",
            "--email",
            "e@hezo.pl",
            "--name",
            "Ewa Inżynier",
        ]
    )
    assert result.exit_code == 0
    assert "https://myhezo.pl/pl/invite/" in result.output
    _, _, response = activate(client, link_path(result.output))
    assert len(recovery_codes_on(response)) == 10
    assert client.get("/pl/account").status_code == 200
    user = User.get(User.email == "e@hezo.pl")
    assert (user.role, user.first_name, user.last_name) == (
        "engineer",
        "Ewa",
        "Inżynier",
    )
    assert session_of(app, client)["_user_id"] == user.session_token


def test_invitation_link_cannot_be_used_a_second_time_after_setup(
    app, client, invitation
):
    activate(client, invitation)
    assert app.test_client().post(invitation).status_code == 400


def test_invite_partner_links_the_user_to_the_reseller(app, runner, client, dbconn):
    reseller = make_company("1860913901", "NetPartner S.A.")
    result = runner.invoke(
        args=[
            "invite-partner",
            "--nip",
            "186-091-39-01",
            "--email",
            "p@netpartner.pl",
            "--name",
            "Piotr Partner",
        ]
    )
    assert result.exit_code == 0, result.output
    activate(client, link_path(result.output))
    user = User.get(User.email == "p@netpartner.pl")
    assert (user.role, user.company_id) == ("partner", reseller.id)


def test_invite_partner_for_unknown_nip_fails_clearly(runner, dbconn):
    result = runner.invoke(
        args=[
            "invite-partner",
            "--nip",
            "1860913901",
            "--email",
            "p@netpartner.pl",
            "--name",
            "Piotr Partner",
        ]
    )
    assert result.exit_code != 0
    assert "No company with NIP 1860913901" in result.output
    assert User.select().count() == 0 and AuthToken.select().count() == 0


def test_second_invitation_for_the_same_address_fails(runner, invitation):
    result = runner.invoke(
        args=[
            "create-user",
            "--role",
            "admin",
            "--email",
            "E@hezo.pl",
            "--name",
            "Ewa Druga",
        ]
    )
    assert result.exit_code != 0
    assert "exists already" in result.output
    assert User.select().count() == 1 and AuthToken.select().count() == 1
    assert User.get().role == "engineer"

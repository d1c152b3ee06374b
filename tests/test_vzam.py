"""Partners sign in with V-ZAM (OpenID Connect) against the real test provider."""

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from authlib.integrations.flask_client.apps import FlaskOAuth2App
from joserfc import jwt
from joserfc.jwk import RSAKey

from hezo.models import ExternalIdentity, User

from .factories import fresh_code, make_company, make_contract, make_user
from .oidc.fixture import OTHER_PARTNER_NIP, PARTNER_NIP, UNKNOWN_NIP


@pytest.fixture
def config_overrides(oidc_provider):
    return oidc_provider.app_config()


@pytest.fixture
def partner(dbconn):
    company = make_company(nip=PARTNER_NIP, name="Partner Sieci Sp. z o.o.")
    make_contract(partner=company)
    return company


def start(client, lang="en", **args):
    response = client.get(f"/{lang}/login/vzam", query_string=args)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return response.headers["Location"]


def vzam_sign_in(client, provider, login, **args):
    return client.get(provider.sign_in(start(client, **args), login))


def signed_in_as_partner(client) -> bool:
    return client.get("/en/partner/").status_code == 200


def test_the_button_shows_only_when_v_zam_is_configured(app, client, partner):
    assert "Sign in with V-ZAM" in client.get("/en/login").get_data(as_text=True)
    app.config["VZAM_CLIENT_SECRET"] = None
    # A changed configuration takes a restart, which keeps no pages from before.
    app.extensions["hezo_page_parts"].clear()
    assert "V-ZAM" not in client.get("/en/login").get_data(as_text=True)
    assert client.get("/en/login/vzam").status_code == 404
    assert client.get("/vzam/callback?code=x&state=y").status_code == 404


def test_authorization_request_uses_pkce_state_and_nonce(client, oidc_provider):
    query = parse_qs(urlsplit(start(client)).query)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) >= 43
    assert query["state"][0] and query["nonce"][0]
    assert query["redirect_uri"] == ["http://localhost/vzam/callback"]
    assert query["client_id"] == [oidc_provider.client_id]


def test_first_sign_in_with_mfa_creates_the_partner_account(
    client, oidc_provider, partner
):
    response = vzam_sign_in(client, oidc_provider, "anna.mfa")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/en/partner/")
    assert signed_in_as_partner(client)
    user = User.get(User.email == "anna.mfa@partner.example.pl")
    assert (user.role, user.company_id) == ("partner", partner.id)
    assert user.password_hash is None and user.totp_secret is None
    identity = ExternalIdentity.get(ExternalIdentity.user == user)
    assert (identity.issuer, identity.subject) == (oidc_provider.issuer, "anna.mfa")


def test_return_visit_finds_the_same_account_by_sub(
    app, client, oidc_provider, partner
):
    vzam_sign_in(client, oidc_provider, "anna.mfa")
    client.post("/en/logout")
    assert not signed_in_as_partner(client)
    vzam_sign_in(client, oidc_provider, "anna.mfa")
    assert signed_in_as_partner(client)
    assert User.select().where(User.role == "partner").count() == 1
    assert ExternalIdentity.select().count() == 1


def test_the_e_mail_alone_never_links_an_account(client, oidc_provider, partner):
    local = make_user("partner", company=partner, email="anna.mfa@partner.example.pl")
    response = vzam_sign_in(client, oidc_provider, "anna.mfa")
    assert response.status_code == 403
    assert "already uses the e-mail address" in response.get_data(as_text=True)
    assert not signed_in_as_partner(client)
    assert ExternalIdentity.select().count() == 0
    assert User.get_by_id(local.id).email == local.email


def test_without_mfa_the_authenticator_is_enrolled_then_asked_for(
    client, oidc_provider, partner
):
    response = vzam_sign_in(client, oidc_provider, "bartek.pwd")
    assert response.headers["Location"].endswith("/en/setup/authenticator")
    assert not signed_in_as_partner(client)
    page = client.get("/en/setup/authenticator")  # no password step for V-ZAM
    assert page.status_code == 200
    user = User.get(User.email == "bartek.pwd@partner.example.pl")
    import pyotp

    from hezo.accounts import services

    with client.session_transaction() as s:
        secret = services.pending_secret(s["enrol"])
    client.post("/en/setup/authenticator", data={"code": pyotp.TOTP(secret).now()})
    assert signed_in_as_partner(client)
    client.post("/en/logout")

    # Return visit: V-ZAM's password alone does not open the account.
    response = vzam_sign_in(client, oidc_provider, "bartek.pwd")
    assert "/en/login/code" in response.headers["Location"]
    assert not signed_in_as_partner(client)
    user = User.get_by_id(user.id)
    user.totp = pyotp.TOTP(secret)
    client.post(response.headers["Location"], data={"code": fresh_code(user)})
    assert signed_in_as_partner(client)


def test_an_mfa_session_needs_the_v_zam_identity(client, oidc_provider, partner):
    vzam_sign_in(client, oidc_provider, "anna.mfa")
    ExternalIdentity.delete().execute()  # staff removed the link
    assert not signed_in_as_partner(client)


def test_a_configured_acr_counts_as_mfa(client, oidc_provider, partner):
    vzam_sign_in(client, oidc_provider, "ewa.acr")
    assert signed_in_as_partner(client)


def test_unknown_company_is_refused_with_its_nip(client, oidc_provider, dbconn):
    make_company(nip=OTHER_PARTNER_NIP)  # a customer only: not a partner either
    for login, nip in (
        ("celina.unknown", UNKNOWN_NIP),
        ("olek.other", OTHER_PARTNER_NIP),
    ):
        response = vzam_sign_in(client, oidc_provider, login)
        assert response.status_code == 403
        assert f"NIP {nip}" in response.get_data(as_text=True)
        assert "not a myHEZO partner" in response.get_data(as_text=True)
    assert User.select().count() == 0
    assert not signed_in_as_partner(client)


def test_refusal_is_in_the_language_the_sign_in_started_in(client, oidc_provider):
    response = client.get(
        oidc_provider.sign_in(start(client, lang="pl"), "celina.unknown")
    )
    assert response.status_code == 403
    assert 'lang="pl"' in response.get_data(as_text=True)


@pytest.mark.parametrize("login", ["dawid.nonip", "filip.badnip"])
def test_a_missing_or_invalid_nip_is_refused(client, oidc_provider, partner, login):
    response = vzam_sign_in(client, oidc_provider, login)
    assert response.status_code == 403
    assert "did not tell us the NIP" in response.get_data(as_text=True)


def test_the_nip_claim_name_is_configurable(app, client, oidc_provider, partner):
    assert vzam_sign_in(client, oidc_provider, "gosia.claim").status_code == 403
    app.config["VZAM_NIP_CLAIM"] = "company_nip"
    vzam_sign_in(client, oidc_provider, "gosia.claim")
    assert signed_in_as_partner(client)  # amr "hwk": a hardware key


def test_a_person_moved_to_another_company_is_refused(client, oidc_provider, partner):
    vzam_sign_in(client, oidc_provider, "anna.mfa")
    client.post("/en/logout")
    User.update(company=make_company(nip=OTHER_PARTNER_NIP)).execute()
    assert vzam_sign_in(client, oidc_provider, "anna.mfa").status_code == 403
    assert not signed_in_as_partner(client)


def test_with_creation_off_only_an_invitation_links_a_person(
    app, client, oidc_provider, partner
):
    app.config["VZAM_CREATE_ACCOUNTS"] = False
    response = vzam_sign_in(client, oidc_provider, "anna.mfa")
    assert response.status_code == 403
    assert "by invitation" in response.get_data(as_text=True)
    assert User.select().count() == 0

    from hezo.accounts import services
    from hezo.db import utcnow

    link = services.invite_user(
        "partner", "anna@partner.pl", "Anna", "Z", partner, utcnow(), "en"
    )
    token = link.rsplit("/", 1)[-1]
    page = client.get(f"/en/invite/{token}").get_data(as_text=True)
    assert f"/en/login/vzam?invite={token}" in page
    vzam_sign_in(client, oidc_provider, "anna.mfa", invite=token)
    assert signed_in_as_partner(client)
    user = User.get(User.email == "anna@partner.pl")
    assert ExternalIdentity.get(ExternalIdentity.user == user).subject == "anna.mfa"
    assert client.get(f"/en/invite/{token}").status_code == 400  # used


def test_an_invitation_for_another_company_is_refused(client, oidc_provider, partner):
    from hezo.accounts import services
    from hezo.db import utcnow

    other = make_company(nip=OTHER_PARTNER_NIP)
    make_contract(partner=other)
    link = services.invite_user("partner", "x@o.pl", "X", "Y", other, utcnow(), "en")
    token = link.rsplit("/", 1)[-1]
    response = vzam_sign_in(client, oidc_provider, "anna.mfa", invite=token)
    assert response.status_code == 403
    assert ExternalIdentity.select().count() == 0


def test_a_tampered_state_is_refused(client, oidc_provider, partner):
    back = oidc_provider.sign_in(start(client), "anna.mfa")
    query = parse_qs(urlsplit(back).query)
    tampered = f"/vzam/callback?code={query['code'][0]}&state={query['state'][0]}x"
    response = client.get(tampered)
    assert response.status_code == 400
    assert "could not be completed" in response.get_data(as_text=True)
    assert not signed_in_as_partner(client)


def test_a_callback_is_used_once(client, oidc_provider, partner):
    back = oidc_provider.sign_in(start(client), "anna.mfa")
    client.get(back)
    client.post("/en/logout")
    assert client.get(back).status_code == 400
    assert not signed_in_as_partner(client)


def _id_token(provider, nonce, key=None, **claims):
    now = int(time.time())
    payload = {
        "iss": provider.issuer,
        "aud": provider.client_id,
        "sub": "anna.mfa",
        "iat": now,
        "exp": now + 300,
        "nonce": nonce,
        "amr": ["mfa"],
        "partner_nip": PARTNER_NIP,
        "email": "anna.mfa@partner.example.pl",
    } | claims
    key = key or provider.key
    return jwt.encode({"alg": "RS256", "kid": key.kid}, payload, key)


@pytest.mark.parametrize(
    "case",
    [
        "valid",
        "expired",
        "expired a minute ago",
        "within the clock skew",
        "issued in the future",
        "wrong key",
        "other audience",
        "other nonce",
        "none",
    ],
)
def test_the_id_token_signature_and_claims_are_checked(
    client, oidc_provider, partner, monkeypatch, case
):
    """ID tokens signed here with the provider's key (or another), as the
    token endpoint could answer: only the valid one signs in."""
    query = parse_qs(urlsplit(start(client)).query)
    nonce, state = query["nonce"][0], query["state"][0]
    now = int(time.time())
    token = {
        "valid": lambda: _id_token(oidc_provider, nonce),
        "expired": lambda: _id_token(
            oidc_provider, nonce, iat=now - 3600, exp=now - 1800
        ),
        # Past the 30 s skew allowed (Authlib alone would allow 120 s).
        "expired a minute ago": lambda: _id_token(
            oidc_provider, nonce, iat=now - 90, exp=now - 60
        ),
        "within the clock skew": lambda: _id_token(
            oidc_provider, nonce, iat=now - 40, exp=now - 10
        ),
        "issued in the future": lambda: _id_token(
            oidc_provider, nonce, iat=now + 90, exp=now + 390
        ),
        "wrong key": lambda: _id_token(
            oidc_provider,
            nonce,
            key=RSAKey.generate_key(2048, {"kid": oidc_provider.key.kid}),
        ),
        "other audience": lambda: _id_token(oidc_provider, nonce, aud="someone"),
        "other nonce": lambda: _id_token(oidc_provider, "n" + nonce),
        "none": lambda: None,
    }[case]()
    answer = {"access_token": "at", "token_type": "Bearer", "expires_in": 300}
    if token:
        answer["id_token"] = token
    monkeypatch.setattr(FlaskOAuth2App, "fetch_access_token", lambda self, **kw: answer)
    response = client.get(f"/vzam/callback?code=c&state={state}")
    if case in ("valid", "within the clock skew"):
        assert response.status_code == 303
        assert signed_in_as_partner(client)
    else:
        assert response.status_code == 400
        assert not signed_in_as_partner(client)


def test_signing_out_ends_the_v_zam_session_too(client, oidc_provider, partner):
    vzam_sign_in(client, oidc_provider, "anna.mfa")
    response = client.post("/en/logout")
    target = urlsplit(response.headers["Location"])
    assert f"{target.scheme}://{target.netloc}" == oidc_provider.issuer
    assert target.path == "/session/end"
    query = parse_qs(target.query)
    assert query["client_id"] == [oidc_provider.client_id]
    assert query["post_logout_redirect_uri"] == ["http://localhost/"]
    assert not signed_in_as_partner(client)
    csp = client.get("/en/login").headers["Content-Security-Policy"]
    assert f"form-action 'self' {oidc_provider.issuer}" in csp


def test_a_local_partner_still_signs_in_and_out_locally(client, oidc_provider, partner):
    from .factories import login

    user = make_user("partner", company=partner)
    login(client, user, lang="en")
    assert signed_in_as_partner(client)
    response = client.post("/en/logout")
    assert response.headers["Location"].endswith("/en/")


def test_a_v_zam_person_gets_no_password_reset_link(
    app, client, oidc_provider, partner
):
    from hezo.models import OutboxMessage

    vzam_sign_in(client, oidc_provider, "anna.mfa")
    User.update(totp_secret="x").execute()  # also with an authenticator of ours
    client.post("/en/logout")
    before = OutboxMessage.select().count()
    client.post("/en/password/forgot", data={"email": "anna.mfa@partner.example.pl"})
    assert OutboxMessage.select().count() == before

"""Route access, safe GETs, rate limits, the contact form, headers and logging.

SECURITY.md #12 / #50 (every route declares its access; walking the URL map),
#20 (rate limits), #26 (registration guessing is logged), #42 (no state change on
GET), #48 (headers on error pages), #58 (contact form), #68 / #69 (security log
without secrets, CR/LF escaped).
"""

import logging
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pyotp
import pytest

from hezo.accounts import services
from hezo.db import utcnow
from hezo.models import (
    ALL_MODELS,
    AuditEvent,
    ContactRequest,
    OutboxMessage,
    PendingEnrolment,
    User,
)
from hezo.security import access_of, public

from .factories import (
    PASSWORD,
    fresh_code,
    login,
    make_company,
    make_contract,
    make_user,
    start_registration,
)
from .test_security_enrolment import (  # noqa: F401
    choose_password,
    enrol,
    invite,
    isolated_requests,
    link_path,
    recovery_codes_on,
)

RATE_LIMITED = pytest.mark.parametrize(
    "config_overrides", [{"RATELIMIT_ENABLED": True}], ids=["rate-limited"]
)
PUBLIC_ENDPOINTS = {
    "root.index",
    "root.healthz",
    "public.home",
    "accounts.register",
    "accounts.register_contact",
    "accounts.register_sent",
    "accounts.register_confirm",
    "accounts.invite",
    "accounts.login",
    "accounts.logout",
    "accounts.forgot_password",
    "accounts.reset_password",
    "accounts.contact",
    # The e-mail change link: opened from the new address's mailbox, maybe on
    # a device not signed in (the 256-bit one-time token is the proof).
    "accounts.confirm_email",
    # Partners' sign-in with V-ZAM: the redirect there, and its answer.
    "accounts.vzam_login",
    "vzam.callback",
    # The privacy page (GDPR Arts. 12-14): what is kept, why, how long.
    "privacy.page",
}


def rules(app):
    return [r for r in app.url_map.iter_rules() if r.endpoint != "static"]


def url(rule, **values) -> str:
    """The rule's URL with ``values`` for its arguments, ``pl`` or 1 by default."""
    values = {"lang": "pl"} | values
    return re.sub(
        r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: str(values.get(m.group(1), 1)), rule.rule
    )


def request(client, rule, **kwargs):
    method = "get" if "GET" in rule.methods else "post"
    return getattr(client, method)(url(rule), **kwargs)


def access(app, rule):
    return access_of(app.view_functions[rule.endpoint])


def location(response) -> str:
    return urlsplit(response.location).path


def in_setup(client):
    """A browser whose user opened the invitation and chose a password only."""
    choose_password(client, invite())
    return client


def in_mfa(client):
    """A browser that passed the password step only."""
    user = make_user()
    assert (
        client.post(
            "/pl/login", data={"email": user.email, "password": PASSWORD}
        ).status_code
        == 303
    )
    return client


# -- #12 / #50: deny by default ------------------------------------------------


def test_every_route_declares_who_may_open_it(app):
    undeclared = [r.endpoint for r in rules(app) if access(app, r) is None]
    assert undeclared == []


def test_public_routes_are_the_reviewed_ones(app):
    """A new public route must be added here on purpose, after a review."""
    found = {r.endpoint for r in rules(app) if access(app, r).kind == "public"}
    assert found == PUBLIC_ENDPOINTS


def test_route_without_access_rule_answers_404(app, client, caplog):
    @app.get("/undeclared")
    def undeclared():
        return "secret"

    with caplog.at_level(logging.INFO, logger="hezo.security"):
        response = client.get("/undeclared")
    assert response.status_code == 404 and b"secret" not in response.data
    assert "event=route_without_access_rule" in caplog.text


@pytest.mark.parametrize("state", ["anonymous", "setup", "mfa"])
def test_only_public_and_current_step_routes_open_before_sign_in(
    app, client, dbconn, state
):
    {"anonymous": lambda c: c, "setup": in_setup, "mfa": in_mfa}[state](client)
    # Signed-in pages send a half-signed-in browser on to its code page.
    roles_go_to = "/pl/login/code" if state == "mfa" else "/pl/login"
    for rule in rules(app):
        kind = access(app, rule).kind
        if kind == "public" or kind == state:
            continue
        response = request(client, rule)
        expected = roles_go_to if kind == "roles" else "/pl/login"
        assert (response.status_code, location(response)) == (302, expected), (
            rule.endpoint
        )


@pytest.mark.parametrize("role", ["customer", "partner", "engineer", "admin"])
def test_routes_of_other_roles_answer_404(app, client, dbconn, role):
    login(client, make_user(role=role))
    for rule in rules(app):
        rule_access = access(app, rule)
        if rule_access.kind == "roles" and role not in rule_access.roles:
            assert request(client, rule).status_code == 404, rule.endpoint


# -- #42: GET changes nothing --------------------------------------------------


def snapshot() -> dict:
    return {m: set(map(repr, m.select().tuples())) for m in ALL_MODELS}


# Rows a GET may add, never change: a partner's reads are audited (#55, #68) and
# the enrolment page offers a new secret, kept server-side (#10).
APPEND_ONLY_ON_GET = (AuditEvent, PendingEnrolment)


def seed_shared_case(customer_user, contract):
    """A case the partner may read (the customer granted consent)."""
    from hezo.cases import services as cases

    return cases.open_case(
        actor=customer_user,
        contract=contract,
        device=contract.devices[0],
        subject="Zasilacz nie działa",
        description="Dioda miga na czerwono.",
        severity="major",
        contact_phone="+48 600 100 200",
        share_with=contract.partner_id,
        files=[],
        now=utcnow(),
    )


@pytest.mark.parametrize(
    "who", ["anonymous", "customer", "partner", "engineer", "admin", "setup", "mfa"]
)
def test_get_requests_change_nothing(app, client, dbconn, who):
    reseller = make_company("1860913901")
    customer = make_company("5260181596")
    contract = make_contract(customer=customer, partner=reseller)
    reporter = make_user(company=customer)
    case = seed_shared_case(reporter, contract)
    if who in ("setup", "mfa"):
        {"setup": in_setup, "mfa": in_mfa}[who](client)
    elif who == "customer":
        login(client, reporter)
    elif who != "anonymous":
        company = reseller if who == "partner" else None
        login(client, make_user(role=who, company=company))
    before = snapshot()
    for rule in rules(app):
        if "GET" in rule.methods:
            for headers in ({}, {"HX-Request": "true"}):
                response = client.get(
                    url(rule, number=case.number, contract_id=contract.id),
                    headers=headers,
                )
                assert response.status_code < 500, rule.endpoint
    after = snapshot()
    for model in APPEND_ONLY_ON_GET:
        assert before.pop(model) <= after.pop(model), model.__name__
    changed = [m.__name__ for m in ALL_MODELS if m in before and before[m] != after[m]]
    assert changed == []


def test_crawl_reaches_the_case_pages(app, client, dbconn):
    """The crawl above opens real pages, not only 404s."""
    customer = make_company("5260181596")
    contract = make_contract(customer=customer, partner=make_company("1860913901"))
    reporter = make_user(company=customer)
    case = seed_shared_case(reporter, contract)
    login(client, reporter)
    for rule in rules(app):
        if "GET" in rule.methods and rule.endpoint.startswith(("cases.", "contracts.")):
            path = url(rule, number=case.number, contract_id=contract.id)
            if rule.endpoint != "cases.download":
                assert client.get(path).status_code == 200, rule.endpoint


# -- the way back after signing in stays on this site --------------------------


@pytest.mark.parametrize(
    "target",
    [
        "//evil.test/",
        "/\\evil.test",
        "/\t/evil.test",
        "/\n/evil.test",
        "/\r/evil.test",
        "https://evil.test/",
        "/ /evil.test",
        "\\\\evil.test",
    ],
)
def test_sign_in_never_leads_to_another_site(client, dbconn, target):
    user = make_user()
    first = client.post(
        "/pl/login",
        query_string={"next": target},
        data={"email": user.email, "password": PASSWORD},
    )
    assert first.status_code == 303
    second = client.post(first.location, data={"code": fresh_code(user)})
    assert second.status_code == 303
    assert second.location == "/pl/contracts/"


def test_sign_in_returns_to_the_page_asked_for(client, dbconn):
    user = make_user()
    asked = client.get("/pl/account")
    assert asked.status_code == 302
    first = client.post(
        asked.location, data={"email": user.email, "password": PASSWORD}
    )
    second = client.post(first.location, data={"code": fresh_code(user)})
    assert urlsplit(second.location).path == "/pl/account"


# -- #48: headers on error pages -----------------------------------------------


def assert_security_headers(response):
    headers = response.headers
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "max-age=31536000" in headers["Strict-Transport-Security"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert headers["Cache-Control"] == "no-store"


def test_not_found_page_has_the_security_headers(client):
    response = client.get("/pl/no-such-page")
    assert response.status_code == 404
    assert_security_headers(response)


def test_error_page_has_the_security_headers_and_no_details(app, client, caplog):
    @app.get("/<lang:lang>/boom")
    @public
    def boom():
        raise RuntimeError("SELECT secret FROM internals")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    with caplog.at_level(logging.ERROR):
        response = client.get("/pl/boom")
    assert response.status_code == 500
    assert_security_headers(response)
    body = response.get_data(as_text=True)
    assert "internals" not in body and "Traceback" not in body
    assert "Coś poszło nie tak" in body
    assert "SELECT secret FROM internals" in caplog.text


def test_untrusted_host_gets_400_with_the_security_headers(client):
    response = client.get("/pl/login", headers={"Host": "evil.test"})
    assert response.status_code == 400
    assert_security_headers(response)


# -- #20: rate limits ----------------------------------------------------------


_attempts = iter(range(10**6))


def wrong_sign_in(client, **kwargs):
    """A wrong password for an address of its own (an address's own failures
    are throttled apart from the IP's: test_security_lockout.py)."""
    return client.post(
        "/pl/login",
        data={
            "email": f"nobody{next(_attempts)}@example.pl",
            "password": "not the password",
        },
        **kwargs,
    )


@RATE_LIMITED
def test_eleventh_sign_in_in_a_minute_gets_429(client, dbconn):
    statuses = [wrong_sign_in(client).status_code for _ in range(10)]
    assert statuses == [422] * 10
    response = wrong_sign_in(client)
    assert response.status_code == 429
    assert "Zbyt wiele prób" in response.get_data(as_text=True)


@RATE_LIMITED
@pytest.mark.parametrize(
    "path",
    [
        "/pl/password/forgot",
        "/pl/register",
        "/pl/register/contact",
        "/pl/register/confirm/1",
        "/pl/invite/1",
        "/pl/password/reset/1",
        "/pl/login/code",
    ],
)
def test_other_sign_in_forms_are_rate_limited(client, dbconn, path):
    if path == "/pl/login/code":
        in_mfa(client)
    statuses = [
        client.post(path, data={"email": "a@example.pl"}).status_code for _ in range(11)
    ]
    assert 429 not in statuses[:10] and statuses[10] == 429


@RATE_LIMITED
@pytest.mark.parametrize(
    "path",
    ["/pl/account/password", "/pl/account/authenticator", "/pl/account/recovery-codes"],
)
def test_forms_asking_for_the_current_password_are_rate_limited(client, dbconn, path):
    login(client, make_user())
    data = {"current": "guess", "code": "000000", "password": "x", "confirm": "x"}
    statuses = [client.post(path, data=data).status_code for _ in range(11)]
    assert 429 not in statuses[:10] and statuses[10] == 429


@RATE_LIMITED
def test_get_requests_are_not_rate_limited(client, dbconn):
    for _ in range(11):
        wrong_sign_in(client)
    assert [client.get("/pl/login").status_code for _ in range(30)] == [200] * 30


@RATE_LIMITED
def test_spoofed_forwarded_for_does_not_change_the_limit(client, dbconn):
    for i in range(10):
        wrong_sign_in(client, headers={"X-Forwarded-For": f"10.0.{i}.1, 192.0.2.{i}"})
    response = wrong_sign_in(client, headers={"X-Forwarded-For": "198.51.100.7"})
    assert response.status_code == 429


@RATE_LIMITED
def test_limit_is_kept_per_client_address(app, client, dbconn):
    for _ in range(10):
        wrong_sign_in(client)
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "192.0.2.50"
    assert wrong_sign_in(other).status_code == 422
    assert wrong_sign_in(client).status_code == 429


@RATE_LIMITED
def test_rate_limit_hit_is_a_security_event(client, dbconn, caplog):
    with caplog.at_level(logging.INFO, logger="hezo.security"):
        for _ in range(11):
            wrong_sign_in(client)
    assert "event=rate_limited" in caplog.text
    assert "endpoint=accounts.login" in caplog.text


# -- #58: the contact form -----------------------------------------------------

MESSAGE = {
    "name": "Jan Kowalski",
    "company": "Żółw Sp. z o.o.",
    "nip": "5260181596",
    "email": "jan@example.pl",
    "phone": "+48 600 100 200",
    "message": "Nie mogę się zarejestrować.\r\nUmowa HZ-2025-000123.",
    "agree": "y",
}


@pytest.mark.parametrize("field", ["name", "company", "email"])
def test_contact_field_with_line_break_is_refused(client, dbconn, field):
    value = {"email": "jan@example.pl\r\nBcc: a@b.pl"}.get(field, "Jan\r\nBcc: a@b.pl")
    response = client.post("/pl/contact", data=MESSAGE | {field: value})
    assert response.status_code == 422
    assert ContactRequest.select().count() == 0
    assert OutboxMessage.select().count() == 0


def test_contact_honeypot_stores_nothing_but_thanks_alike(client, dbconn):
    bot = client.post("/pl/contact", data=MESSAGE | {"website": "http://spam.test"})
    person = client.application.test_client().post("/pl/contact", data=MESSAGE)
    assert bot.status_code == person.status_code == 200
    strip = re.compile(r'"X-CSRFToken": "[^"]*"|name="csrf_token"[^>]*')
    assert strip.sub("", bot.get_data(as_text=True)) == strip.sub(
        "", person.get_data(as_text=True)
    )
    assert ContactRequest.select().count() == 1  # the person's only


def test_contact_message_is_stored_and_mailed_to_the_help_desk_only(
    app, client, dbconn
):
    response = client.post("/pl/contact", data=MESSAGE)
    assert response.status_code == 200
    stored = ContactRequest.get()
    assert (stored.name, stored.email) == ("Jan Kowalski", "jan@example.pl")
    mails = list(OutboxMessage.select())
    assert [m.recipient for m in mails] == [app.config["HELP_EMAIL"]]
    assert "Jan Kowalski" in mails[0].subject and "\n" not in mails[0].subject


@RATE_LIMITED
def test_sixth_contact_message_in_a_minute_gets_429(client, dbconn):
    statuses = [client.post("/pl/contact", data=MESSAGE).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    assert ContactRequest.select().count() == 5


# -- #26: guessing at registration is logged -----------------------------------


def test_registration_guessing_is_a_security_event(client, dbconn, caplog, monkeypatch):
    monkeypatch.setattr(services, "slow_down", lambda seconds: None)
    contract = make_contract(customer=make_company("5260181596"), serials=("SN-77",))
    proof = {"nip": "5260181596", "contract": contract.number}
    with caplog.at_level(logging.INFO, logger="hezo.security"):
        for i in range(6):
            client.post("/pl/register", data=proof | {"serial": f"WRONG-{i}"})
        assert (
            client.post("/pl/register", data=proof | {"serial": "SN-77"}).status_code
            == 303
        )
    events = [
        r.getMessage()
        for r in caplog.records
        if "event=registration_proof_failed" in r.getMessage()
    ]
    assert len(events) == 6
    assert "failures=6" in events[-1] and "nip=5260181596" in events[-1]


# -- #68 / #69: the security log -----------------------------------------------

NEW_PASSWORD = "Czerwony tramwaj jedzie przez most"
PASSPHRASE = "Zielone jabłka spadają z gałęzi nad stawem"


def logged(caplog) -> str:
    parts = []
    for record in caplog.records:
        parts.append(record.getMessage())
        if record.exc_info:
            parts.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(parts)


def test_sign_in_flows_log_no_passwords_codes_or_tokens(app, client, dbconn, caplog):
    caplog.set_level(logging.DEBUG)
    secrets = [PASSPHRASE, NEW_PASSWORD]
    # registration with the e-mailed link, password and authenticator
    contract = make_contract(customer=make_company("5260181596"), serials=("SN-77",))
    start_registration(client, contract, "SN-77")
    confirm = link_path(OutboxMessage.get().body_text)
    choose_password(client, confirm, PASSPHRASE)
    authenticator, setup_code, page = enrol(client)
    codes = recovery_codes_on(page)
    secrets += [
        confirm.rsplit("/", 1)[1],
        authenticator.secret,
        setup_code,
        *codes,
        *(c.replace("-", "") for c in codes),
    ]
    user = User.get(User.email == "jan@example.pl")
    user.totp = authenticator
    # a wrong code (a real one, from another step), then a recovery code
    client.post("/pl/logout")
    client.post("/pl/login", data={"email": user.email, "password": PASSPHRASE})
    wrong = authenticator.at(utcnow() - timedelta(minutes=5))
    client.post("/pl/login/code", data={"code": wrong})
    User.update(otp_blocked_until=None).execute()
    assert client.post("/pl/login/code", data={"code": codes[0]}).status_code == 303
    # a password reset, then a sign-in with the new password and a code
    client.post("/pl/logout")
    client.post("/pl/password/forgot", data={"email": user.email})
    reset = link_path(
        OutboxMessage.select().order_by(OutboxMessage.id.desc()).get().body_text
    )
    client.post(reset, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    code = fresh_code(user)
    client.post("/pl/login", data={"email": user.email, "password": NEW_PASSWORD})
    assert client.post("/pl/login/code", data={"code": code}).status_code == 303
    secrets += [wrong, code, reset.rsplit("/", 1)[1]]

    text = logged(caplog)
    assert "event=login_succeeded" in text and "event=second_factor_failed" in text
    assert "event=password_reset_completed" in text
    for secret in secrets:
        assert secret not in text, secret
    assert not re.search(
        re.escape(" ".join(authenticator.secret[i : i + 4] for i in range(0, 32, 4))),
        text,
    )


def test_line_breaks_in_a_login_name_are_not_logged_raw(client, dbconn, caplog):
    with caplog.at_level(logging.DEBUG):
        client.post(
            "/pl/login",
            data={"email": "a\nFAKE@example.pl", "password": "whatever\r\nevent=x"},
        )
    security = [r.getMessage() for r in caplog.records if r.name == "hezo.security"]
    assert any("event=login_failed" in m for m in security)
    assert not any("\n" in m or "\r" in m for m in security)
    assert "whatever" not in logged(caplog)


def test_crash_on_a_link_page_does_not_log_the_token(
    app, client, dbconn, caplog, monkeypatch
):
    def broken(*args, **kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(services, "valid_token", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    token = "Zq3-secret-reset-token-value"
    with caplog.at_level(logging.DEBUG):
        response = client.get(f"/pl/password/reset/{token}")
    assert response.status_code == 500
    assert "database on fire" in caplog.text
    assert token not in logged(caplog)


def test_password_step_logs_a_failure_without_the_address(client, dbconn, caplog):
    user = make_user()
    with caplog.at_level(logging.INFO, logger="hezo.security"):
        client.post("/pl/login", data={"email": user.email, "password": "wrong one"})
    assert "event=login_failed" in caplog.text and "factor=password" in caplog.text
    assert user.email not in caplog.text


def test_enrolment_page_logs_no_secret(client, dbconn, caplog):
    caplog.set_level(logging.DEBUG)
    choose_password(client, invite())
    page = client.get("/pl/setup/authenticator").get_data(as_text=True)
    secret = re.search(r'data-testid="totp-key">([A-Z2-7 ]+)<', page).group(1)
    assert secret.replace(" ", "") not in logged(caplog)
    assert pyotp.TOTP(secret.replace(" ", "")).now() not in logged(caplog)

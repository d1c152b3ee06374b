"""Password reset, password change, new authenticator, new recovery codes.

SECURITY.md #13 (recovery codes), #14 (new authenticator), #16 (password policy
as typed), #29–#31 (password reset), #38 (re-authentication for changes).
"""

import hashlib
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pyotp
import pytest

from hezo.accounts import services
from hezo.db import utcnow
from hezo.mail.queue import render_mail
from hezo.models import (
    AuditEvent,
    AuthToken,
    OutboxMessage,
    RecoveryCode,
    ThrottleEvent,
    User,
)

from .factories import PASSWORD, fresh_code, login, make_company, make_user, race
from .test_login import body
from .test_security_enrolment import (  # noqa: F401
    isolated_requests,
    recovery_codes_on,
    shown_key,
)

# 64 characters: spaces, Polish letters, punctuation.
PASSPHRASE_64 = "Gęś i łabędź śpią pod jabłonią, a źrebię żuje trawę; było miło!!"
NEW_PASSWORD = "Czerwony tramwaj jedzie przez most"


@pytest.fixture
def user(dbconn):
    return make_user()


def signed_in(app, user):
    """A new browser signed in as ``user``.

    Each sign-in uses up a time step; the step is then forgotten, as if the next
    code had come up, so tests need not wait 30 seconds between sign-ins.
    """
    browser = app.test_client()
    assert login(browser, user).status_code == 303
    User.update(totp_last_step=0).where(User.id == user.id).execute()
    return browser


def password_step(client, user, password=PASSWORD):
    return client.post("/pl/login", data={"email": user.email, "password": password})


def reauthenticate(client, user, url, password=PASSWORD):
    response = client.post(url, data={"current": password, "code": fresh_code(user)})
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]


def new_authenticator(client, user):
    """Re-authenticate and enrol a new app; returns (new TOTP, recovery codes)."""
    reauthenticate(client, user, "/pl/account/authenticator")
    page = client.get("/pl/account/authenticator")
    authenticator = pyotp.TOTP(shown_key(page))
    response = client.post(
        "/pl/account/authenticator", data={"code": authenticator.at(utcnow())}
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return authenticator, recovery_codes_on(response)


def new_recovery_codes(client, user):
    reauthenticate(client, user, "/pl/account/recovery-codes")
    response = client.post("/pl/account/recovery-codes")
    assert response.status_code == 200
    return recovery_codes_on(response)


def mails_to(user):
    return list(
        OutboxMessage.select()
        .where(OutboxMessage.recipient == user.email)
        .order_by(OutboxMessage.id)
    )


def rejected(response):
    """The cookie's session is gone: the next page asks to sign in."""
    return response.status_code == 302 and "/pl/login" in response.location


def replay(app, cookie):
    thief = app.test_client()
    thief.set_cookie(cookie.key, cookie.value, domain="localhost")
    return thief.get("/pl/account")


def session_cookie(app, client):
    return client.get_cookie(app.config["SESSION_COOKIE_NAME"], domain="localhost")


# -- #13: recovery codes -------------------------------------------------------


def test_recovery_codes_page_asks_for_password_and_code_first(app, user):
    browser = signed_in(app, user)
    before = RecoveryCode.select().count()
    page = browser.get("/pl/account/recovery-codes")
    assert 'name="current"' in page.get_data(as_text=True)
    response = browser.post("/pl/account/recovery-codes")
    assert response.status_code == 422
    assert recovery_codes_on(response) == []
    assert RecoveryCode.select().count() == before


def test_new_recovery_codes_void_the_old_ones(app, user):
    old = services.issue_recovery_codes(user)
    browser = signed_in(app, user)
    new = new_recovery_codes(browser, user)
    assert len(new) == 10 and not set(new) & set(old)
    other = app.test_client()
    password_step(other, user)
    assert other.post("/pl/login/code", data={"code": old[1]}).status_code == 422
    User.update(otp_blocked_until=None).execute()
    assert other.post("/pl/login/code", data={"code": new[1]}).status_code == 303


def test_recovery_codes_are_stored_only_hashed(app, user):
    codes = new_recovery_codes(signed_in(app, user), user)
    stored = " ".join(f"{r.lookup} {r.code_hash}" for r in RecoveryCode.select())
    for code in codes:
        assert code not in stored and code.replace("-", "") not in stored


def test_production_hash_costs_and_codes_outlive_a_change_of_cost(app, user):
    from hezo.config import Defaults

    # The suite runs with cheap hashes (conftest); production keeps these.
    assert Defaults.PASSWORD_HASH_METHOD == "pbkdf2:sha256:600000"
    assert Defaults.RECOVERY_CODE_HASH_METHOD == "scrypt:16384:8:1"
    cheap = services.issue_recovery_codes(user)
    app.config["RECOVERY_CODE_HASH_METHOD"] = Defaults.RECOVERY_CODE_HASH_METHOD
    assert services.consume_recovery_code(user, cheap[0], utcnow())
    costly = services.issue_recovery_codes(user)
    assert {r.code_hash.split("$")[0] for r in RecoveryCode.select()} == {
        "scrypt:16384:8:1"
    }
    assert services.consume_recovery_code(user, costly[0], utcnow())
    # A row written before the method was stored ("scrypt$salt$digest").
    raw = services.normalize_recovery_code(costly[1])
    digest = hashlib.scrypt(raw.encode(), salt=bytes(16), n=2**14, r=8, p=1, dklen=32)
    RecoveryCode.update(code_hash=f"scrypt${bytes(16).hex()}${digest.hex()}").where(
        RecoveryCode.lookup == raw[:4]
    ).execute()
    assert services.consume_recovery_code(user, costly[1], utcnow())
    assert not services.consume_recovery_code(user, costly[1], utcnow())


def test_new_recovery_codes_end_other_sessions(app, user):
    other = signed_in(app, user)
    browser = signed_in(app, user)
    new_recovery_codes(browser, user)
    assert rejected(other.get("/pl/account"))
    assert browser.get("/pl/account").status_code == 200


@pytest.mark.parametrize(
    ("lang", "left", "warning"),
    [
        ("en", "3 unused codes left", "running out"),
        ("pl", "Pozostały 3 niewykorzystane kody", "Kończą"),
    ],
)
def test_overview_warns_when_few_recovery_codes_are_left(
    app, user, lang, left, warning
):
    codes = services.issue_recovery_codes(user)
    now = utcnow()
    for code in codes[:7]:
        assert services.consume_recovery_code(user, code, now)
    page = signed_in(app, user).get(f"/{lang}/account").get_data(as_text=True)
    assert left in page and warning in page


def test_concurrent_use_of_one_recovery_code_succeeds_once(app, dbconn, user):
    code = services.issue_recovery_codes(user)[0]
    now = utcnow()
    results = race(app, lambda: services.verify_second_factor(user, code, now))
    assert sorted(map(str, results)) == ["None", "None", "None", "recovery"]
    assert services.remaining_recovery_codes(user) == 9


# -- #14: a new authenticator app ----------------------------------------------


@pytest.mark.parametrize(
    "proof", ["no-code", "wrong-code", "wrong-password", "code-only"]
)
def test_new_authenticator_without_password_and_code_changes_nothing(app, user, proof):
    browser = signed_in(app, user)
    before = User.get_by_id(user.id)
    data = {
        "no-code": {"current": PASSWORD},
        "wrong-code": {"current": PASSWORD, "code": "000000"},
        "wrong-password": {"current": PASSWORD + "x", "code": fresh_code(user)},
        "code-only": {"code": fresh_code(user)},
    }[proof]
    response = browser.post("/pl/account/authenticator", data=data)
    assert response.status_code == 422
    page = browser.get("/pl/account/authenticator").get_data(as_text=True)
    assert 'name="current"' in page and "totp-key" not in page
    after = User.get_by_id(user.id)
    assert (after.totp_secret, after.session_token) == (
        before.totp_secret,
        before.session_token,
    )


def test_new_authenticator_makes_old_app_codes_fail(app, user):
    browser = signed_in(app, user)
    fresh, _ = new_authenticator(browser, user)
    browser.post("/pl/logout")
    password_step(browser, user)
    assert (
        browser.post("/pl/login/code", data={"code": fresh_code(user)}).status_code
        == 422
    )
    User.update(otp_blocked_until=None).execute()
    user.totp = fresh
    assert (
        browser.post("/pl/login/code", data={"code": fresh_code(user)}).status_code
        == 303
    )


def test_new_authenticator_voids_old_recovery_codes(app, user):
    old = services.issue_recovery_codes(user)
    _, new = new_authenticator(signed_in(app, user), user)
    assert len(new) == 10
    assert not services.consume_recovery_code(user, old[0], utcnow())


def test_new_authenticator_ends_other_sessions(app, user):
    other = signed_in(app, user)
    browser = signed_in(app, user)
    new_authenticator(browser, user)
    assert rejected(other.get("/pl/account"))
    assert browser.get("/pl/account").status_code == 200


def test_new_authenticator_is_mailed_to_the_owner(app, user):
    new_authenticator(signed_in(app, user), user)
    subject, _ = render_mail("authenticator_changed", "pl", name=user.first_name)
    assert [m.subject for m in mails_to(user)] == [subject]


def test_new_authenticator_is_audited(app, user):
    new_authenticator(signed_in(app, user), user)
    event = AuditEvent.get(AuditEvent.action == "totp_reset")
    assert event.actor_id == user.id and event.object_id == str(user.id)


# -- #16: passwords are used exactly as typed ----------------------------------


def test_long_passphrase_with_spaces_and_polish_letters_signs_in(app, user):
    assert len(PASSPHRASE_64) == 64
    browser = signed_in(app, user)
    response = browser.post(
        "/pl/account/password",
        data={"current": PASSWORD, "password": PASSPHRASE_64, "confirm": PASSPHRASE_64},
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    browser.post("/pl/logout")
    assert login(browser, user, password=PASSPHRASE_64).status_code == 303
    assert browser.get("/pl/contracts/").status_code == 200


def test_seven_character_password_is_refused_with_the_reason(app, user):
    browser = signed_in(app, user)
    response = browser.post(
        "/en/account/password",
        data={"current": PASSWORD, "password": "Żółw7ab", "confirm": "Żółw7ab"},
    )
    assert response.status_code == 422
    assert "at least 8 characters" in response.get_data(as_text=True)
    assert services.passwords.check_password(
        User.get_by_id(user.id).password_hash, PASSWORD
    )


def test_new_password_with_the_companys_tax_id_is_refused(app, dbconn):
    """The signed-in user's company (read with the user on every request)
    carries its NIP into the password check."""
    company = make_company(nip="7740001454", name="Zielona Dolina")
    user = make_user(company=company)
    browser = signed_in(app, user)
    typed = "kot 7740001454 biega"
    response = browser.post(
        "/en/account/password",
        data={"current": PASSWORD, "password": typed, "confirm": typed},
    )
    assert response.status_code == 422
    assert "tax ID" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "typed", [PASSWORD + " ", " " + PASSWORD, PASSWORD.upper(), PASSWORD[:-1]]
)
def test_password_is_not_trimmed_case_folded_or_truncated(client, user, typed):
    assert password_step(client, user, typed).status_code == 422


def test_password_with_trailing_space_needs_the_space(client, dbconn):
    spaced = make_user(password=PASSWORD + " ")
    assert password_step(client, spaced, PASSWORD).status_code == 422
    ThrottleEvent.delete().execute()
    assert password_step(client, spaced, PASSWORD + " ").status_code == 303


# -- #38: changing the password needs the current one --------------------------


@pytest.mark.parametrize("current", ["wrong password here", None])
def test_password_change_without_the_current_password_changes_nothing(
    app, user, current
):
    other = signed_in(app, user)
    browser = signed_in(app, user)
    before = User.get_by_id(user.id)
    data = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    if current:
        data["current"] = current
    response = browser.post("/en/account/password", data=data)
    assert response.status_code == 422
    assert "field-error" in response.get_data(as_text=True)
    after = User.get_by_id(user.id)
    assert (after.password_hash, after.session_token) == (
        before.password_hash,
        before.session_token,
    )
    assert mails_to(user) == []
    assert other.get("/pl/account").status_code == 200


def test_password_change_ends_other_sessions_and_voids_reset_links(app, client, user):
    client.post("/pl/password/forgot", data={"email": user.email})
    link = reset_path(user)
    other = signed_in(app, user)
    browser = signed_in(app, user)
    response = browser.post(
        "/pl/account/password",
        data={"current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert response.status_code == 303
    assert rejected(other.get("/pl/account"))
    assert browser.get("/pl/account").status_code == 200
    assert client.get(link).status_code == 400


# -- #29–#31: password reset ---------------------------------------------------


def reset_path(user) -> str:
    """The path of the newest reset link mailed to ``user``."""
    for mail in reversed(mails_to(user)):
        found = re.search(r"https://myhezo\.pl(/pl/password/reset/\S+)", mail.body_text)
        if found:
            return found.group(1)
    raise AssertionError("no reset link mailed")


def reset(client, path, password=NEW_PASSWORD):
    return client.post(path, data={"password": password, "confirm": password})


def test_reset_request_looks_the_same_for_known_and_unknown_addresses(client, user):
    make_user(email="off@example.pl", is_enabled=False)
    pages = [
        client.post("/pl/password/forgot", data={"email": email})
        for email in (user.email, "nobody@example.pl", "off@example.pl")
    ]
    assert [p.status_code for p in pages] == [200, 200, 200]
    assert len({body(p) for p in pages}) == 1
    assert OutboxMessage.select().count() == 1


def test_fourth_reset_request_in_an_hour_sends_no_mail_but_the_same_page(client, user):
    pages = [
        client.post("/pl/password/forgot", data={"email": user.email}) for _ in range(4)
    ]
    assert len({(p.status_code, body(p)) for p in pages}) == 1
    assert len(mails_to(user)) == 3


def test_reset_request_alone_changes_nothing_on_the_account(app, client, user):
    browser = signed_in(app, user)
    before = User.get_by_id(user.id)
    client.post("/pl/password/forgot", data={"email": user.email})
    after = User.get_by_id(user.id)
    assert (after.password_hash, after.session_token) == (
        before.password_hash,
        before.session_token,
    )
    assert browser.get("/pl/account").status_code == 200


def test_reset_link_works_once(app, client, user):
    client.post("/pl/password/forgot", data={"email": user.email})
    path = reset_path(user)
    assert reset(client, path).status_code == 303
    again = app.test_client()
    assert again.get(path).status_code == 400
    assert reset(again, path, "Jeszcze inne hasło na jutro rano").status_code == 400
    assert password_step(again, user, NEW_PASSWORD).status_code == 303


def test_expired_reset_link_is_refused(client, user):
    client.post("/pl/password/forgot", data={"email": user.email})
    AuthToken.update(expires_at=utcnow() - timedelta(seconds=1)).execute()
    path = reset_path(user)
    assert client.get(path).status_code == 400
    assert reset(client, path).status_code == 400
    assert password_step(client, user).status_code == 303


def test_reset_link_lives_at_most_an_hour(client, user):
    client.post("/pl/password/forgot", data={"email": user.email})
    token = AuthToken.get()
    assert token.expires_at - token.created_at <= timedelta(hours=1)


def test_newer_reset_link_voids_the_older(client, user):
    client.post("/pl/password/forgot", data={"email": user.email})
    older = reset_path(user)
    client.post("/pl/password/forgot", data={"email": user.email})
    newer = reset_path(user)
    assert older != newer
    assert client.get(older).status_code == 400
    assert client.get(newer).status_code == 200


def test_reset_link_uses_the_configured_host_not_the_request_host(client, user):
    response = client.post(
        "/pl/password/forgot", data={"email": user.email}, base_url="https://myhezo.com"
    )
    assert response.status_code == 200
    links = re.findall(r"https?://\S+", mails_to(user)[0].body_text)
    assert links and all(link.startswith("https://myhezo.pl/") for link in links)


def test_reset_request_with_a_foreign_host_is_refused(client, user):
    response = client.post(
        "/pl/password/forgot", data={"email": user.email}, headers={"Host": "evil.test"}
    )
    assert response.status_code == 400
    assert "evil.test" not in response.get_data(as_text=True)
    assert mails_to(user) == []


def test_reset_neither_signs_in_nor_skips_the_authenticator(client, user):
    client.post("/pl/password/forgot", data={"email": user.email})
    response = reset(client, reset_path(user))
    assert urlsplit(response.location).path == "/pl/login"
    first = client.get("/pl/contracts/")
    assert first.status_code == 302 and urlsplit(first.location).path == "/pl/login"
    assert password_step(client, user, NEW_PASSWORD).status_code == 303
    second = client.get("/pl/contracts/")
    assert second.status_code == 302
    assert urlsplit(second.location).path == "/pl/login/code"


def test_reset_ends_existing_sessions(app, client, user):
    browser = signed_in(app, user)
    cookie = session_cookie(app, browser)
    client.post("/pl/password/forgot", data={"email": user.email})
    reset(client, reset_path(user))
    assert rejected(browser.get("/pl/account"))
    assert rejected(replay(app, cookie))


def test_reset_is_mailed_to_the_owner(client, user):
    client.post("/pl/password/forgot", data={"email": user.email})
    reset(client, reset_path(user))
    notice = mails_to(user)[-1]
    assert "/password/reset/" not in notice.body_text
    assert "hasło" in notice.subject.lower() or "password" in notice.subject.lower()


def test_concurrent_use_of_one_reset_link_succeeds_once(app, client, user):
    client.post("/pl/password/forgot", data={"email": user.email})
    token = reset_path(user).rsplit("/", 1)[1]
    results = race(app, lambda: services.reset_password(token, NEW_PASSWORD, utcnow()))
    assert sorted(type(r).__name__ for r in results) == [
        "NoneType",
        "NoneType",
        "NoneType",
        "User",
    ]
    assert len(mails_to(user)) == 2  # the link and one notice


def test_reset_does_not_accept_a_weak_password(client, user):
    client.post("/pl/password/forgot", data={"email": user.email})
    path = reset_path(user)
    assert reset(client, path, "password123").status_code == 422
    assert reset(client, path, NEW_PASSWORD).status_code == 303

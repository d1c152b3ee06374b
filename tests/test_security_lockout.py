"""Sign-in throttling that cannot be turned into a lock-out (SECURITY #21,
NIST SP 800-63B §5.2.2): growing delays per account and per IP, failures that
decay, the owner with password and second factor never kept out, the owner and
staff told.
"""

import re
from datetime import timedelta

import pytest

from hezo.accounts import services, throttle
from hezo.db import utcnow
from hezo.models import OutboxMessage, User

from .factories import PASSWORD, fresh_code, make_user

ATTACKER = {"REMOTE_ADDR": "203.0.113.9"}
OWNER = {"REMOTE_ADDR": "198.51.100.7"}


@pytest.fixture
def user(dbconn):
    return make_user()


def body(response):
    html = response.get_data(as_text=True)
    return re.sub(r'name="csrf_token"[^>]*|"X-CSRFToken": "[^"]*"', "", html)


def password_step(client, email, password, ip=OWNER):
    return client.post(
        "/pl/login", data={"email": email, "password": password}, environ_base=ip
    )


def test_a_wrong_password_every_15_minutes_does_not_keep_the_owner_out(user):
    """Two days of the attack that locked the account forever before."""
    start = utcnow() - timedelta(days=2)
    moment = start
    while moment < utcnow():
        services.authenticate_password(user.email, "guess", moment, "203.0.113.9")
        moment += timedelta(minutes=15)
    now = moment - timedelta(minutes=15) + timedelta(seconds=1)
    result = services.authenticate_password(user.email, PASSWORD, now, "198.51.100.7")
    assert result.ticket is not None  # still guarded, as the attacker wants...
    signed_in, method = services.verify_guarded_login(
        result.ticket, user.totp.at(now), now
    )
    assert signed_in.id == user.id and method == "totp"  # ...but the owner gets in


def test_owner_signs_in_over_http_while_an_attacker_fails(app, client, user):
    attacker = app.test_client()
    for _ in range(12):
        password_step(attacker, user.email, "guess", ATTACKER)
    assert throttle.account_guarded(user.email, utcnow())
    assert password_step(client, user.email, PASSWORD).status_code == 303
    response = client.post(
        "/pl/login/code", data={"code": fresh_code(user)}, environ_base=OWNER
    )
    assert response.status_code == 303 and "/contracts" in response.location
    assert client.get("/pl/contracts/").status_code == 200
    # A full sign-in forgets the failures: the password alone works again.
    assert not throttle.account_guarded(user.email, utcnow())


def test_guarded_password_step_tells_nothing(app, client, user):
    for email in (user.email, "nobody@example.pl"):
        for _ in range(5):
            password_step(app.test_client(), email, "guess", ATTACKER)
    answers = [
        password_step(app.test_client(), email, password, ATTACKER)
        for email, password in (
            (user.email, PASSWORD),
            (user.email, "guess"),
            ("nobody@example.pl", "guess"),
        )
    ]
    assert {r.status_code for r in answers} == {303}
    assert len({r.location for r in answers}) == 1


def account_failures(user) -> int:
    key = throttle.account_key(user.email)
    return throttle._count(
        throttle.ACCOUNT_SCOPE, key, throttle.ACCOUNT_WINDOW, utcnow()
    ).failures


def test_guarded_wrong_password_with_a_valid_code_is_refused(app, client, user):
    for _ in range(5):
        password_step(app.test_client(), user.email, "guess", ATTACKER)
    failures = account_failures(user)
    assert password_step(client, user.email, "guess", ATTACKER).status_code == 303
    code = fresh_code(user)
    response = client.post("/pl/login/code", data={"code": code}, environ_base=ATTACKER)
    assert response.status_code == 422
    assert "Wpisz wszystkie dane ponownie" in response.get_data(as_text=True)
    assert client.get("/pl/contracts/").status_code == 302
    fresh = User.get_by_id(user.id)
    # The code was never checked: the owner's second factor is not worn down.
    assert fresh.failed_otps == 0 and fresh.totp_last_step == 0
    assert account_failures(user) == failures + 1  # the wrong password, once


def test_failures_decay(user):
    now = utcnow() - timedelta(days=1, minutes=10)
    for i in range(60):
        services.authenticate_password(user.email, "guess", now + timedelta(seconds=i))
    later = now + timedelta(days=1, minutes=5)
    assert services.authenticate_password(user.email, PASSWORD, later).user is not None


def test_delays_grow_with_the_failures(user):
    now = utcnow()
    for _ in range(10):
        services.authenticate_password(user.email, "guess", now)
    # 10 failures, 3 of them free: 64 s before the password alone is answered.
    assert throttle.account_guarded(user.email, now + timedelta(seconds=63))
    assert not throttle.account_guarded(user.email, now + timedelta(seconds=65))
    assert throttle.delay(100) == throttle.MAX_DELAY


def test_ten_failures_from_ten_ips_delay_only_that_account(app, user):
    other = make_user()
    for n in range(10):
        password_step(
            app.test_client(), user.email, "guess", {"REMOTE_ADDR": f"10.0.0.{n}"}
        )
    assert throttle.account_guarded(user.email, utcnow())
    response = password_step(app.test_client(), other.email, "guess")
    assert response.status_code == 422  # not guarded: answered at once
    assert password_step(app.test_client(), other.email, PASSWORD).status_code == 303


def test_an_ip_with_many_failures_waits(app, dbconn):
    for n in range(throttle.IP_FREE_FAILURES + 3):
        password_step(app.test_client(), f"x{n}@example.pl", "guess", ATTACKER)
    response = password_step(app.test_client(), "y@example.pl", "guess", ATTACKER)
    assert response.status_code == 429
    assert "Spróbuj ponownie za" in response.get_data(as_text=True)
    elsewhere = password_step(app.test_client(), "y@example.pl", "guess", OWNER)
    assert elsewhere.status_code == 422


def test_owner_and_staff_are_told_once(app, user):
    now = utcnow()
    for i in range(throttle.NOTIFY_AFTER + 3):
        services.authenticate_password(user.email, "guess", now + timedelta(seconds=i))
    owner = OutboxMessage.select().where(OutboxMessage.recipient == user.email)
    staff = OutboxMessage.select().where(
        OutboxMessage.recipient == app.config["ENGINEERS_EMAIL"]
    )
    assert owner.count() == 1 and staff.count() == 1
    assert user.email in staff.get().body_text

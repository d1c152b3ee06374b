import re

import pytest

from hezo.models import OutboxMessage, PendingRegistration, RecoveryCode, User

from .factories import make_company, make_contract

PASSPHRASE = "Zażółć gęślą jaźń, pięć dużych łabędzi"


@pytest.fixture
def contract(dbconn):
    company = make_company("5260181596", "Przedsiębiorstwo Łączności Żółw Sp. z o.o.")
    return make_contract(
        customer=company,
        number="HZ-2025-000123",
        legacy_number="PW/2023/0456",
        serials=("1942Y-40125",),
    )


def proof(the_contract, **changes):
    data = {
        "nip": "526-018-15-96",
        "contract": the_contract.number,
        "serial": "1942y-40125 ",
    }
    return data | changes


def contact(**changes):
    return {
        "first_name": "Jan",
        "last_name": "Żółkiewski",
        "email": "jan@example.pl",
        "phone": "+48 600 100 200",
        "language": "pl",
    } | changes


def mailed_link(recipient):
    body = OutboxMessage.get(OutboxMessage.recipient == recipient).body_text
    return re.search(r"https?://\S+", body).group(0)


def test_registration_wizard_creates_an_account_after_mail_and_totp(client, contract):
    assert client.post("/pl/register", data=proof(contract)).status_code == 303
    assert client.post("/pl/register/contact", data=contact()).status_code == 303
    link = mailed_link("jan@example.pl")
    path = link.split("myhezo.pl", 1)[1]
    assert path.startswith("/pl/register/confirm/")
    assert client.post(path).status_code == 303
    response = client.post(
        "/pl/setup/password", data={"password": PASSPHRASE, "confirm": PASSPHRASE}
    )
    assert response.status_code == 303
    page = client.get("/pl/setup/authenticator").get_data(as_text=True)
    key = re.search(r'data-testid="totp-key">([A-Z2-7 ]+)<', page).group(1)
    import pyotp

    code = pyotp.TOTP(key.replace(" ", "")).now()
    response = client.post("/pl/setup/authenticator", data={"code": code})
    assert response.status_code == 200
    codes = re.findall(
        r"<code>([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})</code>",
        response.get_data(as_text=True),
    )
    assert len(codes) == 10
    user = User.get(User.email == "jan@example.pl")
    assert user.company_id == contract.customer_id and user.role == "customer"
    assert RecoveryCode.select().where(RecoveryCode.user == user).count() == 10
    assert not any(
        c.replace("-", "") in r.code_hash for c in codes for r in RecoveryCode.select()
    )
    assert client.get("/pl/contracts/").status_code == 200


def test_legacy_contract_number_is_accepted(client, contract):
    response = client.post(
        "/pl/register", data=proof(contract, contract="pw/2023/0456")
    )
    assert response.status_code == 303


@pytest.mark.parametrize(
    "wrong",
    [
        {"nip": "6281948218"},  # another (valid) company
        {"contract": "HZ-2099-999999"},  # unknown contract
        {"serial": "NOT-ON-CONTRACT"},  # serial not covered
    ],
)
def test_every_wrong_triple_gets_the_same_answer(client, contract, wrong):
    make_company("6281948218")
    response = client.post("/pl/register", data=proof(contract, **wrong))
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "Nie udało się zweryfikować tych danych" in body or "We could not" in body
    assert "/pl/contact" in body
    assert PendingRegistration.select().count() == 0


def test_expired_contract_gets_the_same_answer(client, dbconn):
    from datetime import date, timedelta

    company = make_company("5260181596")
    old = make_contract(
        customer=company,
        serials=("OLD-1",),
        start=date.today() - timedelta(days=800),
        end=date.today() - timedelta(days=1),
    )
    response = client.post(
        "/pl/register",
        data={"nip": "5260181596", "contract": old.number, "serial": "OLD-1"},
    )
    assert response.status_code == 422


def test_bad_nip_check_digit_is_named(client, contract):
    response = client.post("/en/register", data=proof(contract, nip="5260181597"))
    assert response.status_code == 422
    assert "not a valid NIP" in response.get_data(as_text=True)


@pytest.fixture
def delays(monkeypatch):
    """The delays wrong proofs were answered with (recorded, not slept)."""
    from hezo.accounts import services

    slept = []
    monkeypatch.setattr(services, "slow_down", slept.append)
    return slept


def alerts(app):
    return list(
        OutboxMessage.select().where(
            OutboxMessage.recipient == app.config["ENGINEERS_EMAIL"]
        )
    )


def test_others_wrong_proofs_never_block_the_correct_one(app, contract, delays):
    for i in range(20):
        guesser = app.test_client()  # a new browser (and address) each time
        response = guesser.post("/pl/register", data=proof(contract, serial=f"X{i}"))
        assert response.status_code == 422
    response = app.test_client().post("/pl/register", data=proof(contract))
    assert response.status_code == 303
    assert PendingRegistration.select().count() == 1


def test_wrong_proofs_are_answered_more_and_more_slowly(client, contract, delays):
    for i in range(9):
        client.post("/pl/register", data=proof(contract, serial=f"X{i}"))
    assert delays == [0, 0, 0, 0, 0, 1, 2, 4, 4]
    client.post("/pl/register", data=proof(contract))
    assert len(delays) == 9  # the correct proof is not held back


def test_staff_are_alerted_once_per_nip_and_hour_not_per_attempt(
    app, client, contract, delays
):
    for i in range(4):
        client.post("/pl/register", data=proof(contract, serial=f"X{i}"))
    assert alerts(app) == []
    for i in range(16):
        client.post("/pl/register", data=proof(contract, serial=f"Y{i}"))
    (alert,) = alerts(app)
    assert "5260181596" in alert.body_text
    assert "Przedsiębiorstwo Łączności Żółw" in alert.subject


def test_wrong_proofs_for_an_unknown_nip_alert_nobody(app, client, contract, delays):
    for _ in range(8):
        client.post("/pl/register", data=proof(contract, nip="6281948218"))
    assert alerts(app) == []


@pytest.mark.parametrize(
    "config_overrides", [{"RATELIMIT_ENABLED": True}], ids=["rate-limited"]
)
def test_per_address_limit_still_holds_for_registration(client, contract, delays):
    statuses = [
        client.post("/pl/register", data=proof(contract, serial=f"X{i}")).status_code
        for i in range(10)
    ]
    assert statuses == [422] * 10
    assert client.post("/pl/register", data=proof(contract)).status_code == 429


@pytest.mark.parametrize("service", ["", "PW-TAC", "NO-SUCH-SERVICE"])
def test_service_field_never_makes_a_correct_proof_fail(client, contract, service):
    response = client.post("/pl/register", data=proof(contract, service_code=service))
    assert response.status_code == 303
    response = client.post("/pl/register/contact", data=contact(service_code=service))
    assert response.status_code == 303
    assert PendingRegistration.get().service_code == "PW-AHR-NBD"


def test_service_is_not_offered_when_the_serial_has_one(client, contract):
    client.post("/pl/register", data=proof(contract))
    page = client.get("/pl/register/contact").get_data(as_text=True)
    assert 'name="service_code"' not in page


def test_service_is_offered_by_name_when_the_serial_has_several(client, contract):
    make_contract(
        customer=contract.customer, serials=("1942Y-40125",), service_code="PW-TAC"
    )
    client.post("/pl/register", data=proof(contract))
    page = client.get("/pl/register/contact").get_data(as_text=True)
    options = dict(re.findall(r'<option (?:selected )?value="([^"]+)">([^<]+)<', page))
    assert options["PW-TAC"] == "Wsparcie techniczne TAC i aktualizacje oprogramowania"
    assert options["PW-AHR-NBD"].startswith("Wymiana sprzętu")
    english = client.get("/en/register/contact").get_data(as_text=True)
    assert ">TAC &amp; OS Support<" in english
    response = client.post("/pl/register/contact", data=contact(service_code="PW-TAC"))
    assert response.status_code == 303
    assert PendingRegistration.get().service_code == "PW-TAC"


def test_wizard_keeps_typed_data_going_back(client, contract):
    client.post("/pl/register", data=proof(contract))
    client.post("/pl/register/contact", data=contact(first_name="Ewa"))
    back = client.get("/pl/register").get_data(as_text=True)
    assert 'value="HZ-2025-000123"' in back and 'value="1942Y-40125"' in back
    forward = client.get("/pl/register/contact").get_data(as_text=True)
    assert 'value="Ewa"' in forward


def test_existing_address_gets_a_notice_not_a_second_account(client, contract):
    from .factories import make_user

    make_user(email="jan@example.pl", company=contract.customer)
    client.post("/pl/register", data=proof(contract))
    response = client.post(
        "/pl/register/contact", data=contact(), follow_redirects=True
    )
    fresh = client.application.test_client()
    fresh.post("/pl/register", data=proof(contract))
    other = fresh.post(
        "/pl/register/contact",
        data=contact(email="new@example.pl"),
        follow_redirects=True,
    )

    def strip(html):
        return re.sub(r"(?i)new@example.pl|jan@example.pl|csrf[^>]*", "", html)  # noqa: E731

    assert strip(response.get_data(as_text=True)) == strip(other.get_data(as_text=True))
    notice = OutboxMessage.get(OutboxMessage.recipient == "jan@example.pl")
    assert "/register/confirm/" not in notice.body_text
    assert User.select().where(User.email == "jan@example.pl").count() == 1


def test_confirmation_link_works_once(client, contract):
    client.post("/pl/register", data=proof(contract))
    client.post("/pl/register/contact", data=contact())
    path = mailed_link("jan@example.pl").split("myhezo.pl", 1)[1]
    assert client.post(path).status_code == 303
    assert client.application.test_client().post(path).status_code == 400


def test_short_and_common_passwords_are_refused_with_the_reason(client, contract):
    client.post("/pl/register", data=proof(contract))
    client.post("/pl/register/contact", data=contact())
    client.post(mailed_link("jan@example.pl").split("myhezo.pl", 1)[1])
    for password, reason in [
        ("krótkie", "at least 8"),
        ("password123", "commonly"),
        ("Qwerty123!", "easy to guess"),
        ("ZolwZolw1942", "company"),
        ("jan@example.pl!!", "e-mail"),
    ]:
        response = client.post(
            "/en/setup/password", data={"password": password, "confirm": password}
        )
        assert response.status_code == 422, password
        errors = re.findall(
            r'class="field-error"[^>]*>([^<]+)<', response.get_data(as_text=True)
        )
        assert any(reason in e for e in errors), (password, errors)


def test_abandoned_activation_can_be_started_again(client, app, contract):
    client.post("/pl/register", data=proof(contract))
    client.post("/pl/register/contact", data=contact())
    assert (
        client.post(mailed_link("jan@example.pl").split("myhezo.pl", 1)[1]).status_code
        == 303
    )
    OutboxMessage.delete().execute()
    again = app.test_client()
    again.post("/pl/register", data=proof(contract))
    again.post("/pl/register/contact", data=contact(first_name="Janek"))
    assert (
        again.post(mailed_link("jan@example.pl").split("myhezo.pl", 1)[1]).status_code
        == 303
    )
    assert User.get(User.email == "jan@example.pl").first_name == "Janek"
    assert User.select().count() == 1


def test_uncompleted_invitation_can_be_issued_again(runner, dbconn):
    args = [
        "create-user",
        "--role",
        "engineer",
        "--email",
        "e@hezo.pl",
        "--name",
        "Ewa K",
    ]
    first = runner.invoke(args=args)
    second = runner.invoke(args=args)
    assert first.exit_code == second.exit_code == 0
    old_link = first.output.strip().splitlines()[-1]
    from hezo.accounts.services import valid_token
    from hezo.db import utcnow

    assert valid_token(old_link.rsplit("/", 1)[1], "invite", utcnow()) is None
    assert (
        valid_token(
            second.output.strip().splitlines()[-1].rsplit("/", 1)[1], "invite", utcnow()
        )
        is not None
    )

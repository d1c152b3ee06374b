"""Serials in the transitional ``(H)`` notation and NIPs with a ``PL`` prefix
are accepted wherever they are typed or imported, and stored and shown in the
new notation (issue 12, item 4; ``shared/DESIGN.md``, "Notation")."""

import json
from datetime import date, timedelta

import pytest

from hezo.identifiers import nip_digits, normalize_nip, normalize_serial
from hezo.imports.contracts import import_contract_register
from hezo.imports.legacy import import_legacy
from hezo.models import Device, PendingRegistration, SupportCase, User

from .factories import (
    PASSWORD,
    fresh_code,
    login,
    make_company,
    make_contract,
    make_user,
)

OLD_NOTATIONS = ["(H)-FG1234567890", "(H)FG1234567890", " (h) - fg1234567890 "]
SERIAL = "FG1234567890"


@pytest.mark.parametrize(
    "typed", OLD_NOTATIONS + ["(H) FG1234567890", "fg1234567890", " FG1234567890"]
)
def test_serial_in_either_notation_becomes_the_new_one(typed):
    assert normalize_serial(typed) == SERIAL


@pytest.mark.parametrize("typed", ["(X)-FG1", "FG(H)1", "H-FG1"])
def test_only_the_leading_h_prefix_is_dropped(typed):
    assert normalize_serial(typed) == typed.upper()


@pytest.mark.parametrize(
    "typed",
    [
        "5260181596",
        "526-018-15-96",
        "526 018 15 96",
        "PL5260181596",
        "pl 526-018-15-96",
    ],
)
def test_nip_in_any_notation_including_the_pl_prefix(typed):
    assert normalize_nip(typed) == "5260181596"
    assert nip_digits(typed) == "5260181596"


@pytest.mark.parametrize("typed", ["5260181597", "PL526018159", "52601815961", "abc"])
def test_nip_with_a_wrong_check_digit_or_length_is_refused(typed):
    assert normalize_nip(typed) is None


@pytest.fixture
def contract(dbconn):
    company = make_company("5260181596", "Żółw Sp. z o.o.")
    return make_contract(
        customer=company, number="HZ-2025-000123", serials=(SERIAL, "FG0000000001")
    )


# -- typed ---------------------------------------------------------------------


@pytest.mark.parametrize("serial", OLD_NOTATIONS[:2])
def test_registration_accepts_the_old_serial_notation(client, contract, serial):
    response = client.post(
        "/pl/register",
        data={"nip": "PL5260181596", "contract": contract.number, "serial": serial},
    )
    assert response.status_code == 303
    assert PendingRegistration.get().serial == SERIAL
    back = client.get("/pl/register").get_data(as_text=True)
    assert f'value="{SERIAL}"' in back and 'value="(H)' not in back


def test_registration_form_comes_back_in_the_new_notation(client, contract):
    response = client.post(
        "/pl/register",
        data={"nip": "5260181596", "contract": "HZ-2099-000001", "serial": "(H)-fg1"},
    )
    assert response.status_code == 422
    assert 'value="FG1"' in response.get_data(as_text=True)


@pytest.mark.parametrize("serial", OLD_NOTATIONS[:2])
def test_staff_re_proof_accepts_the_old_serial_notation(client, contract, serial):
    customer = make_user(company=contract.customer)
    engineer = make_user(role="engineer")
    login(client, engineer)
    response = client.post(
        f"/pl/staff/accounts/{customer.id}",
        data={
            "nip": "PL 526-018-15-96",
            "contract": contract.number.lower(),
            "serial": serial,
            "current": PASSWORD,
            "code": fresh_code(engineer),
        },
    )
    assert response.status_code == 303
    assert User.get_by_id(customer.id).totp_secret is None


@pytest.mark.parametrize("serial", OLD_NOTATIONS[:2])
def test_contract_search_finds_a_serial_in_the_old_notation(client, contract, serial):
    other = make_contract(customer=contract.customer, serials=("FG9999999999",))
    login(client, make_user(company=contract.customer))
    page = client.get("/pl/contracts/", query_string={"q": serial}).get_data(
        as_text=True
    )
    assert contract.number in page and other.number not in page
    assert f'value="{SERIAL}"' in page


def case_data(serial, **more):
    return {
        "contract": "HZ-2025-000123",
        "serial": serial,
        "subject": "Awaria zasilacza",
        "description": "Nie startuje.",
        "severity": "major",
    } | more


@pytest.mark.parametrize("serial", OLD_NOTATIONS[:2])
def test_customer_case_form_accepts_the_old_serial_notation(client, contract, serial):
    login(client, make_user(company=contract.customer))
    form = client.get(f"/pl/cases/new?contract={contract.number}&serial={serial}")
    assert f'<option selected value="{SERIAL}">' in form.get_data(as_text=True)
    response = client.post(
        "/pl/cases/new", data=case_data(serial), content_type="multipart/form-data"
    )
    assert response.status_code == 303
    assert SupportCase.get().device.serial == SERIAL


@pytest.mark.parametrize("serial", OLD_NOTATIONS[:2])
def test_staff_case_form_accepts_the_old_serial_notation(client, contract, serial):
    login(client, make_user(role="engineer"))
    response = client.post(
        "/pl/staff/cases/new?nip=PL5260181596",
        data=case_data(
            serial,
            channel="phone",
            reporter="",
            contact_name="Jan Kowalski",
            contact_phone="+48 600 100 200",
        ),
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    assert SupportCase.get().device.serial == SERIAL


@pytest.mark.parametrize("serial", OLD_NOTATIONS[:2])
def test_case_list_search_finds_a_serial_in_the_old_notation(client, contract, serial):
    login(client, make_user(company=contract.customer))
    numbers = {}
    for each in (SERIAL, "FG0000000001"):
        response = client.post(
            "/pl/cases/new", data=case_data(each), content_type="multipart/form-data"
        )
        client.get(response.location)  # shows (and so clears) the flash message
        numbers[each] = SupportCase.get(
            SupportCase.device == Device.get(Device.serial == each)
        ).number
    page = client.get("/pl/cases/", query_string={"q": serial}).get_data(as_text=True)
    assert numbers[SERIAL] in page and numbers["FG0000000001"] not in page


# -- imported ------------------------------------------------------------------

HEADER = (
    "contract_number;legacy_contract_number;customer_nip;customer_name;"
    "partner_nip;partner_name;service_code;start_date;end_date;"
    "serial_number;product\n"
)


def test_contract_register_stores_old_notation_serials_in_the_new(dbconn, tmp_path):
    path = tmp_path / "register.csv"
    path.write_text(
        HEADER + "HZ-2025-000900;;PL5260181596;Żółw;;;PW-TAC;2025-01-01;2027-12-31;"
        "(H)-FG1234567890;X465\n"
        + "HZ-2025-000900;;526-018-15-96;Żółw;;;PW-TAC;2025-01-01;2027-12-31;"
        "(h)fg0000000001;X465\n",
        encoding="utf-8",
    )
    report = import_contract_register(path)
    assert report.rejected == []
    assert sorted(d.serial for d in Device.select()) == ["FG0000000001", SERIAL]
    # Imported again in the new notation: the same devices, nothing added.
    path.write_text(
        HEADER + "HZ-2025-000900;;5260181596;Żółw;;;PW-TAC;2025-01-01;2027-12-31;"
        "FG1234567890;X465\n",
        encoding="utf-8",
    )
    assert import_contract_register(path).devices.added == 0
    assert Device.select().count() == 2


def test_legacy_import_reads_old_notation_serials_and_pl_nips(dbconn, tmp_path):
    today = date.today()
    export = {
        "format": "myhezo-legacy/1",
        "contracts": [
            {
                "legacy_number": "PW/2023/0456",
                "number": "HZ-2025-000777",
                "status": "active",
                "customer": {"nip": "PL5260181596", "name": "Żółw Sp. z o.o."},
                "service_code": "PW-AHR-NBD",
                "start_date": str(today - timedelta(days=30)),
                "end_date": str(today + timedelta(days=300)),
                "serials": [{"serial": "(H)FG1234567890", "product": "X465"}],
            }
        ],
        "cases": [
            {
                "legacy_id": "ZGL/2026/00412",
                "status": "open",
                "subject": "Restart",
                "customer_nip": "PL 526-018-15-96",
                "contract_number": "pw/2023/0456",
                "serial": "(H)-FG1234567890",
                "created_at": "2026-11-18T09:12:00+01:00",
                "reporter": {"name": "Jan", "email": "jan@example.pl", "phone": ""},
                "dialogue": [
                    {
                        "at": "2026-11-18T09:12:00+01:00",
                        "author": "Jan",
                        "from_staff": False,
                        "text": "Restartuje się.",
                    }
                ],
            }
        ],
    }
    path = tmp_path / "legacy-export.json"
    path.write_text(json.dumps(export), encoding="utf-8")
    report = import_legacy(path, workers=1)
    assert report.rejected == []
    assert [d.serial for d in Device.select()] == [SERIAL]
    assert SupportCase.get().device.serial == SERIAL


def test_one_lookup_finds_a_contract_and_its_serial_in_either_notation(dbconn):
    # The finder behind registration, recovery, case forms and the legacy
    # import: both contract notations in any case, both serial notations, and
    # nothing across companies or contracts.
    from hezo.contracts.coverage import covered_device, find_contract

    customer, other = make_company(), make_company()
    contract = make_contract(
        customer=customer,
        number="HZ-2025-000123",
        legacy_number="PW/2023/0456",
        serials=("FG1234567890",),
    )
    make_contract(customer=other, serials=("FG0000000001",))
    for typed in ("HZ-2025-000123", " hz-2025-000123 ", "pw/2023/0456"):
        assert find_contract(typed) == contract
        assert find_contract(typed, customer=customer) == contract
        assert find_contract(typed, customer=other.id) is None
    assert find_contract("HZ-2025-000124") is None
    for typed in OLD_NOTATIONS + ["FG1234567890"]:
        assert covered_device(contract, typed).serial == "FG1234567890"
    assert covered_device(contract, "FG0000000001") is None
    assert covered_device(None, "FG1234567890") is None

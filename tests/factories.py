"""Test data builders: plain functions with sane defaults returning saved rows."""

import itertools
from datetime import date, timedelta

import pyotp

from hezo import crypto
from hezo.accounts import passwords
from hezo.db import utcnow
from hezo.models import Company, Contract, Device, User

PASSWORD = "korek płotek rower 42"
_seq = itertools.count(1)
NIPS = [
    "5260181596",
    "6281948218",
    "7792433527",
    "6762468383",
    "8971712345",
    "1860913901",
    "9542751782",
]


def make_company(nip=None, name=None):
    nip = nip or NIPS[next(_seq) % len(NIPS)]
    company = Company.get_or_none(Company.nip == nip)
    return company or Company.create(nip=nip, name=name or f"Firma Żółw {nip}")


def make_contract(
    customer=None,
    partner=None,
    number=None,
    serials=("SN-1",),
    service_code="PW-AHR-NBD",
    start=None,
    end=None,
    legacy_number=None,
):
    n = next(_seq)
    today = date.today()
    contract = Contract.create(
        number=number or f"HZ-2026-{n:06d}",
        legacy_number=legacy_number,
        customer=customer or make_company(),
        partner=partner,
        service_code=service_code,
        start_date=start or today - timedelta(days=30),
        end_date=end or today + timedelta(days=300),
    )
    for serial in serials:
        Device.create(contract=contract, serial=serial, product="X465-48W")
    return contract


def make_user(
    role="customer",
    company=None,
    email=None,
    password=PASSWORD,
    enrolled=True,
    **fields,
):
    """A ready account; ``user.totp`` is a pyotp.TOTP for its secret."""
    n = next(_seq)
    if role in ("customer", "partner") and company is None:
        company = make_company()
    secret = pyotp.random_base32()
    user = User.create(
        email=email or f"user{n}@example.pl",
        first_name=fields.pop("first_name", "Jan"),
        last_name=fields.pop("last_name", f"Nowak{n}"),
        role=role,
        company=company,
        language=fields.pop("language", "pl"),
        password_hash=passwords.hash_password(password) if password else None,
        totp_secret=crypto.encrypt_secret(secret) if enrolled else None,
        **fields,
    )
    user.totp = pyotp.TOTP(secret)
    return user


def fresh_code(user, now=None) -> str:
    """A code of a step the account has not used yet (the next one if needed)."""
    now = now or utcnow()
    step = user.totp.timecode(now)
    last = User.get_by_id(user.id).totp_last_step
    offset = 1 if step <= last else 0
    return user.totp.at(now, counter_offset=offset)


def login(client, user, password=PASSWORD, lang="pl"):
    """Sign in through the real forms (password, then TOTP); returns the response."""
    response = client.post(
        f"/{lang}/login", data={"email": user.email, "password": password}
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return client.post(f"/{lang}/login/code", data={"code": fresh_code(user)})


def phone_case_form(contract, serial, **fields) -> dict:
    """The engineers' "case by phone" form for ``contract`` and ``serial``:
    a caller with no account, a critical problem; ``fields`` override."""
    return {
        "channel": "phone",
        "reporter": "",
        "contact_name": "Jan Kowalski",
        "contact_email": "jan.k@example.pl",
        "contract": contract.number,
        "serial": serial,
        "subject": "Zgłoszenie telefoniczne",
        "description": "opis",
        "severity": "critical",
    } | fields


def start_registration(client, contract, serial, email="jan@example.pl"):
    """The first two registration steps (company proof, contact) for ``email``."""
    client.post(
        "/pl/register",
        data={
            "nip": contract.customer.nip,
            "contract": contract.number,
            "serial": serial,
        },
    )
    client.post(
        "/pl/register/contact",
        data={
            "first_name": "Jan",
            "last_name": "Kowalski",
            "email": email,
            "phone": "+48 600 100 200",
            "language": "pl",
        },
    )


def race(app, work, threads=4) -> list:
    """Run ``work()`` in several threads released at once, each with its own app
    context and connection (as concurrent requests); returns results or exceptions.
    """
    import threading

    from hezo.db import db

    db.close()
    barrier, results = threading.Barrier(threads), []

    def attempt():
        with app.app_context():
            barrier.wait()
            try:
                results.append(work())
            except Exception as exc:  # noqa: BLE001 - the test reports it
                results.append(exc)
            finally:
                db.close()

    workers = [threading.Thread(target=attempt) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return results


def make_case_with_file(
    app, actor, contract, name: str, share: bool, reporting_partner=None
):
    """A case reported by ``actor`` on the contract's first device, with one
    attached log ``<name>.log``; returns (case, attachment)."""
    import io

    from werkzeug.datastructures import FileStorage

    from hezo.attachments import stage_upload
    from hezo.cases.services import open_case
    from hezo.models import Attachment

    with app.test_request_context():
        staged = [stage_upload(FileStorage(io.BytesIO(b"log\n"), f"{name}.log"))]
    case = open_case(
        actor=actor,
        contract=contract,
        device=Device.get(Device.contract == contract),
        subject=f"Sprawa {name}",
        description="opis",
        severity="major",
        contact_phone="",
        share_with=contract.partner_id if share else None,
        files=staged,
        now=utcnow(),
        reporting_partner=reporting_partner,
    )
    return case, Attachment.get(Attachment.case == case)

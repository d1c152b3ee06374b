"""Demo data: plausible Polish companies with contracts of every service code.

Dates are relative to the day the command runs, so active, expiring and expired
contracts stay that way. Rows go through the same sync as the ERP import.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from .catalogue import PACKAGES
from .imports.contracts import ContractRegisterSync, ContractRow

CUSTOMERS = (
    ("5260181596", "Przedsiębiorstwo Łączności Żółw Sp. z o.o."),
    ("6281948218", "Szpital Wojewódzki w Gdańsku"),
    ("7792433527", "Miejskie Przedsiębiorstwo Komunikacyjne w Poznaniu Sp. z o.o."),
    ("6762468383", "Uniwersytet Ekonomiczny w Krakowie"),
    ("8971712345", "Wrocławskie Centrum Danych Świątek S.A."),
)
PARTNERS = (
    ("1860913901", "NetPartner S.A."),
    ("9542751782", "Sieci Śląskie Sp. z o.o."),
)
PRODUCTS = ("X465-48W", "X440-G2-24p", "5520-48T", "AP5050U", "SLX 9150", "VSP 7400")


@dataclass(frozen=True)
class DemoLogin:
    nip: str
    contract_number: str
    serial: str


def demo_serial(customer: int, contract: int, device: int) -> str:
    number = 40125 + customer * 100 + contract * 10 + device
    return f"{19 + customer}{contract}{device}Y-{number}"


def demo_rows(today: date) -> list[ContractRow]:
    """Contracts for every customer; each service code occurs, some expired."""
    rows, line = [], 0
    codes = list(PACKAGES)
    for c_index, (nip, name) in enumerate(CUSTOMERS):
        partner_nip, partner_name = PARTNERS[c_index % len(PARTNERS)]
        for k in range(4):
            code = codes[(c_index * 4 + k) % len(codes)]
            number = f"HZ-{today.year - (k == 3)}-{c_index * 10 + k + 500:06d}"
            if k == 3:  # expired last year
                start, end = today - timedelta(days=730), today - timedelta(days=40)
            elif k == 2:  # expiring soon
                start, end = today - timedelta(days=330), today + timedelta(days=35)
            else:
                start, end = today - timedelta(days=200), today + timedelta(days=700)
            legacy = (
                f"PW/{today.year - 3}/{c_index * 10 + k + 1:04d}" if k % 2 else None
            )
            for s in range(3 + k):
                line += 1
                rows.append(
                    ContractRow(
                        line=line,
                        contract_number=number,
                        legacy_number=legacy,
                        customer_nip=nip,
                        customer_name=name,
                        partner_nip=partner_nip,
                        partner_name=partner_name,
                        service_code=code,
                        start_date=start,
                        end_date=end,
                        serial=demo_serial(c_index, k, s),
                        product=PRODUCTS[(c_index + k + s) % len(PRODUCTS)],
                    )
                )
    return rows


def has_contracts() -> bool:
    """Whether the database holds any contract (``demo --if-empty`` then
    writes none)."""
    from .models import Contract

    return Contract.select().exists()


def load_demo(today: date, write: bool = True) -> tuple[object, DemoLogin]:
    """Write the demo contracts (unless ``write`` is false).

    Returns the import report (None when nothing was written) and a
    registration proof a visitor can type.
    """
    rows = demo_rows(today)
    report = ContractRegisterSync().apply(rows) if write else None
    first = rows[0]
    return report, DemoLogin(first.customer_nip, first.contract_number, first.serial)


DEMO_PASSWORD = "zielony rower nad Wisłą"
DEMO_ACCOUNTS = (
    ("engineer", "inzynier@demo.myhezo.pl", "Łukasz", "Zieliński", None),
    ("admin", "admin@demo.myhezo.pl", "Maria", "Nowak", None),
    ("partner", "partner@demo.myhezo.pl", "Piotr", "Wiśniewski", PARTNERS[0][0]),
    ("customer", "klient@demo.myhezo.pl", "Anna", "Kowalska", CUSTOMERS[0][0]),
)


@dataclass(frozen=True)
class DemoAccount:
    role: str
    email: str
    totp_key: str
    recovery_codes: tuple[str, ...]


def ensure_demo_accounts() -> list[DemoAccount]:
    """Ready demo accounts (password, TOTP) for trying the portal; created once.

    Only the demo command calls this: a fresh install has no account otherwise.
    """
    from . import crypto
    from .accounts import passwords, services, totp
    from .db import db
    from .models import Company, User

    accounts = []
    for role, email, first, last, nip in DEMO_ACCOUNTS:
        user = User.get_or_none(User.email == email)
        codes: tuple[str, ...] = ()
        if user is None:
            secret = totp.new_secret()
            with db.atomic():
                user = User.create(
                    email=email,
                    first_name=first,
                    last_name=last,
                    role=role,
                    company=Company.get_or_none(Company.nip == nip) if nip else None,
                    password_hash=passwords.hash_password(DEMO_PASSWORD),
                    totp_secret=crypto.encrypt_secret(secret),
                )
                codes = tuple(services.issue_recovery_codes(user))
        key = crypto.decrypt_secret(user.totp_secret)
        accounts.append(DemoAccount(role, email, key, codes))
        if codes and role == "customer":
            demo_cases(user)
    return accounts


DEMO_CASES = (
    (
        "critical",
        True,
        "Przełącznik rdzeniowy restartuje się po aktualizacji",
        "Od aktualizacji do wersji 32.7 przełącznik restartuje się co około 40 minut.",
    ),
    (
        "major",
        False,
        "Zasilacz zgłasza błąd wentylatora",
        "Dioda PSU2 miga na pomarańczowo, w logach: fan speed below threshold.",
    ),
    (
        "minor",
        False,
        "Pytanie o licencję na dodatkowe porty",
        "Czy umowa obejmuje aktualizację licencji po rozbudowie?",
    ),
)


def demo_cases(customer) -> None:
    """A few cases on an active contract of the demo customer, one shared."""
    from datetime import timedelta

    from .cases.services import open_case, post_message
    from .cases.workflow import transition
    from .db import utcnow
    from .models import Contract, Device, User

    today = now_day = utcnow().date()
    contract = (
        Contract.select()
        .where(
            (Contract.customer == customer.company_id)
            & (Contract.start_date <= today)
            & (Contract.end_date >= now_day)
            & Contract.partner.is_null(False)
        )
        .order_by(Contract.number)
        .first()
    )
    devices = list(Device.select().where(Device.contract == contract))
    engineer = User.get_or_none(User.role == "engineer")
    now = utcnow()
    for i, (severity, share, subject, text) in enumerate(DEMO_CASES):
        case = open_case(
            actor=customer,
            contract=contract,
            device=devices[i % len(devices)],
            subject=subject,
            description=text,
            severity=severity,
            contact_phone="+48 600 100 200",
            share_with=contract.partner_id if share else None,
            files=[],
            now=now - timedelta(hours=3 * i),
        )
        if i and engineer:
            post_message(
                case,
                engineer,
                "Dzień dobry, proszę o wynik polecenia show log oraz zdjęcie diod.",
                [],
                now - timedelta(hours=3 * i - 1),
            )
            transition(case, engineer, "waiting_for_customer", now)

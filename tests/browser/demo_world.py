"""The demo data (``hezo demo``) plus what the page states need to find in it:
one function that the axe test and ``scripts/screenshots`` both call inside an
app context, so they look at the same portal."""

import itertools
from datetime import date, timedelta

from hezo.db import utcnow
from hezo.demo import DEMO_PASSWORD, ensure_demo_accounts, load_demo
from hezo.migrations import migrate_database
from hezo.models import OutboxMessage, ReceivedMail, SupportCase, User


def seed_demo_world(migrate: bool = False) -> dict:
    """Write the demo data and two e-mails waiting in the triage; the world of
    ``page_states``: identifiers, e-mails, TOTP keys, confirmation links."""
    if migrate:
        migrate_database()
    _report, proof = load_demo(date.today())
    accounts = {a.role: a for a in ensure_demo_accounts()}
    customer = User.get(User.email == accounts["customer"].email)
    case = (
        SupportCase.select()
        .where(SupportCase.company == customer.company_id)
        .order_by(SupportCase.id)
        .first()
    )
    _triage_mail()
    numbers = itertools.count(1)
    registered: list[str] = []
    return {
        "password": DEMO_PASSWORD,
        "emails": {role: a.email for role, a in accounts.items()},
        "keys": {role: a.totp_key for role, a in accounts.items()},
        "nip": proof.nip,
        "contract_number": proof.contract_number,
        "serial": proof.serial,
        "case": case.number,
        "contract": case.contract_id,
        "customer_id": customer.id,
        "new_email": lambda: f"zofia.wojcik.{next(numbers)}@example.pl",
        "registered": registered,
        "confirm": lambda: confirmation_path(registered[-1]),
    }


def confirmation_path(email: str) -> str:
    """The path of the registration link last mailed to ``email``."""
    message = (
        OutboxMessage.select()
        .where(OutboxMessage.recipient == email)
        .order_by(OutboxMessage.id.desc())
        .first()
    )
    link = next(w for w in message.body_text.split() if "/register/confirm/" in w)
    return "/" + link.split("/", 3)[3]


def _triage_mail() -> None:
    """One e-mail waiting for an engineer, one rejected as forged."""
    now = utcnow()
    for status, minutes, sender, name, subject, body in (
        (
            "triage",
            25,
            "adam.nowak@szpital-gdansk.example.pl",
            "Adam Nowak",
            "Awaria przełącznika w serwerowni B",
            "Dzień dobry,\nprzełącznik X465 w serwerowni B nie odpowiada od rana."
            "\nNumer seryjny na naklejce: 2010Y-40225.\n\nAdam Nowak",
        ),
        ("rejected", 120, "biuro@podrobiony.example.com", "", "Re: Zgłoszenie", ""),
    ):
        ReceivedMail.create(
            message_id=f"<demo-{status}@example.pl>",
            folder="INBOX",
            received_at=now - timedelta(minutes=minutes),
            from_address=sender,
            from_name=name,
            subject=subject,
            body=body,
            status=status,
        )

"""The demo data (``hezo demo``) plus what the page states need to find in it:
one function that the axe test and ``scripts/screenshots`` both call inside an
app context, so they look at the same portal."""

import itertools
from datetime import date, timedelta
from pathlib import Path

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
    draft = _customer_draft(customer)
    import_done, import_queued = _import_runs(accounts["admin"].email)
    variant = _variant(accounts["admin"].email)
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
        "draft": draft.id,
        "import_done": import_done,
        "import_queued": import_queued,
        "variant": variant,
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


def _customer_draft(customer: User) -> ReceivedMail:
    """The customer's new e-mail thread waiting to be confirmed as a case."""
    return ReceivedMail.create(
        message_id="<demo-draft@example.pl>",
        folder="INBOX",
        received_at=utcnow() - timedelta(minutes=10),
        from_address=customer.email,
        from_name=customer.full_name,
        subject="Punkt dostępowy w magazynie restartuje się co godzinę",
        body="Dzień dobry,\nAP w magazynie restartuje się co godzinę od wczoraj.",
        status="draft",
        user=customer,
    )


def _variant(admin_email: str) -> int:
    """A custom variant, Mon-Fri 8:00-17:00 with a replacement in 8 hours."""
    from hezo import catalogue_db

    from ..test_service_catalogue import NINE_TO_FIVE

    admin = User.get(User.email == admin_email)
    return catalogue_db.save_variant(NINE_TO_FIVE, admin, utcnow()).id


def _import_runs(admin_email: str) -> tuple[int, int]:
    """The console's imports: a finished dry run of the sample contract
    register with one rejected line, and a run waiting for the worker."""
    from hezo.imports import runs

    admin = User.get(User.email == admin_email)
    folder = runs.import_folder()
    folder.mkdir(parents=True, exist_ok=True)
    sample = Path(__file__).parents[1] / "data" / "contracts-sample.csv"
    text = sample.read_text(encoding="utf-8")
    text += text.splitlines()[-1].replace("PW-TAC", "PW-NONE") + "\n"
    (folder / "demo-register.csv").write_text(text, encoding="utf-8")
    now = utcnow()
    done = runs.queue_dry_run(
        admin, "contracts", "rejestr-umow.csv", "demo-register.csv", len(text), now
    )
    runs.claim(done.id, now)
    runs.process(done)
    queued = runs.queue_dry_run(
        admin, "legacy", "eksport-portalu.json", "demo-export.json", 48_000, now
    )
    return done.id, queued.id

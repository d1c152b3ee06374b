"""E-mail intake: 10,000 messages in a real IMAP mailbox, taken by one pass.

    python bench/bench_intake.py [--messages 10000] [--backend sqlite|postgresql|both]

Starts a Dovecot of its own (``tests/dovecot.py``, Debian's dovecot-imapd), a
fresh database per backend (a SQLite file under ``bench/out/`` or a new
PostgreSQL schema), 200 open cases whose confirmation mail was queued (so
replies have Message-IDs to name), and appends the messages: 55 % replies of
the reporter to their case mail (with quoted history and a signature), 35 %
new threads from unknown senders, 5 % auto-replies, 5 % bounces. Then one
``run_pass`` in a fresh process takes them all (fetch by UID, parse, file,
commit, move to Processed) and reports its wall time and RSS high-water mark.

Targets (issue): at least 50 messages/s on SQLite, peak memory under 200 MB.
The exit status is 1 when a target is missed or a message was not taken
exactly once.
"""

import argparse
import os
import signal
import sys
import time
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import (  # noqa: E402
    DEFAULT_PG_URL,
    app_config,
    emit,
    fresh_pg_schema,
    fresh_sqlite,
    peak_rss_mb,
    remove_sqlite,
    run_child,
)

SCRIPT = Path(__file__).resolve()
TARGET_RATE = 50.0  # messages/s on SQLite
TARGET_PEAK_MB = 200.0
CASES = 200
USER = "pomoc"


def _config(url, schema, dovecot_port, uploads):
    return app_config(url, schema) | {
        "UPLOAD_FOLDER": uploads,
        "MAIL_INTAKE_HOST": "127.0.0.1",
        "MAIL_INTAKE_PORT": dovecot_port,
        "MAIL_INTAKE_SSL": False,
        "MAIL_INTAKE_USERNAME": USER,
        "MAIL_INTAKE_PASSWORD": "secret",
        "MAIL_INTAKE_BATCH": 100,
    }


def seed(config) -> list[tuple[str, str, str]]:
    """Cases with queued confirmation mail: ``(reporter, message_id, subject)``."""
    from datetime import date, timedelta

    from hezo import create_app
    from hezo.cases.services import open_case
    from hezo.db import db, utcnow
    from hezo.migrations import migrate_database
    from hezo.models import Company, Contract, Device, OutboxMessage, User

    app = create_app(config)
    with app.app_context():
        migrate_database()
        db.connect(reuse_if_open=True)
        with db.atomic():
            company = Company.create(nip="5260181596", name="Szpital Żółw")
            contract = Contract.create(
                number="HZ-2026-000001",
                customer=company,
                service_code="PW-AHR-NBD",
                start_date=date.today() - timedelta(days=30),
                end_date=date.today() + timedelta(days=300),
            )
            device = Device.create(contract=contract, serial="SN-1", product="X465")
            users = [
                User.create(
                    email=f"user{n}@szpital.pl",
                    first_name="Jan",
                    last_name=f"Nowak{n}",
                    role="customer",
                    company=company,
                    session_token=f"t{n:062d}",
                )
                for n in range(20)
            ]
        threads = []
        for n in range(CASES):
            user = users[n % len(users)]
            case = open_case(
                actor=user,
                contract=contract,
                device=device,
                subject=f"Awaria {n}",
                description="Port nie działa",
                severity="major",
                contact_phone="",
                files=[],
                now=utcnow(),
            )
            sent = OutboxMessage.get(
                (OutboxMessage.case == case) & (OutboxMessage.recipient == user.email)
            )
            threads.append((user.email, sent.message_id, sent.subject))
        db.close()
    return threads


def messages(count: int, threads) -> list[bytes]:
    from hezo.db import utcnow
    from tests.test_mail_intake import bounce_for

    out = []
    for n in range(count):
        kind = n % 20
        message = EmailMessage()
        message["To"] = "pomoc@myhezo.pl"
        message["Date"] = format_datetime(utcnow())
        message["Message-ID"] = make_msgid(domain="bench.example.pl")
        if kind == 19:
            out.append(bounce_for(f"gone{n}@example.pl"))
            continue
        if kind < 11:
            sender, msg_id, subject = threads[n % len(threads)]
            message["From"] = sender
            message["Subject"] = "Re: " + subject
            message["In-Reply-To"] = msg_id
            message["References"] = msg_id
            history = "\n".join(f"> linia {i} wcześniejszej" for i in range(30))
            message.set_content(
                f"Odpowiedź {n}: nadal nie działa.\n\n-- \nJan Nowak\n\n"
                f"On Tue, 1 Dec 2026 at 10:00, myHEZO wrote:\n{history}\n"
            )
        else:
            message["From"] = f"Nowy Klient <klient{n}@firma{n % 97}.pl>"
            message["Subject"] = f"Zgłoszenie {n}: switch nie wstaje"
            if kind == 18:
                message["Auto-Submitted"] = "auto-replied"
            message.set_content(f"Dzień dobry, urządzenie {n} nie działa. Zażółć.")
        out.append(bytes(message))
    return out


def child(args) -> None:
    """Measured: one intake pass over the whole mailbox."""
    from hezo import create_app
    from hezo.db import db
    from hezo.mail.intake import MailboxSettings, run_pass
    from hezo.models.mail import ReceivedMail

    schema = args.schema or None
    config = _config(args.url, schema, args.port, args.uploads)
    app = create_app(config)
    with app.app_context():
        db.connect(reuse_if_open=True)
        settings = MailboxSettings.from_config(app.config)
        started = time.perf_counter()
        report = run_pass(settings)
        seconds = time.perf_counter() - started
        rows = ReceivedMail.select().count()
        distinct = ReceivedMail.select(ReceivedMail.message_id).distinct().count()
    emit(
        {
            "seconds": seconds,
            "taken": report.taken,
            "counts": report.counts,
            "rows": rows,
            "distinct": distinct,
            "peak_mb": peak_rss_mb(),
        }
    )


def bench(backend: str, count: int, pg_url: str) -> bool:
    from tests.dovecot import Dovecot

    dovecot = Dovecot().start()
    uploads = str(Path(dovecot.dir) / "uploads")
    try:
        if backend == "sqlite":
            url, schema_cm = fresh_sqlite("bench-intake.db"), None
        else:
            url, schema_cm = pg_url, fresh_pg_schema(pg_url, "bench_intake")
        schema = schema_cm.__enter__() if schema_cm else None
        try:
            config = _config(url, schema, dovecot.port, uploads)
            threads = seed(config)
            raws = messages(count, threads)
            started = time.perf_counter()
            with dovecot.mailbox(USER) as box:
                for raw in raws:
                    box.append(raw, "INBOX")
            print(
                f"{backend}: {count} messages appended to Dovecot "
                f"in {time.perf_counter() - started:.1f} s"
            )
            result = run_child(
                SCRIPT,
                [
                    "--child",
                    "--url",
                    url,
                    "--schema",
                    schema or "",
                    "--port",
                    str(dovecot.port),
                    "--uploads",
                    uploads,
                ],
            )
        finally:
            if schema_cm:
                schema_cm.__exit__(None, None, None)
            elif backend == "sqlite":
                remove_sqlite(url)
        left = len(dovecot.uids(USER, "INBOX"))
        moved = len(dovecot.uids(USER, "Processed"))
    finally:
        dovecot.close()
    rate = result["taken"] / result["seconds"]
    print(
        f"{backend}: {result['taken']} messages in {result['seconds']:.1f} s = "
        f"{rate:.0f} messages/s, peak memory {result['peak_mb']:.0f} MB; "
        f"{', '.join(f'{k} {v}' for k, v in sorted(result['counts'].items()))}; "
        f"inbox left {left}, processed {moved}"
    )
    once = result["rows"] == result["distinct"] == count and moved == count
    ok = once and left == 0 and result["peak_mb"] < TARGET_PEAK_MB
    if backend == "sqlite":
        ok = ok and rate >= TARGET_RATE
    if not once:
        print(f"{backend}: NOT exactly once: {result}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument(
        "--backend", default="sqlite", choices=["sqlite", "postgresql", "both"]
    )
    parser.add_argument(
        "--pg-url", default=os.environ.get("HEZO_BENCH_PG_URL", DEFAULT_PG_URL)
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--schema", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--uploads", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return 0
    # Stopped (timeout, Ctrl-C): still stop Dovecot and drop the schema.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = [bench(b, args.messages, args.pg_url) for b in backends]
    print(
        f"targets: >= {TARGET_RATE:.0f} messages/s on SQLite, "
        f"< {TARGET_PEAK_MB:.0f} MB: {'met' if all(results) else 'MISSED'}"
    )
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())

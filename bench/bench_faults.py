"""Load and one fault: are acknowledged writes kept, mail sent once, errors honest?

    python bench/bench_faults.py --fault pg-kill|smtp-down|kill-worker|none
        [--sessions 50] [--seconds 60] [--workers 2] [--think 1.0]

Sets up, all on 127.0.0.1: a fresh PostgreSQL schema (``--pg-url``, default
``postgresql://127.0.0.1:5432/test``) with one company, contract and signed-in
customer per session; an aiosmtpd SMTP sink; two gunicorn instances of the
app (``--workers`` sync workers each) and one ``hezo outbox-worker``. Then
``--sessions`` customers, half on each instance, post for ``--seconds``: each
opens a case, then mostly replies on it and sometimes opens another, every
write with a unique text, pausing up to ``--think`` seconds between posts.
Meanwhile one fault happens, at a third of the run:

- ``pg-kill``: every backend of the portal (the app instances and the outbox
  worker, found by their ``application_name``) is terminated with
  ``pg_terminate_backend``, again every 0.2 s for 5 s, as a restart would
  drop them. The PostgreSQL server itself is not restarted: others use it.
- ``smtp-down``: the SMTP sink stops for 30 s, then comes back on its port.
- ``kill-worker``: ``kill -9`` of one gunicorn worker of the first instance
  (its master starts another).

After the run the outbox is given up to ``--drain`` (90) seconds to deliver
everything. Printed (and written to ``bench/out/faults-<fault>.json``):
requests and errors by kind (the portal's 503 page, a bare 500 without the
portal's page, connection errors, other statuses); writes acknowledged (303)
against those found in the database (lost = acknowledged, not found;
duplicated = one text stored twice); notifications queued against
delivered (by Message-ID; delivered twice counts as duplicated). The exit
status is 1 when a write is lost or duplicated, a notification is not
delivered or delivered twice, or a bare 500 was answered.

Every loop is bounded by time; every process started here is stopped at the
end, also on errors. Only loopback is contacted.
"""

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from html import unescape
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(1, str(BENCH_DIR.parent))

from bench_pages import COOKIE, HOST, Client, Gunicorn, free_port  # noqa: E402
from common import (  # noqa: E402
    DEFAULT_PG_URL,
    OUT_DIR,
    REPO_ROOT,
    fresh_pg_schema,
    stop_process_group,
)

VENV_BIN = Path(sys.executable).parent
APP_NAME = "hezo-bench-faults"
PASSWORD = "bench faults korek rower"
SECRET_KEY = "bench-faults-secret-key-not-for-production"
TOTP_KEY = "bench-faults-totp-key-not-for-production"
MARK = "bench-write"
FORM_RE = re.compile(r"<form\b[^>]*>.*?</form>", re.S)
HIDDEN_RE = re.compile(r'<input\b[^>]*\btype="hidden"[^>]*>')
ATTR_RE = re.compile(r'\b(name|value)="([^"]*)"')


def hidden_fields(page: str, action_suffix: str) -> dict:
    """The hidden inputs (CSRF token, one-time keys) of the form posting to a
    URL ending with ``action_suffix``."""
    for form in FORM_RE.findall(page):
        action = re.search(r'action="([^"]+)"', form)
        if action and unescape(action.group(1)).endswith(action_suffix):
            fields = (dict(ATTR_RE.findall(tag)) for tag in HIDDEN_RE.findall(form))
            return {f["name"]: unescape(f.get("value", "")) for f in fields}
    raise RuntimeError(f"no form posting to …{action_suffix}")


# -- the portal's data and processes -------------------------------------------


def seed(url: str, options: dict, sessions: int) -> list[dict]:
    """One company, contract, device and enrolled customer per session."""
    from datetime import date, timedelta

    import pyotp

    from hezo import create_app, crypto
    from hezo.accounts import passwords
    from hezo.db import db
    from hezo.migrations import migrate_database
    from hezo.models import Company, Contract, Device, User

    app = create_app(server_config(url, options))
    customers = []
    with app.app_context():
        migrate_database()
        today = date.today()
        password_hash = passwords.hash_password(PASSWORD)
        with db.atomic():
            for n in range(sessions):
                company = Company.create(nip=f"{9000000000 + n}", name=f"Firma {n}")
                contract = Contract.create(
                    number=f"HZ-BENCH-{n:05d}",
                    customer=company,
                    service_code="PW-AHR-NBD",
                    start_date=today - timedelta(days=30),
                    end_date=today + timedelta(days=300),
                )
                Device.create(contract=contract, serial=f"BF{n:08d}", product="X465")
                secret = pyotp.random_base32()
                User.create(
                    email=f"bench{n}@example.pl",
                    first_name="Jan",
                    last_name=f"Bench{n}",
                    role="customer",
                    company=company,
                    language="en",
                    password_hash=password_hash,
                    totp_secret=crypto.encrypt_secret(secret),
                )
                customers.append(
                    {
                        "email": f"bench{n}@example.pl",
                        "totp": secret,
                        "contract": contract.number,
                        "serial": f"BF{n:08d}",
                    }
                )
    db.close()
    db.obj.close_all()
    return customers


def server_config(url: str, options: dict) -> dict:
    return {
        "DATABASE_URL": url,
        "DATABASE_OPTIONS": options,
        "SECRET_KEY": SECRET_KEY,
        "TOTP_ENCRYPTION_KEY": TOTP_KEY,
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "TESTING": True,
    }


def server_env(url: str, options: dict, smtp_port: int, uploads: Path) -> dict:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(REPO_ROOT),
        HEZO_DATABASE_URL=url,
        HEZO_DATABASE_OPTIONS=json.dumps(options),
        HEZO_SECRET_KEY=SECRET_KEY,
        HEZO_TOTP_ENCRYPTION_KEY=TOTP_KEY,
        # A fast hash: 50 sign-ins at 600,000 rounds would be the benchmark.
        HEZO_PASSWORD_HASH_METHOD="pbkdf2:sha256:1000",
        HEZO_TRUSTED_HOSTS=json.dumps([HOST]),
        HEZO_SESSION_COOKIE_SECURE="false",
        HEZO_SESSION_COOKIE_NAME=COOKIE,
        HEZO_RATELIMIT_ENABLED="false",
        HEZO_SMTP_HOST=HOST,
        HEZO_SMTP_PORT=str(smtp_port),
        HEZO_SMTP_TIMEOUT="5",
        HEZO_UPLOAD_FOLDER=str(uploads),
    )
    return env


class SmtpSink:
    """aiosmtpd on a fixed loopback port, counting messages by Message-ID."""

    def __init__(self, port: int):
        self.port = port
        self.received: Counter = Counter()
        self.first_seen: dict[int, float] = {}  # outbox id -> arrival (epoch)
        self.controller = None

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                head = envelope.original_content.split(b"\r\n\r\n", 1)[0]
                match = re.search(rb"Message-ID: <outbox\.(\d+)\.", head, re.I)
                key = int(match.group(1)) if match else -1
                sink.received[key] += 1
                sink.first_seen.setdefault(key, time.time())
                return "250 Message accepted"

        self.controller = Controller(Handler(), hostname=HOST, port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


class OutboxWorker:
    def __init__(self, env: dict, log: Path):
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "hezo"), "outbox-worker", "--interval", "1"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self) -> None:
        stop_process_group(self.proc)


def worker_pids(master: int) -> list[int]:
    """The gunicorn workers: the master's child processes (from /proc)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:
            children.append(int(stat.parent.name))
    return sorted(children)


# -- the sessions ----------------------------------------------------------------


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = 0
        self.errors: Counter = Counter()
        self.acknowledged: set[str] = set()
        self.attempted: set[str] = set()

    def record(self, status: int | None, headers: dict, body: bytes, error=None):
        with self.lock:
            self.requests += 1
            if error is not None:
                self.errors[f"connection: {type(error).__name__}"] += 1
            elif status >= 500 and b"myHEZO" not in body:
                self.errors[f"bare {status}"] += 1
            elif status == 503 and "Retry-After" in headers:
                self.errors["503 page (database)"] += 1
            elif status >= 400:
                self.errors[f"{status} page"] += 1


def call(client: Client, tally: Tally, method: str, path: str, form=None):
    try:
        status, headers, body = client.request(method, path, form)
    except OSError as exc:  # refused, reset, closed, timed out
        tally.record(None, {}, b"", exc)
        return None, {}, b""
    tally.record(status, headers, body)
    return status, headers, body


def session(
    n: int, customer: dict, port: int, tally: Tally, until: float, think: float
) -> None:
    """Sign in, open a case, then reply on it (and now and then open another)."""
    rng = random.Random(n)
    client = Client(port, timeout=30)
    for attempt in range(5):
        try:
            client.sign_in(customer["email"], PASSWORD, customer["totp"])
            break
        except (OSError, RuntimeError):
            time.sleep(1 + attempt)
    else:
        tally.record(None, {}, b"", RuntimeError("sign-in"))
        return
    case_url, writes = None, 0
    while time.monotonic() < until:
        writes += 1
        text = f"{MARK} {n}-{writes}"
        if case_url is None or rng.random() < 0.15:
            status, _h, body = call(client, tally, "GET", "/en/cases/new")
            if status != 200:
                time.sleep(1)
                continue
            form = hidden_fields(body.decode(), "/cases/new") | {
                "contract": customer["contract"],
                "serial": customer["serial"],
                "subject": text,
                "description": text,
                "severity": "minor",
                "contact_phone": "+48 600 100 200",
            }
            path = "/en/cases/new"
        else:
            status, _h, body = call(client, tally, "GET", case_url)
            if status != 200:
                time.sleep(1)
                continue
            form = hidden_fields(body.decode(), case_url + "/messages") | {"body": text}
            path = case_url + "/messages"
        with tally.lock:
            tally.attempted.add(text)
        status, headers, _b = call(client, tally, "POST", path, form)
        if status == 303:
            with tally.lock:
                tally.acknowledged.add(text)
            if path.endswith("/new"):
                case_url = headers["Location"].removeprefix(f"http://{HOST}:{port}")
        time.sleep(rng.uniform(0, think))


# -- faults ----------------------------------------------------------------------


def kill_backends(pg_url: str, seconds: float = 5.0) -> int:
    import psycopg

    killed, deadline = 0, time.monotonic() + seconds
    with psycopg.connect(pg_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s AND pid <> pg_backend_pid()",
                (APP_NAME,),
            ).fetchall()
            killed += sum(1 for (ok,) in rows if ok)
            time.sleep(0.2)
    return killed


def make_fault(kind: str, pg_url: str, sink: SmtpSink, instance: Gunicorn):
    def fault() -> dict:
        if kind == "pg-kill":
            return {"backends_terminated": kill_backends(pg_url)}
        if kind == "smtp-down":
            sink.stop()
            time.sleep(30)
            sink.start()
            return {"smtp_down_seconds": 30}
        if kind == "kill-worker":
            pids = worker_pids(instance.proc.pid)
            os.kill(pids[0], signal.SIGKILL)
            return {"killed_worker": pids[0], "workers_before": len(pids)}
        return {}

    return fault


# -- the run -----------------------------------------------------------------------


def check_connection(url: str, options: dict):
    """A connection of the benchmark's own (not one the pg-kill fault ends)."""
    import psycopg

    options = options | {"application_name": "hezo-bench-check"}
    return psycopg.connect(url, autocommit=True, **options)


def found_writes(url: str, options: dict) -> Counter:
    """Every benchmark text stored, as case subjects and as messages."""
    with check_connection(url, options) as conn:
        rows = conn.execute(
            "SELECT subject FROM support_case WHERE subject LIKE %s "
            "UNION ALL SELECT body FROM message WHERE body LIKE %s "
            "AND body NOT IN (SELECT description FROM support_case)",
            (MARK + " %", MARK + " %"),
        ).fetchall()
    return Counter(text for (text,) in rows)


def mail_delays(url: str, options: dict, first_seen: dict) -> dict:
    """Seconds from queueing (the write's commit) to arrival at the sink."""
    with check_connection(url, options) as conn:
        queued = dict(
            conn.execute(
                "SELECT id, extract(epoch FROM created_at) FROM outbox_message"
            ).fetchall()
        )
    delays = sorted(first_seen[k] - float(queued[k]) for k in first_seen if k in queued)
    if not delays:
        return {}
    return {
        "mail_delay_median_s": round(delays[len(delays) // 2], 1),
        "mail_delay_max_s": round(delays[-1], 1),
    }


def outbox_state(url: str, options: dict) -> tuple[int, int]:
    with check_connection(url, options) as conn:
        return conn.execute(
            "SELECT count(*), count(sent_at) FROM outbox_message"
        ).fetchone()


def run(args: argparse.Namespace) -> dict:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    uploads = OUT_DIR / "faults-uploads"
    with fresh_pg_schema(args.pg_url, "bench_faults") as schema:
        options = {"options": f"-c search_path={schema}", "application_name": APP_NAME}
        customers = seed(args.pg_url, options, args.sessions)
        sink = SmtpSink(free_port())
        sink.start()
        env = server_env(args.pg_url, options, sink.port, uploads)
        processes: list = []
        try:
            instances = []
            for name in ("a", "b"):
                instance = Gunicorn(
                    name,
                    "app:app",
                    REPO_ROOT,
                    env,
                    args.workers,
                    OUT_DIR / f"faults-{args.fault}-{name}.log",
                )
                processes.append(instance)
                instances.append(instance)
            for instance in instances:
                instance.wait_ready("/en/login")
            processes.append(
                OutboxWorker(env, OUT_DIR / f"faults-{args.fault}-outbox.log")
            )
            return measure(args, customers, instances, sink, options)
        finally:
            for process in reversed(processes):
                process.stop()
            sink.stop()


def measure(args, customers, instances, sink, options) -> dict:
    tally = Tally()
    started = time.monotonic()
    until = started + args.seconds
    threads = [
        threading.Thread(
            target=session,
            args=(n, c, instances[n % 2].port, tally, until, args.think),
            daemon=True,
        )
        for n, c in enumerate(customers)
    ]
    for thread in threads:
        thread.start()
    fault_result: dict = {}
    delay = args.seconds / 3
    time.sleep(delay)
    fault_at = time.monotonic() - started
    fault_result = make_fault(args.fault, args.pg_url, sink, instances[0])()
    for thread in threads:
        thread.join(max(0.0, until - time.monotonic()) + 45)
    load_seconds = time.monotonic() - started

    queued = sent = 0
    deadline = time.monotonic() + args.drain
    while time.monotonic() < deadline:
        queued, sent = outbox_state(args.pg_url, options)
        if sent == queued and sum(sink.received.values()) >= queued:
            break
        time.sleep(1)
    found = found_writes(args.pg_url, options)
    acknowledged = tally.acknowledged
    delivered = {k: v for k, v in sink.received.items() if k > 0}
    return {
        "fault": args.fault,
        "fault_at_s": round(fault_at, 1),
        **fault_result,
        "sessions": args.sessions,
        "seconds": round(load_seconds, 1),
        "requests": tally.requests,
        "errors": dict(tally.errors.most_common()),
        "writes_attempted": len(tally.attempted),
        "writes_acknowledged": len(acknowledged),
        "writes_found": len(found),
        "writes_lost": sorted(acknowledged - set(found)),
        "writes_duplicated": sorted(t for t, c in found.items() if c > 1),
        "found_not_acknowledged": len(set(found) - acknowledged),
        "notifications_queued": queued,
        "notifications_marked_sent": sent,
        "notifications_delivered": len(delivered),
        "notifications_delivered_twice": sorted(
            k for k, v in delivered.items() if v > 1
        ),
        **mail_delays(args.pg_url, options, sink.first_seen),
        "load_after": os.getloadavg()[0],
    }


def report(result: dict) -> bool:
    print(
        f"fault {result['fault']} at {result['fault_at_s']} s "
        f"{ {k: v for k, v in result.items() if k in FAULT_KEYS} }"
    )
    print(
        f"{result['sessions']} sessions, {result['seconds']} s: "
        f"{result['requests']} requests"
    )
    for kind, count in result["errors"].items() or [("none", 0)]:
        print(f"  errors {kind:28} {count}")
    print(
        f"writes: {result['writes_attempted']} posted, "
        f"{result['writes_acknowledged']} acknowledged, "
        f"{result['writes_found']} found; lost {len(result['writes_lost'])}, "
        f"duplicated {len(result['writes_duplicated'])}, stored without "
        f"acknowledgement {result['found_not_acknowledged']}"
    )
    print(
        f"notifications: {result['notifications_queued']} queued, "
        f"{result['notifications_delivered']} delivered, delivered twice "
        f"{len(result['notifications_delivered_twice'])}; from commit to "
        f"arrival median {result.get('mail_delay_median_s')} s, "
        f"max {result.get('mail_delay_max_s')} s"
    )
    bare = sum(v for k, v in result["errors"].items() if k.startswith("bare"))
    return not (
        result["writes_lost"]
        or result["writes_duplicated"]
        or bare
        or result["notifications_delivered"] != result["notifications_queued"]
        or result["notifications_delivered_twice"]
    )


FAULT_KEYS = (
    "backends_terminated",
    "smtp_down_seconds",
    "killed_worker",
    "workers_before",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--fault",
        required=True,
        choices=["pg-kill", "smtp-down", "kill-worker", "none"],
    )
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--think", type=float, default=1.0)
    parser.add_argument("--drain", type=float, default=90)
    parser.add_argument(
        "--pg-url", default=os.environ.get("HEZO_BENCH_POSTGRES_URL", DEFAULT_PG_URL)
    )
    args = parser.parse_args()
    result = run(args)
    (OUT_DIR / f"faults-{args.fault}.json").write_text(json.dumps(result, indent=2))
    sys.exit(0 if report(result) else 1)


if __name__ == "__main__":
    main()

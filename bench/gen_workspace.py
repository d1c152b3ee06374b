"""Generate the page-benchmark workspace: a portal with years of data.

    python bench/gen_workspace.py --backend sqlite|postgresql [--scale 1.0]
        [--seed 1] [--pg-url postgresql://127.0.0.1:5432/test]

At scale 1.0: 5,000 companies (100 of them partners), 50,000 contracts, 500,000
serial numbers, 200,000 cases (20,000 open, spread over the open statuses, the
running clocks in ``next_due_at``), 2,000,000 messages, about 100,000
attachments, 800,000 status changes and the consent events of the shared cases.
One company ("the big company") has 300 contracts with exactly 3,000 serial
numbers, about 1,500 cases, a customer whose password and TOTP secret are known
(written to the manifest) and two open cases with exactly 50 and 100 messages.
There are 20 engineers; the first one's credentials are in the manifest too.
``--scale`` multiplies every count except the big company's contracts and
serials, the two special cases and the 20 engineers.

SQLite: ``bench/out/workspace.db`` (removed and rebuilt). PostgreSQL: the schema
``bench_ws`` (dropped and recreated) in ``--pg-url``. The schema comes from the
app's migrations (``hezo.migrations.migrate_database``); the rows are then written
straight into the tables in one pass per table, bypassing the app's services:
``executemany`` of one prepared INSERT in a single transaction with
``synchronous=OFF`` and no rollback journal on SQLite, ``COPY ... FROM STDIN``
(psycopg's ``cursor.copy()``) with foreign-key triggers off on PostgreSQL.
Ids are assigned here, so no row is read back; the PostgreSQL sequences are
moved past them afterwards. ``ANALYZE`` runs at the end.

Timestamps are written as naive UTC text ``YYYY-MM-DD HH:MM:SS``, the format
peewee writes for ``UTCDateTimeField``; dates as ``YYYY-MM-DD``.

A manifest ``bench/out/workspace-<backend>.json`` records the URL, the counts,
the keys the app must run with (``SECRET_KEY``, ``TOTP_ENCRYPTION_KEY``: the
TOTP secrets are encrypted with the latter) and what ``bench_pages.py``
requests: the users, the two case numbers and a serial-number prefix.
"""

import argparse
import json
import os
import random
import secrets
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(1, str(BENCH_DIR.parent))

from common import DEFAULT_PG_URL, OUT_DIR, remove_sqlite  # noqa: E402
from gen_contract_register import (  # noqa: E402
    PRODUCTS,
    SERVICE_WEIGHTS,
    company_name,
    new_nip,
    partner_name,
)

PG_SCHEMA = "bench_ws"
SQLITE_NAME = "workspace.db"
SECRET_KEY = "bench-secret-key-not-for-production"
TOTP_ENCRYPTION_KEY = "bench-totp-encryption-key-not-for-production"
PASSWORD = "korek płotek rower 42"  # tests/factories.py's, a valid passphrase
CUSTOMER_EMAIL = "bench.customer@example.pl"
ENGINEER_EMAIL = "bench.engineer@example.pl"
# Known TOTP secrets (base32, 160 bits) of the two benchmark users.
CUSTOMER_TOTP = "JBSWY3DPEHPK3PXPKRSXG5BAMJSW4Y3I"
ENGINEER_TOTP = "MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U"
SEARCH_PREFIX = "SW-0001"  # matches serials 1,000-1,999: the big company's only

FULL = {
    "companies": 5_000,
    "contracts": 50_000,
    "devices": 500_000,
    "cases": 200_000,
    "open_cases": 20_000,
    "messages": 2_000_000,
}
BIG_CONTRACTS = 300
BIG_DEVICES = 3_000
BIG_CASES = 1_500  # scaled
ENGINEERS = 20
SPECIAL_MESSAGES = (50, 100)

OPEN_WEIGHTS = {
    "new": 25,
    "in_verification": 30,
    "waiting_for_customer": 15,
    "validated": 10,
    "replacement_sent": 10,
    "awaiting_return": 10,
}
PATHS = {
    "new": ("new",),
    "in_verification": ("new", "in_verification"),
    "waiting_for_customer": ("new", "in_verification", "waiting_for_customer"),
    "validated": ("new", "in_verification", "validated"),
    "replacement_sent": ("new", "in_verification", "validated", "replacement_sent"),
    "awaiting_return": (
        "new",
        "in_verification",
        "validated",
        "replacement_sent",
        "awaiting_return",
    ),
    "resolved": ("new", "in_verification", "resolved"),
    "closed": ("new", "in_verification", "resolved", "closed"),
    "closed_replaced": (
        "new",
        "in_verification",
        "validated",
        "replacement_sent",
        "awaiting_return",
        "closed",
    ),
}
FIRST_NAMES = (
    "Anna",
    "Piotr",
    "Katarzyna",
    "Tomasz",
    "Małgorzata",
    "Paweł",
    "Agnieszka",
    "Michał",
    "Ewa",
    "Łukasz",
    "Zofia",
    "Grzegorz",
    "Joanna",
    "Jędrzej",
    "Barbara",
    "Krzysztof",
)
LAST_NAMES = (
    "Nowak",
    "Kowalska",
    "Wiśniewski",
    "Wójcik",
    "Kowalczyk",
    "Kamińska",
    "Lewandowski",
    "Zielińska",
    "Szymański",
    "Woźniak",
    "Dąbrowski",
    "Kozłowska",
    "Jankowski",
    "Mazur",
    "Kwiatkowska",
)
SUBJECTS = (
    "{p} nie uruchamia się po aktualizacji",
    "Zasilacz {p} sygnalizuje awarię",
    "Porty 1-24 w {p} tracą łącze",
    "{p}: błąd CRC na uplinku",
    "Wentylator {p} — alarm temperatury",
    "{p} restartuje się co kilka godzin",
    "Prośba o RMA dla {p}",
    "Brak zarządzania {p} z ExtremeCloud IQ",
    "{p}: pętla rozruchowa po zaniku zasilania",
    "Licencja {p} wygasła przed czasem",
    "Uszkodzony moduł SFP w {p}",
    "{p} — wysoka utrata pakietów na VLAN 20",
)
SENTENCES = (
    "Dzień dobry, urządzenie przestało odpowiadać w nocy.",
    "W załączeniu przesyłam logi z konsoli oraz show tech.",
    "Proszę o pilny kontakt, dotyczy to sieci szpitalnej.",
    "Po restarcie problem wrócił po około dwóch godzinach.",
    "Zweryfikowaliśmy konfigurację i nie widzimy w niej błędów.",
    "Proszę wykonać polecenie show log i przesłać wynik.",
    "Zamiennik zostanie wysłany kurierem jutro przed południem.",
    "Uszkodzone urządzenie prosimy odesłać w ciągu siedmiu dni.",
    "Czy problem występuje na wszystkich portach, czy tylko na części?",
    "Aktualizacja do najnowszej wersji oprogramowania nie pomogła.",
    "Dziękujemy, potwierdzamy otrzymanie przesyłki.",
    "Na diodzie statusu widać pulsujące światło pomarańczowe.",
    "Zgłoszenie przekazaliśmy do producenta (TAC), czekamy na analizę.",
    "Awaria dotyczy szafy w serwerowni na drugim piętrze.",
    "Proszę o numer listu przewozowego zwrotu.",
    "Temperatura w pomieszczeniu jest w normie, około 22°C.",
    "Po wymianie zasilacza urządzenie działa poprawnie.",
    "Czy możemy zamknąć zgłoszenie? Nie obserwujemy już błędów.",
    "Jesteśmy dostępni pod telefonem od 8:00 do 16:00.",
    "Załączam zrzut ekranu z panelu zarządzania — widać żółty alarm.",
)
FILE_NAMES = (
    "show-tech.txt",
    "log-konsola.log",
    "zdjecie-diody.jpg",
    "konfiguracja.cfg",
    "eksport-xiq.csv",
    "protokol.pdf",
)
CONTENT_TYPES = {
    "txt": "text/plain",
    "log": "text/plain",
    "jpg": "image/jpeg",
    "cfg": "text/plain",
    "csv": "text/csv",
    "pdf": "application/pdf",
}
CARRIERS = ("DHL", "UPS", "DPD", "InPost")


def ts(moment: datetime) -> str:
    """Naive UTC as peewee writes it (whole seconds)."""
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def split(total: int, parts: int, rng: random.Random, minimum: int = 1) -> list[int]:
    """``parts`` counts of at least ``minimum`` that add up to ``total``."""
    rest = total - minimum * parts
    if parts <= 0 or rest < 0:
        raise ValueError(f"cannot split {total} into {parts} parts of {minimum}+")
    counts = [minimum] * parts
    for i in rng.choices(range(parts), k=rest):
        counts[i] += 1
    return counts


def manifest_path(backend: str) -> Path:
    return OUT_DIR / f"workspace-{backend}.json"


def scaled(scale: float) -> dict[str, int]:
    n = {k: max(1, round(v * scale)) for k, v in FULL.items()}
    n["companies"] = max(n["companies"], 40)
    n["partners"] = max(4, n["companies"] // 50)
    n["contracts"] = max(n["contracts"], BIG_CONTRACTS + 2 * n["companies"])
    n["devices"] = max(n["devices"], BIG_DEVICES + 2 * n["contracts"])
    n["big_cases"] = max(150, round(BIG_CASES * scale))
    n["cases"] = max(n["cases"], 2 * n["big_cases"])
    n["open_cases"] = max(n["open_cases"], n["cases"] // 10)
    n["messages"] = max(n["messages"], sum(SPECIAL_MESSAGES) + 2 * n["cases"])
    return n


# -- writing ---------------------------------------------------------------


class Writer:
    """Bulk rows into one table at a time, the fastest way each backend has."""

    def __init__(self, backend: str, conn):
        self.backend = backend
        self.conn = conn
        self.counts: dict[str, int] = {}

    def write(self, table: str, columns: tuple[str, ...], rows) -> int:
        started = time.perf_counter()
        cols = ", ".join(f'"{c}"' for c in columns)
        count = 0

        def counted():
            nonlocal count
            for row in rows:
                count += 1
                yield row

        if self.backend == "sqlite":
            marks = ", ".join("?" * len(columns))
            self.conn.executemany(
                f'INSERT INTO "{table}" ({cols}) VALUES ({marks})', counted()
            )
        else:
            with self.conn.cursor() as cur:
                with cur.copy(f'COPY "{table}" ({cols}) FROM STDIN') as copy:
                    for row in counted():
                        copy.write_row(row)
        self.counts[table] = self.counts.get(table, 0) + count
        seconds = time.perf_counter() - started
        print(
            f"  {table:<15} {count:>10,} rows {seconds:7.1f} s "
            f"({count / max(seconds, 1e-9):,.0f} rows/s)",
            flush=True,
        )
        return count


# -- the data ----------------------------------------------------------------


class Workspace:
    def __init__(self, scale: float, seed: int, now: datetime):
        self.n = scaled(scale)
        self.rng = random.Random(seed)
        self.now = now  # naive UTC, whole seconds
        self.scale = scale

    # companies, contracts, devices ------------------------------------------

    def companies(self):
        rng, n = self.rng, self.n
        taken: set[str] = set()
        created = ts(self.now - timedelta(days=900))
        # ids 1..P are partners, P+1 is the big company, then the customers
        self.partner_ids = list(range(1, n["partners"] + 1))
        self.big_company = n["partners"] + 1
        self.customer_ids = list(range(self.big_company + 1, n["companies"] + 1))
        self.company_names = {}
        for cid in range(1, n["companies"] + 1):
            if cid <= n["partners"]:
                name = partner_name(rng, cid)
            elif cid == self.big_company:
                name = "Szpital Wojewódzki im. Św. Łukasza w Żninie"
            else:
                name = company_name(rng)
            self.company_names[cid] = name
            yield (cid, new_nip(rng, taken), name, created, created)

    def contracts(self):
        rng, n = self.rng, self.n
        codes, weights = list(SERVICE_WEIGHTS), list(SERVICE_WEIGHTS.values())
        today = self.now.date()
        others = n["contracts"] - BIG_CONTRACTS
        per_customer = split(others, len(self.customer_ids), rng)
        owners = [self.big_company] * BIG_CONTRACTS
        for cid, k in zip(self.customer_ids, per_customer, strict=True):
            owners.extend([cid] * k)
        self.contract_owner = owners  # index = contract id - 1
        self.contract_partner = []
        self.contract_numbers = []
        created = ts(self.now - timedelta(days=400))
        for i, customer in enumerate(owners):
            cid = i + 1
            start = today - timedelta(days=rng.randrange(0, 4 * 365))
            if customer == self.big_company and i % 3 == 0:
                start = today - timedelta(days=rng.randrange(0, 300))  # mostly active
            years = rng.choice((1, 1, 2, 3, 3, 5))
            end = start + timedelta(days=365 * years - 1)
            partner = rng.choice(self.partner_ids) if rng.random() < 0.92 else None
            legacy = f"PW/{start.year - 2}/{cid:06d}" if rng.random() < 0.3 else None
            number = f"HZ-{start.year}-{cid:06d}"
            self.contract_partner.append(partner)
            self.contract_numbers.append(number)
            yield (
                cid,
                number,
                legacy,
                customer,
                partner,
                rng.choices(codes, weights)[0],
                start.isoformat(),
                end.isoformat(),
                created,
                created,
            )

    def devices(self):
        rng, n = self.rng, self.n
        sizes = [BIG_DEVICES // BIG_CONTRACTS] * BIG_CONTRACTS
        sizes += split(n["devices"] - BIG_DEVICES, n["contracts"] - BIG_CONTRACTS, rng)
        self.first_device = []
        self.device_count = sizes
        self.device_product = []
        device_id = 0
        letters = "ABCDEFGHJKLMNPRSTUVWXY"
        for contract_index, size in enumerate(sizes):
            self.first_device.append(device_id + 1)
            for _ in range(size):
                device_id += 1
                product = rng.choice(PRODUCTS)
                self.device_product.append(product)
                if contract_index < BIG_CONTRACTS or rng.random() < 0.2:
                    serial = f"SW-{device_id:07d}"
                elif rng.random() < 0.85:
                    week = f"{rng.randint(15, 25)}{rng.randint(1, 52):02d}"
                    serial = f"{week}{rng.choice(letters)}-{device_id:07d}"
                else:
                    serial = f"A{rng.randint(1, 9)}{device_id:08d}"
                yield (device_id, contract_index + 1, serial, product)

    # users ------------------------------------------------------------------

    def users(
        self, password_hash: str, secrets_by_email: dict[str, str], other_secret: str
    ):
        rng = self.rng
        created = ts(self.now - timedelta(days=700))
        uid = 0
        self.engineer_ids = []
        self.engineer_names = {}
        self.company_users: dict[int, list[int]] = {}
        self.user_names = {}

        def row(email, role, company, first, last):
            nonlocal uid
            uid += 1
            self.user_names[uid] = f"{first} {last}"
            return (
                uid,
                email,
                first,
                last,
                "+48 600 100 200",
                "pl",
                role,
                company,
                password_hash,
                secrets_by_email.get(email, other_secret),
                0,
                secrets.token_urlsafe(32),
                1,
                0,
                1,
                created,
                "",
            )

        for k in range(ENGINEERS):
            email = ENGINEER_EMAIL if k == 0 else f"inzynier{k}@hezo.example.pl"
            first, last = FIRST_NAMES[k % len(FIRST_NAMES)], f"Serwisant{k}"
            yield row(email, "engineer", None, first, last)
            self.engineer_ids.append(uid)
        yield row(
            CUSTOMER_EMAIL, "customer", self.big_company, "Jadwiga", "Świątek-Bench"
        )
        self.customer_id = uid
        self.company_users[self.big_company] = [uid]
        for k in range(2):
            yield row(
                f"it{k}@szpital-znin.example.pl",
                "customer",
                self.big_company,
                rng.choice(FIRST_NAMES),
                rng.choice(LAST_NAMES),
            )
            self.company_users[self.big_company].append(uid)
        for cid in self.customer_ids:
            yield row(
                f"serwis@firma{cid}.example.pl",
                "customer",
                cid,
                rng.choice(FIRST_NAMES),
                rng.choice(LAST_NAMES),
            )
            self.company_users[cid] = [uid]

    # cases --------------------------------------------------------------------

    def plan_cases(self):
        """Decide every case's company, contract, device, status and clock."""
        rng, n = self.rng, self.n
        total, n_open = n["cases"], n["open_cases"]
        candidates = range(total - min(total, int(n_open * 1.5)), total)
        open_set = set(rng.sample(candidates, n_open))
        big_set = set(rng.sample(range(total), n["big_cases"]))
        big_open = sorted(big_set & open_set)
        if len(big_open) < 2:
            raise RuntimeError("the big company needs two open cases")
        self.special = {
            SPECIAL_MESSAGES[0]: big_open[-1],
            SPECIAL_MESSAGES[1]: big_open[-2],
        }
        special_index = {i: k for k, i in self.special.items()}
        counts = split(n["messages"] - sum(SPECIAL_MESSAGES), total - 2, rng)
        statuses, weights = list(OPEN_WEIGHTS), list(OPEN_WEIGHTS.values())
        span = timedelta(days=3 * 365).total_seconds()
        start = self.now - timedelta(days=3 * 365)
        other_contracts = n["contracts"] - BIG_CONTRACTS
        plans = []
        next_count = iter(counts)
        for i in range(total):
            reported = start + timedelta(seconds=span * (i + rng.random()) / total)
            if i in big_set:
                contract = rng.randrange(BIG_CONTRACTS)
            else:
                contract = BIG_CONTRACTS + rng.randrange(other_contracts)
            device = self.first_device[contract] + rng.randrange(
                self.device_count[contract]
            )
            if i in open_set:
                status = rng.choices(statuses, weights)[0]
                if i in special_index:
                    status = "in_verification"
                end = self.now - timedelta(minutes=rng.randrange(5, 600))
                end = max(end, reported + timedelta(minutes=10))
            else:
                r = rng.random()
                status = (
                    "resolved"
                    if r < 0.1
                    else "closed_replaced"
                    if r < 0.3
                    else "closed"
                )
                end = reported + timedelta(hours=rng.randrange(2, 24 * 20))
            messages = special_index[i] if i in special_index else next(next_count)
            plans.append((contract, device, status, reported, end, messages))
        self.plans = plans
        self.is_shared = {}

    def cases(self):
        rng, now = self.rng, self.now
        severities = ("critical", "major", "major", "minor", "minor", "minor")
        channels = ("portal",) * 14 + ("phone",) * 3 + ("email",) * 2
        self.case_numbers = {}
        self.open_count = self.due_count = 0
        for i, (contract, device, status, reported, end, k) in enumerate(self.plans):
            case_id = i + 1
            number = f"ZG-{reported.year}-{case_id:06d}"
            self.case_numbers[i] = number
            company = self.contract_owner[contract]
            partner = self.contract_partner[contract]
            reporter = rng.choice(self.company_users[company])
            final = "closed" if status == "closed_replaced" else status
            is_open = final not in ("resolved", "closed")
            channel = rng.choice(channels)
            legacy_id = None
            if not is_open and rng.random() < 0.1:
                channel, legacy_id = "migrated", f"OLD-{case_id:07d}"
            shared = partner is not None and rng.random() < 0.1
            self.is_shared[i] = shared
            assignee = (
                rng.choice(self.engineer_ids)
                if final != "new" or rng.random() < 0.2
                else None
            )
            severity = rng.choice(severities)
            response_due = reported + timedelta(hours=1)
            first_response = (
                None
                if final == "new" or (final == "in_verification" and rng.random() < 0.5)
                else reported + timedelta(minutes=rng.randrange(5, 55))
            )
            validated = delivery_due = shipped = delivered = None
            return_due = returned = paused = None
            carrier = waybill = return_waybill = ""
            path = PATHS[status]
            if "validated" in path:
                validated = reported + timedelta(hours=3)
                delivery_due = validated + timedelta(hours=20)
            if "replacement_sent" in path:
                shipped = validated + timedelta(hours=4)
                carrier = rng.choice(CARRIERS)
                waybill = f"{rng.randrange(10**11, 10**12)}"
            if "awaiting_return" in path:
                delivered = shipped + timedelta(hours=18)
                return_due = delivered + timedelta(days=7)
            if final == "closed" and "awaiting_return" in path:
                returned = delivered + timedelta(days=3)
                return_waybill = f"{rng.randrange(10**11, 10**12)}"
            next_due = None
            if is_open:
                self.open_count += 1
                # The clock that runs, due somewhere from two days ago to ten
                # days ahead, so the queue has breached, due-soon and later rows.
                due = now + timedelta(minutes=rng.randrange(-2 * 1440, 10 * 1440))
                if final == "waiting_for_customer":
                    paused = end
                elif first_response is None:
                    next_due = response_due = due
                elif final in ("validated", "replacement_sent"):
                    next_due = delivery_due = due
                elif final == "awaiting_return":
                    next_due = return_due = due
            if next_due is not None:
                self.due_count += 1
            escalated = end if is_open and rng.random() < 0.02 else None
            last_activity = reported + (end - reported) * ((k - 1) / max(k, 1))
            product = self.device_product[device - 1]
            subject = rng.choice(SUBJECTS).format(p=product)
            contact = self.user_names[reporter]
            yield (
                case_id,
                number,
                company,
                contract + 1,
                device,
                subject,
                rng.choice(SENTENCES),
                severity,
                channel,
                final,
                int(shared),
                reporter,
                contact,
                f"kontakt{reporter}@example.pl",
                "+48 600 100 200",
                assignee,
                legacy_id,
                ts(reported),
                opt(response_due),
                opt(first_response),
                opt(validated),
                opt(delivery_due),
                opt(shipped),
                carrier,
                waybill,
                opt(delivered),
                opt(return_due),
                opt(returned),
                return_waybill,
                opt(next_due),
                opt(paused),
                0,
                opt(escalated),
                "Brak odpowiedzi od dwóch dni." if escalated else "",
                ts(last_activity),
                ts(reported),
                "",
                "",
                "",
            )

    def messages(self):
        """Messages in case order (append-only index inserts) and their files."""
        rng = self.rng
        bodies = []
        for _ in range(1000):
            parts = rng.sample(SENTENCES, rng.randint(1, 6))
            bodies.append(
                "\n".join(" ".join(parts[j : j + 2]) for j in range(0, len(parts), 2))
            )
        self.attachment_rows = []
        hashes = [secrets.token_hex(32) for _ in range(2000)]
        special = set(self.special.values())
        message_id = 0
        for i, (contract, _device, _status, reported, end, k) in enumerate(self.plans):
            company = self.contract_owner[contract]
            customer = self.company_users[company][0]
            step = (end - reported) / max(k, 1)
            for j in range(k):
                message_id += 1
                created = reported + step * j
                staff = j % 2 == 1
                internal = staff and i not in special and rng.random() < 0.1
                author = rng.choice(self.engineer_ids) if staff else customer
                if rng.random() < 0.05 if i not in special else j % 10 == 3:
                    name = rng.choice(FILE_NAMES)
                    self.attachment_rows.append(
                        (
                            len(self.attachment_rows) + 1,
                            i + 1,
                            message_id,
                            name,
                            CONTENT_TYPES[name.rsplit(".", 1)[1]],
                            rng.randrange(2_000, 2_000_000),
                            rng.choice(hashes),
                            "upload",
                            author,
                            ts(created),
                        )
                    )
                yield (
                    message_id,
                    i + 1,
                    author,
                    self.user_names[author],
                    rng.choice(bodies),
                    int(internal),
                    int(staff),
                    ts(created),
                )

    def status_changes(self):
        rng = self.rng
        change_id = 0
        for i, (_c, _d, status, reported, end, _k) in enumerate(self.plans):
            path = PATHS[status]
            step = (end - reported) / len(path)
            previous = ""
            for j, to_status in enumerate(path):
                change_id += 1
                actor = None if j == 0 else rng.choice(self.engineer_ids)
                yield (
                    change_id,
                    i + 1,
                    previous,
                    to_status,
                    actor,
                    "",
                    ts(reported + step * j),
                )
                previous = to_status

    def consent_events(self):
        event_id = 0
        for i, (contract, _d, _s, reported, _e, _k) in enumerate(self.plans):
            if not self.is_shared[i]:
                continue
            event_id += 1
            company = self.contract_owner[contract]
            yield (
                event_id,
                i + 1,
                self.contract_partner[contract],
                1,
                self.company_users[company][0],
                "2026-11",
                "case_form",
                ts(reported),
            )


def opt(moment: datetime | None) -> str | None:
    return None if moment is None else ts(moment)


COLUMNS = {
    "company": ("id", "nip", "name", "created_at", "updated_at"),
    "contract": (
        "id",
        "number",
        "legacy_number",
        "customer_id",
        "partner_id",
        "service_code",
        "start_date",
        "end_date",
        "created_at",
        "updated_at",
    ),
    "device": ("id", "contract_id", "serial", "product"),
    "user": (
        "id",
        "email",
        "first_name",
        "last_name",
        "phone",
        "language",
        "role",
        "company_id",
        "password_hash",
        "totp_secret",
        "totp_last_step",
        "session_token",
        "is_enabled",
        "failed_otps",
        "notify_by_email",
        "created_at",
        "position",
    ),
    "support_case": (
        "id",
        "number",
        "company_id",
        "contract_id",
        "device_id",
        "subject",
        "description",
        "severity",
        "channel",
        "status",
        "is_shared",
        "reporter_id",
        "contact_name",
        "contact_email",
        "contact_phone",
        "assignee_id",
        "legacy_id",
        "reported_at",
        "response_due_at",
        "first_response_at",
        "validated_at",
        "delivery_due_at",
        "shipped_at",
        "carrier",
        "waybill",
        "delivered_at",
        "return_due_at",
        "returned_at",
        "return_waybill",
        "next_due_at",
        "paused_at",
        "paused_seconds",
        "escalated_at",
        "escalation_reason",
        "last_activity_at",
        "created_at",
        # The site's address and contact (delivery to the customer's site):
        # empty, as on a case reported without one.
        "site_address",
        "site_contact_name",
        "site_contact_phone",
    ),
    "message": (
        "id",
        "case_id",
        "author_id",
        "author_name",
        "body",
        "is_internal",
        "is_from_staff",
        "created_at",
    ),
    "attachment": (
        "id",
        "case_id",
        "message_id",
        "filename",
        "content_type",
        "size",
        "sha256",
        "kind",
        "uploaded_by_id",
        "created_at",
    ),
    "status_change": (
        "id",
        "case_id",
        "from_status",
        "to_status",
        "actor_id",
        "note",
        "created_at",
    ),
    "consent_event": (
        "id",
        "case_id",
        "partner_id",
        "is_granted",
        "actor_id",
        "text_version",
        "via",
        "created_at",
    ),
}


def secrets_for_users() -> tuple[str, dict[str, str], str]:
    """The password hash and encrypted TOTP secrets, made by the app's own code."""
    from flask import Flask

    from hezo import crypto
    from hezo.accounts import passwords
    from hezo.config import Defaults

    app = Flask("gen_workspace")
    app.config.update(
        TOTP_ENCRYPTION_KEY=TOTP_ENCRYPTION_KEY,
        PASSWORD_HASH_METHOD=Defaults.PASSWORD_HASH_METHOD,
    )
    with app.app_context():
        password_hash = passwords.hash_password(PASSWORD)
        by_email = {
            CUSTOMER_EMAIL: crypto.encrypt_secret(CUSTOMER_TOTP),
            ENGINEER_EMAIL: crypto.encrypt_secret(ENGINEER_TOTP),
        }
        other = crypto.encrypt_secret("ORSXG5BAORSXG5BAORSXG5BAORSXG5BA")
    return password_hash, by_email, other


# -- backends ----------------------------------------------------------------


def open_database(backend: str, pg_url: str):
    """Bind ``hezo.db.db`` to a fresh database and apply the migrations."""
    from hezo.db import db, make_database
    from hezo.migrations import migrate_database

    if backend == "sqlite":
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{OUT_DIR / SQLITE_NAME}"
        remove_sqlite(url)
        options = None
    else:
        import psycopg

        url = pg_url
        options = {"options": f"-c search_path={PG_SCHEMA}"}
        with psycopg.connect(pg_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{PG_SCHEMA}" CASCADE')
            conn.execute(f'CREATE SCHEMA "{PG_SCHEMA}"')
    db.initialize(make_database(url, options))
    db.connect(reuse_if_open=True)
    migrate_database()
    return db, url, options


def load(backend: str, db, ws: Workspace) -> dict[str, int]:
    password_hash, by_email, other_secret = secrets_for_users()
    conn = db.connection()
    if backend == "sqlite":
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA cache_size = -1000000")  # 1 GB while loading
        conn.execute("BEGIN")
    else:
        conn.execute("SET session_replication_role = replica")  # no FK triggers
        conn.execute("SET maintenance_work_mem = '256MB'")
    writer = Writer(backend, conn)
    writer.write("company", COLUMNS["company"], ws.companies())
    writer.write("contract", COLUMNS["contract"], ws.contracts())
    writer.write("device", COLUMNS["device"], ws.devices())
    writer.write(
        "user", COLUMNS["user"], ws.users(password_hash, by_email, other_secret)
    )
    ws.plan_cases()
    writer.write("support_case", COLUMNS["support_case"], ws.cases())
    writer.write("message", COLUMNS["message"], ws.messages())
    writer.write("attachment", COLUMNS["attachment"], iter(ws.attachment_rows))
    writer.write("status_change", COLUMNS["status_change"], ws.status_changes())
    writer.write("consent_event", COLUMNS["consent_event"], ws.consent_events())
    started = time.perf_counter()
    if backend == "sqlite":
        conn.execute("COMMIT")
    else:
        conn.execute("SET session_replication_role = DEFAULT")
    # The queue's status counts: PostgreSQL skipped the triggers (replica
    # role), SQLite wrote a row per case: count them once, as a fold would.
    from hezo.staff.status_counts import rebuild

    rebuild()
    if backend == "sqlite":
        conn.execute("ANALYZE")
        conn.execute("PRAGMA journal_mode = WAL")
    else:
        for table in COLUMNS:
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                f'(SELECT max(id) FROM "{table}"))'
            )
        conn.execute("VACUUM ANALYZE")  # peewee's psycopg connection autocommits
    print(f"  ANALYZE{'':<9}{'':>16} {time.perf_counter() - started:7.1f} s")
    return writer.counts


def generate(backend: str, scale: float, seed: int, pg_url: str) -> dict:
    now = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    ws = Workspace(scale, seed, now)
    started = time.perf_counter()
    db, url, options = open_database(backend, pg_url)
    print(
        f"{backend}: generating at scale {scale} into "
        f"{url if backend == 'sqlite' else url + ' schema ' + PG_SCHEMA}",
        flush=True,
    )
    try:
        counts = load(backend, db, ws)
    finally:
        db.close()
    seconds = time.perf_counter() - started
    big = [ws.case_numbers[ws.special[k]] for k in SPECIAL_MESSAGES]
    manifest = {
        "backend": backend,
        "url": url,
        "options": options,
        "scale": scale,
        "seed": seed,
        "generated_at": now.replace(tzinfo=UTC).isoformat(),
        "seconds": round(seconds, 1),
        "counts": counts,
        "open_cases": ws.open_count,
        "open_cases_with_next_due": ws.due_count,
        "big_company": {
            "id": ws.big_company,
            "contracts": BIG_CONTRACTS,
            "serials": BIG_DEVICES,
            "cases": len([p for p in ws.plans if p[0] < BIG_CONTRACTS]),
        },
        "secret_key": SECRET_KEY,
        "totp_encryption_key": TOTP_ENCRYPTION_KEY,
        "password": PASSWORD,
        "customer": {"email": CUSTOMER_EMAIL, "totp": CUSTOMER_TOTP},
        "engineer": {"email": ENGINEER_EMAIL, "totp": ENGINEER_TOTP},
        "case_50": big[0],
        "case_100": big[1],
        "search": SEARCH_PREFIX,
    }
    path = manifest_path(backend)
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    print(
        f"{backend}: {seconds:.1f} s in all; "
        + ", ".join(f"{t} {c:,}" for t, c in counts.items())
    )
    print(
        f"  open cases {ws.open_count:,} ({ws.due_count:,} with a running "
        f"clock); big company {manifest['big_company']['cases']:,} cases; "
        f"50 messages: {big[0]}, 100 messages: {big[1]}"
    )
    print(f"  manifest: {path}")
    return manifest


def database_size(manifest: dict) -> str:
    if manifest["backend"] == "sqlite":
        path = Path(manifest["url"].removeprefix("sqlite:///"))
        return f"{path.stat().st_size / 2**20:,.0f} MiB"
    import psycopg

    with psycopg.connect(manifest["url"], connect_timeout=5) as conn:
        size = conn.execute(
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind = 'r'",
            (PG_SCHEMA,),
        ).fetchone()[0]
    return f"{size / 2**20:,.0f} MiB"


def scale_arg(text: str) -> float:
    """0 < scale <= 1: a smaller workspace for a quick run, never a larger one."""
    value = float(text)
    if not 0.001 <= value <= 1.0:
        raise argparse.ArgumentTypeError("scale must be within 0.001..1.0")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), required=True)
    parser.add_argument("--scale", type=scale_arg, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--pg-url", default=os.environ.get("HEZO_BENCH_POSTGRES_URL", DEFAULT_PG_URL)
    )
    args = parser.parse_args(argv)
    manifest = generate(args.backend, args.scale, args.seed, args.pg_url)
    print(f"  database size {database_size(manifest)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

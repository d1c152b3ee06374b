"""Write a synthetic ERP contract register (``shared/formats/README.md``).

    python bench/gen_contract_register.py OUT.csv --rows 200000 --companies 30000 \\
        [--seed 1] [--encoding utf-8|utf-8-sig|cp1250] [--delimiter ';'|',']

The file looks like a real export: valid NIPs (check digit computed, verified
with python-stdnum) spelt four ways, Polish company names with diacritics, a few
hundred partners, contracts of 1-20 serial numbers, all service codes of the
catalogue, both date formats, legacy contract numbers on part of the contracts,
serials covered by two contracts, and serials in inconsistent case with stray
spaces. A few rows per thousand are bad (``--bad-per-mille``) so the rejection
path is exercised too.

The same arguments give the same file, byte for byte. Rows are written as they
are made; only the company list and a short window of recent contracts are held
in memory.
"""

import argparse
import csv
import random
import sys
from collections import deque
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

from stdnum.pl import nip as stdnum_nip

from hezo.catalogue import SERVICES
from hezo.imports.contracts import COLUMNS

# Weighted towards the common packages; every code of the catalogue occurs.
SERVICE_WEIGHTS = {
    "PW-TAC": 20,
    "PW-AHR-NBD": 25,
    "PW-AHR-4H": 8,
    "PW-ONSITE-NBD": 6,
    "PW-ONSITE-4H": 4,
    "AHB-8x5-NBD": 12,
    "AHB-24x7-8H": 6,
    "SOS-8x5-NBD": 10,
    "SOS-24x7-8H": 9,
}
# A second contract on the same devices is typically an on-site or backup add-on.
ADD_ON_CODES = ("SOS-24x7-8H", "SOS-8x5-NBD", "AHB-24x7-8H", "AHB-8x5-NBD")

PRODUCTS = (
    "X465-48W",
    "X465-24W",
    "X440-G2-24p-10GE4",
    "X440-G2-48t-10GE4",
    "X590-24x-1q-2c",
    "X695-48Y-8C",
    "X620-16x",
    "5320-24P-8XE",
    "5420F-48P-4XE",
    "5520-24W",
    "5520-48SE",
    "5720-48MW",
    "7520-48Y-8C",
    "AP305C",
    "AP410C",
    "AP460C",
    "AP5010",
    "AP4000",
    "SLX 9150-48Y",
    "VSP 7400-48Y",
    "VSP 4900-48P",
    "ExtremeCloud IQ",
    "XIQ-SE",
    "NAC-A-20K",
    "Zasilacz 1100W AC (PSU)",
)

LEGAL_FORMS = (
    "Sp. z o.o.",
    "Sp. z o.o.",
    "Sp. z o.o.",
    "S.A.",
    "Sp. j.",
    "Sp. k.",
    "s.c.",
    "Sp. z o.o. Sp. k.",
)
COMPANY_KINDS = (
    "Przedsiębiorstwo Handlowo-Usługowe",
    "Zakład Usług Informatycznych",
    "Przedsiębiorstwo Łączności",
    "Hurtownia",
    "Spółdzielnia Mleczarska",
    "Fabryka Mebli",
    "Drukarnia",
    "Biuro Rachunkowe",
    "Centrum Logistyczne",
    "Zakłady Mięsne",
    "Browar",
    "Huta Szkła",
    "Przędzalnia",
    "Wytwórnia Części",
    "Kancelaria Notarialna",
    "Grupa Medyczna",
    "Sieć Aptek",
    "Towarzystwo Ubezpieczeń",
)
PUBLIC_BODIES = (
    "Szpital Wojewódzki w",
    "Urząd Miasta",
    "Urząd Gminy",
    "Starostwo Powiatowe w",
    "Powiatowy Urząd Pracy w",
    "Miejski Ośrodek Pomocy Społecznej w",
    "Zespół Szkół Technicznych w",
    "Wojewódzki Ośrodek Ruchu Drogowego w",
    "Miejskie Przedsiębiorstwo Wodociągów i Kanalizacji w",
)
WORDS = (
    "Żółw",
    "Łącznik",
    "Gęś",
    "Źródło",
    "Ślązak",
    "Mazur",
    "Kowalczyk",
    "Wiśniewski",
    "Dąbrowski",
    "Zieliński",
    "Grabowski",
    "Jóźwiak",
    "Światłowód",
    "Bałtyk",
    "Pomorze",
    "Wisła",
    "Podhale",
    "Żuraw",
    "Łabędź",
    "Dźwig",
    "Wrzos",
    "Jeżyna",
    "Sęk",
    "Kłos",
    "Młyn",
    "Ogród",
    "Piąstka",
    "Krzyś",
    "Zając",
    "Wróbel",
    "Sójka",
    "Jaskółka",
    "Niedźwiedź",
    "Cichoń",
    "Gąsiorowski",
    "Ścibor",
    "Bór",
    "Łęg",
    "Przełęcz",
    "Kruszwica",
    "Zorza",
    "Tęcza",
    "Błysk",
    "Iskra",
    "Rzemieślnik",
    "Spółka Ziemi",
    "Wędrowiec",
    "Dębina",
    "Jawor",
    "Grześ",
)
CITIES = (
    ("Gdańsk", "Gdańsku"),
    ("Łódź", "Łodzi"),
    ("Kraków", "Krakowie"),
    ("Wrocław", "Wrocławiu"),
    ("Poznań", "Poznaniu"),
    ("Białystok", "Białymstoku"),
    ("Rzeszów", "Rzeszowie"),
    ("Zielona Góra", "Zielonej Górze"),
    ("Kielce", "Kielcach"),
    ("Toruń", "Toruniu"),
    ("Bydgoszcz", "Bydgoszczy"),
    ("Częstochowa", "Częstochowie"),
    ("Łomża", "Łomży"),
    ("Ełk", "Ełku"),
    ("Śrem", "Śremie"),
    ("Żyrardów", "Żyrardowie"),
    ("Świnoujście", "Świnoujściu"),
    ("Gniezno", "Gnieźnie"),
    ("Otwock", "Otwocku"),
    ("Sieradz", "Sieradzu"),
)
PARTNER_WORDS = (
    "NetPartner",
    "Sieci Łączności",
    "Integrator Pomorski",
    "ŚląskNet",
    "Teleinformatyka Żak",
    "Komputronik Usługi",
    "Systemy Sieciowe Głowacki",
    "DataLink Polska",
    "Łącze Serwis",
    "InfoMazowsze",
    "Wielkopolskie Sieci",
    "Bezprzewodowy Świat",
)


def nip_check_digit(first9: str) -> int:
    """The NIP check digit for nine digits; 10 means no valid NIP has them.

    python-stdnum's checksum of the nine digits and a 0 is the weighted sum
    of the nine (mod 11): the check digit that makes it 0."""
    return stdnum_nip.checksum(first9 + "0")


def new_nip(rng: random.Random, taken: set[str]) -> str:
    while True:
        first9 = f"{rng.randint(101, 999)}{rng.randint(0, 999999):06d}"
        check = nip_check_digit(first9)
        nip = f"{first9}{check}"
        if check == 10 or nip in taken:
            continue
        if not stdnum_nip.is_valid(nip):  # the generator must agree with the importer
            raise AssertionError(f"generated NIP {nip} fails python-stdnum")
        taken.add(nip)
        return nip


def spell_nip(rng: random.Random, nip: str) -> str:
    """The NIP as the ERP may export it: plain, dashed, spaced or with ``PL``."""
    r = rng.random()
    if r < 0.6:
        return nip
    if r < 0.75:
        return f"{nip[:3]}-{nip[3:6]}-{nip[6:8]}-{nip[8:]}"
    if r < 0.85:
        return f"{nip[:3]} {nip[3:6]} {nip[6:8]} {nip[8:]}"
    return f"PL{nip}"


def company_name(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.12:
        city, locative = rng.choice(CITIES)
        body = rng.choice(PUBLIC_BODIES)
        return f"{body} {locative}" if body.endswith(" w") else f"{body} {city}"
    word = rng.choice(WORDS)
    if r < 0.2:
        word = f'"{word}"'  # quoted names exercise the CSV quoting
    if r < 0.55:
        return f"{rng.choice(COMPANY_KINDS)} {word} {rng.choice(LEGAL_FORMS)}"
    second = rng.choice(WORDS)
    return f"{word} i {second} {rng.choice(LEGAL_FORMS)}"


def partner_name(rng: random.Random, index: int) -> str:
    city = rng.choice(CITIES)[0]
    form = rng.choice(("S.A.", "Sp. z o.o.", "Sp. z o.o. Sp. k."))
    return f"{rng.choice(PARTNER_WORDS)} {city} {index} {form}"


def spell_serial(rng: random.Random, serial: str) -> str:
    """Case and surrounding spaces as inconsistent as the exports are."""
    r = rng.random()
    if r < 0.88:
        return serial
    if r < 0.93:
        return serial.lower()
    if r < 0.96:
        return f" {serial}"
    if r < 0.98:
        return f"{serial} "
    return f"  {serial.lower()}\t"


def spell_date(rng: random.Random, day: date) -> str:
    return day.isoformat() if rng.random() < 0.7 else day.strftime("%d.%m.%Y")


def serial_count(rng: random.Random) -> int:
    """1-20 serials, most contracts small (mean about 6)."""
    return min(20, 1 + int(rng.expovariate(1 / 5.2)))


class Generator:
    def __init__(
        self, rows: int, companies: int, partners: int, seed: int, bad_per_mille: float
    ):
        self.rows = rows
        self.rng = random.Random(seed)
        rng = self.rng
        taken: set[str] = set()
        self.customers = [
            (new_nip(rng, taken), company_name(rng)) for _ in range(companies)
        ]
        self.partners = [
            (new_nip(rng, taken), partner_name(rng, i + 1)) for i in range(partners)
        ]
        self.order = list(range(companies))
        rng.shuffle(self.order)  # every company gets a contract before any repeats
        self.codes = list(SERVICE_WEIGHTS)
        missing = set(SERVICES) ^ set(self.codes)
        if missing:
            raise AssertionError(f"catalogue and generator disagree on {missing}")
        self.code_weights = list(SERVICE_WEIGHTS.values())
        self.bad_rate = bad_per_mille / 1000
        self.recent: deque = deque(maxlen=500)
        self.contracts = 0
        self.legacy = 0
        self.serials = 0
        self.written = 0
        self.fresh_customers = 0

    def _new_serial(self) -> str:
        self.serials += 1
        rng = self.rng
        kind = rng.random()
        if kind < 0.7:
            week = f"{rng.randint(15, 25)}{rng.randint(1, 52):02d}"
            return f"{week}{rng.choice('ABCDEFGHJKLMNPRSTUVWXY')}-{self.serials:06d}"
        if kind < 0.9:
            return f"SW-{self.serials:07d}"
        return f"A{rng.randint(1, 9)}{self.serials:08d}"

    def _contract(self, size: int) -> tuple[dict, list[tuple[str, str]]]:
        rng = self.rng
        index = self.contracts
        self.contracts += 1
        devices: list[tuple[str, str]]
        if self.recent and rng.random() < 0.05:
            # An add-on contract on devices another contract covers already.
            customer, base = rng.choice(self.recent)
            devices = rng.sample(base, min(size, len(base)))
            code = rng.choice(ADD_ON_CODES)
        else:
            if self.fresh_customers < len(self.order):
                customer = self.order[self.fresh_customers]
                self.fresh_customers += 1
            else:
                customer = rng.randrange(len(self.customers))
            devices = []
            for _ in range(size):
                product = rng.choice(PRODUCTS)
                devices.append((self._new_serial(), product))
            code = rng.choices(self.codes, self.code_weights)[0]
            self.recent.append((customer, devices))
        start = date(2022, 1, 1) + timedelta(days=rng.randrange(0, 1765))
        if (start.month, start.day) == (2, 29):
            start = date(start.year, 3, 1)
        years = rng.choice((1, 1, 2, 3, 3, 5))
        end = start.replace(year=start.year + years) - timedelta(days=1)
        legacy = ""
        if rng.random() < 0.3:
            self.legacy += 1
            legacy = f"PW/{start.year - rng.randint(1, 3)}/{self.legacy:05d}"
        partner = ("", "") if rng.random() < 0.08 else rng.choice(self.partners)
        terms = {
            "contract_number": f"HZ-{start.year}-{index + 1:06d}",
            "legacy_contract_number": legacy,
            "customer": self.customers[customer],
            "partner": partner,
            "service_code": code,
            "start_date": start,
            "end_date": end,
        }
        return terms, devices

    def _row(self, terms: dict, serial: str, product: str) -> list[str]:
        rng = self.rng
        nip, name = terms["customer"]
        partner_nip, partner_name_ = terms["partner"]
        row = {
            "contract_number": terms["contract_number"],
            "legacy_contract_number": terms["legacy_contract_number"],
            "customer_nip": spell_nip(rng, nip),
            "customer_name": name,
            "partner_nip": spell_nip(rng, partner_nip) if partner_nip else "",
            "partner_name": partner_name_,
            "service_code": terms["service_code"],
            "start_date": spell_date(rng, terms["start_date"]),
            "end_date": spell_date(rng, terms["end_date"]),
            "serial_number": spell_serial(rng, serial),
            "product": product,
        }
        if self.bad_rate and rng.random() < self.bad_rate:
            self._spoil(row, terms)
        return [row[c] for c in COLUMNS]

    def _spoil(self, row: dict, terms: dict) -> None:
        """One defect the importer must reject with its line number."""
        rng = self.rng
        defect = rng.randrange(4)
        if defect == 0:
            nip = terms["customer"][0]
            row["customer_nip"] = nip[:9] + str((int(nip[9]) + 1) % 10)
        elif defect == 1:
            row["service_code"] = rng.choice(("PW-GOLD", "SOS-24x7-2H", "pw-tac "))
        elif defect == 2:
            row["end_date"] = (terms["start_date"] - timedelta(days=1)).isoformat()
        else:
            row["serial_number"] = " "

    def __iter__(self) -> Iterator[list[str]]:
        while self.written < self.rows:
            size = min(serial_count(self.rng), self.rows - self.written)
            terms, devices = self._contract(size)
            for serial, product in devices:
                self.written += 1
                yield self._row(terms, serial, product)


def write_contract_register(
    path: Path,
    rows: int,
    companies: int,
    seed: int = 1,
    encoding: str = "utf-8",
    delimiter: str = ";",
    partners: int | None = None,
    bad_per_mille: float = 0.5,
) -> dict:
    """Write the register to ``path``; returns a few counts about what was written."""
    if partners is None:
        partners = max(1, min(300, companies // 20))
    gen = Generator(rows, companies, partners, seed, bad_per_mille)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh, delimiter=delimiter, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        writer.writerows(gen)
    tmp.replace(path)
    return {
        "rows": gen.written,
        "contracts": gen.contracts,
        "companies": companies,
        "partners": partners,
        "serials": gen.serials,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="CSV file to write")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument(
        "--companies",
        type=int,
        default=30_000,
        help="customer companies (partners come on top)",
    )
    parser.add_argument(
        "--partners",
        type=int,
        default=None,
        help="partner companies (default: companies/20, at most 300)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--encoding", choices=("utf-8", "utf-8-sig", "cp1250"), default="utf-8"
    )
    parser.add_argument("--delimiter", choices=(";", ","), default=";")
    parser.add_argument(
        "--bad-per-mille",
        type=float,
        default=0.5,
        help="bad rows per thousand (default 0.5; 0 for none)",
    )
    args = parser.parse_args(argv)
    if args.rows < 1 or args.companies < 1:
        parser.error("--rows and --companies must be positive")
    stats = write_contract_register(
        args.out,
        args.rows,
        args.companies,
        args.seed,
        args.encoding,
        args.delimiter,
        args.partners,
        args.bad_per_mille,
    )
    print(
        f"{args.out}: {stats['rows']} rows, {stats['contracts']} contracts, "
        f"{stats['companies']} customers, {stats['partners']} partners, "
        f"{stats['serials']} distinct serials",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Write a synthetic export of the previous portal (``shared/formats/README.md`` §2).

    python bench/gen_legacy.py OUT.json --active 10000 --closed 30000 --messages 20 \\
        [--seed 1]

The file has the shape of ``tests/data/legacy-sample.json``: active contracts
(one to eight serials each, valid NIPs with their check digit, spelt the ways
the export spells them) plus a few expired and cancelled ones, then the cases:
``--active`` open / in progress / waiting ones on those contracts, named by the
new or the legacy contract number, and ``--closed`` resolved / closed /
cancelled ones mixed in, every case with ``--messages`` messages of Polish
text whose timestamps carry the Warsaw offset of their day.

The same arguments give the same file, byte for byte. It is written as it is
made: only the contract list is held in memory, never the cases.
"""

import argparse
import json
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

# The same NIPs and spellings as the ERP's contract register.
from gen_contract_register import new_nip, spell_nip

WARSAW = ZoneInfo("Europe/Warsaw")
START = datetime(2025, 1, 1, 7, tzinfo=UTC)
SERVICE_CODES = (
    "PW-TAC",
    "PW-AHR-NBD",
    "PW-AHR-4H",
    "PW-ONSITE-NBD",
    "PW-ONSITE-4H",
    "AHB-8x5-NBD",
    "AHB-24x7-8H",
    "SOS-8x5-NBD",
    "SOS-24x7-8H",
)
PRODUCTS = (
    "X465-48W",
    "X465-24W",
    "X440-G2-24p-10GE4",
    "X590-24x-1q-2c",
    "5320-24P-8XE",
    "5520-24W",
    "5720-48MW",
    "AP305C",
    "AP410C",
    "AP5010",
    "VSP 7400-48Y",
    "SLX 9150-48Y",
)
COMPANY_KINDS = (
    "Przedsiębiorstwo Łączności",
    "Zakład Usług Informatycznych",
    "Szpital Wojewódzki w",
    "Urząd Miasta",
    "Hurtownia",
    "Browar",
    "Spółdzielnia Mleczarska",
    "Centrum Logistyczne",
    "Huta Szkła",
)
WORDS = (
    "Żółw",
    "Łącznik",
    "Gęś",
    "Źródło",
    "Ślązak",
    "Dąbrowski",
    "Jóźwiak",
    "Światłowód",
    "Bałtyk",
    "Łabędź",
    "Niedźwiedź",
    "Gdańsk",
    "Łódź",
    "Kraków",
    "Wrocław",
    "Poznań",
    "Rzeszów",
    "Zielona Góra",
    "Toruń",
    "Ełk",
)
FIRST = (
    "Jan",
    "Anna",
    "Łukasz",
    "Małgorzata",
    "Paweł",
    "Żaneta",
    "Grzegorz",
    "Katarzyna",
    "Michał",
    "Agnieszka",
    "Józef",
    "Ewa",
)
LAST = (
    "Żółkiewski",
    "Nowak",
    "Wiśniewska",
    "Dąbrowski",
    "Łęcka",
    "Kowalczyk",
    "Zieliński",
    "Szymańska",
    "Woźniak",
    "Kaczmarek",
    "Gąsiorowski",
    "Jóźwiak",
)
STAFF = ("Inżynier HEZO", "Piotr Świątek (HEZO)", "Marta Łoś (HEZO)")
SUBJECTS = (
    "Przełącznik {p} restartuje się po aktualizacji",
    "Uszkodzony zasilacz w {p}",
    "Port {n} w {p} nie podnosi łącza",
    "Wentylator {p} głośno pracuje",
    "Punkt dostępowy {p} gubi klientów",
    "Błędy CRC na porcie {n}",
    "Prośba o wymianę modułu SFP w {p}",
    "Zawieszenie się stosu po zaniku zasilania",
)
SENTENCES = (
    "Po aktualizacji do wersji 32.7 urządzenie restartuje się co około 40 minut.",
    "W załączeniu przesyłam logi z ostatniej doby.",
    "Dzień dobry, proszę o wynik polecenia show log po kolejnym restarcie.",
    "Czy problem występuje na wszystkich portach, czy tylko na wybranych?",
    "Dioda zasilania świeci na pomarańczowo, wentylatory pracują na pełnych obrotach.",
    "Sprawdziliśmy okablowanie — kable są nowe, kategoria 6A.",
    "Proszę o zdjęcie tabliczki znamionowej z numerem seryjnym.",
    "Wymiana urządzenia zostanie zlecona po weryfikacji logów.",
    "Zaniki łącza zdarzają się głównie w godzinach szczytu, między 9:00 a 11:00.",
    "Potwierdzam, po restarcie problem ustąpił na kilka godzin, ale wrócił.",
    "Przesyłam wynik polecenia show tech-support w pliku tekstowym.",
    "Prosimy o kontakt telefoniczny z administratorem sieci, pan Łukasz, wew. 214.",
    "Zamienne urządzenie zostało wysłane kurierem, numer listu przewozowego w mailu.",
    "Czy możemy zaplanować okno serwisowe w sobotę rano?",
    "Żółć na ekranie konsoli to komunikat o przegrzaniu — temperatura 71 °C.",
)
ACTIVE_CASE = ("open", "in_progress", "waiting_for_customer")
CLOSED_CASE = ("resolved", "closed", "cancelled")


def warsaw_iso(moment: datetime) -> str:
    """An ISO 8601 time with the Warsaw offset of that moment, as the export has."""
    return moment.astimezone(WARSAW).isoformat(timespec="seconds")


def make_contracts(rng: random.Random, count: int, companies: int) -> list[dict]:
    taken: set[str] = set()
    customers = [
        (
            new_nip(rng, taken),
            f"{rng.choice(COMPANY_KINDS)} {rng.choice(WORDS)} Sp. z o.o.",
        )
        for _ in range(companies)
    ]
    partners = [
        (new_nip(rng, taken), f"Partner {rng.choice(WORDS)} S.A.")
        for _ in range(max(1, companies // 50))
    ]
    contracts = []
    for n in range(1, count + 1):
        nip, name = rng.choice(customers)
        pnip, pname = rng.choice(partners)
        start = datetime(2024, 1, 1) + timedelta(days=rng.randint(0, 700))
        status = rng.choices(("active", "expired", "cancelled"), (90, 7, 3))[0]
        end = start + timedelta(days=365 * rng.randint(2, 4) - 1)
        contracts.append(
            {
                "legacy_number": f"PW/{start.year - 1}/{n:05d}",
                "number": f"HZ-{start.year}-{n:06d}",
                "status": status,
                "customer": {"nip": spell_nip(rng, nip), "name": name},
                "partner": {"nip": pnip, "name": pname} if rng.random() < 0.9 else None,
                "service_code": rng.choice(SERVICE_CODES),
                "start_date": start.strftime("%Y-%m-%d"),
                "end_date": end.strftime("%Y-%m-%d"),
                "serials": [
                    {
                        "serial": f"{rng.randint(1000, 9999)}Y-{n:05d}{k}",
                        "product": rng.choice(PRODUCTS),
                    }
                    for k in range(rng.randint(1, 8))
                ],
            }
        )
    return contracts


def make_case(
    rng: random.Random, n: int, contract: dict, status: str, messages: int
) -> dict:
    serial = rng.choice(contract["serials"])
    reporter = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    at = START + timedelta(minutes=rng.randint(0, 900_000))
    dialogue = []
    for k in range(messages):
        staff = k % 2 == 1
        dialogue.append(
            {
                "at": warsaw_iso(at),
                "author": rng.choice(STAFF) if staff else reporter,
                "from_staff": staff,
                "text": " ".join(rng.sample(SENTENCES, rng.randint(1, 3))),
            }
        )
        at += timedelta(minutes=rng.randint(5, 2000))
    subject = rng.choice(SUBJECTS).format(p=serial["product"], n=rng.randint(1, 48))
    number = contract["legacy_number"] if rng.random() < 0.5 else contract["number"]
    return {
        "legacy_id": f"ZGL/{dialogue[0]['at'][:4] if dialogue else 2025}/{n:06d}",
        "status": status,
        "subject": subject,
        "customer_nip": spell_nip(
            rng, contract["customer"]["nip"].removeprefix("PL").replace("-", "")
        ),
        "contract_number": number.lower() if rng.random() < 0.1 else number,
        "serial": serial["serial"].lower() if rng.random() < 0.1 else serial["serial"],
        "created_at": dialogue[0]["at"] if dialogue else warsaw_iso(at),
        "reporter": {
            "name": reporter,
            "email": f"zglaszajacy{n}@example.pl",
            "phone": f"+48 600 {n % 1000:03d} {n % 997:03d}",
        },
        "dialogue": dialogue,
    }


def write_legacy(
    path: Path, active: int, closed: int, messages: int, seed: int = 1
) -> dict:
    """Write the export; returns how many contracts and cases of each kind it has."""
    rng = random.Random(seed)
    contracts = make_contracts(rng, max(1, active // 3), max(1, active // 10))
    usable = [c for c in contracts if c["status"] == "active"] or contracts
    kinds = [True] * active + [False] * closed
    rng.shuffle(kinds)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as out:
        out.write(
            '{"format": "myhezo-legacy/1", '
            '"exported_at": "2026-11-20T18:00:00+01:00",\n"contracts": [\n'
        )
        out.write(",\n".join(json.dumps(c, ensure_ascii=False) for c in contracts))
        out.write('\n],\n"cases": [\n')
        for n, is_active in enumerate(kinds, 1):
            status = rng.choice(ACTIVE_CASE if is_active else CLOSED_CASE)
            case = make_case(rng, n, rng.choice(usable), status, messages)
            out.write((",\n" if n > 1 else "") + json.dumps(case, ensure_ascii=False))
        out.write("\n]}\n")
    return {
        "contracts": len(contracts),
        "active_contracts": len(usable),
        "active_cases": active,
        "closed_cases": closed,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--active", type=int, default=10000)
    parser.add_argument("--closed", type=int, default=30000)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    stats = write_legacy(args.out, args.active, args.closed, args.messages, args.seed)
    size = args.out.stat().st_size / 1e6
    print(f"wrote {args.out}: {size:.1f} MB, {stats}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

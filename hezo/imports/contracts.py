"""Sync the distributor's contract register (ERP CSV export) into the database.

The export is read as it comes (``shared/formats/README.md``): UTF-8 with or
without BOM or Windows-1250, ``;`` or ``,``, columns in any order, two date
formats, NIP in any spelling. The file is streamed and written in batches, so
memory does not grow with its length; a bad row is reported by line number and
the good rows are kept. Importing the same file again changes nothing.
"""

import codecs
import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from itertools import chain
from pathlib import Path

from peewee import SQL, __exception_wrapper__

from ..catalogue import get_plan
from ..db import db, utcnow
from ..identifiers import normalize_nip, normalize_serial
from ..models import Company, Contract, Device

COLUMNS = (
    "contract_number",
    "legacy_contract_number",
    "customer_nip",
    "customer_name",
    "partner_nip",
    "partner_name",
    "service_code",
    "start_date",
    "end_date",
    "serial_number",
    "product",
)
# Rows per transaction. Larger batches mean fewer queries per row; the IN lists
# stay well under SQLite's 32,766 host parameters.
BATCH_ROWS = 5000
# Rows per multi-row INSERT (at most 9 columns: 4,500 parameters).
INSERT_CHUNK = 500
# IN lists are padded up to this many values (see _in_list).
IN_LIST_MAX = 16384


class ContractRegisterFormatError(ValueError):
    """The file cannot be read as a contract register at all."""


@dataclass(frozen=True, slots=True)  # slots: a batch holds thousands of these
class ContractRow:
    line: int
    contract_number: str
    legacy_number: str | None
    customer_nip: str
    customer_name: str
    partner_nip: str | None
    partner_name: str
    service_code: str
    start_date: date
    end_date: date
    serial: str
    product: str

    def contract_terms(self) -> tuple:
        return (
            self.legacy_number,
            self.customer_nip,
            self.partner_nip,
            self.service_code,
            self.start_date,
            self.end_date,
        )


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str


@dataclass
class Tally:
    added: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class ImportReport:
    """What an import did; ``rejected`` lists every bad row with its reason."""

    rows: int = 0
    companies: Tally = field(default_factory=Tally)
    contracts: Tally = field(default_factory=Tally)
    devices: Tally = field(default_factory=Tally)
    rejected: list[RowError] = field(default_factory=list)

    def merge(self, other: "ImportReport") -> None:
        self.rows += other.rows
        for name in ("companies", "contracts", "devices"):
            mine, theirs = getattr(self, name), getattr(other, name)
            mine.added += theirs.added
            mine.updated += theirs.updated
            mine.unchanged += theirs.unchanged
        self.rejected.extend(other.rejected)


# -- reading ---------------------------------------------------------------


def detect_encoding(path: Path, chunk_size: int = 1 << 20) -> str:
    """``utf-8-sig`` when the whole file is valid UTF-8, else ``cp1250``.

    Reads the file once in chunks, so a Windows-1250 byte deep in a large file
    is still found without loading the file into memory.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_size):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                return "cp1250"
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1250"
    return "utf-8-sig"


def parse_date(value: str) -> date | None:
    value = (value or "").strip()
    if len(value) == 10 and value.isascii():
        # The two zero-padded spellings without strptime (which is slow);
        # anything else takes the general path below.
        try:
            if (
                value[4] == value[7] == "-"
                and (value[:4] + value[5:7] + value[8:]).isdigit()
            ):
                return date(int(value[:4]), int(value[5:7]), int(value[8:]))
            if (
                value[2] == value[5] == "."
                and (value[:2] + value[3:5] + value[6:]).isdigit()
            ):
                return date(int(value[6:]), int(value[3:5]), int(value[:2]))
        except ValueError:
            return None
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    return None


# A contract register repeats the same NIPs and dates on row after row (every serial of
# a contract); parse_row remembers recent answers instead of redoing them.
_cached_nip = lru_cache(maxsize=1 << 14)(normalize_nip)
_cached_date = lru_cache(maxsize=1 << 12)(parse_date)


def parse_row(line: int, raw: dict[str, str]) -> ContractRow | RowError:
    """Validate one CSV record; the error names the first problem found."""
    get = lambda name: (raw.get(name) or "").strip()  # noqa: E731
    number = get("contract_number")
    if not number:
        return RowError(line, "missing contract number")
    customer_nip_raw = get("customer_nip")
    customer_nip = _cached_nip(customer_nip_raw)
    if customer_nip is None:
        return RowError(line, f"invalid customer NIP {customer_nip_raw!r}")
    customer_name = get("customer_name")
    if not customer_name:
        return RowError(line, "missing customer name")
    partner_nip = None
    partner_nip_raw = get("partner_nip")
    if partner_nip_raw:
        partner_nip = _cached_nip(partner_nip_raw)
        if partner_nip is None:
            return RowError(line, f"invalid partner NIP {partner_nip_raw!r}")
    code = get("service_code")
    if get_plan(code) is None:
        return RowError(line, f"unknown service code {code!r}")
    start_raw, end_raw = get("start_date"), get("end_date")
    start, end = _cached_date(start_raw), _cached_date(end_raw)
    if start is None:
        return RowError(line, f"invalid start date {start_raw!r}")
    if end is None:
        return RowError(line, f"invalid end date {end_raw!r}")
    if end < start:
        return RowError(line, "end date before start date")
    serial = normalize_serial(raw.get("serial_number", ""))
    if not serial:
        return RowError(line, "missing serial number")
    return ContractRow(
        line=line,
        contract_number=number,
        legacy_number=get("legacy_contract_number") or None,
        customer_nip=customer_nip,
        customer_name=customer_name,
        partner_nip=partner_nip,
        partner_name=get("partner_name") or (partner_nip or ""),
        service_code=code,
        start_date=start,
        end_date=end,
        serial=serial,
        product=get("product"),
    )


def read_contract_register(
    path: Path, progress: Callable[[int], None] | None = None
) -> Iterator[ContractRow | RowError]:
    """Yield parsed rows (or row errors) of a contract register file, streaming it."""
    encoding = detect_encoding(path)
    with open(path, "rb") as binary:
        text = io.TextIOWrapper(binary, encoding=encoding, newline="")
        header_line = text.readline()
        delimiter = ";" if header_line.count(";") >= header_line.count(",") else ","
        header = [
            h.strip().lower()
            for h in next(csv.reader([header_line], delimiter=delimiter))
        ]
        missing = [
            c for c in COLUMNS if c not in header and c != "legacy_contract_number"
        ]
        if missing:
            raise ContractRegisterFormatError(f"missing columns: {', '.join(missing)}")
        reader = csv.reader(text, delimiter=delimiter)
        for record in reader:
            line = reader.line_num + 1  # the header was read apart
            if not "".join(record).strip():
                continue
            if len(record) < len(header):
                yield RowError(line, "too few columns")
                continue
            yield parse_row(line, dict(zip(header, record, strict=False)))
            if progress and reader.line_num % 5000 == 0:
                progress(binary.tell())


# -- writing ---------------------------------------------------------------


class ContractRegisterSync:
    """Applies parsed rows to the database in batches.

    Contract terms must agree across all rows of a contract in one file; a row
    that disagrees with an earlier one is rejected rather than silently winning.
    The same code path serves the ERP import and the legacy migration.
    """

    def __init__(self, report: ImportReport | None = None):
        self.report = report or ImportReport()
        self._contract_terms: dict[str, tuple[tuple, int]] = {}
        self._companies_seen: set[str] = set()
        # Contracts already synced by an earlier batch of this run: a contract
        # whose rows straddle two batches is counted once, and its terms (equal
        # on all its rows, see _consistent) are not compared again.
        self._contracts_seen: set[str] = set()

    def apply(
        self, rows: Iterable[ContractRow | RowError], batch_rows: int = BATCH_ROWS
    ):
        batch: list[ContractRow] = []
        for row in rows:
            self.report.rows += 1
            if isinstance(row, RowError):
                self.report.rejected.append(row)
                continue
            batch.append(row)
            if len(batch) >= batch_rows:
                self._flush(batch)
                batch = []
        if batch:
            self._flush(batch)
        return self.report

    def _flush(self, batch: list[ContractRow]) -> None:
        batch = self._consistent(batch)
        with db.atomic():
            companies = self._sync_companies(batch)
            contracts = self._sync_contracts(batch, companies)
            self._sync_devices(batch, contracts)

    def _consistent(self, batch: list[ContractRow]) -> list[ContractRow]:
        kept = []
        for row in batch:
            terms = row.contract_terms()
            first = self._contract_terms.setdefault(
                row.contract_number, (terms, row.line)
            )
            if first[0] != terms:
                self.report.rejected.append(
                    RowError(
                        row.line,
                        f"contract {row.contract_number} differs from line {first[1]}",
                    )
                )
                continue
            kept.append(row)
        return kept

    def _sync_companies(self, batch: list[ContractRow]) -> dict[str, int]:
        names: dict[str, str] = {}
        for row in batch:
            names[row.customer_nip] = row.customer_name
            if row.partner_nip:
                names.setdefault(row.partner_nip, row.partner_name)
        existing = {
            nip: (company_id, name)
            for company_id, nip, name in Company.select(
                Company.id, Company.nip, Company.name
            )
            .where(Company.nip.in_(_in_list(names)))
            .tuples()
            .iterator()
        }
        now = utcnow()
        new = [
            {"nip": n, "name": names[n], "created_at": now, "updated_at": now}
            for n in names
            if n not in existing
        ]
        _insert_chunks(Company, new)
        tally = self.report.companies
        tally.added += len(new)
        for nip, (company_id, name) in existing.items():
            if nip in self._companies_seen:
                continue
            if name != names[nip]:
                Company.update(name=names[nip], updated_at=now).where(
                    Company.id == company_id
                ).execute()
                tally.updated += 1
            else:
                tally.unchanged += 1
        self._companies_seen.update(names)
        ids = {nip: company_id for nip, (company_id, _) in existing.items()}
        if new:
            ids.update(
                Company.select(Company.nip, Company.id)
                .where(Company.nip.in_(_in_list(c["nip"] for c in new)))
                .tuples()
                .iterator()
            )
        return ids

    def _sync_contracts(self, batch, companies: dict[str, int]) -> dict[str, int]:
        wanted: dict[str, dict] = {}
        for row in batch:
            wanted.setdefault(
                row.contract_number,
                {
                    "number": row.contract_number,
                    "legacy_number": row.legacy_number,
                    "customer": companies[row.customer_nip],
                    "partner": companies.get(row.partner_nip)
                    if row.partner_nip
                    else None,
                    "service_code": row.service_code,
                    "start_date": row.start_date,
                    "end_date": row.end_date,
                },
            )
        # Only the columns compared below; foreign keys come as plain ids.
        existing = {
            c["number"]: c
            for c in Contract.select(
                Contract.id,
                Contract.number,
                Contract.legacy_number,
                Contract.customer,
                Contract.partner,
                Contract.service_code,
                Contract.start_date,
                Contract.end_date,
            )
            .where(Contract.number.in_(_in_list(wanted)))
            .dicts()
            .iterator()
        }
        self._reject_legacy_clashes(batch, wanted, existing)
        now = utcnow()
        new = [
            dict(v, created_at=now, updated_at=now)
            for k, v in wanted.items()
            if k not in existing
        ]
        _insert_chunks(Contract, new)
        tally = self.report.contracts
        tally.added += len(new)
        for number, contract in existing.items():
            if number in self._contracts_seen:
                continue
            values = wanted[number]
            changed = {
                k: v for k, v in values.items() if k != "number" and contract[k] != v
            }
            if changed:
                Contract.update(updated_at=now, **changed).where(
                    Contract.id == contract["id"]
                ).execute()
                if "partner" in changed and contract["partner"] is not None:
                    _end_sharing(contract["id"], contract["partner"], now)
                tally.updated += 1
            else:
                tally.unchanged += 1
        self._contracts_seen.update(wanted)
        ids = {number: contract["id"] for number, contract in existing.items()}
        if new:
            ids.update(
                Contract.select(Contract.number, Contract.id)
                .where(Contract.number.in_(_in_list(c["number"] for c in new)))
                .tuples()
                .iterator()
            )
        return ids

    def _reject_legacy_clashes(self, batch, wanted, existing) -> None:
        legacy = {
            v["legacy_number"]: k for k, v in wanted.items() if v["legacy_number"]
        }
        if not legacy:
            return
        for other_number, other_legacy in (
            Contract.select(Contract.number, Contract.legacy_number)
            .where(Contract.legacy_number.in_(_in_list(legacy)))
            .tuples()
            .iterator()
        ):
            mine = legacy[other_legacy]
            if other_number == mine:
                continue
            for row in batch:
                if row.contract_number == mine:
                    self.report.rejected.append(
                        RowError(
                            row.line,
                            f"legacy number {other_legacy} belongs to "
                            f"contract {other_number}",
                        )
                    )
            wanted.pop(mine, None)
            existing.pop(mine, None)
            self._contract_terms[mine] = ((), 0)  # later rows clash too

    def _sync_devices(self, batch, contracts: dict[str, int]) -> None:
        wanted: dict[tuple[int, str], str] = {}
        for row in batch:
            contract_id = contracts.get(row.contract_number)
            if contract_id is not None:
                wanted[(contract_id, row.serial)] = row.product
        if not wanted:
            return
        existing = {
            (contract_id, serial): (device_id, product)
            for device_id, contract_id, serial, product in Device.select(
                Device.id, Device.contract, Device.serial, Device.product
            )
            .where(Device.contract.in_(_in_list({k[0] for k in wanted})))
            .tuples()
            .iterator()
        }
        new = [
            {"contract": c, "serial": s, "product": p}
            for (c, s), p in wanted.items()
            if (c, s) not in existing
        ]
        _insert_chunks(Device, new)
        tally = self.report.devices
        tally.added += len(new)
        for key, (device_id, product) in existing.items():
            if key not in wanted:
                continue
            if product != wanted[key]:
                Device.update(product=wanted[key]).where(
                    Device.id == device_id
                ).execute()
                tally.updated += 1
            else:
                tally.unchanged += 1


def _in_list(values: Iterable):
    """The right-hand side of ``IN``: the values, padded to a power of two.

    Every list length is a different statement to the database, and SQLite's
    driver keeps the last 128 compiled (PostgreSQL's prepares them too); with
    thousands of parameters each, they took more memory than the batch. Padding
    with the last value again (harmless in an IN list) leaves a dozen sizes.
    The values (strings and ids, already as the database takes them) go in as
    one ``SQL`` node with its parameters: peewee would otherwise build and
    convert a node per value, a good part of the time a batch took.
    """
    values = list(values)
    if not values:
        return values  # peewee writes an empty IN as false
    size = max(16, 1 << (len(values) - 1).bit_length())
    if size <= IN_LIST_MAX:
        values.extend([values[-1]] * (size - len(values)))
    return SQL(f"({', '.join([db.param] * len(values))})", values)


def _insert_chunks(model, rows: list[dict]) -> None:
    """Insert rows (dicts with the same keys) with prepared statements.

    peewee's query builder writes one INSERT of ``INSERT_CHUNK`` rows and one of
    a single row (placeholders only, the right SQL for SQLite and PostgreSQL
    alike; kept for reuse); ``executemany`` runs the first for every full chunk
    and the second for the rest. Building a statement of thousands of
    parameters for every chunk was most of the time an import spent writing.
    Values go through each field's ``db_value`` as they would in
    ``insert_many``.
    """
    if not rows:
        return
    names = tuple(rows[0])
    fields = [model._meta.fields[name] for name in names]
    values = [tuple([f.db_value(row[f.name]) for f in fields]) for row in rows]
    full = len(values) - len(values) % INSERT_CHUNK
    cursor = db.cursor()
    with __exception_wrapper__:
        if full:
            cursor.executemany(
                _insert_sql(type(db.obj), model, names, INSERT_CHUNK),
                [
                    tuple(chain.from_iterable(values[i : i + INSERT_CHUNK]))
                    for i in range(0, full, INSERT_CHUNK)
                ],
            )
        if full < len(values):
            cursor.executemany(
                _insert_sql(type(db.obj), model, names, 1), values[full:]
            )


@lru_cache(maxsize=32)
def _insert_sql(database_class, model, names: tuple[str, ...], rows: int) -> str:
    """The INSERT of ``rows`` rows of ``names`` (the class keys the SQL dialect)."""
    fields = [model._meta.fields[name] for name in names]
    query = model.insert_many([[None] * len(fields)] * rows, fields=fields)
    sql, params = query.returning().sql()
    if len(params) != rows * len(fields):  # a column default would have been added
        raise ValueError(f"{model.__name__}: every column must be given")
    return sql


def import_contract_register(
    path: Path, progress: Callable[[int], None] | None = None
) -> ImportReport:
    """Import one contract register file; raises ContractRegisterFormatError
    for an unreadable one."""
    return ContractRegisterSync().apply(read_contract_register(Path(path), progress))


def _end_sharing(contract_id: int, former_partner_id: int, now: datetime) -> None:
    """The contract register moved a contract to another partner: the customers agreed
    to share its cases with the former one only, so sharing ends (recorded as
    a withdrawal from the former partner); the customer may share again."""
    from ..audit import audit
    from ..cases.services import CONSENT_TEXT_VERSION
    from ..models import ConsentEvent, SupportCase

    shared = list(
        SupportCase.select(SupportCase.id).where(
            (SupportCase.contract == contract_id) & SupportCase.is_shared
        )
    )
    for case in shared:
        ConsentEvent.create(
            case=case,
            partner=former_partner_id,
            is_granted=False,
            actor=None,
            # "register_import": the stored name of this path (kept for old rows).
            text_version=CONSENT_TEXT_VERSION,
            via="register_import",
            created_at=now,
        )
        audit(
            "consent_withdrawn",
            case=case,
            object_type="partner",
            object_id=former_partner_id,
            details="contract partner changed",
        )
    if shared:
        SupportCase.update(is_shared=False).where(
            SupportCase.id.in_([c.id for c in shared])
        ).execute()

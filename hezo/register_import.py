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
from pathlib import Path

from stdnum.pl import nip as stdnum_nip

from .catalogue import get_plan
from .db import db, utcnow
from .models import Company, Contract, Device

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
BATCH_ROWS = 2000
INSERT_CHUNK = 400


class RegisterFormatError(ValueError):
    """The file cannot be read as a contract register at all."""


@dataclass(frozen=True)
class RegisterRow:
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


def normalize_nip(value: str) -> str | None:
    """The 10-digit NIP, or None when it is malformed or fails its check digit."""
    value = (value or "").strip().upper().removeprefix("PL")
    try:
        return stdnum_nip.validate(value)
    except Exception:
        return None


def normalize_serial(value: str) -> str:
    """Serial numbers compare case-insensitively: trimmed and upper-cased."""
    return (value or "").strip().upper()


def parse_date(value: str) -> date | None:
    value = (value or "").strip()
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    return None


def parse_row(line: int, raw: dict[str, str]) -> RegisterRow | RowError:
    """Validate one CSV record; the error names the first problem found."""
    get = lambda name: (raw.get(name) or "").strip()  # noqa: E731
    number = get("contract_number")
    if not number:
        return RowError(line, "missing contract number")
    customer_nip = normalize_nip(get("customer_nip"))
    if customer_nip is None:
        return RowError(line, f"invalid customer NIP {get('customer_nip')!r}")
    if not get("customer_name"):
        return RowError(line, "missing customer name")
    partner_nip = None
    if get("partner_nip"):
        partner_nip = normalize_nip(get("partner_nip"))
        if partner_nip is None:
            return RowError(line, f"invalid partner NIP {get('partner_nip')!r}")
    code = get("service_code")
    if get_plan(code) is None:
        return RowError(line, f"unknown service code {code!r}")
    start, end = parse_date(get("start_date")), parse_date(get("end_date"))
    if start is None:
        return RowError(line, f"invalid start date {get('start_date')!r}")
    if end is None:
        return RowError(line, f"invalid end date {get('end_date')!r}")
    if end < start:
        return RowError(line, "end date before start date")
    serial = normalize_serial(raw.get("serial_number", ""))
    if not serial:
        return RowError(line, "missing serial number")
    return RegisterRow(
        line=line,
        contract_number=number,
        legacy_number=get("legacy_contract_number") or None,
        customer_nip=customer_nip,
        customer_name=get("customer_name"),
        partner_nip=partner_nip,
        partner_name=get("partner_name") or (partner_nip or ""),
        service_code=code,
        start_date=start,
        end_date=end,
        serial=serial,
        product=get("product"),
    )


def read_register(
    path: Path, progress: Callable[[int], None] | None = None
) -> Iterator[RegisterRow | RowError]:
    """Yield parsed rows (or row errors) of a register file, streaming it."""
    encoding = detect_encoding(path)
    with open(path, "rb") as binary:
        text = io.TextIOWrapper(binary, encoding=encoding, newline="")
        header_line = text.readline()
        delimiter = ";" if header_line.count(";") >= header_line.count(",") else ","
        header = [h.strip().lower() for h in next(csv.reader([header_line],
                                                             delimiter=delimiter))]
        missing = [c for c in COLUMNS if c not in header and c != "legacy_contract_number"]
        if missing:
            raise RegisterFormatError(f"missing columns: {', '.join(missing)}")
        reader = csv.reader(text, delimiter=delimiter)
        for record in reader:
            line = reader.line_num + 1  # the header was read apart
            if not any(cell.strip() for cell in record):
                continue
            if len(record) < len(header):
                yield RowError(line, "too few columns")
                continue
            yield parse_row(line, dict(zip(header, record, strict=False)))
            if progress and reader.line_num % 5000 == 0:
                progress(binary.tell())


# -- writing ---------------------------------------------------------------


class RegisterSync:
    """Applies parsed rows to the database in batches.

    Contract terms must agree across all rows of a contract in one file; a row
    that disagrees with an earlier one is rejected rather than silently winning.
    The same code path serves the ERP import and the legacy migration.
    """

    def __init__(self, report: ImportReport | None = None):
        self.report = report or ImportReport()
        self._contract_terms: dict[str, tuple[tuple, int]] = {}
        self._companies_seen: set[str] = set()

    def apply(self, rows: Iterable[RegisterRow | RowError], batch_rows: int = BATCH_ROWS):
        batch: list[RegisterRow] = []
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

    def _flush(self, batch: list[RegisterRow]) -> None:
        batch = self._consistent(batch)
        with db.atomic():
            companies = self._sync_companies(batch)
            contracts = self._sync_contracts(batch, companies)
            self._sync_devices(batch, contracts)

    def _consistent(self, batch: list[RegisterRow]) -> list[RegisterRow]:
        kept = []
        for row in batch:
            terms = row.contract_terms()
            first = self._contract_terms.setdefault(row.contract_number, (terms, row.line))
            if first[0] != terms:
                self.report.rejected.append(RowError(
                    row.line,
                    f"contract {row.contract_number} differs from line {first[1]}",
                ))
                continue
            kept.append(row)
        return kept

    def _sync_companies(self, batch: list[RegisterRow]) -> dict[str, int]:
        names: dict[str, str] = {}
        for row in batch:
            names[row.customer_nip] = row.customer_name
            if row.partner_nip:
                names.setdefault(row.partner_nip, row.partner_name)
        existing = {
            c.nip: c
            for c in Company.select(Company.id, Company.nip, Company.name)
            .where(Company.nip.in_(list(names)))
        }
        now = utcnow()
        new = [{"nip": n, "name": names[n], "created_at": now, "updated_at": now}
               for n in names if n not in existing]
        _insert_chunks(Company, new)
        tally = self.report.companies
        tally.added += len(new)
        for nip, company in existing.items():
            if nip in self._companies_seen:
                continue
            if company.name != names[nip]:
                Company.update(name=names[nip], updated_at=now).where(
                    Company.id == company.id).execute()
                tally.updated += 1
            else:
                tally.unchanged += 1
        self._companies_seen.update(names)
        return {
            c.nip: c.id
            for c in Company.select(Company.id, Company.nip)
            .where(Company.nip.in_(list(names)))
        }

    def _sync_contracts(self, batch, companies: dict[str, int]) -> dict[str, int]:
        wanted: dict[str, dict] = {}
        for row in batch:
            wanted.setdefault(row.contract_number, {
                "number": row.contract_number,
                "legacy_number": row.legacy_number,
                "customer": companies[row.customer_nip],
                "partner": companies.get(row.partner_nip) if row.partner_nip else None,
                "service_code": row.service_code,
                "start_date": row.start_date,
                "end_date": row.end_date,
            })
        existing = {
            c.number: c for c in Contract.select().where(Contract.number.in_(list(wanted)))
        }
        self._reject_legacy_clashes(batch, wanted, existing)
        now = utcnow()
        new = [dict(v, created_at=now, updated_at=now)
               for k, v in wanted.items() if k not in existing]
        _insert_chunks(Contract, new)
        tally = self.report.contracts
        tally.added += len(new)
        for number, contract in existing.items():
            values = wanted[number]
            changed = {k: v for k, v in values.items()
                       if k != "number" and _fk_value(contract, k) != v}
            if changed:
                Contract.update(updated_at=now, **changed).where(
                    Contract.id == contract.id).execute()
                tally.updated += 1
            else:
                tally.unchanged += 1
        return {
            c.number: c.id
            for c in Contract.select(Contract.id, Contract.number)
            .where(Contract.number.in_(list(wanted)))
        }

    def _reject_legacy_clashes(self, batch, wanted, existing) -> None:
        legacy = {v["legacy_number"]: k for k, v in wanted.items() if v["legacy_number"]}
        if not legacy:
            return
        for other in Contract.select(Contract.number, Contract.legacy_number).where(
            Contract.legacy_number.in_(list(legacy))
        ):
            mine = legacy[other.legacy_number]
            if other.number == mine:
                continue
            for row in batch:
                if row.contract_number == mine:
                    self.report.rejected.append(RowError(
                        row.line,
                        f"legacy number {other.legacy_number} belongs to "
                        f"contract {other.number}",
                    ))
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
            (d.contract_id, d.serial): d
            for d in Device.select(Device.id, Device.contract, Device.serial,
                                   Device.product)
            .where(Device.contract.in_(list({k[0] for k in wanted})))
        }
        new = [{"contract": c, "serial": s, "product": p}
               for (c, s), p in wanted.items() if (c, s) not in existing]
        _insert_chunks(Device, new)
        tally = self.report.devices
        tally.added += len(new)
        for key, device in existing.items():
            if key not in wanted:
                continue
            if device.product != wanted[key]:
                Device.update(product=wanted[key]).where(Device.id == device.id).execute()
                tally.updated += 1
            else:
                tally.unchanged += 1


def _fk_value(instance, name):
    field = instance._meta.fields[name]
    return getattr(instance, field.column_name) if hasattr(field, "rel_model") else (
        getattr(instance, name))


def _insert_chunks(model, rows: list[dict]) -> None:
    for start in range(0, len(rows), INSERT_CHUNK):
        model.insert_many(rows[start:start + INSERT_CHUNK]).execute()


def import_register(
    path: Path, progress: Callable[[int], None] | None = None
) -> ImportReport:
    """Import one register file; raises RegisterFormatError for an unreadable one."""
    return RegisterSync().apply(read_register(Path(path), progress))

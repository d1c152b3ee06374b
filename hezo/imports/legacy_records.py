"""Reading the previous portal's export: its shape, and one record at a time.

Everything here is pure parsing and validation; ``hezo.imports.legacy`` writes.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import ijson

from ..catalogue import get_plan
from ..identifiers import normalize_nip, normalize_serial
from ..models import Contract, SupportCase
from .contracts import ContractRow, parse_date
from .legacy_pdf import aware_utc, dialogue_messages

EXPORT_FORMAT = "myhezo-legacy/1"
CASE_STATUSES = {
    "open": "new",
    "in_progress": "in_verification",
    "waiting_for_customer": "waiting_for_customer",
}
CLOSED_CASE_STATUSES = frozenset({"resolved", "closed", "cancelled"})
CLOSED_CONTRACT_STATUSES = frozenset({"expired", "cancelled"})
CONTACT_LIMITS = {"name": 160, "email": 254, "phone": 32}  # the columns' sizes


class LegacyFormatError(ValueError):
    """The file cannot be read as a legacy export at all (not JSON, other format)."""


class Rejected(ValueError):
    """One record that cannot be migrated; ``str()`` is the reason in the report."""


def malformed(what: str) -> Rejected:
    """A rejection for a record that does not have the export's shape."""
    return Rejected(f"malformed record: {what}")


def _json_error(path: Path, exc: Exception) -> LegacyFormatError:
    """ijson's (multi-line) parse error as a one-line LegacyFormatError."""
    detail = " ".join(str(exc).split())
    return LegacyFormatError(f"{path.name}: not valid JSON ({detail})")


def check_format(path: Path) -> None:
    """Raise LegacyFormatError for a file that is no JSON object or names another
    ``format``. Only the start is read: up to ``format`` or the first data array.
    """
    with open(path, "rb") as fh:
        try:
            for prefix, event, value in ijson.parse(fh):
                if prefix == "" and event not in ("start_map", "map_key", "end_map"):
                    raise LegacyFormatError(f"{path.name}: not a JSON object")
                if prefix == "format" and value != EXPORT_FORMAT:
                    raise LegacyFormatError(
                        f"{path.name}: format {value!r}, not {EXPORT_FORMAT!r}"
                    )
                if prefix in ("format", "contracts", "cases"):
                    return
        except ijson.JSONError as exc:
            raise _json_error(path, exc) from exc


def read_items(path: Path, prefix: str) -> Iterator[tuple[int, object, int]]:
    """Each element of the array at ``prefix``: (ordinal from 1, value, bytes read)."""
    with open(path, "rb") as fh:
        try:
            for index, item in enumerate(ijson.items(fh, prefix, use_float=True), 1):
                yield index, item, fh.tell()
        except ijson.JSONError as exc:
            raise _json_error(path, exc) from exc


def record_label(record, index: int, keys: tuple[str, ...]) -> str:
    """How the report names a record: its legacy number, else ``#<ordinal>``."""
    if isinstance(record, dict):
        for key in keys:
            value = record.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()[:60]
    return f"#{index}"


def text_field(record: dict, key: str, required: bool = True, limit: int = 0) -> str:
    """A string field; Rejected when missing (if required), not text or too long."""
    value = record.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise malformed(f"missing {key}" if value is None else f"{key} is not text")
    if required and not value.strip():
        raise malformed(f"missing {key}")
    if "\x00" in value:  # PostgreSQL text cannot hold it
        raise malformed(f"{key} contains a NUL character")
    if limit and len(value) > limit:
        raise malformed(f"{key} longer than {limit} characters")
    return value


# -- contracts (pass 1) ----------------------------------------------------


def _party(record: dict, key: str, required: bool) -> tuple[str | None, str]:
    """(NIP, name) of the customer or partner object of a contract."""
    party = record.get(key)
    if party is None and not required:
        return None, ""
    if not isinstance(party, dict):
        raise malformed(f"{key} is not an object")
    raw = party.get("nip")
    nip = normalize_nip(raw) if isinstance(raw, str) else None
    if nip is None:
        raise malformed(f"invalid {key} NIP {str(raw)[:20]!r}")
    name = text_field(party, "name", required=required).strip()
    return nip, name or nip


def contract_rows(record, index: int) -> list[ContractRow] | None:
    """The contract register rows (one per covered serial) of an active legacy contract.

    None for an expired or cancelled contract; Rejected for a malformed one.
    ``index`` becomes the rows' ``line``, so sync errors name the contract.
    """
    if not isinstance(record, dict):
        raise malformed("not an object")
    status = record.get("status")
    if status in CLOSED_CONTRACT_STATUSES:
        return None
    if status != "active":
        raise malformed(f"unknown status {str(status)[:20]!r}")
    number = text_field(record, "number", limit=40).strip()
    legacy = text_field(record, "legacy_number", required=False, limit=40).strip()
    customer_nip, customer_name = _party(record, "customer", True)
    partner_nip, partner_name = _party(record, "partner", False)
    code = text_field(record, "service_code")
    if get_plan(code) is None:
        raise malformed(f"unknown service code {code[:20]!r}")
    start = parse_date(text_field(record, "start_date"))
    end = parse_date(text_field(record, "end_date"))
    if start is None or end is None or end < start:
        raise malformed("invalid coverage period")
    serials = record.get("serials")
    if not isinstance(serials, list) or not serials:
        raise malformed("no covered serials")
    rows = []
    for item in serials:
        serial = text_field(item, "serial") if isinstance(item, dict) else ""
        if not normalize_serial(serial):
            raise malformed("a covered serial without its number")
        rows.append(
            ContractRow(
                index,
                number,
                legacy or None,
                customer_nip,
                customer_name,
                partner_nip,
                partner_name,
                code,
                start,
                end,
                normalize_serial(serial),
                text_field(item, "product", required=False, limit=120).strip(),
            )
        )
    return rows


@dataclass
class CasePlan:
    """An active legacy case, validated, and where it goes."""

    legacy_id: str
    status: str
    subject: str
    nip: str
    contract_number: str
    serial: str
    reported_at: datetime
    contact: dict
    messages: list[dict]
    contract: Contract | None = None
    device_id: int | None = None
    existing: SupportCase | None = None  # set when only the dialogue is missing

    def pdf_context(self) -> dict:
        """The arguments of ``render_dialogue_pdf`` (plain, picklable data).

        A new case has no number until its row is inserted, after rendering.
        """
        return {
            "legacy_id": self.legacy_id,
            "subject": self.subject,
            "case_number": self.existing.number if self.existing else None,
            "messages": self.messages,
        }


def parse_case(record: dict, legacy_id: str) -> CasePlan:
    """Validate an active case record's fields (no database access)."""
    reporter = record.get("reporter") or {}
    if not isinstance(reporter, dict):
        raise malformed("reporter is not an object")
    try:
        reported_at = aware_utc(record.get("created_at"), "created_at")
        messages = dialogue_messages(record.get("dialogue"))
    except ValueError as exc:
        raise malformed(str(exc)) from None
    return CasePlan(
        legacy_id=legacy_id,
        status=CASE_STATUSES[record["status"]],
        subject=text_field(record, "subject", limit=200),
        nip=text_field(record, "customer_nip"),
        contract_number=text_field(record, "contract_number").strip(),
        serial=normalize_serial(text_field(record, "serial")),
        reported_at=reported_at,
        messages=messages,
        contact={
            key: text_field(reporter, key, required=False).strip()[:limit]
            for key, limit in CONTACT_LIMITS.items()
        },
    )

"""Migrate active contracts and cases from the previous portal's export.

The export (``legacy-*.json``, ``shared/formats/README.md`` section 2) is read
as a stream with ijson in two passes: contracts first, since a case may name a
contract defined after it, then cases. Active contracts join the contract
register through ``ContractRegisterSync``, the ERP import's own code
path. Each active case is written in one transaction together with the
attachment row of its dialogue PDF, and the PDF file is moved into place after
the commit; the PDFs are rendered ahead in a process pool
(``hezo.imports.legacy_pdf``) while earlier cases are written. Cases are keyed
by ``legacy_id``: a rerun leaves existing cases alone and re-attaches a
dialogue that an interrupted run left without its file. Closed records are
skipped; a bad record is reported and the others go on.
"""

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import BrokenExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from flask import current_app
from peewee import DatabaseError

from .. import sla
from ..attachments import StagedFile
from ..cases.services import case_number
from ..cases.workflow import clock_plan_of, next_due
from ..contracts.coverage import covered_device, find_contract
from ..db import db, utcnow
from ..identifiers import normalize_nip
from ..models import Company, StatusChange, SupportCase
from .contracts import ContractRegisterSync, ContractRow
from .legacy_pdf import (
    attach_dialogue,
    has_dialogue,
    make_renderer,
    rendered_in_order,
    store_with_pdf,
)
from .legacy_records import (
    CASE_STATUSES,
    CLOSED_CASE_STATUSES,
    CasePlan,
    LegacyFormatError,  # noqa: F401  (raised by import_legacy; callers catch it here)
    Rejected,
    check_format,
    contract_rows,
    malformed,
    parse_case,
    read_items,
    record_label,
    text_field,
)

MIGRATION_NOTE = "Przeniesione z poprzedniego portalu / moved from the previous portal"

#: Called with (bytes of the file read, case records read) during the case pass.
Progress = Callable[[int, int], None]


@dataclass
class Counts:
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    repaired: int = 0
    skipped_closed: int = 0


@dataclass(frozen=True)
class Rejection:
    kind: str  # "contract" or "case"
    legacy_id: str
    reason: str


@dataclass
class LegacyReport:
    """What a migration run did (with ``dry_run``: would have done)."""

    source: str = ""
    dry_run: bool = False
    contracts: Counts = field(default_factory=Counts)
    cases: Counts = field(default_factory=Counts)
    rejected: list[Rejection] = field(default_factory=list)

    def reject(self, kind: str, legacy_id: str, reason: str) -> None:
        """Record a refused ``"contract"`` or ``"case"`` with the reason."""
        self.rejected.append(Rejection(kind, legacy_id, reason))

    def format(self) -> str:
        """The report as printed by the command and written to the report file."""
        c, k = self.contracts, self.cases
        bad = {
            kind: sum(r.kind == kind for r in self.rejected)
            for kind in ("contract", "case")
        }
        dry = " (dry run: nothing was written)" if self.dry_run else ""
        lines = [
            f"Legacy import of {self.source}{dry}",
            f"Contracts: imported {c.imported}, updated {c.updated}, unchanged "
            f"{c.unchanged}, skipped as closed {c.skipped_closed}, "
            f"rejected {bad['contract']}",
            f"Cases: imported {k.imported}, repaired {k.repaired}, unchanged "
            f"{k.unchanged}, skipped as closed {k.skipped_closed}, "
            f"rejected {bad['case']}",
        ]
        lines += [f"Rejected {r.kind} {r.legacy_id}: {r.reason}" for r in self.rejected]
        return "\n".join(lines)


# -- reading ---------------------------------------------------------------


def sync_contracts(path: Path, report: LegacyReport) -> None:
    """Pass 1: the active contracts through ``ContractRegisterSync``, tallied
    in ``report``."""
    labels: dict[int, str] = {}

    def rows() -> Iterator[ContractRow]:
        for index, record, _position in read_items(path, "contracts.item"):
            label = record_label(record, index, ("legacy_number", "number"))
            try:
                parsed = contract_rows(record, index)
            except Rejected as exc:
                report.reject("contract", label, str(exc))
                continue
            if parsed is None:
                report.contracts.skipped_closed += 1
                continue
            labels[index] = label
            yield from parsed

    result = ContractRegisterSync().apply(rows())
    report.contracts.imported += result.contracts.added
    report.contracts.updated += result.contracts.updated
    report.contracts.unchanged += result.contracts.unchanged
    seen = set()
    for error in result.rejected:  # one per serial row: report each contract once
        if (error.line, error.reason) not in seen:
            seen.add((error.line, error.reason))
            report.reject("contract", labels[error.line], error.reason)


# -- cases (pass 2) --------------------------------------------------------


def _locate(plan: CasePlan) -> None:
    """Find the company (by NIP), contract (either notation) and device of a case."""
    nip = normalize_nip(plan.nip)
    if nip is None:
        raise malformed(f"invalid customer_nip {plan.nip[:20]!r}")
    company = Company.get_or_none(Company.nip == nip)
    if company is None:
        raise Rejected("unknown company")
    plan.contract = find_contract(plan.contract_number, customer=company.id)
    if plan.contract is None:
        raise Rejected("contract not found")
    device = covered_device(plan.contract.id, plan.serial)
    if device is None:
        raise Rejected("serial not on contract")
    plan.device_id = device.id


def _prepare(record, seen: set[str], counts: Counts) -> CasePlan | None:
    """A plan for a case to write, or None for one skipped as closed or migrated
    already with its dialogue in place (counted in ``counts``).

    Raises Rejected for a record that cannot be migrated.
    """
    if not isinstance(record, dict):
        raise malformed("not an object")
    status = record.get("status")
    if status in CLOSED_CASE_STATUSES:
        counts.skipped_closed += 1
        return None
    if status not in CASE_STATUSES:
        raise malformed(f"unknown status {str(status)[:20]!r}")
    legacy_id = text_field(record, "legacy_id", limit=40).strip()
    if legacy_id in seen:
        raise malformed("legacy_id appears twice in the export")
    seen.add(legacy_id)
    existing = SupportCase.get_or_none(SupportCase.legacy_id == legacy_id)
    if existing is not None and has_dialogue(existing.id):
        counts.unchanged += 1
        return None
    plan = parse_case(record, legacy_id)
    if existing is None:
        _locate(plan)
    plan.existing = existing
    return plan


def _create_case(plan: CasePlan, staged: StagedFile, now: datetime) -> None:
    """Insert the case, its dialogue attachment and the status change of the move."""
    times = [m["at"] for m in plan.messages]
    terms = clock_plan_of(plan.contract.service_code, "")
    case = SupportCase(
        number=uuid.uuid4().hex[:24],
        company=plan.contract.customer_id,
        contract=plan.contract,
        device=plan.device_id,
        subject=plan.subject,
        description=(plan.messages[0]["text"] if plan.messages else "").replace(
            "\x00", ""
        ),
        channel="migrated",
        status=plan.status,
        is_shared=False,
        contact_name=plan.contact["name"],
        contact_email=plan.contact["email"],
        contact_phone=plan.contact["phone"],
        legacy_id=plan.legacy_id,
        reported_at=plan.reported_at,
        created_at=plan.reported_at,
        response_due_at=sla.response_due(plan.reported_at, terms),
        service_terms=terms.terms(),
        first_response_at=min(
            (m["at"] for m in plan.messages if m["from_staff"]), default=None
        ),
        paused_at=now if plan.status == "waiting_for_customer" else None,
        last_activity_at=max([plan.reported_at, *times]),
    )
    case.save(force_insert=True)
    case.number = case_number(case.id, sla.local_day(plan.reported_at).year)
    case.next_due_at = next_due(case)
    SupportCase.update(number=case.number, next_due_at=case.next_due_at).where(
        SupportCase.id == case.id
    ).execute()
    attach_dialogue(case.id, staged, now)
    StatusChange.create(
        case=case.id,
        to_status=plan.status,
        created_at=now,
        note=f"{MIGRATION_NOTE}: {plan.legacy_id}",
    )


def _write(plan: CasePlan, pdf: bytes, dry_run: bool, now: datetime) -> None:
    """The case's rows in one transaction, its PDF file moved in after the commit."""
    if plan.existing is None:

        def rows(staged):
            _create_case(plan, staged, now)
    else:

        def rows(staged):
            attach_dialogue(plan.existing.id, staged, now, replace=True)

    store_with_pdf(pdf, plan.legacy_id, not dry_run, rows)


def _finish(
    plan: CasePlan, future, report: LegacyReport, dry_run: bool, now: datetime
) -> None:
    """Write a case once its PDF is rendered; a failure rejects this case only."""
    try:
        pdf = future.result()
    except BrokenExecutor:  # a worker died: every later case would fail too
        raise
    except Exception as exc:  # PdfRenderError, or reportlab refusing the layout
        report.reject("case", plan.legacy_id, f"dialogue PDF not rendered: {exc}")
        return
    try:
        _write(plan, pdf, dry_run, now)
    except DatabaseError as exc:
        report.reject("case", plan.legacy_id, f"database refused it: {exc}")
        return
    if plan.existing is None:
        report.cases.imported += 1
    else:
        report.cases.repaired += 1


def import_cases(
    path: Path,
    report: LegacyReport,
    renderer,
    dry_run: bool,
    progress: Progress | None = None,
) -> None:
    """Pass 2: the cases in file order, their PDFs rendered ahead of the writes."""
    now = utcnow()
    seen: set[str] = set()

    def plans() -> Iterator[CasePlan]:
        for index, record, position in read_items(path, "cases.item"):
            try:
                plan = _prepare(record, seen, report.cases)
            except Rejected as exc:
                plan = None
                report.reject(
                    "case", record_label(record, index, ("legacy_id",)), str(exc)
                )
            if progress:
                progress(position, index)
            if plan is not None:
                yield plan

    for plan, future in rendered_in_order(plans(), renderer, CasePlan.pdf_context):
        _finish(plan, future, report, dry_run, now)


@contextmanager
def _rolled_back():
    """A transaction that is rolled back at the end, whatever happened inside."""
    with db.atomic() as transaction:
        yield
        transaction.rollback()


def import_legacy(
    path,
    *,
    dry_run: bool = False,
    workers: int | None = None,
    progress: Progress | None = None,
) -> LegacyReport:
    """Migrate the legacy export at ``path`` and return what was done.

    Needs an app context. ``dry_run`` does all the work in one transaction that
    is rolled back and writes no file (PDFs are still rendered, to be checked).
    ``workers`` processes render the PDFs (default: one per core; 1 renders in
    this process). ``progress`` is called as the cases are read. Raises
    LegacyFormatError when the file is no legacy export at all; a bad record
    only lands in the report.
    """
    path = Path(path)
    check_format(path)
    report = LegacyReport(source=path.name, dry_run=dry_run)
    with make_renderer(current_app._get_current_object(), workers) as renderer:
        db.connect(reuse_if_open=True)
        with _rolled_back() if dry_run else nullcontext():
            sync_contracts(path, report)
            import_cases(path, report, renderer, dry_run, progress)
    return report

"""Imports run from the administrators' console (issue 20), in the background.

An administrator uploads the ERP contract register (CSV) or the previous
portal's export (JSON). The file is checked in the request (empty, binary, not
the kind chosen: a translated ``UploadRefused``), stored under the import
folder (``IMPORT_FOLDER``, by default ``<upload folder>/imports``: the instance
folder, never the package) and a dry run is queued. ``hezo import-worker``
claims queued runs with one conditional UPDATE each (two workers never run the
same one), runs the very functions the ``hezo import-contracts`` and ``hezo
import-legacy`` commands run, writes the progress (bytes of the file read) as it
goes and the report as JSON at the end. A done dry run can be applied once: a
real run of the same file (``applied_from`` is unique).

A dry run of the contract register runs in a transaction that is rolled back
(the importer has no dry mode of its own); the legacy import's own ``dry_run``
does the same. Progress is written by a helper thread on its own connection,
so it shows while the import's transaction is open (on PostgreSQL; SQLite lets
one writer at a time, so there a dry run shows its progress only at the end).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from peewee import DatabaseError, IntegrityError
from werkzeug.datastructures import FileStorage

from ..audit import audit
from ..db import db, is_sqlite, utcnow
from ..inputs import clean_filename
from ..models import ImportRun, User
from .contracts import (
    COLUMNS,
    ContractRegisterFormatError,
    ImportReport,
    import_contract_register,
)
from .legacy import LegacyFormatError, LegacyReport, import_legacy
from .legacy_records import check_format

log = logging.getLogger(__name__)

#: The file each kind takes (checked by extension and content).
EXTENSIONS = {"contracts": ".csv", "legacy": ".json"}
#: Columns a contract register must have (the legacy number is optional).
REQUIRED_COLUMNS = tuple(c for c in COLUMNS if c != "legacy_contract_number")
SNIFF_BYTES = 64 * 1024
TEMPORARY_PREFIX = ".import-"


class UploadRefused(ValueError):
    """A file that cannot be imported; ``str()`` is a translated message and
    ``status`` the HTTP status to answer with."""

    def __init__(self, message, status: int = 422):
        super().__init__(message)
        self.status = status


class NotApplicable(ValueError):
    """The run is no done dry run, or it was applied already."""


# -- the stored file -----------------------------------------------------------


def import_folder() -> Path:
    """Where uploaded import files wait for the worker (in the instance folder)."""
    configured = current_app.config.get("IMPORT_FOLDER")
    if configured:
        return Path(configured)
    return Path(current_app.config["UPLOAD_FOLDER"]) / "imports"


def stored_file(run: ImportRun) -> Path:
    return import_folder() / run.stored_name


def store_upload(upload, kind: str) -> tuple[str, str, int]:
    """Check an uploaded file for ``kind`` and keep it for the worker.

    Returns (the name as uploaded, the stored name, size). Raises
    UploadRefused, with nothing left behind, for a file that is too large,
    empty, binary, not the chosen kind's type or without its columns.
    """
    if not isinstance(upload, FileStorage) or not upload.filename:
        raise UploadRefused(_l("Choose the file to import."))
    name = clean_filename(upload.filename.replace("\\", "/").rsplit("/", 1)[-1])
    name = name[:200] or "import"
    extension = EXTENSIONS[kind]
    if not name.lower().endswith(extension):
        raise UploadRefused(_KIND_MISMATCH[kind])
    folder = import_folder()
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f"{TEMPORARY_PREFIX}{uuid.uuid4().hex}"
    try:
        size = _copy_limited(upload, temporary)
        _check_content(temporary, kind, size)
        stored = f"{uuid.uuid4().hex}{extension}"
        os.replace(temporary, folder / stored)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    finally:
        upload.close()  # a large upload's spooled temporary file
    return name, stored, size


def _copy_limited(upload: FileStorage, target: Path) -> int:
    limit = current_app.config["IMPORT_MAX_BYTES"]
    size = 0
    with open(target, "wb") as out:
        while chunk := upload.stream.read(1 << 16):
            size += len(chunk)
            if size > limit:
                raise UploadRefused(
                    _l(
                        "The file is larger than %(mb)d MB.",
                        mb=limit // (1024 * 1024) or 1,
                    ),
                    413,
                )
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return size


def _check_content(path: Path, kind: str, size: int) -> None:
    head = _read_head(path)
    if size == 0 or not head.strip():
        raise UploadRefused(_l("The file is empty."))
    if b"\x00" in head:
        raise UploadRefused(_l("The file is not text (it looks like a binary file)."))
    if kind == "contracts":
        missing = _missing_columns(path)
        if missing:
            raise UploadRefused(
                _l(
                    "This is not the contract register: the columns %(columns)s "
                    "are missing (the first line must name the columns).",
                    columns=", ".join(missing),
                )
            )
    else:
        try:
            check_format(path)
        except LegacyFormatError:
            raise UploadRefused(_KIND_MISMATCH["legacy"]) from None


def _read_head(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(SNIFF_BYTES)


def _missing_columns(path: Path) -> list[str]:
    """The required columns the header line lacks (read as the importer does)."""
    head = _read_head(path)
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:  # cut inside a character, or Windows-1250
        text = head[: exc.start].decode("utf-8-sig") if exc.start > 0 else ""
        if "\n" not in text:
            text = head.decode("cp1250", errors="replace")
    header_line = text.splitlines()[0] if text else ""
    delimiter = ";" if header_line.count(";") >= header_line.count(",") else ","
    header = {h.strip().strip('"').lower() for h in header_line.split(delimiter)}
    return [c for c in REQUIRED_COLUMNS if c not in header]


_KIND_MISMATCH = {
    "contracts": _l("Choose the contract register as a CSV file (.csv)."),
    "legacy": _l(
        "This is not an export of the previous portal: a JSON file (.json) "
        "in the format myhezo-legacy/1."
    ),
}


# -- queueing ------------------------------------------------------------------


def queue_dry_run(
    actor: User, kind: str, file_name: str, stored_name: str, size: int, now: datetime
) -> ImportRun:
    """Queue the dry run of an uploaded file (in the caller's transaction)."""
    return _queue(
        actor,
        now,
        f"{kind} dry run of {file_name} ({size} bytes)",
        kind=kind,
        dry_run=True,
        file_name=file_name,
        stored_name=stored_name,
        file_size=size,
    )


def queue_real_run(dry: ImportRun, actor: User, now: datetime) -> ImportRun:
    """Queue the real run of a done dry run; raises NotApplicable when it is
    not done, failed, or was applied already (also by another request at the
    same moment: ``applied_from`` is unique)."""
    if not dry.dry_run or dry.state != "done" or not file_kept(dry):
        raise NotApplicable
    try:
        with db.atomic():
            return _queue(
                actor,
                now,
                f"{dry.kind} import of {dry.file_name} (dry run {dry.id})",
                kind=dry.kind,
                dry_run=False,
                file_name=dry.file_name,
                stored_name=dry.stored_name,
                file_size=dry.file_size,
                applied_from=dry.id,
            )
    except IntegrityError as exc:  # the unique applied_from: applied already
        raise NotApplicable from exc


def _queue(actor: User, now: datetime, details: str, **fields) -> ImportRun:
    run = ImportRun.create(
        progress_total=fields["file_size"], created_by=actor, created_at=now, **fields
    )
    audit(
        "import_queued",
        actor=actor,
        object_type="import_run",
        object_id=run.id,
        details=details,
        now=now,
    )
    return run


# -- the worker's side ---------------------------------------------------------


def worker_id() -> str:
    """This process as the runs it claims name it: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


def claim(run_id: int, now: datetime) -> bool:
    """Take a queued run: one conditional UPDATE, so of two workers (or
    processes, or machines) only one gets it."""
    return (
        ImportRun.update(
            state="running",
            started_at=now,
            heartbeat_at=now,
            worker=worker_id(),
            progress_done=0,
        )
        .where((ImportRun.id == run_id) & (ImportRun.state == "queued"))
        .execute()
        == 1
    )


def seems_lost(run: ImportRun, now: datetime) -> bool:
    """Whether a "running" run's worker is gone. On this machine its process
    says so: gone, the run is lost; alive, a dry run on SQLite is too (it
    holds its transaction to the end, so no heartbeat can be written meanwhile:
    none is asked of it). Otherwise (another machine, or a live worker
    that should be writing) the heartbeat decides: none for
    ``IMPORT_LOST_SECONDS`` (a killed worker, a lost machine, a hung one)."""
    if run.state != "running":
        return False
    host, _sep, pid = (run.worker or "").rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        if not _process_alive(int(pid)):
            return True
        if run.dry_run and is_sqlite():
            return False
    limit = now - timedelta(seconds=current_app.config["IMPORT_LOST_SECONDS"])
    return run.heartbeat_at is None or run.heartbeat_at < limit


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def reap_lost(now: datetime) -> int:
    """Mark failed ("lost") the runs still "running" whose worker is gone
    (``seems_lost``): their page would otherwise say "running" for ever.
    Audited as a failed import. Returns how many."""
    running = ImportRun.select().where(ImportRun.state == "running")
    reaped = 0
    for run in (r for r in running if seems_lost(r, now)):
        with db.atomic():
            changed = (
                ImportRun.update(state="failed", finished_at=now, error="lost")
                .where(
                    (ImportRun.id == run.id)
                    & (ImportRun.state == "running")
                    & (ImportRun.worker == run.worker)
                )
                .execute()
            )
            if changed:
                _audit_end(run, "import_failed", "lost", now)
                reaped += 1
    return reaped


def claim_next(now: datetime) -> ImportRun | None:
    """The oldest queued run, claimed for this worker; None when none is left."""
    while True:
        waiting = [
            run.id
            for run in ImportRun.select(ImportRun.id)
            .where(ImportRun.state == "queued")
            .order_by(ImportRun.id)
            .limit(10)
        ]
        if not waiting:
            return None
        for run_id in waiting:
            if claim(run_id, now):
                return ImportRun.get_by_id(run_id)


class Stopped(BaseException):
    """The worker was asked to stop in the middle of a run."""


def process(run: ImportRun, workers: int | None = 1) -> ImportRun:
    """Run a claimed import to its end: done with its report, or failed with
    the reason (the file turned out unreadable, or the worker was stopped)."""
    path = stored_file(run)
    # SQLite has one writer: the dry run's transaction; its progress waits.
    progress = ProgressWriter(
        run.id,
        current_app.config["IMPORT_PROGRESS_SECONDS"],
        background=not (run.dry_run and is_sqlite()),
    )
    state, report, error = "failed", None, ""
    try:
        with progress:
            if run.kind == "contracts":
                report = _contracts_report(_run_contracts(path, run.dry_run, progress))
            else:
                result = import_legacy(
                    path, dry_run=run.dry_run, workers=workers, progress=progress.legacy
                )
                report = _legacy_report(result)
        state = "done"
    except FileNotFoundError:
        error = "file_missing"
    except (ContractRegisterFormatError, LegacyFormatError) as exc:
        error = f"unreadable: {exc}"
    except (Stopped, KeyboardInterrupt):
        error = "stopped"
        raise
    except Exception:
        log.exception("import run %s failed", run.id)
        error = "internal"
    finally:
        _finish(run, state, report, error)
    return ImportRun.get_by_id(run.id)


def _run_contracts(path: Path, dry_run: bool, progress) -> ImportReport:
    if not dry_run:
        return import_contract_register(path, progress)
    db.connect(reuse_if_open=True)
    with db.atomic() as transaction:
        report = import_contract_register(path, progress)
        transaction.rollback()
    return report


def _finish(run: ImportRun, state: str, report: dict | None, error: str) -> None:
    now = utcnow()
    figures = _figures(report) if report else error
    with db.atomic():
        ImportRun.update(
            state=state,
            finished_at=now,
            progress_done=run.file_size if state == "done" else ImportRun.progress_done,
            report=json.dumps(report) if report else "",
            error=error,
        ).where(ImportRun.id == run.id).execute()
        _audit_end(
            run, "import_done" if state == "done" else "import_failed", figures, now
        )
    if state == "done" and not run.dry_run:
        stored_file(run).unlink(missing_ok=True)  # applied: no longer needed


def _audit_end(run: ImportRun, action: str, outcome: str, now: datetime) -> None:
    """The audit event of a run's end: its kind and ``outcome`` (the figures,
    or why it failed)."""
    audit(
        action,
        actor=run.created_by_id,
        object_type="import_run",
        object_id=run.id,
        details=f"{run.kind}{' dry run' if run.dry_run else ''}: {outcome}",
        now=now,
    )


def purge_unapplied_files(now: datetime) -> int:
    """Delete the files of finished dry runs older than IMPORT_KEEP_DAYS that
    were never applied (an applied file goes when its real run is done);
    returns how many. The run and its report stay."""
    limit = now - timedelta(days=current_app.config["IMPORT_KEEP_DAYS"])
    applied = ImportRun.select(ImportRun.applied_from).where(
        ImportRun.applied_from.is_null(False)
    )
    old = ImportRun.select().where(
        ImportRun.dry_run
        & ImportRun.state.in_(("done", "failed"))
        & (ImportRun.created_at < limit)
        & (ImportRun.stored_name != "")
        & ImportRun.id.not_in(applied)
    )
    removed = 0
    for run in list(old):
        stored_file(run).unlink(missing_ok=True)
        ImportRun.update(stored_name="").where(ImportRun.id == run.id).execute()
        removed += 1
    return removed


def file_kept(run: ImportRun) -> bool:
    return bool(run.stored_name) and stored_file(run).is_file()


def _figures(report: dict) -> str:
    parts = [
        f"{t['name']} +{t['added']} ~{t['updated']} ={t['unchanged']}"
        for t in report["tables"]
    ]
    return ", ".join(parts) + f", rejected {len(report['rejected'])}"


class ProgressWriter:
    """Called with the bytes read; a helper thread writes the latest figure
    every ``interval`` seconds on its own connection (outside the import's
    transaction). A write the database refuses (SQLite busy) is skipped."""

    def __init__(self, run_id: int, interval: float, background: bool = True):
        self.run_id, self.interval, self.background = run_id, interval, background
        self.done = self.written = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __call__(self, position: int) -> None:
        self.done = position

    def legacy(self, position: int, _cases: int) -> None:
        self.done = position

    def __enter__(self):
        if self.background:
            self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        if self.background:
            self._thread.join()

    def _loop(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                self._write(self.done)  # the progress and the heartbeat
        finally:
            if not db.is_closed():
                db.close()

    def _write(self, done: int) -> None:
        try:
            db.connect(reuse_if_open=True)
            ImportRun.update(progress_done=done, heartbeat_at=utcnow()).where(
                (ImportRun.id == self.run_id) & (ImportRun.state == "running")
            ).execute()
            self.written = done
        except DatabaseError:  # SQLite's one writer is the import: later
            log.debug("import run %s: progress not written now", self.run_id)


# -- the report ----------------------------------------------------------------


@dataclass(frozen=True)
class Rejection:
    """One refused line (contract register) or record (legacy export)."""

    where: str  # "line", "contract" or "case"
    ref: str  # the line number, or the record's legacy number
    reason: str


def _contracts_report(result: ImportReport) -> dict:
    return {
        "rows": result.rows,
        "tables": [
            _table(name, getattr(result, name))
            for name in ("companies", "contracts", "devices")
        ],
        "rejected": [
            {"where": "line", "ref": str(r.line), "reason": r.reason}
            for r in sorted(result.rejected, key=lambda r: r.line)
        ],
    }


def _table(name: str, tally) -> dict:
    return {
        "name": name,
        "added": tally.added,
        "updated": tally.updated,
        "unchanged": tally.unchanged,
        "skipped": None,
    }


def _legacy_report(result: LegacyReport) -> dict:
    c, k = result.contracts, result.cases
    return {
        "rows": None,
        "tables": [
            {
                "name": "contracts",
                "added": c.imported,
                "updated": c.updated,
                "unchanged": c.unchanged,
                "skipped": c.skipped_closed,
            },
            {
                "name": "cases",
                "added": k.imported,
                "updated": k.repaired,
                "unchanged": k.unchanged,
                "skipped": k.skipped_closed,
            },
        ],
        "rejected": [
            {"where": r.kind, "ref": r.legacy_id, "reason": r.reason}
            for r in result.rejected
        ],
    }


def report_of(run: ImportRun) -> dict | None:
    """The stored report: ``rows`` (lines read, contract register only),
    ``tables`` (name, added, updated, unchanged, skipped as closed) and
    ``rejected`` (where, ref, reason); None until the run is done."""
    return json.loads(run.report) if run.report else None

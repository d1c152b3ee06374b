"""Backup and restore: every table of ``ALL_MODELS`` and the upload folder.

The database is written as a logical dump through peewee, one JSON line a row
and one file a table, read in a single snapshot (a repeatable-read transaction
on PostgreSQL, one read transaction on SQLite). The same dump restores into
either database, so it also moves a portal from SQLite to PostgreSQL, and it
needs no client tools matching the server's version (``pg_dump`` remains the
faster choice for a very large PostgreSQL database; README, "Backup").

Order, so that no row is ever without its file: files are placed before the
rows that name them commit and are never deleted (``attachments``). A backup
therefore reads the database first and copies the files after: every file a
row of the snapshot names existed when the snapshot was taken and is copied.
A restore puts the files back first and the rows after, in one transaction.
"""

import base64
import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from peewee import AutoField, BlobField, DateField, DateTimeField, Model

from .attachments import upload_root
from .db import db, is_sqlite, utcnow
from .models import ALL_MODELS, Attachment, ServiceVariant

FORMAT = "hezo-backup/1"
MANIFEST = "manifest.json"


class BackupError(RuntimeError):
    """A backup or restore that must not go ahead; the text says why."""


@dataclass
class BackupReport:
    rows: dict[str, int] = field(default_factory=dict)
    files: int = 0
    #: Attachment rows whose file was missing already (see ``hezo check-files``).
    missing_files: list[str] = field(default_factory=list)


def _columns(model: type[Model]):
    return list(model._meta.sorted_fields)


def _encode(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def _decoder(column):
    if isinstance(column, DateTimeField):
        return datetime.fromisoformat
    if isinstance(column, DateField):
        return date.fromisoformat
    if isinstance(column, BlobField):
        return base64.b64decode
    return None


def applied_migrations() -> list[str]:
    rows = db.execute_sql("SELECT name FROM schema_migration ORDER BY name")
    return [name for (name,) in rows]


def backup(target: Path) -> BackupReport:
    """Write the database, then the upload folder's files, into ``target``
    (a new or empty directory). The manifest is written last: a directory
    without one is an unfinished backup, which ``restore`` refuses."""
    target = Path(target)
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"{target} is not empty")
    (target / "database").mkdir(parents=True, exist_ok=True)
    report = BackupReport()
    with db.atomic():
        if not is_sqlite():
            db.execute_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        migrations = applied_migrations()
        for model in ALL_MODELS:
            report.rows[model._meta.table_name] = _dump_table(model, target)
        needed = {
            sha for (sha,) in Attachment.select(Attachment.sha256).distinct().tuples()
        }
    report.files = _copy_files(upload_root(), target / "files")
    report.missing_files = sorted(
        sha for sha in needed if not _file_path(target / "files", sha).is_file()
    )
    manifest = {
        "format": FORMAT,
        "created_at": utcnow().isoformat(),
        "database": "sqlite" if is_sqlite() else "postgresql",
        "migrations": migrations,
        "rows": report.rows,
        "files": report.files,
        "missing_files": report.missing_files,
    }
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return report


def _dump_table(model: type[Model], target: Path) -> int:
    columns = _columns(model)
    path = target / "database" / f"{model._meta.table_name}.jsonl"
    count = 0
    with open(path, "w", encoding="utf-8") as out:
        out.write(json.dumps([c.column_name for c in columns]) + "\n")
        query = model.select(*columns).order_by(model._meta.primary_key).tuples()
        for row in query.iterator():
            out.write(json.dumps([_encode(v) for v in row], ensure_ascii=False))
            out.write("\n")
            count += 1
    return count


def _file_path(root: Path, sha256: str) -> Path:
    return root / sha256[:2] / sha256


def _stored_files(root: Path):
    """The content-addressed files under ``root`` (no temporaries)."""
    if not root.is_dir():
        return
    for folder in sorted(root.iterdir()):
        if folder.is_dir() and len(folder.name) == 2:
            for path in sorted(folder.iterdir()):
                if path.is_file() and path.name[:2] == folder.name:
                    yield path


def _copy_files(source: Path, target: Path, verify: bool = False) -> int:
    """Copy the stored files missing in ``target`` (each through a temporary
    name, so a half-copied file is never taken for a whole one)."""
    copied = 0
    for path in _stored_files(source):
        destination = _file_path(target, path.name)
        if destination.is_file():
            continue
        if verify and _sha256(path) != path.name:
            raise BackupError(f"{path}: content does not match its name")
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_name(f".restore-{path.name}")
        shutil.copyfile(path, partial)
        os.replace(partial, destination)
        copied += 1
    return copied


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def restore(source: Path) -> BackupReport:
    """Restore a backup into an empty portal at the backup's schema version:
    the files first (checked against their names), then every table in one
    transaction. PostgreSQL's id sequences continue after the restored ids.
    """
    source = Path(source)
    try:
        manifest = json.loads((source / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"{source}: no finished backup ({exc})") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{source}: unknown backup format {manifest.get('format')}")
    if manifest["migrations"] != applied_migrations():
        raise BackupError(
            "the backup was made at another schema version: "
            f"{manifest['migrations']} here {applied_migrations()}"
        )
    tables = {m._meta.table_name: m for m in ALL_MODELS}
    if set(manifest["rows"]) != set(tables):
        raise BackupError("the backup's tables differ from this portal's")
    if any(_added_rows(model).exists() for model in ALL_MODELS):
        raise BackupError("the database is not empty: restore only into a new one")
    report = BackupReport(missing_files=manifest.get("missing_files", []))
    report.files = _copy_files(source / "files", upload_root(), verify=True)
    with db.atomic():
        # The migrations' seed rows (the catalogue's packages) come back
        # from the backup as they were there.
        ServiceVariant.delete().execute()
        for model in ALL_MODELS:
            report.rows[model._meta.table_name] = _load_table(model, source)
        if not is_sqlite():
            _continue_sequences()
    for name, count in manifest["rows"].items():
        if report.rows[name] != count:
            raise BackupError(f"{name}: {report.rows[name]} rows read, {count} written")
    return report


def _added_rows(model: type[Model]):
    """The rows a new portal does not have (all but the migrations' seed)."""
    if model is ServiceVariant:
        return model.select().where(~ServiceVariant.package)
    return model.select()


def _load_table(model: type[Model], source: Path) -> int:
    path = source / "database" / f"{model._meta.table_name}.jsonl"
    by_name = {c.column_name: c for c in _columns(model)}
    with open(path, encoding="utf-8") as lines:
        names = json.loads(next(lines))
        if set(names) != set(by_name):
            raise BackupError(f"{path.name}: columns differ from the model's")
        columns = [by_name[n] for n in names]
        decoders = [_decoder(c) for c in columns]
        batch, count, size = [], 0, max(1, 5000 // len(columns))
        for line in lines:
            values = json.loads(line)
            batch.append(
                [
                    v if d is None or v is None else d(v)
                    for v, d in zip(values, decoders, strict=True)
                ]
            )
            if len(batch) >= size:
                count += _insert(model, columns, batch)
                batch = []
        if batch:
            count += _insert(model, columns, batch)
    return count


def _insert(model, columns, rows) -> int:
    model.insert_many(rows, fields=columns).execute()
    return len(rows)


def _continue_sequences() -> None:
    for model in ALL_MODELS:
        key = model._meta.primary_key
        if not isinstance(key, AutoField):  # a named key (site_setting): no sequence
            continue
        table = model._meta.table_name
        db.execute_sql(
            f"SELECT setval(pg_get_serial_sequence('\"{table}\"', "
            f"'{key.column_name}'), COALESCE(MAX(\"{key.column_name}\"), 1), "
            f'MAX("{key.column_name}") IS NOT NULL) FROM "{table}"'
        )

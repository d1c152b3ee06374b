"""Case attachments: checked on the way in, stored once by content hash.

Allowed (stated on the form): device logs and configuration as text (.log .txt
.cfg .conf .csv .json), compressed logs (.gz .zip), screenshots (.png .jpg
.jpeg) and .pdf; at most ``ATTACHMENT_MAX_BYTES`` (10 MB) a file and
200 MB a case. The extension must
agree with the content. Archives are inspected, never extracted. Files live
outside the static folder under ``UPLOAD_FOLDER/<sha256[:2]>/<sha256>``; a file
is written to a temporary name first (``.upload-*``) and moved into place
*before* the transaction that records it: a crash in between leaves a file no
row names, which is harmless (the next upload of the same content reuses it),
never a row without its file. ``hezo check-files`` lists rows without files
and removes temporary files left by crashes.

A form that comes back with an error keeps the files it staged: each is
offered again under a signed token naming the staged file and the account
that uploaded it (``keep_token``/``kept_file``); staged files nobody sent
again are removed after ``KEEP_SECONDS``.
"""

import gzip
import hashlib
import logging
import os
import re
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from flask import current_app, send_file
from flask_babel import lazy_gettext as _l
from itsdangerous import BadData, URLSafeTimedSerializer
from werkzeug.datastructures import FileStorage

from .inputs import clean_filename

TEXT = {".log", ".txt", ".cfg", ".conf", ".csv", ".json"}
MAGIC = {
    ".gz": (b"\x1f\x8b",),
    ".zip": (b"PK\x03\x04", b"PK\x05\x06"),
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".pdf": (b"%PDF-",),
}
ALLOWED = TEXT | set(MAGIC)
MAX_CASE_BYTES = 200 * 1024 * 1024
MAX_ZIP_ENTRIES = 1000
#: What an archive may unpack to (a log compresses about tenfold: a 10 MB
#: ``.gz`` of text stays below; a decompression bomb is stopped here).
MAX_UNPACKED_BYTES = 100 * 1024 * 1024
STAGED_PREFIX = ".upload-"
STAGED_NAME = re.compile(r"\.upload-[A-Za-z0-9_]+")
KEEP_SECONDS = 24 * 3600
#: Prefixes of temporary files in the upload folder (uploads, legacy PDFs):
#: older than KEEP_SECONDS, no form can send them again (``hezo check-files``).
TEMPORARY_PREFIXES = (STAGED_PREFIX, ".legacy-")

log = logging.getLogger(__name__)


class UploadError(ValueError):
    """A file that may not be attached; ``str()`` is a translated message."""


class StorageError(Exception):
    """The upload folder refused a file (disk full, read-only, no permission);
    ``str()`` is a translated message. Nothing of the file is left behind."""

    def __init__(self, cause: OSError):
        super().__init__(_l("The file could not be stored. Please try again later."))
        log.error("upload storage failed: %s", cause)


@dataclass
class StagedFile:
    path: Path
    sha256: str
    size: int
    filename: str
    content_type: str


def upload_root() -> Path:
    return Path(current_app.config["UPLOAD_FOLDER"])


def stored_path(sha256: str) -> Path:
    return upload_root() / sha256[:2] / sha256


def stored_download(path: Path, name: str, mimetype: str, **headers: str):
    """A stored file sent as a download: never a page of ours (attachment,
    ``nosniff``), never from a cache's copy (no ETag, no max-age), plus the
    caller's ``headers`` (a file's sandbox, an export's ``no-store``)."""
    response = send_file(
        path,
        as_attachment=True,
        download_name=name,
        mimetype=mimetype,
        conditional=False,
        etag=False,
        max_age=0,
    )
    response.headers.update(headers)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _extension(name: str) -> str:
    return os.path.splitext(name.lower())[1]


def stage_upload(upload: FileStorage) -> StagedFile:
    """Copy an upload to a temporary file while hashing and checking it.

    Raises UploadError (with a message for the user) for a forbidden type,
    content that does not match the extension, or a file over the size limit.
    """
    name = (upload.filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = clean_filename(name)[:200]
    ext = _extension(name)
    if ext not in ALLOWED:
        raise UploadError(_l("%(name)s: this file type is not accepted.", name=name))
    limit = current_app.config["ATTACHMENT_MAX_BYTES"]
    digest, size = hashlib.sha256(), 0
    handle, tmp = _temporary_file(STAGED_PREFIX)
    try:
        with os.fdopen(handle, "wb") as out:
            while chunk := upload.stream.read(1 << 16):
                size += len(chunk)
                if size > limit:
                    raise UploadError(
                        _l(
                            "%(name)s is larger than %(mb)d MB.",
                            name=name,
                            mb=limit // (1024 * 1024) or 1,
                        )
                    )
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())  # on disk before a row may name it
        if size == 0:
            raise UploadError(_l("%(name)s is empty.", name=name))
        _check_content(Path(tmp), ext, name)
    except OSError as exc:  # the disk, not the file: _check_content raises no OSError
        os.unlink(tmp)
        raise StorageError(exc) from exc
    except BaseException:
        os.unlink(tmp)
        raise
    content_type = "text/plain" if ext in TEXT else "application/octet-stream"
    return StagedFile(Path(tmp), digest.hexdigest(), size, name, content_type)


def _temporary_file(prefix: str) -> tuple[int, str]:
    """A new temporary file in the upload folder: (descriptor, path)."""
    root = upload_root()
    try:
        root.mkdir(parents=True, exist_ok=True)
        return tempfile.mkstemp(prefix=prefix, dir=root)
    except OSError as exc:
        raise StorageError(exc) from exc


def write_temporary(data: bytes, prefix: str, sync: bool = True) -> Path:
    """``data`` in a new temporary file of the upload folder (synced unless
    ``sync`` is false: then the caller syncs it before a row may name it)."""
    handle, tmp = _temporary_file(prefix)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            if sync:
                os.fsync(out.fileno())
    except OSError as exc:
        os.unlink(tmp)
        raise StorageError(exc) from exc
    return Path(tmp)


def _check_content(path: Path, ext: str, name: str) -> None:
    with open(path, "rb") as fh:
        head = fh.read(8192)
    if ext in TEXT:
        if b"\x00" in head or head.lstrip().startswith((b"<", b"\xef\xbb\xbf<")):
            raise UploadError(_l("%(name)s does not look like a text file.", name=name))
        return
    if not head.startswith(MAGIC[ext]):
        raise UploadError(
            _l("The content of %(name)s does not match its type.", name=name)
        )
    if ext == ".zip":
        _check_zip(path, name)
    elif ext == ".gz":
        _check_gzip(path, name)


def _check_zip(path: Path, name: str) -> None:
    """Entry count and declared sizes only: the archive is never unpacked."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except zipfile.BadZipFile as exc:
        raise UploadError(_l("%(name)s is not a valid ZIP file.", name=name)) from exc
    symlinks = any((e.external_attr >> 16) & 0o170000 == 0o120000 for e in entries)
    unpacked = sum(e.file_size for e in entries)
    if len(entries) > MAX_ZIP_ENTRIES or unpacked > MAX_UNPACKED_BYTES or symlinks:
        raise UploadError(_l("%(name)s unpacks to too much data.", name=name))


def _check_gzip(path: Path, name: str) -> None:
    """Stream-decompress, stopping at the limit, to catch a decompression bomb.

    The size the file declares (its last four bytes, modulo 4 GiB) refuses
    most bombs before any inflating; one that lies is stopped at the limit.
    """
    too_much = UploadError(_l("%(name)s unpacks to too much data.", name=name))
    if path.stat().st_size < 18:  # header and trailer of the smallest gzip
        raise UploadError(_l("%(name)s is not a valid gzip file.", name=name))
    with open(path, "rb") as fh:
        fh.seek(-4, os.SEEK_END)
        if int.from_bytes(fh.read(4), "little") > MAX_UNPACKED_BYTES:
            raise too_much
    total = 0
    try:
        with gzip.open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                total += len(chunk)
                if total > MAX_UNPACKED_BYTES:
                    raise too_much
    except (OSError, EOFError) as exc:
        raise UploadError(_l("%(name)s is not a valid gzip file.", name=name)) from exc


def place_staged(files: list[StagedFile]) -> None:
    """Move staged files to their content-hash paths, before the transaction
    that records them. On a storage error the files not yet placed are removed
    and ``StorageError`` is raised; those placed stay (unnamed, harmless)."""
    try:
        for staged in files:
            target = stored_path(staged.sha256)
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                staged.path.unlink(missing_ok=True)
            else:
                os.replace(staged.path, target)
    except OSError as exc:
        discard_staged(files)
        raise StorageError(exc) from exc


def discard_staged(files: list[StagedFile]) -> None:
    for staged in files:
        if staged.path is not None:
            staged.path.unlink(missing_ok=True)


def _keeper() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="hezo-kept-upload")


def keep_token(staged: StagedFile, owner_id: int) -> str:
    """A token under which a form offers a staged file again (to its uploader only)."""
    return _keeper().dumps(
        [
            staged.path.name,
            staged.sha256,
            staged.size,
            staged.filename,
            staged.content_type,
            owner_id,
        ]
    )


def kept_file(token: str, owner_id: int) -> StagedFile:
    """The staged file a form kept, if ``owner_id`` uploaded it and it is still there.

    Raises UploadError (a message asking to attach the file again) otherwise.
    """
    try:
        name, sha256, size, filename, content_type, owner = _keeper().loads(
            token, max_age=KEEP_SECONDS
        )
    except (BadData, ValueError, TypeError):
        name = filename = owner = None
    path = upload_root() / name if name and STAGED_NAME.fullmatch(name) else None
    if owner != owner_id or path is None or not path.is_file():
        raise UploadError(
            _l("%(name)s could not be kept: attach it again.", name=filename)
            if filename and owner == owner_id
            else _l("A file could not be kept: attach it again.")
        )
    return StagedFile(path, sha256, size, filename, content_type)


# -- checking the folder against the rows ---------------------------------------


def rows_without_files() -> Iterator:
    """Attachment rows whose file is not in the upload folder, with the case."""
    from .models import Attachment, SupportCase

    query = (
        Attachment.select(Attachment, SupportCase.number)
        .join(SupportCase)
        .order_by(Attachment.id)
    )
    for attachment in query.iterator():
        if not stored_path(attachment.sha256).is_file():
            yield attachment


def stale_temporaries(now: float | None = None) -> list[Path]:
    """Temporary files of the upload folder older than ``KEEP_SECONDS``: staged
    files no form can send again, uploads and imports a crash interrupted."""
    root = upload_root()
    limit = (time.time() if now is None else now) - KEEP_SECONDS
    if not root.is_dir():
        return []
    stale = []
    for entry in os.scandir(root):
        if entry.name.startswith(TEMPORARY_PREFIXES) and entry.is_file():
            try:
                if entry.stat().st_mtime < limit:
                    stale.append(Path(entry.path))
            except FileNotFoundError:  # placed or removed meanwhile
                pass
    return sorted(stale)


def discard_stale_staged(now: float | None = None) -> list[Path]:
    """Remove the ``stale_temporaries``; returns the paths removed."""
    stale = stale_temporaries(now)
    for path in stale:
        path.unlink(missing_ok=True)
    return stale

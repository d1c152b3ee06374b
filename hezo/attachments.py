"""Case attachments: checked on the way in, stored once by content hash.

Allowed (stated on the form): device logs and configuration as text (.log .txt
.cfg .conf .csv .json), compressed logs (.gz .zip), screenshots (.png .jpg
.jpeg) and .pdf; at most ``ATTACHMENT_MAX_BYTES`` (10 MB) a file and
200 MB a case. The extension must
agree with the content. Archives are inspected, never extracted. Files live
outside the static folder under ``UPLOAD_FOLDER/<sha256[:2]>/<sha256>``; a file
is written to a temporary name first and moved into place only after the
database transaction that records it has committed.

A form that comes back with an error keeps the files it staged: each is
offered again under a signed token naming the staged file and the account
that uploaded it (``keep_token``/``kept_file``); staged files nobody sent
again are removed after ``KEEP_SECONDS``.
"""

import gzip
import hashlib
import os
import re
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadData, URLSafeTimedSerializer
from werkzeug.datastructures import FileStorage

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
MAX_UNPACKED_BYTES = 500 * 1024 * 1024
STAGED_PREFIX = ".upload-"
STAGED_NAME = re.compile(r"\.upload-[A-Za-z0-9_]+")
KEEP_SECONDS = 24 * 3600


class UploadError(ValueError):
    """A file that may not be attached; ``str()`` is a translated message."""


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


def _extension(name: str) -> str:
    return os.path.splitext(name.lower())[1]


def stage_upload(upload: FileStorage) -> StagedFile:
    """Copy an upload to a temporary file while hashing and checking it.

    Raises UploadError (with a message for the user) for a forbidden type,
    content that does not match the extension, or a file over the size limit.
    """
    name = (upload.filename or "").replace("\\", "/").rsplit("/", 1)[-1][:200]
    ext = _extension(name)
    if ext not in ALLOWED:
        raise UploadError(_l("%(name)s: this file type is not accepted.", name=name))
    root = upload_root()
    root.mkdir(parents=True, exist_ok=True)
    limit = current_app.config["ATTACHMENT_MAX_BYTES"]
    digest, size = hashlib.sha256(), 0
    handle, tmp = tempfile.mkstemp(prefix=STAGED_PREFIX, dir=root)
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
        if size == 0:
            raise UploadError(_l("%(name)s is empty.", name=name))
        _check_content(Path(tmp), ext, name)
    except BaseException:
        os.unlink(tmp)
        raise
    content_type = "text/plain" if ext in TEXT else "application/octet-stream"
    return StagedFile(Path(tmp), digest.hexdigest(), size, name, content_type)


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
    """Stream-decompress, stopping at the limit, to catch a decompression bomb."""
    total = 0
    try:
        with gzip.open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                total += len(chunk)
                if total > MAX_UNPACKED_BYTES:
                    raise UploadError(
                        _l("%(name)s unpacks to too much data.", name=name)
                    )
    except (OSError, EOFError) as exc:
        raise UploadError(_l("%(name)s is not a valid gzip file.", name=name)) from exc


def commit_staged(staged: StagedFile) -> None:
    """Move a staged file into place (after its database row has committed)."""
    target = stored_path(staged.sha256)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        staged.path.unlink(missing_ok=True)
    else:
        os.replace(staged.path, target)


def discard_staged(files: list[StagedFile]) -> None:
    for staged in files:
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


def discard_stale_staged(now: float | None = None) -> None:
    """Remove staged files older than ``KEEP_SECONDS`` (forms left unsent)."""
    limit = (now or time.time()) - KEEP_SECONDS
    root = upload_root()
    if not root.is_dir():
        return
    for entry in os.scandir(root):
        if entry.name.startswith(STAGED_PREFIX) and entry.is_file():
            try:
                if entry.stat().st_mtime < limit:
                    os.unlink(entry.path)
            except FileNotFoundError:
                pass

"""The dialogue PDF of a migrated case: read, rendered, stored and attached.

``hezo.imports.dialogue_pdf.render_dialogue_pdf`` (drawn directly with reportlab, for
speed: see that module), always in Polish (the previous portal was Polish).
A renderer is a context manager whose ``submit(context)`` returns a
``concurrent.futures.Future`` of the PDF bytes: ``InlineRenderer`` renders at
once in this process, ``PoolRenderer`` on several cores, each worker building
its own app from a copy of this app's configuration. Workers only render; the
database and the upload folder are written by the calling process alone, the
file after the rows have committed.
"""

import hashlib
import multiprocessing
import os
import pickle
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import AbstractContextManager
from datetime import UTC, datetime

from flask import Flask

from ..attachments import (
    StagedFile,
    place_staged,
    stored_path,
    write_temporary,
)
from ..db import db
from ..models import Attachment

LANGUAGE = "pl"
DIALOGUE_KIND = "legacy_dialogue"
# Tasks in flight per worker: enough to keep every core busy while the calling
# process writes, few enough that waiting PDFs never add up to much memory.
PENDING_PER_WORKER = 4

_worker_app: Flask | None = None


# -- the dialogue in the export -----------------------------------------------


def aware_utc(value, what: str) -> datetime:
    """An ISO 8601 time with its UTC offset as an aware UTC datetime.

    Raises ValueError (naming ``what``) for anything else, a time without an
    offset included: the export always carries one, and guessing is wrong.
    """
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"invalid {what} {str(value)[:40]!r}") from None
    if moment.tzinfo is None:
        raise ValueError(f"{what} {value!r} has no UTC offset")
    return moment.astimezone(UTC)


def dialogue_messages(value) -> list[dict]:
    """A legacy case's ``dialogue`` as the template's messages, in the given order.

    Raises ValueError naming the first bad message: not an object, author or
    text not a string, from_staff not a boolean, or a bad time.
    """
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError("dialogue is not a list")
    messages = []
    for n, item in enumerate(value, 1):
        if not isinstance(item, dict):
            raise ValueError(f"dialogue message {n} is not an object")
        author, text = item.get("author"), item.get("text", "")
        staff = item.get("from_staff", False)
        if not (
            isinstance(author, str)
            and isinstance(text, str)
            and isinstance(staff, bool)
        ):
            raise ValueError(
                f"dialogue message {n}: author, text or from_staff of the wrong type"
            )
        messages.append(
            {
                "author": author,
                "text": text,
                "from_staff": staff,
                "at": aware_utc(item.get("at"), f"dialogue message {n} time"),
            }
        )
    return messages


# -- the file and its attachment row -----------------------------------------


def dialogue_filename(legacy_id: str) -> str:
    """``ZGL/2026/00412`` -> ``ZGL-2026-00412-dialogue.pdf`` (safe characters only)."""
    safe = (
        "".join(
            ch if ch.isascii() and (ch.isalnum() or ch in "._-") else "-"
            for ch in legacy_id
        ).strip(".-")
        or "legacy"
    )
    return f"{safe}-dialogue.pdf"


def has_dialogue(case_id: int) -> bool:
    """True when the case's dialogue attachment row exists and its file is in place."""
    return any(
        stored_path(a.sha256).is_file()
        for a in Attachment.select(Attachment.sha256).where(
            (Attachment.case == case_id) & (Attachment.kind == DIALOGUE_KIND)
        )
    )


def stage_pdf(pdf: bytes, legacy_id: str, write: bool = True) -> StagedFile:
    """The PDF as a ``StagedFile``, written to a temporary file in the upload
    folder when ``write`` (else ``path`` is None: a dry run writes no file).
    ``attachments.place_staged`` moves it into place before the commit.
    """
    path = write_temporary(pdf, ".legacy-") if write else None
    return StagedFile(
        path,
        hashlib.sha256(pdf).hexdigest(),
        len(pdf),
        dialogue_filename(legacy_id),
        "application/pdf",
    )


def attach_dialogue(
    case_id: int, staged: StagedFile, now: datetime, replace: bool = False
) -> None:
    """Record the dialogue attachment of a case (in the caller's transaction).

    With ``replace``, an existing dialogue row is pointed at the new file
    instead (a rerun repairing a case whose file never got into place).
    """
    if (
        replace
        and Attachment.update(sha256=staged.sha256, size=staged.size)
        .where((Attachment.case == case_id) & (Attachment.kind == DIALOGUE_KIND))
        .execute()
    ):
        return
    Attachment.create(
        case=case_id,
        filename=staged.filename,
        size=staged.size,
        content_type=staged.content_type,
        sha256=staged.sha256,
        kind=DIALOGUE_KIND,
        created_at=now,
    )


def store_with_pdf(
    pdf: bytes, legacy_id: str, write: bool, rows: Callable[[StagedFile], None]
) -> None:
    """Put the PDF file in place, then run ``rows(staged)`` in one transaction.

    The PDF is written to a temporary file in the upload folder (unless
    ``write`` is false: a dry run) and moved to its content-hash path before
    the rows are written, so a committed row always has its file; a failed
    transaction leaves at most a file that no row names.
    """
    staged = stage_pdf(pdf, legacy_id, write)
    if staged.path:
        place_staged([staged])
    with db.atomic():
        rows(staged)


# -- rendering ---------------------------------------------------------------


def _push_polish_request(app: Flask):
    """Push and return a ``/pl/`` request context, as a request in Polish has.

    Its teardown closes the database connection when it is popped (the
    per-request hook), so it is pushed once per renderer, not per document.
    """
    ctx = app.test_request_context(f"/{LANGUAGE}/", base_url=app.config["PUBLIC_URL"])
    ctx.push()
    app.preprocess_request()
    return ctx


class InlineRenderer(AbstractContextManager):
    """Renders each document in this process when it is submitted."""

    max_pending = 0

    def __init__(self, app: Flask):
        self.app = app
        self._ctx = None

    def __enter__(self):
        self._ctx = _push_polish_request(self.app)
        return self

    def __exit__(self, *exc_info):
        self._ctx.pop()
        return None

    def submit(self, context: dict) -> Future:
        """A finished future of the PDF bytes (or of the rendering error)."""
        future: Future = Future()
        try:
            future.set_result(_render(context))
        except Exception as exc:  # handed over as a worker's error would be
            future.set_exception(exc)
        return future


class PoolRenderer(AbstractContextManager):
    """Renders in ``workers`` processes; ``max_pending`` bounds the queue."""

    def __init__(self, app: Flask, workers: int):
        self.max_pending = PENDING_PER_WORKER * workers
        self._workers = workers
        self._config = worker_config(app)
        self._pool: ProcessPoolExecutor | None = None

    def __exit__(self, *exc_info):
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        return None

    def submit(self, context: dict) -> Future:
        """A future of the PDF bytes rendered by a worker.

        The workers start with the first document, so a rerun with nothing to
        render starts none. They are spawned, not forked: a forked child would
        inherit the open database connection and could close it under us (so a
        script calling this needs the ``if __name__ == "__main__"`` guard).
        """
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self._workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(self._config,),
            )
        return self._pool.submit(_render_in_worker, context)


def make_renderer(app: Flask, workers: int | None):
    """A pool of ``workers`` processes (default: one per core), inline for 1."""
    workers = workers or os.cpu_count() or 1
    return PoolRenderer(app, workers) if workers > 1 else InlineRenderer(app)


def rendered_in_order(
    items: Iterable, renderer, context: Callable[[object], dict]
) -> Iterator[tuple]:
    """Each item with the future of its PDF, in the items' order.

    Up to ``renderer.max_pending`` items are submitted ahead of the one
    handed out, so the workers render while the caller writes.
    """
    pending: deque = deque()
    for item in items:
        pending.append((item, renderer.submit(context(item))))
        while len(pending) > renderer.max_pending:
            yield pending.popleft()
    while pending:
        yield pending.popleft()


def worker_config(app: Flask) -> dict:
    """The app's configuration values that can be sent to another process.

    Everything that pickles, so a worker's app is configured as this one is
    (database URL, secret keys, PDF fonts, trusted hosts, languages...).
    """
    config = {}
    for key, value in app.config.items():
        try:
            pickle.dumps(value)
        except Exception:  # an object only this process can hold
            continue
        config[key] = value
    return config


def _init_worker(config: dict) -> None:
    """Pool initializer: build the app once and keep a Polish request open."""
    global _worker_app
    from .. import create_app
    from ..db import db

    _worker_app = create_app(config)
    _push_polish_request(_worker_app)
    # The request hook has connected to the database; a worker never uses it.
    if not db.is_closed():
        db.close()


def _render_in_worker(context: dict) -> bytes:
    """Pool task: one dialogue PDF as bytes."""
    return _render(context)


def _render(context: dict) -> bytes:
    from .dialogue_pdf import render_dialogue_pdf  # reportlab: only when rendering

    return render_dialogue_pdf(**context, language=LANGUAGE)

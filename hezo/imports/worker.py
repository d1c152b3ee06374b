"""The import worker: runs the imports queued in the console until stopped
(``hezo import-worker``), like the outbox worker (``hezo.mail.worker``)."""

from __future__ import annotations

import logging
import signal
import threading
import time

from flask import Flask

from ..db import db, utcnow
from .runs import Stopped, claim_next, process, purge_unapplied_files, reap_lost

log = logging.getLogger(__name__)


def run_pass(app: Flask, limit: int | None = None) -> int:
    """Claim and run queued imports until none is left (or ``limit``);
    returns how many ran. Needs an app context."""
    workers = app.config["IMPORT_LEGACY_PROCESSES"]
    ran = 0
    opened = db.is_closed()
    db.connect(reuse_if_open=True)
    try:
        purge_unapplied_files(utcnow())
        reap_lost(utcnow())
        while limit is None or ran < limit:
            run = claim_next(utcnow())
            if run is None:
                break
            log.info("import run %s (%s) started", run.id, run.kind)
            run = process(run, workers=workers)
            log.info("import run %s %s", run.id, run.state)
            ran += 1
    finally:
        if opened and not db.is_closed():
            db.close()
    return ran


def run_worker(app: Flask, *, once: bool = False, interval: float = 5.0) -> None:
    """Run queued imports every ``interval`` seconds until stopped.

    SIGTERM or Ctrl-C stop it at once; a run it was in is marked failed
    ("the worker was stopped"), what it had written stays. ``once=True`` runs
    the queued imports and returns (tests, cron). A failing pass (database
    down...) is logged and retried after ``interval``.
    """
    with app.app_context():
        if once:
            run_pass(app)
            return
        previous = _stop_on_sigterm()
        log.info("import worker started (every %ss)", interval)
        try:
            while True:
                try:
                    run_pass(app)
                except Exception:  # database down...: keep the worker alive
                    log.exception("import worker: pass failed; retrying")
                time.sleep(interval)
        except (Stopped, KeyboardInterrupt):
            pass
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        log.info("import worker stopped")


def _stop_on_sigterm():
    """SIGTERM raises ``Stopped`` in the main thread (ends a run it is in)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def _raise(signum, frame):
        raise Stopped

    return signal.signal(signal.SIGTERM, _raise)

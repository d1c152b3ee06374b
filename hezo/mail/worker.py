"""The outbox worker: delivery passes until stopped (``hezo outbox-worker``)."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import datetime

from flask import Flask

from ..db import db, utcnow
from .delivery import DeliveryReport, deliver_pending
from .transports import FileTransport, transport_from_config

log = logging.getLogger(__name__)


def run_worker(
    app: Flask,
    *,
    once: bool = False,
    interval: float = 5.0,
    now: Callable[[], datetime] = utcnow,
) -> None:
    """Deliver pending mail every ``interval`` seconds until stopped.

    Each pass opens a database connection (or reuses the caller's), runs
    ``deliver_pending(now(), transport)`` and closes the connection it opened.
    A full batch is followed by another pass at once. SIGTERM (in the main
    thread) or Ctrl-C stops the loop cleanly: SIGTERM after the message being
    sent, Ctrl-C at once (an interrupted claim lapses after ``CLAIM_LEASE``).
    A failing pass (database down...) is logged and retried after ``interval``.

    ``once=True`` runs a single pass and lets its errors propagate (tests,
    cron). Reads OUTBOX_BATCH_SIZE (50) besides the transport's keys.
    """
    with app.app_context():
        transport = transport_from_config(app.config)
        batch = int(app.config.get("OUTBOX_BATCH_SIZE", 50))
        if isinstance(transport, FileTransport) and not (app.debug or app.testing):
            log.warning(
                "outbox: SMTP_HOST is not set; mail is written to %s and not sent",
                transport.folder,
            )
        unrecorded: list = []  # sent, not yet marked sent: see deliver_pending
        if once:
            _one_pass(now, transport, batch, None, unrecorded)
            return
        stop = threading.Event()
        previous = _install_sigterm(stop)
        log.info("outbox worker started (every %ss)", interval)
        try:
            while not stop.is_set():
                try:
                    report = _one_pass(now, transport, batch, stop.is_set, unrecorded)
                except Exception:  # database down...: keep the worker alive
                    log.exception("outbox: delivery pass failed; retrying")
                    report = None
                busy = report is not None and report.sent + report.failed >= batch
                if not busy:
                    stop.wait(interval)
        except KeyboardInterrupt:
            pass
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        log.info("outbox worker stopped")


def _one_pass(now, transport, batch, stop, unrecorded) -> DeliveryReport:
    opened = db.is_closed()
    db.connect(reuse_if_open=True)
    try:
        report = deliver_pending(
            now(), transport, batch=batch, stop=stop, unrecorded=unrecorded
        )
    finally:
        if opened and not db.is_closed():
            db.close()
    if report.sent or report.failed:
        log.info(
            "outbox: sent %d, failed %d, skipped %d",
            report.sent,
            report.failed,
            report.skipped,
        )
    return report


def _install_sigterm(stop: threading.Event):
    if threading.current_thread() is not threading.main_thread():
        return None

    def _on_sigterm(signum, frame):
        stop.set()

    return signal.signal(signal.SIGTERM, _on_sigterm)

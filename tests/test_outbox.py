"""The e-mail outbox: queued in the caller's transaction, delivered with retries."""

import email
import email.policy
import logging
import os
import signal
import socket
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller

from hezo.db import db, utcnow
from hezo.mail.delivery import (
    ALARM_AFTER_ATTEMPTS,
    CLAIM_LEASE,
    RETRY_CAP,
    deliver_pending,
    retry_delay,
)
from hezo.mail.queue import queue_mail, render_mail
from hezo.mail.transports import (
    DeliveryError,
    FileTransport,
    SmtpTransport,
    TransportUnavailable,
    transport_from_config,
)
from hezo.mail.worker import run_worker
from hezo.models import OutboxMessage

POLISH = "Zażółć gęślą jaźń"
SECRET_LINK = "https://myhezo.pl/pl/reset/one-time-token-123"


class Collector:
    """aiosmtpd handler keeping every envelope; refuses addresses in ``refuse``."""

    def __init__(self):
        self.envelopes = []
        self.refuse = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted"


class SmtpServer:
    """A real SMTP server on 127.0.0.1 that can be stopped and started again."""

    def __init__(self, port):
        self.port = port
        self.handler = Collector()
        self.controller = None

    @property
    def envelopes(self):
        return self.handler.envelopes

    def start(self):
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def messages(self):
        return [
            email.message_from_bytes(e.original_content, policy=email.policy.default)
            for e in self.envelopes
        ]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_port():
    return free_port()


@pytest.fixture
def config_overrides(smtp_port):
    return {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": smtp_port,
        "MAIL_FROM": "myHEZO <no-reply@myhezo.pl>",
    }


@pytest.fixture
def smtp_server(smtp_port):
    server = SmtpServer(smtp_port)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def appctx(app, dbconn):
    with app.app_context():
        yield app


class RecordingTransport:
    def __init__(self, sent, lock, fail=None):
        self.sent, self.lock, self.fail = sent, lock, fail
        self.calls = 0

    def send(self, message):
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        time.sleep(0.002)  # let the other worker interleave
        with self.lock:
            self.sent.append(message.id)


class KilledAfterSending(RecordingTransport):
    """The worker process dies once the server has accepted the message."""

    def send(self, message):
        super().send(message)
        raise KeyboardInterrupt


def queue_test(recipient="jan.kowalski@example.pl", language="pl", **kwargs):
    kwargs.setdefault("number", 42)
    kwargs.setdefault("greeting", f"Dzień dobry, {POLISH}!")
    kwargs.setdefault("link", SECRET_LINK)
    return queue_mail(recipient, "test_message", language, **kwargs)


def reload(message):
    return OutboxMessage.get_by_id(message.id)


def test_render_mail_language_changes_subject_and_footer(appctx):
    pl_subject, pl_body = render_mail(
        "test_message", "pl", number=7, greeting="Hej", link="x"
    )
    en_subject, en_body = render_mail(
        "test_message", "en", number=7, greeting="Hej", link="x"
    )
    assert pl_subject == f"{POLISH} — Zgłoszenia 7"
    assert en_subject == f"{POLISH} — Cases 7"
    assert "Infolinia: +48 12 25 25 600" in pl_body
    assert "Help line: +48 12 25 25 600" in en_body
    assert "pomoc@myhezo.pl" in pl_body and "pomoc@myhezo.pl" in en_body
    # The standard signature separator "-- " keeps its trailing space.
    assert "\n-- \n" in pl_body and pl_body.startswith("Hej\n")
    assert pl_body.endswith("\n") and not pl_body.endswith("\n\n")


def test_render_mail_in_request_of_other_language_restores_it(app):
    with app.test_request_context("/en/"):
        app.preprocess_request()
        subject, _ = render_mail("test_message", "pl", number=1, greeting="", link="")
        assert "Zgłoszenia" in subject
        from flask import g
        from flask_babel import gettext

        assert g.lang == "en" and gettext("Cases") == "Cases"


def test_render_mail_unknown_language_refused(appctx):
    with pytest.raises(ValueError):
        render_mail("test_message", "de", number=1, greeting="", link="")


def test_render_mail_template_path_refused(appctx):
    with pytest.raises(ValueError):
        render_mail("../base", "pl")


@pytest.mark.parametrize(
    "recipient",
    [
        "jan@example.pl\r\nBcc: all@example.com",
        "jan@example.pl\nBcc: all@example.com",
        "jan@example.pl\r",
        "jan@example.pl\u2028",
    ],
)
def test_queue_mail_recipient_with_line_break_refused(appctx, recipient):
    with pytest.raises(ValueError):
        queue_test(recipient=recipient)
    assert OutboxMessage.select().count() == 0


def test_queue_mail_is_written_with_the_transaction(appctx):
    with db.atomic():
        message = queue_test()
    stored = reload(message)
    assert stored.recipient == "jan.kowalski@example.pl"
    assert stored.subject == f"{POLISH} — Zgłoszenia 42"
    assert POLISH in stored.body_text and SECRET_LINK in stored.body_text
    assert stored.sent_at is None and stored.attempts == 0
    assert stored.next_attempt_at <= utcnow()


def test_queue_mail_rolled_back_transaction_leaves_no_message(appctx):
    class Boom(Exception):
        pass

    with pytest.raises(Boom), db.atomic():
        queue_test()
        raise Boom
    assert OutboxMessage.select().count() == 0


def test_queue_mail_same_dedupe_key_writes_nothing(appctx):
    with db.atomic():
        first = queue_test(dedupe_key="return-reminder:case-7:day-5")
    with db.atomic():
        second = queue_test(dedupe_key="return-reminder:case-7:day-5")
        other = queue_test(dedupe_key="return-reminder:case-8:day-5")
    assert first is not None and other is not None and second is None
    assert OutboxMessage.select().count() == 2
    # Still nothing once the first one has been sent.
    deliver_pending(utcnow(), RecordingTransport([], threading.Lock()))
    assert queue_test(dedupe_key="return-reminder:case-7:day-5") is None
    assert OutboxMessage.select().count() == 2


def test_queue_mail_concurrent_same_dedupe_key_queues_once(app):
    barrier = threading.Barrier(2)
    results, errors = [], []

    def worker():
        try:
            with app.app_context():
                db.connect(reuse_if_open=True)
                try:
                    barrier.wait(timeout=10)
                    with db.atomic():
                        results.append(queue_test(dedupe_key="once"))
                        time.sleep(0.05)  # keep the transaction open a moment
                finally:
                    db.close()
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(r is None for r in results) == [False, True]
    with app.app_context():
        db.connect(reuse_if_open=True)
        assert OutboxMessage.select().count() == 1
        db.close()


def test_smtp_delivery_keeps_polish_letters_recipient_and_sender(appctx, smtp_server):
    with db.atomic():
        message = queue_test()
    report = deliver_pending(utcnow(), transport_from_config(appctx.config))
    assert (report.sent, report.failed) == (1, 0)
    assert reload(message).sent_at is not None

    [envelope] = smtp_server.envelopes
    assert envelope.mail_from == "no-reply@myhezo.pl"
    assert envelope.rcpt_tos == ["jan.kowalski@example.pl"]
    [received] = smtp_server.messages()
    assert received["Subject"] == f"{POLISH} — Zgłoszenia 42"
    assert received["To"] == "jan.kowalski@example.pl"
    assert received["From"].addresses[0].addr_spec == "no-reply@myhezo.pl"
    assert received["From"].addresses[0].display_name == "myHEZO"
    assert received["Auto-Submitted"] == "auto-generated"
    assert received["Message-ID"].startswith(f"<outbox.{message.id}.")
    assert received.get_content_type() == "text/plain"
    assert received.get_content_charset() == "utf-8"
    body = received.get_content()
    assert f"Dzień dobry, {POLISH}!" in body and SECRET_LINK in body
    assert "Infolinia" in body


def test_delivery_smtp_down_keeps_message_and_sends_once_back(appctx, smtp_server):
    with db.atomic():
        message = queue_test()
    smtp_server.stop()
    now = utcnow()
    transport = transport_from_config(appctx.config)

    report = deliver_pending(now, transport)
    assert (report.sent, report.failed) == (0, 1)
    failed = reload(message)
    assert failed.sent_at is None and failed.attempts == 1
    assert "TransportUnavailable" in failed.last_error
    assert failed.next_attempt_at >= now + timedelta(seconds=30)
    assert failed.next_attempt_at < now + timedelta(seconds=35)

    # Not due again before the backoff, even with the server back.
    smtp_server.start()
    assert deliver_pending(now + timedelta(seconds=10), transport).sent == 0
    assert smtp_server.envelopes == []

    report = deliver_pending(now + timedelta(seconds=31), transport)
    assert (report.sent, report.failed) == (1, 0)
    assert deliver_pending(now + timedelta(hours=2), transport).sent == 0
    assert len(smtp_server.envelopes) == 1
    sent = reload(message)
    assert sent.sent_at is not None and sent.attempts == 1
    assert OutboxMessage.select().count() == 1


def test_worker_killed_after_sending_resends_within_a_minute(appctx):
    with db.atomic():
        message = queue_test()
    sent, lock, now = [], threading.Lock(), utcnow()
    with pytest.raises(KeyboardInterrupt):
        deliver_pending(now, KilledAfterSending(sent, lock))
    assert sent == [message.id] and reload(message).sent_at is None

    # Claimed: no other worker sends it while the first could still be sending.
    transport = RecordingTransport(sent, lock)
    assert deliver_pending(now + timedelta(seconds=20), transport).sent == 0
    # Then it goes again (at least once: the repeat is the documented cost),
    # sooner than after a failed attempt.
    assert CLAIM_LEASE < retry_delay(1)
    assert deliver_pending(now + timedelta(seconds=30), transport).sent == 1
    assert sent == [message.id, message.id]
    assert reload(message).sent_at is not None


def test_database_lost_after_sending_is_not_sent_again_by_the_worker(
    appctx, monkeypatch
):
    """The server accepted the message, then marking it sent failed: the
    worker marks it first thing in its next pass instead of sending again."""
    from peewee import OperationalError

    import hezo.mail.delivery

    with db.atomic():
        message = queue_test()
    sent, lock, now, unrecorded = [], threading.Lock(), utcnow(), []
    transport = RecordingTransport(sent, lock)
    real = hezo.mail.delivery._mark_sent

    def connection_lost(message_id, at):
        raise OperationalError("terminating connection due to administrator command")

    monkeypatch.setattr(hezo.mail.delivery, "_mark_sent", connection_lost)
    with pytest.raises(OperationalError):
        deliver_pending(now, transport, unrecorded=unrecorded)
    monkeypatch.setattr(hezo.mail.delivery, "_mark_sent", real)
    assert sent == [message.id] and reload(message).sent_at is None

    later = now + CLAIM_LEASE + timedelta(seconds=5)
    assert deliver_pending(later, transport, unrecorded=unrecorded).sent == 0
    assert sent == [message.id] and unrecorded == []
    assert reload(message).sent_at is not None


def test_delivery_refused_recipient_is_retried_and_others_are_sent(appctx, smtp_server):
    smtp_server.handler.refuse.add("nobody@example.pl")
    with db.atomic():
        refused = queue_test(recipient="nobody@example.pl")
        good = queue_test(recipient="anna@example.pl")
    now = utcnow()
    report = deliver_pending(now, transport_from_config(appctx.config))
    assert (report.sent, report.failed) == (1, 1)
    assert reload(good).sent_at is not None
    refused = reload(refused)
    assert refused.sent_at is None and refused.attempts == 1
    assert "550" in refused.last_error
    assert refused.next_attempt_at > now
    assert [e.rcpt_tos for e in smtp_server.envelopes] == [["anna@example.pl"]]


def test_delivery_transport_down_fails_the_batch_after_one_connection(appctx):
    with db.atomic():
        messages = [queue_test() for _ in range(3)]
    transport = RecordingTransport(
        [], threading.Lock(), fail=TransportUnavailable("connection refused")
    )
    report = deliver_pending(utcnow(), transport)
    assert transport.calls == 1
    assert (report.sent, report.failed) == (0, 3)
    for message in messages:
        stored = reload(message)
        assert stored.attempts == 1
        assert stored.last_error == "TransportUnavailable: connection refused"


def test_retry_delay_doubles_up_to_one_hour():
    assert [retry_delay(n).total_seconds() for n in range(1, 9)] == [
        30,
        60,
        120,
        240,
        480,
        960,
        1920,
        3600,
    ]
    assert retry_delay(1000) == RETRY_CAP


def test_delivery_after_many_failures_keeps_retrying_at_the_cap(appctx, caplog):
    with db.atomic():
        message = queue_test()
    OutboxMessage.update(attempts=ALARM_AFTER_ATTEMPTS + 3).execute()
    now = utcnow()
    transport = RecordingTransport(
        [], threading.Lock(), fail=DeliveryError("451 try later")
    )
    with caplog.at_level(logging.INFO, logger="hezo.mail"):
        deliver_pending(now, transport)
    stored = reload(message)
    assert stored.attempts == ALARM_AFTER_ATTEMPTS + 4 and stored.sent_at is None
    assert stored.next_attempt_at >= now + RETRY_CAP
    assert stored.next_attempt_at < now + RETRY_CAP + timedelta(seconds=5)
    assert any(r.levelno == logging.ERROR for r in caplog.records)


def test_delivery_logs_neither_body_nor_full_address(appctx, smtp_server, caplog):
    smtp_server.handler.refuse.add("nobody@example.pl")
    with caplog.at_level(logging.DEBUG):
        with db.atomic():
            queue_test(recipient="nobody@example.pl")
            queue_test(recipient="jan.kowalski@example.pl")
        deliver_pending(utcnow(), transport_from_config(appctx.config))
    # Only our loggers: peewee logs SQL parameters at DEBUG, aiosmtpd the DATA.
    text = "\n".join(
        r.getMessage() for r in caplog.records if r.name.startswith("hezo")
    )
    assert "@example.pl" in text
    for private in ("nobody@", "jan.kowalski", "one-time-token", POLISH):
        assert private not in text


def test_delivery_inside_transaction_refused(appctx):
    with pytest.raises(RuntimeError), db.atomic():
        deliver_pending(utcnow(), RecordingTransport([], threading.Lock()))


def test_delivery_two_workers_concurrently_send_each_message_once(app):
    with app.app_context():
        db.connect(reuse_if_open=True)
        with db.atomic():
            ids = [queue_test(number=n).id for n in range(30)]
        db.close()
    now = utcnow() + timedelta(seconds=1)
    sent, lock = [], threading.Lock()
    barrier = threading.Barrier(3)
    reports, errors = [], []

    def worker():
        try:
            db.connect(reuse_if_open=True)
            try:
                barrier.wait(timeout=10)
                reports.append(deliver_pending(now, RecordingTransport(sent, lock)))
            finally:
                db.close()
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert Counter(sent) == Counter(ids)
    assert sum(r.sent for r in reports) == 30 and not any(r.failed for r in reports)
    with app.app_context():
        db.connect(reuse_if_open=True)
        assert not OutboxMessage.select().where(OutboxMessage.sent_at.is_null()).count()
        db.close()


def test_file_transport_writes_a_readable_eml(appctx, tmp_path):
    with db.atomic():
        message = queue_test()
    folder = tmp_path / "eml"
    report = deliver_pending(utcnow(), FileTransport(folder))
    assert report.sent == 1 and reload(message).sent_at is not None
    [path] = folder.glob("*.eml")
    assert path.name.endswith(f"-{message.id}.eml")
    assert path.stat().st_mode & 0o077 == 0
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert parsed["Subject"] == f"{POLISH} — Zgłoszenia 42"
    assert parsed["To"] == "jan.kowalski@example.pl"
    assert POLISH in parsed.get_content()


def test_transport_from_config_without_smtp_host_uses_files(tmp_path):
    transport = transport_from_config({"OUTBOX_FILE_FOLDER": str(tmp_path)})
    assert isinstance(transport, FileTransport) and transport.folder == tmp_path
    smtp = transport_from_config(
        {
            "SMTP_HOST": "mail.example.pl",
            "SMTP_STARTTLS": "true",
            "MAIL_FROM": "Serwis <serwis@example.pl>",
        }
    )
    assert isinstance(smtp, SmtpTransport)
    assert (smtp.port, smtp.starttls, smtp.envelope_sender) == (
        587,
        True,
        "serwis@example.pl",
    )


def test_cli_outbox_worker_once_delivers(app, runner, dbconn, smtp_server):
    with app.app_context(), db.atomic():
        message = queue_test()
    result = runner.invoke(args=["outbox-worker", "--once"])
    assert result.exit_code == 0, result.output
    assert len(smtp_server.envelopes) == 1
    assert reload(message).sent_at is not None


def test_worker_sigterm_stops_cleanly(app, smtp_server):
    with app.app_context():
        db.connect(reuse_if_open=True)
        with db.atomic():
            queue_test()
        db.close()
    previous = signal.getsignal(signal.SIGTERM)
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    started = time.monotonic()
    try:
        run_worker(app, interval=0.05)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 5
    assert signal.getsignal(signal.SIGTERM) is previous
    assert len(smtp_server.envelopes) == 1
    assert db.is_closed()

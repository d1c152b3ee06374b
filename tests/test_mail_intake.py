"""The e-mail channel end to end: case mail goes out through a real SMTP server,
answers come back through a real IMAP server (Dovecot) and land where they should."""

import base64
import email
import email.policy
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from hezo.attachments import stored_path
from hezo.db import db, utcnow
from hezo.mail import intake
from hezo.mail.delivery import deliver_pending
from hezo.mail.intake import MailboxSettings, run_pass
from hezo.mail.transports import transport_from_config
from hezo.models import Attachment, Message, OutboxMessage, SupportCase, User
from hezo.models.mail import ReceivedMail, UndeliverableAddress

from .conftest import PG_URL
from .factories import make_user
from .test_outbox import SmtpServer, free_port
from .test_staff import make_world, new_case

POLISH = "Zażółć gęślą jaźń"
HEZO = os.path.join(os.path.dirname(sys.executable), "hezo")


@pytest.fixture
def smtp_port():
    return free_port()


@pytest.fixture
def config_overrides(smtp_port, dovecot, imap_user):
    return {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": smtp_port,
        "MAIL_INTAKE_HOST": dovecot.host,
        "MAIL_INTAKE_PORT": dovecot.port,
        "MAIL_INTAKE_SSL": False,
        "MAIL_INTAKE_USERNAME": imap_user,
        "MAIL_INTAKE_PASSWORD": "secret",
        "MAIL_INTAKE_BATCH": 4,
    }


@pytest.fixture
def smtp_server(smtp_port):
    server = SmtpServer(smtp_port)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def world(dbconn):
    return make_world()


def deliver(app):
    deliver_pending(utcnow(), transport_from_config(app.config))


def take(app, **kwargs):
    return run_pass(MailboxSettings.from_config(app.config), **kwargs)


def sent_to(smtp_server, address):
    return [
        m for m in smtp_server.messages() if address in str(m["To"]) and m["Message-ID"]
    ]


def mail(
    sender,
    subject,
    body,
    *,
    in_reply_to=None,
    html=False,
    charset="utf-8",
    headers=(),
    attachments=(),
):
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "pomoc@myhezo.pl"
    message["Subject"] = subject
    message["Date"] = format_datetime(utcnow() - timedelta(minutes=5))
    message["Message-ID"] = make_msgid(domain="example.pl")
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    for name, value in headers:
        message[name] = value
    if html:
        message.set_content(body, subtype="html", charset=charset)
    else:
        message.set_content(body, charset=charset)
    for name, data, maintype, subtype in attachments:
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message


def quoted_reply(original, sender, text):
    """What a mail client sends when one answers ``original`` above its text."""
    history = original.get_body(("plain",)).get_content()
    quoted = "\n".join("> " + line for line in history.splitlines())
    return mail(
        sender,
        "Re: " + str(original["Subject"]),
        f"{text}\n\n-- \nJan Nowak\ntel. 600 000 000\n\n"
        f"On Tue, 1 Dec 2026 at 10:00, myHEZO wrote:\n{quoted}\n",
        in_reply_to=str(original["Message-ID"]),
    )


def inbox(dovecot, imap_user):
    return dovecot.uids(imap_user, "INBOX")


def processed(dovecot, imap_user):
    return dovecot.uids(imap_user, "Processed")


def messages_of(case):
    return list(Message.select().where(Message.case == case).order_by(Message.id))


# --- threading: our mail -------------------------------------------------------


def test_case_mail_names_the_case_routes_replies_back_and_says_reply_above(
    app, world, smtp_server
):
    case = new_case(world, subject="Switch nie wstaje")
    deliver(app)
    [sent] = sent_to(smtp_server, world["customer"].email)
    assert case.number in str(sent["Subject"])
    assert str(sent["Reply-To"]) == "pomoc@myhezo.pl"
    stored = OutboxMessage.get(OutboxMessage.recipient == world["customer"].email)
    assert str(sent["Message-ID"]) == stored.message_id
    assert stored.case_id == case.id
    body = sent.get_body(("plain",)).get_content()
    first_line = body.splitlines()[0]
    assert first_line.startswith("##-") and "powyżej" in first_line
    assert "nie odpowiadaj" not in body.lower()


def test_mail_without_a_case_keeps_no_reply(app, dbconn, smtp_server):
    from hezo.mail.queue import queue_mail

    queue_mail("jan@example.pl", "password_changed", "pl", name="Jan")
    deliver(app)
    [sent] = sent_to(smtp_server, "jan@example.pl")
    assert sent["Reply-To"] is None
    assert "##-" not in sent.get_body(("plain",)).get_content()


# --- replies -------------------------------------------------------------------


def test_reply_to_case_mail_lands_in_the_case_without_history(
    app, world, smtp_server, dovecot, imap_user
):
    case = new_case(world)
    deliver(app)
    [sent] = sent_to(smtp_server, world["customer"].email)
    text = "Nadal nie działa po restarcie."
    reply = quoted_reply(sent, world["customer"].email, text)
    dovecot.append(imap_user, bytes(reply))

    report = take(app)

    assert report.counts == {"filed": 1}
    last = messages_of(case)[-1]
    assert last.body == text
    assert last.author_id == world["customer"].id and not last.is_from_staff
    eml = Attachment.get(Attachment.message == last, Attachment.kind == "email")
    assert eml.filename == "message.eml"
    with app.app_context():
        kept = stored_path(eml.sha256).read_bytes()
    assert kept == bytes(reply).replace(b"\n", b"\r\n")  # as the mailbox has it
    assert SupportCase.get_by_id(case.id).customer_replied_at is not None
    assert inbox(dovecot, imap_user) == [] and len(processed(dovecot, imap_user)) == 1
    # The engineers hear of it as of a reply in the portal.
    assert OutboxMessage.select().where(OutboxMessage.subject.contains("odpowied"))


def test_the_same_message_twice_is_filed_once(
    app, world, smtp_server, dovecot, imap_user
):
    case = new_case(world)
    deliver(app)
    [sent] = sent_to(smtp_server, world["customer"].email)
    raw = bytes(quoted_reply(sent, world["customer"].email, "Raz"))
    dovecot.append(imap_user, raw)
    dovecot.append(imap_user, raw)  # delivered twice (Cc and To, a retry...)
    report = take(app)
    assert report.counts == {"filed": 1} and report.already == 1
    assert [m.body for m in messages_of(case)].count("Raz") == 1
    assert inbox(dovecot, imap_user) == []


def test_html_only_reply_in_iso_8859_2_is_text_never_markup(
    app, world, smtp_server, dovecot, imap_user
):
    case = new_case(world)
    deliver(app)
    [sent] = sent_to(smtp_server, world["customer"].email)
    reply = mail(
        world["customer"].email,
        "Re: " + str(sent["Subject"]),
        f"<p>{POLISH}</p><script>alert(1)</script><p><b>pilne</b></p>",
        in_reply_to=str(sent["Message-ID"]),
        html=True,
        charset="iso-8859-2",
    )
    assert b"iso-8859-2" in bytes(reply)
    dovecot.append(imap_user, bytes(reply))
    take(app)
    last = messages_of(case)[-1]
    assert last.body == f"{POLISH}\n\npilne"


def test_windows_1250_reply_keeps_polish_letters(
    app, world, smtp_server, dovecot, imap_user
):
    case = new_case(world)
    deliver(app)
    [sent] = sent_to(smtp_server, world["customer"].email)
    reply = mail(
        world["customer"].email,
        "Re: sprawa",
        POLISH,
        in_reply_to=str(sent["Message-ID"]),
        charset="windows-1250",
    )
    dovecot.append(imap_user, bytes(reply))
    take(app)
    assert messages_of(case)[-1].body == POLISH


def test_reply_attachments_pass_the_upload_checks(
    app, world, smtp_server, dovecot, imap_user
):
    case = new_case(world)
    deliver(app)
    [sent] = sent_to(smtp_server, world["customer"].email)
    reply = mail(
        world["customer"].email,
        "Re: logi",
        "Logi w załączniku.",
        in_reply_to=str(sent["Message-ID"]),
        attachments=[
            ("show-tech.log", b"port 1 down\n", "text", "plain"),
            ("virus.exe", b"MZ\x90\x00", "application", "octet-stream"),
            ("fake.png", b"not a png", "image", "png"),
        ],
    )
    dovecot.append(imap_user, bytes(reply))
    take(app)
    last = messages_of(case)[-1]
    files = {
        a.filename: a.kind
        for a in Attachment.select().where(Attachment.message == last)
    }
    assert files == {"show-tech.log": "upload", "message.eml": "email"}
    assert "virus.exe" in last.body and "fake.png" in last.body


def signed(message, domain, key) -> bytes:
    """``message`` as its sender's server sends it: DKIM-signed for ``domain``."""
    raw = bytes(message).replace(b"\n", b"\r\n")
    return dkim.sign(raw, b"s1", domain.encode(), key) + raw


def reply_to_case_mail(world, text, **kwargs):
    """A reply from the customer naming the case mail we sent them."""
    case = new_case(world)
    sent = OutboxMessage.get(OutboxMessage.recipient == world["customer"].email)
    message = mail(
        world["customer"].email, "Re: awaria", text, in_reply_to=sent.message_id
    )
    return case, message


def test_a_reply_naming_our_mail_with_a_valid_dkim_signature_is_filed(
    app, world, dovecot, imap_user
):
    key, dns = dkim_key("example.pl")
    case, reply = reply_to_case_mail(world, "Podpisana odpowiedź")
    dovecot.append(imap_user, signed(reply, "example.pl", key))
    assert take(app, dnsfunc=dns).counts == {"filed": 1}
    assert messages_of(case)[-1].body == "Podpisana odpowiedź"


def test_a_reply_whose_dkim_signature_fails_is_rejected(app, world, dovecot, imap_user):
    """It names our mail, but the body was changed after signing (or the
    signature was made up): the From is not believed."""
    key, dns = dkim_key("example.pl")
    case, reply = reply_to_case_mail(world, "Zamknijcie sprawę")
    raw = signed(reply, "example.pl", key).replace(b"Zamknijcie", b"Zostawcie")
    dovecot.append(imap_user, raw)
    assert take(app, dnsfunc=dns).counts == {"rejected": 1}
    assert len(messages_of(case)) == 1
    rejected = ReceivedMail.get(ReceivedMail.status == "rejected")
    assert rejected.case_id == case.id and "DKIM" in rejected.reason


def test_a_reply_naming_no_mail_of_ours_is_rejected_even_when_signed(
    app, world, dovecot, imap_user
):
    """Only the case number in the subject: it proves nothing about the
    sender, a valid DKIM signature of the sender's domain or not."""
    case = new_case(world)
    key, dns = dkim_key("example.pl")
    customer = world["customer"]
    unsigned = mail(customer.email, f"Re: [{case.number}] awaria", "Bez podpisu")
    with_dkim = mail(customer.email, f"Sprawa {case.number}", "Z podpisem")
    dovecot.append(imap_user, bytes(unsigned))
    dovecot.append(imap_user, signed(with_dkim, "example.pl", key))
    assert take(app, dnsfunc=dns).counts == {"rejected": 2}
    assert len(messages_of(case)) == 1
    reasons = {r.reason for r in ReceivedMail.select()}
    assert reasons == {"names no mail of ours to this sender"}


@pytest.mark.parametrize("required", [False, True])
def test_an_unsigned_reply_naming_our_mail_is_filed_unless_dkim_is_required(
    app, world, dovecot, imap_user, required
):
    """Many small companies' mail has no DKIM at all: it is accepted on the
    reference to our mail, unless MAIL_REQUIRE_DKIM says otherwise."""
    app.config["MAIL_REQUIRE_DKIM"] = required
    key, dns = dkim_key("example.pl")
    other_key, _ = dkim_key("poczta.example.com")
    case, reply = reply_to_case_mail(world, "Bez DKIM")
    # A signature of another domain (a provider's, a list's) says nothing
    # about the sender: it is neither required's proof nor a failure.
    dovecot.append(imap_user, signed(reply, "poczta.example.com", other_key))
    report = take(app, dnsfunc=dns)
    if required:
        assert report.counts == {"rejected": 1}
        assert ReceivedMail.get().reason == "DKIM required, none"
        assert len(messages_of(case)) == 1
    else:
        assert report.counts == {"filed": 1}
        assert messages_of(case)[-1].body == "Bez DKIM"


def test_dkim_verdicts(app, dbconn):
    import dkim as dkimpy

    key, dns = dkim_key("example.pl")
    message = mail("jan@example.pl", "x", "treść")
    good = signed(message, "example.pl", key)

    def unanswered(name, timeout=5):
        raise dkimpy.DnsTimeoutError("timeout")

    assert intake.dkim_verdict(good, "jan@example.pl", dns) == "pass"
    assert intake.dkim_verdict(good, "jan@sub.example.pl", dns) == "pass"
    assert intake.dkim_verdict(good, "jan@inna.pl", dns) == "none"
    assert intake.dkim_verdict(bytes(message), "jan@example.pl", dns) == "none"
    changed = good.replace("treść".encode(), b"inna")
    assert intake.dkim_verdict(changed, "jan@example.pl", dns) == "fail"
    assert intake.dkim_verdict(good, "jan@example.pl", unanswered) == "temperror"
    assert intake.dkim_verdict(good, "jan@example.pl", lambda *a, **k: None) == "fail"


def test_forged_reply_naming_mail_sent_to_someone_else_is_rejected(
    app, world, smtp_server, dovecot, imap_user
):
    """The attacker knows a Message-ID we sent to the customer and writes
    "from" a colleague's address: no DKIM, not our mail to that address."""
    case = new_case(world)
    colleague = make_user(company=world["company"], email="kolega@example.pl")
    deliver(app)
    [sent] = sent_to(smtp_server, world["customer"].email)
    forged = mail(
        colleague.email, "Re: x", "Zamknijcie", in_reply_to=str(sent["Message-ID"])
    )
    dovecot.append(imap_user, bytes(forged))
    assert take(app).counts == {"rejected": 1}
    assert "Zamknijcie" not in [m.body for m in messages_of(case)]


def test_reply_from_a_user_who_may_no_longer_see_the_case_goes_to_triage(
    app, world, dovecot, imap_user
):
    case, reply = reply_to_case_mail(world, "Pokażcie mi tę sprawę")
    User.update(is_enabled=False).where(User.id == world["customer"].id).execute()
    dovecot.append(imap_user, bytes(reply))
    assert take(app).counts == {"triage": 1}
    assert len(messages_of(case)) == 1
    assert ReceivedMail.get().reason == "sender may not see the case"


# --- new threads, loops, bounces ----------------------------------------------


def test_new_thread_from_unknown_sender_waits_in_triage_a_customers_is_a_draft(
    app, world, dovecot, imap_user
):
    dovecot.append(imap_user, bytes(mail("nowy@firma.pl", "Awaria", "Pomocy")))
    dovecot.append(
        imap_user, bytes(mail(world["customer"].email, "Nowa awaria", "SN-2 padł"))
    )
    cases_before = SupportCase.select().count()
    assert take(app).counts == {"triage": 1, "draft": 1}
    assert SupportCase.select().count() == cases_before
    rows = list(ReceivedMail.select().order_by(ReceivedMail.id))
    assert [(r.from_address, r.body, r.status, r.user_id) for r in rows] == [
        ("nowy@firma.pl", "Pomocy", "triage", None),
        (world["customer"].email, "SN-2 padł", "draft", world["customer"].id),
    ]
    assert all(r.received_at <= utcnow() for r in rows)


@pytest.mark.parametrize(
    "header",
    [
        ("Auto-Submitted", "auto-replied"),
        ("Precedence", "bulk"),
        ("X-Autoreply", "yes"),
    ],
)
def test_auto_replies_are_recorded_and_never_answered(
    app, world, smtp_server, dovecot, imap_user, header
):
    case = new_case(world)
    deliver(app)
    [sent] = sent_to(smtp_server, world["customer"].email)
    auto = mail(
        world["customer"].email,
        "Out of office",
        "Jestem na urlopie",
        in_reply_to=str(sent["Message-ID"]),
        headers=[header],
    )
    dovecot.append(imap_user, bytes(auto))
    queued = OutboxMessage.select().count()
    assert take(app).counts == {"ignored": 1}
    assert len(messages_of(case)) == 1
    assert OutboxMessage.select().count() == queued  # nothing answers it


def test_our_own_mail_coming_back_is_ignored(
    app, world, smtp_server, dovecot, imap_user
):
    new_case(world)
    deliver(app)
    [sent] = sent_to(smtp_server, world["customer"].email)
    dovecot.append(imap_user, bytes(sent))  # e.g. a forward rule looping it back
    assert take(app).counts == {"ignored": 1}
    assert ReceivedMail.get().reason == "our own message"


def test_bounce_marks_the_address_undeliverable(app, world, dovecot, imap_user):
    dsn = bounce_for("zly@example.pl")
    dovecot.append(imap_user, dsn)
    assert take(app).counts == {"bounce": 1}
    [bad] = UndeliverableAddress.select()
    assert (bad.address, bad.status) == ("zly@example.pl", "5.1.1")
    assert "No such user" in bad.diagnostic


def test_a_message_that_cannot_be_filed_waits_for_an_engineer_and_the_rest_go_on(
    app, world, dovecot, imap_user, monkeypatch, caplog
):
    real = intake.find_thread

    def odd(message, sender):
        if sender == "dziwny@firma.pl":
            raise ValueError("unexpected")
        return real(message, sender)

    monkeypatch.setattr(intake, "find_thread", odd)
    dovecot.append(imap_user, bytes(mail("dziwny@firma.pl", "Dziwny", "x")))
    dovecot.append(imap_user, bytes(mail("zwykly@firma.pl", "Zwykły", "y")))
    assert take(app).counts == {"triage": 2}
    odd_row = ReceivedMail.get(ReceivedMail.from_address == "dziwny@firma.pl")
    assert odd_row.reason == "could not be filed (ValueError)"
    assert inbox(dovecot, imap_user) == []


def test_big_messages_are_fetched_in_smaller_batches(app, dovecot, imap_user):
    log = [("a.log", b"x" * 3000, "text", "plain")]
    raws = [bytes(mail(f"k{n}@f.pl", "Nr", "y", attachments=log)) for n in range(4)]
    for raw in raws:
        dovecot.append(imap_user, raw)
    size = max(len(raw.replace(b"\n", b"\r\n")) for raw in raws)
    with MailboxSettings.from_config(app.config).connect() as box:
        box.folder.set("INBOX")
        uids = box.uids()
        assert list(intake.batches(box, uids, 4)) == [uids]
        two = int(size * 2.5)
        assert [len(b) for b in intake.batches(box, uids, 4, max_bytes=two)] == [2, 2]
        assert [len(b) for b in intake.batches(box, uids, 4, max_bytes=10)] == [1] * 4


# --- exactly once ------------------------------------------------------------


def test_crash_between_commit_and_move_takes_nothing_twice(
    app, world, dovecot, imap_user, monkeypatch
):
    for n in range(6):
        dovecot.append(imap_user, bytes(mail(f"k{n}@firma.pl", f"Nr {n}", "x")))
    real_move = intake.imap_tools.MailBox.move

    def crash(self, *args, **kwargs):
        raise ConnectionResetError("killed")

    monkeypatch.setattr(intake.imap_tools.MailBoxUnencrypted, "move", crash)
    with pytest.raises(ConnectionResetError):
        take(app)
    assert ReceivedMail.select().count() == 4  # the first batch committed
    monkeypatch.setattr(intake.imap_tools.MailBoxUnencrypted, "move", real_move)
    report = take(app)
    assert report.counts == {"triage": 2} and report.already == 4
    assert ReceivedMail.select().count() == 6
    assert inbox(dovecot, imap_user) == [] and len(processed(dovecot, imap_user)) == 6


def test_worker_killed_mid_batch_and_restarted_gives_exactly_one_of_each(
    app, world, dovecot, imap_user, tmp_path
):
    count = 40
    for n in range(count):
        dovecot.append(imap_user, bytes(mail(f"k{n}@firma.pl", f"Nr {n}", f"t{n}")))
    db.close()
    env = worker_env(app, tmp_path)
    worker = subprocess.Popen(
        [HEZO, "mail-intake", "--once"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    db.connect(reuse_if_open=True)
    deadline = time.monotonic() + 60
    while ReceivedMail.select().count() < 3 and time.monotonic() < deadline:
        assert worker.poll() is None, worker.stderr.read().decode()
        time.sleep(0.005)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    worker.stderr.close()
    taken = ReceivedMail.select().count()
    assert 0 < taken < count, "the worker was not stopped mid-batch"
    db.close()
    again = subprocess.run(
        [HEZO, "mail-intake", "--once"],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr.decode()
    db.connect(reuse_if_open=True)
    bodies = sorted(r.body for r in ReceivedMail.select())
    assert bodies == sorted(f"t{n}" for n in range(count))
    assert inbox(dovecot, imap_user) == []
    assert len(processed(dovecot, imap_user)) == count


# --- IDLE ----------------------------------------------------------------------


def wait_for(condition, seconds):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def start_worker(app, **kwargs):
    stop = threading.Event()
    worker = threading.Thread(
        target=intake.run_worker, args=(app,), kwargs={"stop": stop, **kwargs}
    )
    worker.start()
    return worker, stop


def stop_worker(worker, stop):
    stop.set()
    worker.join(timeout=10)
    assert not worker.is_alive(), "the worker did not stop"


def test_the_worker_waits_in_idle_and_takes_new_mail_within_seconds(
    app, world, dovecot, imap_user, monkeypatch
):
    """Polling every two minutes would not see it: IDLE hears of it at once."""
    idles = []
    real_idle_wait = intake.idle_wait

    def counted(box, seconds, stop):
        idles.append(seconds)
        return real_idle_wait(box, seconds, stop)

    monkeypatch.setattr(intake, "idle_wait", counted)
    worker, stop = start_worker(app, interval=120)
    try:
        dovecot.append(imap_user, bytes(mail("a@firma.pl", "Pierwszy", "1")))
        assert wait_for(lambda: ReceivedMail.select().count() == 1, 20)
        assert wait_for(lambda: idles, 10)  # waiting in IDLE again
        time.sleep(0.3)
        appended = time.monotonic()
        dovecot.append(imap_user, bytes(mail("b@firma.pl", "Drugi", "2")))
        assert wait_for(lambda: ReceivedMail.select().count() == 2, 10)
        assert time.monotonic() - appended < 5
    finally:
        stop_worker(worker, stop)
    assert idles and all(seconds == 120 for seconds in idles)
    assert inbox(dovecot, imap_user) == [] and len(processed(dovecot, imap_user)) == 2


def test_mail_arriving_between_a_pass_and_the_idle_is_not_left_waiting(
    app, world, dovecot, imap_user, monkeypatch
):
    """The server tells of it in the SELECT's answer, not in the IDLE."""
    real_take_all = intake.take_all
    passes = []

    def then_mail_arrives(*args, **kwargs):
        report = real_take_all(*args, **kwargs)
        passes.append(report.taken)
        if len(passes) == 1:
            dovecot.append(imap_user, bytes(mail("a@firma.pl", "W szczelinie", "1")))
        return report

    monkeypatch.setattr(intake, "take_all", then_mail_arrives)
    worker, stop = start_worker(app, interval=120)
    try:
        assert wait_for(lambda: ReceivedMail.select().count() == 1, 10)
    finally:
        stop_worker(worker, stop)
    assert passes[:2] == [0, 1]


def test_sigterm_stops_the_idling_worker_within_seconds(
    app, world, dovecot, imap_user, tmp_path
):
    db.close()
    worker = subprocess.Popen(
        [HEZO, "mail-intake", "--interval", "600"],
        env=worker_env(app, tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        db.connect(reuse_if_open=True)
        dovecot.append(imap_user, bytes(mail("a@firma.pl", "Pierwszy", "1")))
        assert wait_for(lambda: ReceivedMail.select().count() == 1, 30)
        time.sleep(1)  # back in IDLE
        worker.send_signal(signal.SIGTERM)
        stopped = time.monotonic()
        assert worker.wait(timeout=10) == 0
        assert time.monotonic() - stopped < 5
        assert b"Traceback" not in worker.stderr.read()
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        worker.stderr.close()


def test_without_idle_on_the_server_the_worker_polls(
    app, world, dovecot, imap_user, monkeypatch
):
    monkeypatch.setattr(intake, "supports_idle", lambda box: False)
    monkeypatch.setattr(intake, "idle_wait", None)  # never called
    worker, stop = start_worker(app, interval=0.5)
    try:
        dovecot.append(imap_user, bytes(mail("a@firma.pl", "Pierwszy", "1")))
        assert wait_for(lambda: ReceivedMail.select().count() == 1, 20)
    finally:
        stop_worker(worker, stop)


def test_the_worker_can_be_told_to_poll(app, world, dovecot, imap_user, monkeypatch):
    monkeypatch.setattr(intake, "watch", None)  # never called
    worker, stop = start_worker(app, interval=0.5, idle=False)
    try:
        dovecot.append(imap_user, bytes(mail("a@firma.pl", "Pierwszy", "1")))
        assert wait_for(lambda: ReceivedMail.select().count() == 1, 20)
    finally:
        stop_worker(worker, stop)


# --- helpers ---------------------------------------------------------------------


def worker_env(app, tmp_path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEZO_")}
    config = app.config
    env.update(
        {
            "HEZO_SECRET_KEY": "x" * 32,
            "HEZO_DEBUG": "true",
            "HEZO_DATABASE_URL": config["DATABASE_URL"],
            "HEZO_UPLOAD_FOLDER": config["UPLOAD_FOLDER"],
            "HEZO_INSTANCE_PATH": str(tmp_path / "instance"),
            "HEZO_MAIL_INTAKE_HOST": config["MAIL_INTAKE_HOST"],
            "HEZO_MAIL_INTAKE_PORT": str(config["MAIL_INTAKE_PORT"]),
            "HEZO_MAIL_INTAKE_SSL": "false",
            "HEZO_MAIL_INTAKE_USERNAME": config["MAIL_INTAKE_USERNAME"],
            "HEZO_MAIL_INTAKE_PASSWORD": "secret",
            "HEZO_MAIL_INTAKE_BATCH": "7",
        }
    )
    if PG_URL:
        env["HEZO_DATABASE_OPTIONS"] = json.dumps(config["DATABASE_OPTIONS"])
    return env


def dkim_key(domain):
    """A private key (PEM) and a DNS answering its public key for ``domain``."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)

    def dns(name, timeout=5):
        return record if name == f"s1._domainkey.{domain}.".encode() else None

    return pem, dns


def bounce_for(address: str) -> bytes:
    text = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.pl>\r\n"
        "To: no-reply@myhezo.pl\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: {make_msgid(domain='mx.example.pl')}\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
        "\r\n--B\r\nContent-Type: text/plain\r\n\r\n"
        "The mail could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.pl\r\n\r\n"
        f"Final-Recipient: rfc822; {address}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 No such user\r\n"
        "\r\n--B--\r\n"
    )
    return text.encode()


def test_bounce_helper_is_a_report(dbconn):
    raw = bounce_for("a@b.pl")
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert intake.bounced_addresses(message) == [
        ("a@b.pl", "5.1.1", "smtp; 550 5.1.1 No such user")
    ]


# --- the engineers' triage -------------------------------------------------------


def test_engineer_opens_a_case_from_an_unknown_senders_mail(
    app, client, world, dovecot, imap_user
):
    from .factories import login, phone_case_form

    arrived = mail(
        "Anna Nowa <anna@szpital.pl>",
        "Switch SN-2 nie odpowiada",
        "<b>Port 1</b> nie działa",
        attachments=[("show.log", b"port 1 down\n", "text", "plain")],
    )
    dovecot.append(imap_user, bytes(arrived))
    take(app)
    waiting = ReceivedMail.get()
    login(client, world["engineer"])
    queue = client.get("/pl/staff/").get_data(as_text=True)
    assert "(1)" in queue and "/pl/staff/mail" in queue
    page = client.get("/pl/staff/mail").get_data(as_text=True)
    assert "&lt;b&gt;Port 1&lt;/b&gt;" in page and "<b>Port 1" not in page

    form_page = client.get(f"/pl/staff/cases/new?nip=5260181596&mail={waiting.id}")
    assert form_page.status_code == 200
    assert "anna@szpital.pl" in form_page.get_data(as_text=True)
    form = phone_case_form(
        world["contract"],
        "SN-2",
        channel="email",
        contact_name="Anna Nowa",
        contact_email="anna@szpital.pl",
        subject=waiting.subject,
        description=waiting.body,
    )
    url = f"/pl/staff/cases/new?nip=5260181596&mail={waiting.id}"
    response = client.post(url, data=form, content_type="multipart/form-data")
    assert response.status_code == 303
    case = SupportCase.get(SupportCase.subject == "Switch SN-2 nie odpowiada")
    assert case.channel == "email"
    assert case.reported_at == ReceivedMail.get().received_at  # clock from arrival
    linked = ReceivedMail.get()
    assert (linked.status, linked.case_id) == ("linked", case.id)
    names = {a.filename for a in Attachment.select().where(Attachment.case == case)}
    assert names == {"message.eml", "show.log"}
    # The same mail again (a second engineer, a double click): no second case.
    again = client.post(url, data=form, content_type="multipart/form-data")
    assert again.status_code == 303 and again.location.endswith("/pl/staff/mail")
    assert SupportCase.select().where(SupportCase.channel == "email").count() == 1
    assert "(0)" in client.get("/pl/staff/").get_data(as_text=True)


def test_engineer_asks_an_unknown_sender_to_register(
    app, client, world, dovecot, imap_user
):
    from .factories import login

    dovecot.append(imap_user, bytes(mail("obcy@firma.pl", "Pomoc", "Awaria")))
    take(app)
    waiting = ReceivedMail.get()
    login(client, world["engineer"])
    response = client.post(f"/pl/staff/mail/{waiting.id}/ask-to-register")
    assert response.status_code == 303
    assert ReceivedMail.get().status == "answered"
    asked = OutboxMessage.get(OutboxMessage.recipient == "obcy@firma.pl")
    assert "/pl/register" in asked.body_text and "Pomoc" in asked.body_text
    again = client.post(f"/en/staff/mail/{waiting.id}/ask-to-register")
    assert again.status_code == 303
    assert OutboxMessage.select().where(OutboxMessage.recipient == "obcy@firma.pl")
    page = client.get("/en/staff/mail").get_data(as_text=True)
    assert "No e-mail waits" in page and "already handled" in page


def test_triage_page_shows_bounced_addresses_and_forgeries(
    app, client, world, dovecot, imap_user
):
    from .factories import login

    case = new_case(world)
    dovecot.append(imap_user, bounce_for("zly@example.pl"))
    dovecot.append(
        imap_user, bytes(mail(world["customer"].email, f"[{case.number}]", "x"))
    )
    take(app)
    login(client, world["engineer"])
    page = client.get("/en/staff/mail").get_data(as_text=True)
    assert "zly@example.pl" in page and "5.1.1" in page
    assert "Rejected as forged" in page and case.number in page

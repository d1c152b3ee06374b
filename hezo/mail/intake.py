"""Mail intake: messages to the help mailbox become case messages or triage items.

``hezo mail-intake`` watches the help mailbox over IMAP (``MAIL_INTAKE_*``): in
IDLE where the server offers it, else (or with ``--poll``) polling. Each
message is read by UID without marking it seen, parsed with the standard
library's ``email`` (``policy.default``) and handled in ONE transaction that
also inserts its ``ReceivedMail`` row (unique Message-ID). Only after that
commit is the message moved to ``MAIL_INTAKE_DONE_FOLDER``. So:

- killed before the commit: nothing of it was written, the mail is still in
  the inbox and is taken on the next run;
- killed after the commit, before the move: the next run finds its Message-ID
  recorded, writes nothing and moves it on;
- never deleted: the processed folder keeps every message.

What a message becomes (``ReceivedMail.status``):

- a reply (``In-Reply-To``/``References`` naming case mail we sent, or the
  case number in the subject from a sender allowed on the case) from a
  registered user who may see the case: a message in it (``filed``), with the
  original ``.eml`` and its attachments (the upload checks apply);
- a reply whose ``From`` may be forged (it names no mail we sent to that
  address, or a DKIM signature of the sender's domain fails, or, with
  ``MAIL_REQUIRE_DKIM``, none verifies): ``rejected``, shown to engineers,
  never filed;
- a new thread from an enabled customer user's address: that customer's
  ``draft`` (``mail.drafts``), which they confirm in the portal with a contract
  and a serial, or discard;
- any other new thread, or a sender who may not see the case: ``triage``, the
  engineers' list where it becomes a case (channel "email") or is answered;
- auto-replies, bulk mail and our own mail: ``ignored`` (recorded, never
  answered, so no loop);
- a delivery status notification: ``bounce``; its failed recipients are marked
  undeliverable for the engineers;
- a message that fails to be filed for any other reason than the database:
  ``triage`` with the error's type, so one odd message never stops the rest.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import imaplib
import logging
import os
import re
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr, parsedate_to_datetime

import click
import imap_tools
from flask import Flask, current_app

from ..attachments import (
    STAGED_PREFIX,
    StagedFile,
    StorageError,
    discard_staged,
    place_staged,
    write_temporary,
)
from ..db import UNAVAILABLE_ERRORS, db, utcnow
from ..models import (
    Contract,
    OutboxMessage,
    SupportCase,
    User,
)
from ..models.mail import ReceivedMail, UndeliverableAddress
from . import html_text, threads
from .messages import EML_NAME, attach_eml, mail_attachments, parse

log = logging.getLogger(__name__)

MAX_MESSAGE_ID = 255
_FETCH_UID = re.compile(rb"UID (\d+)")
_FETCH_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")
#: What one batch may hold in memory (its messages' sizes as the server counts).
MAX_BATCH_BYTES = 64 * 1024 * 1024
_AUTO_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}


@dataclass
class IntakeReport:
    """What one pass did, by outcome (``ReceivedMail.status``)."""

    counts: dict = field(default_factory=dict)
    #: Messages whose row was already there (taken before a crash): moved on.
    already: int = 0

    def add(self, status: str) -> None:
        self.counts[status] = self.counts.get(status, 0) + 1

    @property
    def taken(self) -> int:
        return sum(self.counts.values())


# --- reading one message -------------------------------------------------------


def message_id_of(message: EmailMessage, raw: bytes) -> str:
    """The message's Message-ID, or one made from its bytes when it has none."""
    try:
        value = str(message.get("Message-ID") or "").strip()
    except Exception:  # a header policy.default cannot parse
        value = ""
    match = re.search(r"<[^<>\s]+>", value)
    value = match.group(0) if match else value.split()[0] if value.split() else ""
    if not value or len(value) > MAX_MESSAGE_ID:
        value = f"<{hashlib.sha256(raw).hexdigest()}@no-message-id.invalid>"
    return value


def arrival(message: EmailMessage, internal: datetime | None, now: datetime):
    """When the mail reached the mailbox: the server's INTERNALDATE, else the
    newest ``Received:`` line, else ``Date:``; never in the future."""
    candidates = [internal]
    received = message.get_all("Received") or []
    if received:
        candidates.append(_header_date(str(received[0]).rpartition(";")[2]))
    candidates.append(_header_date(str(message.get("Date") or "")))
    for moment in candidates:
        if moment is not None:
            return min(moment, now)
    return now


def _header_date(text: str) -> datetime | None:
    try:
        moment = parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def sender_of(message: EmailMessage) -> tuple[str, str]:
    """``(name, address)`` of the From header; the address lower-cased."""
    try:
        pairs = getaddresses([str(message.get("From") or "")])
    except Exception:
        pairs = []
    name, address = pairs[0] if pairs else ("", "")
    address = address.strip().lower()
    if not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+", address):
        address = ""
    return _one_line(name)[:160], address[:254]


def _one_line(text: str) -> str:
    return " ".join(str(text or "").split())


def subject_of(message: EmailMessage) -> str:
    try:
        return _one_line(message.get("Subject"))[:255]
    except Exception:
        return ""


def body_text(message: EmailMessage) -> str:
    """The text of the message: its plain part, else its HTML part as plain text."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, AssertionError):
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", errors="replace")
    if not isinstance(content, str):
        return ""
    if part.get_content_subtype() == "html":
        content = html_text.to_text(content)
    return content.replace("\x00", "")


def is_automatic(message: EmailMessage) -> str | None:
    """Why the message is an auto-reply or bulk mail (never answered), or None."""
    auto = str(message.get("Auto-Submitted") or "").strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"[:200]
    precedence = str(message.get("Precedence") or "").strip().lower()
    if precedence in _AUTO_PRECEDENCE:
        return f"Precedence: {precedence}"
    for header in ("X-Autoreply", "X-Autorespond", "X-Auto-Reply"):
        if message.get(header) is not None:
            return header
    if message.get("List-Id") is not None or message.get("List-Unsubscribe"):
        return "mailing list"
    return None


def bounced_addresses(message: EmailMessage) -> list[tuple[str, str, str]] | None:
    """For a delivery status notification: ``(address, status, diagnostic)`` of
    each recipient it reports failed; None for any other message."""
    if message.get_content_type() != "multipart/report":
        return None
    if message.get_param("report-type", "").lower() != "delivery-status":
        return None
    failed = []
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        for block in _status_blocks(part):
            action = str(block.get("Action") or "").strip().lower()
            recipient = str(block.get("Final-Recipient") or "")
            address = recipient.rpartition(";")[2].strip().strip("<>").lower()
            if action == "failed" and "@" in address:
                failed.append(
                    (
                        address[:254],
                        _one_line(block.get("Status"))[:16],
                        _one_line(block.get("Diagnostic-Code"))[:255],
                    )
                )
    return failed


def _status_blocks(part) -> list:
    payload = part.get_payload()
    if isinstance(payload, list):
        return payload
    # Some servers' reports arrive as one text: blocks are separated by blank lines.
    text = payload if isinstance(payload, str) else ""
    return [
        email.message_from_string(chunk.strip() + "\n", policy=email.policy.default)
        for chunk in re.split(r"\n\s*\n", text.replace("\r\n", "\n"))
        if chunk.strip()
    ]


# --- who wrote it --------------------------------------------------------------


def dkim_verdict(raw: bytes, address: str, dnsfunc=None) -> str:
    """What DKIM says of the From address: "pass" (a signature of its domain,
    or a parent domain, verifies), "fail" (there are such signatures and none
    verifies), "temperror" (none verified because DNS did not answer) or
    "none" (no signature of that domain: other domains' signatures, a mailing
    list's say, tell nothing about the sender)."""
    import dkim
    from dkim.dnsplug import get_txt

    end = raw.find(b"\r\n\r\n") if b"\r\n\r\n" in raw else raw.find(b"\n\n")
    if b"dkim-signature" not in (raw if end < 0 else raw[:end]).lower():
        return "none"
    lookup = dnsfunc or get_txt
    unanswered = []

    def recording(name, timeout=5):
        try:
            return lookup(name, timeout=timeout)
        except dkim.DnsTimeoutError:
            unanswered.append(name)
            raise

    domain = address.rpartition("@")[2].encode()
    aligned = False
    try:
        verifier = dkim.DKIM(raw)
        signatures = [h for h in verifier.headers if h[0].lower() == b"dkim-signature"]
        for index, (_, value) in enumerate(signatures):
            tags = dict(
                t.strip().split(b"=", 1) for t in value.split(b";") if b"=" in t
            )
            signer = tags.get(b"d", b"").strip().lower()
            if not signer or (signer != domain and not domain.endswith(b"." + signer)):
                continue
            aligned = True
            if verifier.verify(idx=index, dnsfunc=recording):
                return "pass"
    except Exception as exc:  # a malformed message or signature: not verified
        log.info("mail intake: DKIM not verified (%s)", type(exc).__name__)
        return "fail"
    if not aligned:
        return "none"
    return "temperror" if unanswered else "fail"


def dkim_refusal(raw: bytes, address: str, dnsfunc=None) -> str | None:
    """Why the message's From cannot be believed by DKIM, or None: a failing
    signature of the sender's domain always refuses; a missing (or unchecked)
    one only when ``MAIL_REQUIRE_DKIM`` is on."""
    verdict = dkim_verdict(raw, address, dnsfunc)
    if verdict == "fail":
        return "DKIM signature of the sender's domain fails"
    if verdict != "pass" and _as_bool(current_app.config.get("MAIL_REQUIRE_DKIM")):
        return f"DKIM required, {verdict}"
    return None


def may_see(user: User, case: SupportCase) -> bool:
    """The portal's own rule (``cases.queries.scope``) for one case."""
    from ..cases.queries import scope

    if not user.is_enabled:
        return False
    query = (
        SupportCase.select(SupportCase.id)
        .join(Contract)
        .where(SupportCase.id == case.id)
    )
    return scope(query, user).exists()


@dataclass
class Thread:
    """The case a message answers, and how we know."""

    case: SupportCase
    #: It names a Message-ID we sent to the From address itself.
    sent_to_sender: bool


def find_thread(message: EmailMessage, sender: str) -> Thread | None:
    ids = threads.referenced_ids(message)
    if ids:
        sent = list(
            OutboxMessage.select(OutboxMessage.case, OutboxMessage.recipient)
            .where(
                OutboxMessage.message_id.in_(ids),
                OutboxMessage.case.is_null(False),
            )
            .order_by(OutboxMessage.id.desc())
        )
        if sent:
            to_sender = [m for m in sent if parseaddr(m.recipient)[1].lower() == sender]
            chosen = (to_sender or sent)[0]
            return Thread(SupportCase.get_by_id(chosen.case_id), bool(to_sender))
    number = threads.subject_case_number(subject_of(message))
    if number:
        case = SupportCase.get_or_none(SupportCase.number == number)
        if case is not None:
            return Thread(case, False)
    return None


# --- filing --------------------------------------------------------------------


@dataclass
class Incoming:
    raw: bytes
    folder: str
    uid_validity: int
    uid: int
    internal_date: datetime | None = None


def store_originals(raws: list[bytes]) -> list[StagedFile]:
    """The messages' bytes placed in the upload folder (by content hash), on
    disk before any row names them. The files are synced together (one
    journal commit for a batch instead of one per message)."""
    staged = [_stage_eml(raw) for raw in raws]
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(_fsync, [f.path for f in staged]))
        place_staged(staged)
    except OSError as exc:
        discard_staged(staged)
        raise StorageError(exc) from exc
    return staged


def _fsync(path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def process(
    incoming: Incoming,
    now: datetime,
    *,
    dnsfunc=None,
    original: StagedFile | None = None,
) -> str:
    """Record and file one message; returns its status, or "already" when its
    Message-ID was recorded before (nothing is written then). ``original`` is
    its .eml already placed by ``store_originals``."""
    raw = incoming.raw
    message = parse(raw)
    message_id = message_id_of(message, raw)
    if ReceivedMail.select().where(ReceivedMail.message_id == message_id).exists():
        return "already"
    name, sender = sender_of(message)
    record = {
        "message_id": message_id,
        "folder": incoming.folder[:100],
        "uid_validity": incoming.uid_validity,
        "uid": incoming.uid,
        "received_at": arrival(message, incoming.internal_date, now),
        "taken_at": now,
        "from_address": sender,
        "from_name": name,
        "subject": subject_of(message),
    }
    eml = original or store_originals([raw])[0]  # before the row naming it commits
    staged = []
    try:
        record["eml_sha256"], record["eml_size"] = eml.sha256, eml.size
        with db.atomic():
            inserted = (
                ReceivedMail.insert(status="new", **record)
                .on_conflict_ignore()
                .as_rowcount()
                .execute()
            )
            if inserted != 1:  # another worker took it meanwhile
                return "already"
            row = ReceivedMail.get(ReceivedMail.message_id == message_id)
            try:
                with db.atomic():
                    status, reason, files = _decide(row, message, raw, sender, dnsfunc)
                staged += files
            except UNAVAILABLE_ERRORS:
                raise
            except Exception as exc:  # one odd message must not stop the mailbox
                log.exception("mail intake: message %s could not be filed", row.id)
                status = "triage"
                reason = f"could not be filed ({type(exc).__name__})"
                row.case = row.filed_as = None
            row.status, row.reason = status, reason[:200]
            row.save()
            return status
    finally:
        discard_staged(staged)


def _stage_eml(raw: bytes) -> StagedFile:
    path = write_temporary(raw, STAGED_PREFIX, sync=False)
    return StagedFile(
        path, hashlib.sha256(raw).hexdigest(), len(raw), EML_NAME, "message/rfc822"
    )


def _decide(row, message, raw, sender, dnsfunc) -> tuple[str, str, list]:
    own = _is_own(message, row.message_id, sender)
    if own:
        return "ignored", own, []
    failed = bounced_addresses(message)
    if failed is not None:
        for address, status, diagnostic in failed:
            _mark_undeliverable(address, status, diagnostic, row.received_at)
        return "bounce", ", ".join(a for a, _, _ in failed) or "no failed recipient", []
    automatic = is_automatic(message)
    if automatic:
        return "ignored", automatic, []
    text = body_text(message)
    row.body = threads.reply_text(text)
    if not sender:
        return "triage", "no sender address", []
    thread = find_thread(message, sender)
    user = User.get_or_none(User.email == sender)  # stored lower-case
    if thread is None:
        from . import drafts

        if not drafts.may_draft(user):
            return "triage", "new thread", []
        forged = dkim_refusal(raw, sender, dnsfunc)
        return ("triage", forged, []) if forged else drafts.open_draft(row, user)
    row.case = thread.case
    # A reply must name mail we sent to its From address (our Message-IDs
    # are unguessable), and a DKIM signature it carries must verify.
    if not thread.sent_to_sender:
        return "rejected", "names no mail of ours to this sender", []
    forged = dkim_refusal(raw, sender, dnsfunc)
    if forged:
        return "rejected", forged, []
    if user is None or not may_see(user, thread.case):
        return "triage", "sender may not see the case", []
    return _file_reply(row, message, thread.case, user)


def _is_own(message, message_id: str, sender: str) -> str | None:
    if OutboxMessage.select().where(OutboxMessage.message_id == message_id).exists():
        return "our own message"
    domain = threads.our_domain()
    if re.fullmatch(rf"<(?:case|outbox)\.[^@]+@{re.escape(domain)}>", message_id):
        return "our own message"
    ours = parseaddr(current_app.config.get("MAIL_FROM") or "")[1].lower()
    if sender and sender == ours:
        return "from our own sender address"
    return None


def _mark_undeliverable(address, status, diagnostic, at) -> None:
    updated = (
        UndeliverableAddress.update(
            last_bounce_at=at, status=status, diagnostic=diagnostic
        )
        .where(UndeliverableAddress.address == address)
        .execute()
    )
    if not updated:
        UndeliverableAddress.insert(
            address=address,
            first_bounce_at=at,
            last_bounce_at=at,
            status=status,
            diagnostic=diagnostic,
        ).on_conflict_ignore().execute()


def _file_reply(row, message, case, user) -> tuple[str, str, list]:
    from ..cases.services import CaseError, post_message

    files, refused = mail_attachments(message)
    body = row.body
    if refused:
        body += "\n\n" + "\n".join(f"[{r}]" for r in refused)
    try:
        with db.atomic():
            posted = post_message(case, user, body, files, row.received_at)
            attach_eml(row, case, posted, user)
    except CaseError:
        return "triage", "the case is settled; a new case is needed", files
    row.filed_as = posted
    return "filed", "", files


# --- the mailbox ---------------------------------------------------------------


@dataclass
class MailboxSettings:
    host: str
    username: str
    password: str
    port: int | None = None
    use_ssl: bool = True
    starttls: bool = False
    folders: list = field(default_factory=lambda: ["INBOX"])
    done_folder: str = "Processed"
    batch: int = 100

    @classmethod
    def from_config(cls, config) -> MailboxSettings:
        host = config.get("MAIL_INTAKE_HOST")
        if not host:
            raise click.ClickException(
                "MAIL_INTAKE_HOST is not set (the help mailbox's IMAP server)"
            )
        folders = config.get("MAIL_INTAKE_FOLDERS") or ["INBOX"]
        if isinstance(folders, str):
            folders = [f.strip() for f in folders.split(",") if f.strip()]
        return cls(
            host=host,
            port=int(config["MAIL_INTAKE_PORT"])
            if config.get("MAIL_INTAKE_PORT")
            else None,
            username=config.get("MAIL_INTAKE_USERNAME") or "",
            password=config.get("MAIL_INTAKE_PASSWORD") or "",
            use_ssl=_as_bool(config.get("MAIL_INTAKE_SSL", True)),
            starttls=_as_bool(config.get("MAIL_INTAKE_STARTTLS", False)),
            folders=list(folders),
            done_folder=config.get("MAIL_INTAKE_DONE_FOLDER") or "Processed",
            batch=int(config.get("MAIL_INTAKE_BATCH") or 100),
        )

    def connect(self):
        if self.use_ssl:
            box = imap_tools.MailBox(self.host, self.port or 993)
        elif self.starttls:
            box = imap_tools.MailBoxStartTls(self.host, self.port or 143)
        else:
            box = imap_tools.MailBoxUnencrypted(self.host, self.port or 143)
        return box.login(self.username, self.password)


def _as_bool(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def fetch_raw(box, uids: list[str]) -> list[tuple[int, bytes, datetime | None]]:
    """``(uid, raw bytes, INTERNALDATE)`` of ``uids``, without marking them seen
    (the exact bytes: DKIM is verified on them, the .eml keeps them)."""
    status, data = box.client.uid(
        "FETCH", ",".join(uids), "(UID INTERNALDATE BODY.PEEK[])"
    )
    if status != "OK":
        raise imaplib.IMAP4.error(f"FETCH failed: {status}")
    found = []
    for item in data:
        if not isinstance(item, tuple):
            continue
        head, raw = item
        uid = _FETCH_UID.search(head)
        if uid is None:
            continue
        internal = imaplib.Internaldate2tuple(head)
        moment = (
            datetime.fromtimestamp(time.mktime(internal), UTC) if internal else None
        )
        found.append((int(uid.group(1)), raw, moment))
    return found


def batches(box, uids: list[str], count: int, max_bytes: int = MAX_BATCH_BYTES):
    """``uids`` in batches of at most ``count`` messages and ``max_bytes``
    (a single larger message makes a batch of its own): a few big attachments
    never hold hundreds of megabytes in memory at once."""
    for start in range(0, len(uids), count):
        chunk = uids[start : start + count]
        status, data = box.client.uid("FETCH", ",".join(chunk), "(UID RFC822.SIZE)")
        sizes = {}
        for item in data if status == "OK" else ():
            head = (item[0] if isinstance(item, tuple) else item) or b""
            uid, size = _FETCH_UID.search(head), _FETCH_SIZE.search(head)
            if uid and size:
                sizes[uid.group(1).decode()] = int(size.group(1))
        batch, total = [], 0
        for uid in chunk:
            size = sizes.get(uid, 0)
            if batch and total + size > max_bytes:
                yield batch
                batch, total = [], 0
            batch.append(uid)
            total += size
        if batch:
            yield batch


def take_folder(
    box,
    folder: str,
    settings: MailboxSettings,
    now: Callable[[], datetime],
    report: IntakeReport,
    *,
    stop: Callable[[], bool] | None = None,
    dnsfunc=None,
) -> None:
    """Process every message in ``folder``, a batch at a time; each batch is
    moved to the done folder after all its messages are committed."""
    box.folder.set(folder)
    uid_validity = int(box.folder.status(folder, ["UIDVALIDITY"])["UIDVALIDITY"])
    uids = box.uids("ALL")
    for chunk in batches(box, uids, settings.batch):
        if stop is not None and stop():
            return
        done = []
        fetched = fetch_raw(box, chunk)
        originals = store_originals([raw for _, raw, _ in fetched])
        for (uid, raw, internal), original in zip(fetched, originals, strict=True):
            incoming = Incoming(raw, folder, uid_validity, uid, internal)
            status = process(incoming, now(), dnsfunc=dnsfunc, original=original)
            if status == "already":
                report.already += 1
            else:
                report.add(status)
            done.append(str(uid))
        if done:
            box.move(done, settings.done_folder)


def run_pass(
    settings: MailboxSettings,
    now: Callable[[], datetime] = utcnow,
    *,
    stop: Callable[[], bool] | None = None,
    dnsfunc=None,
) -> IntakeReport:
    """One pass over the configured folders (a connection of its own)."""
    with settings.connect() as box:
        return take_all(box, settings, now, stop=stop, dnsfunc=dnsfunc)


def take_all(
    box,
    settings: MailboxSettings,
    now: Callable[[], datetime] = utcnow,
    *,
    stop: Callable[[], bool] | None = None,
    dnsfunc=None,
) -> IntakeReport:
    """One pass over the configured folders on the open connection ``box``
    (the database connection only for the pass: none is held while idling)."""
    report = IntakeReport()
    opened = db.is_closed()
    db.connect(reuse_if_open=True)
    try:
        if not box.folder.exists(settings.done_folder):
            box.folder.create(settings.done_folder)
        for folder in settings.folders:
            take_folder(box, folder, settings, now, report, stop=stop, dnsfunc=dnsfunc)
    finally:
        if opened and not db.is_closed():
            db.close()
    if report.taken or report.already:
        log.info(
            "mail intake: %s; %d taken before",
            ", ".join(f"{k} {v}" for k, v in sorted(report.counts.items())) or "none",
            report.already,
        )
    return report


#: RFC 2177: an IDLE is ended and issued again within 29 minutes.
MAX_IDLE_SECONDS = 25 * 60


def supports_idle(box) -> bool:
    status, data = box.client.capability()
    words = b" ".join(d for d in data if isinstance(d, bytes)).upper().split()
    return status == "OK" and b"IDLE" in words


def _selected_count(answer) -> int:
    """The number of messages in a SELECT's answer (imaplib's ``(typ, [b"3"])``)."""
    try:
        return int(answer[1][-1])
    except (TypeError, ValueError, IndexError):
        return 0


def idle_wait(box, seconds: float, stop: Callable[[], bool]) -> list[bytes]:
    """Wait in IDLE on the selected folder until the server reports a change,
    ``seconds`` pass or ``stop()`` says so (looked at every second; the IDLE
    itself is issued once). Returns the server's responses."""
    deadline = time.monotonic() + min(seconds, MAX_IDLE_SECONDS)
    box.idle.start()
    try:
        while not stop():
            left = deadline - time.monotonic()
            if left <= 0:
                return []
            responses = box.idle.poll(timeout=min(left, 1.0))
            if responses:
                return responses
        return []
    finally:
        box.idle.stop()


def watch(settings: MailboxSettings, interval: float, stop: threading.Event) -> bool:
    """Take the mail there is, then wait in IMAP IDLE on the first folder and
    take it again as soon as the server reports new mail (and every
    ``interval`` seconds, which also covers the other folders), on one
    connection, until ``stop``. Returns False at once when the server does
    not offer IDLE (the caller polls instead)."""
    with settings.connect() as box:
        if not supports_idle(box):
            log.warning("mail intake: the server offers no IDLE; polling instead")
            return False
        log.info("mail intake: waiting for new mail in IDLE")
        again = False
        while not stop.is_set():
            report = take_all(box, settings, stop=stop.is_set)
            # Mail that came after the pass looked, before the IDLE began, is
            # told in the SELECT's answer, not in the IDLE: take it first
            # (once more only, when the pass took nothing: no busy loop).
            waiting = _selected_count(box.folder.set(settings.folders[0]))
            if waiting and (report.taken or report.already or not again):
                again = True
                continue
            again = False
            idle_wait(box, interval, stop.is_set)
    return True


def run_worker(
    app: Flask,
    *,
    once: bool = False,
    interval: float = 60.0,
    idle: bool | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Take the mailbox's mail until SIGTERM, Ctrl-C or ``stop``.

    With ``idle`` (``MAIL_INTAKE_IDLE``, on by default) the worker waits in
    IMAP IDLE, so new mail is taken within seconds; a server without IDLE, or
    ``idle`` off, is polled every ``interval`` seconds. A failing pass
    (mailbox or database unreachable) is logged and retried after
    ``interval``; ``once`` runs one pass and lets its errors through.
    """
    with app.app_context():
        settings = MailboxSettings.from_config(app.config)
        if once:
            run_pass(settings)
            return
        if idle is None:
            idle = _as_bool(app.config.get("MAIL_INTAKE_IDLE", True))
        stop = stop or threading.Event()
        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
        log.info("mail intake started (%s)", "IDLE" if idle else f"every {interval}s")
        try:
            while not stop.is_set():
                try:
                    if idle:
                        idle = watch(settings, interval, stop)
                        continue
                    run_pass(settings, stop=stop.is_set)
                except Exception:
                    log.exception("mail intake: pass failed; retrying")
                stop.wait(interval)
        except KeyboardInterrupt:
            pass
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        log.info("mail intake stopped")

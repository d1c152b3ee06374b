"""GDPR rights: copies of one's data, erasure approved by staff, retention.

A copy (Arts. 15, 20) is a ZIP with ``data.json`` (machine-readable), ``data.pdf``
(the same, readable) and the files the person uploaded. It is made by
``produce_export`` at once for small accounts and by ``hezo privacy-exports``
for the others (``process_pending_exports``: the same code), stored in the
upload folder by content hash and offered for ``PRIVACY_EXPORT_DAYS``.

Erasure (Art. 17) replaces the person's name, e-mail, phone and IP addresses
everywhere by a neutral placeholder; the texts and files they wrote in cases
stay (the contract requires the case record), signed "former user". The
account row stays, with no way to sign in.
"""

import hashlib
import io
import json
import logging
import os
import re
import zipfile
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from flask import current_app
from peewee import CharField, TextField, fn

from ..accounts.services import end_sessions, public_url
from ..attachments import stored_path, write_temporary
from ..audit import audit, security_event
from ..db import db
from ..mail.queue import queue_mail, queue_staff_mail
from ..models import (
    ALL_MODELS,
    Attachment,
    AuditEvent,
    AuthToken,
    CaseSatisfaction,
    CaseWatcher,
    ConsentEvent,
    ContactRequest,
    EndedSession,
    ExternalIdentity,
    Message,
    OutboxMessage,
    PendingRegistration,
    PrivacyRequest,
    ReceivedMail,
    RecoveryCode,
    StatusChange,
    SupportCase,
    ThrottleEvent,
    UndeliverableAddress,
    User,
)
from ..models.accounts import new_session_token
from ..pdf import render_pdf
from . import queries

log = logging.getLogger(__name__)

#: What an erased person's name becomes (shown translated: ``author_label``).
FORMER_USER = "former user"
#: What an erased e-mail address or phone number becomes inside other texts.
ERASED = "[erased]"
#: Texts kept for the case record: the person's own words stay, unsigned.
KEPT_TEXTS = {
    (Message, "body"),
    (SupportCase, "subject"),
    (SupportCase, "description"),
}
EXPORT_PREFIX = ".export-"


def erased_email(user_id: int) -> str:
    """A unique address that reaches nobody (``.invalid`` is reserved)."""
    return f"erased-{user_id}@erased.invalid"


# -- copies of one's data ------------------------------------------------------


def active_export(user: User, now: datetime) -> PrivacyRequest | None:
    """The person's copy being made or still offered, if any."""
    return (
        PrivacyRequest.select()
        .where(
            (PrivacyRequest.user == user)
            & (PrivacyRequest.kind == "export")
            & (
                PrivacyRequest.status.in_(("pending", "working"))
                | (
                    (PrivacyRequest.status == "ready")
                    & (PrivacyRequest.expires_at > now)
                )
            )
        )
        .first()
    )


def request_export(user: User, now: datetime) -> PrivacyRequest:
    """Ask for a copy: one at a time; small accounts get it at once."""
    existing = active_export(user, now)
    if existing is not None:
        return existing
    with db.atomic():
        request = PrivacyRequest.create(user=user, kind="export", created_at=now)
        audit(
            "privacy_export_requested",
            actor=user,
            object_type="user",
            object_id=user.id,
            now=now,
        )
    if queries.export_size(user) <= current_app.config[
        "PRIVACY_EXPORT_INLINE_MAX_ITEMS"
    ] and _claim(request):
        produce_export(request, now, notify=False)
    return PrivacyRequest.get_by_id(request.id)


def _claim(request: PrivacyRequest) -> bool:
    """Take a pending export to make it (one worker or request at a time)."""
    return bool(
        PrivacyRequest.update(status="working")
        .where((PrivacyRequest.id == request.id) & (PrivacyRequest.status == "pending"))
        .execute()
    )


def process_pending_exports(now: datetime, batch: int = 20) -> int:
    """Make the copies waiting for the worker; returns how many were made.

    One that fails goes back to pending (logged) and is tried on the next pass.
    """
    made = 0
    pending = list(
        PrivacyRequest.select()
        .where((PrivacyRequest.kind == "export") & (PrivacyRequest.status == "pending"))
        .order_by(PrivacyRequest.id)
        .limit(batch)
    )
    for request in pending:
        if not _claim(request):
            continue
        try:
            produce_export(request, now, notify=True)
            made += 1
        except Exception:
            log.exception("privacy export %s failed; retrying later", request.id)
            PrivacyRequest.update(status="pending").where(
                PrivacyRequest.id == request.id
            ).execute()
    return made


def build_archive(user: User, now: datetime) -> bytes:
    """The ZIP: data.json, data.pdf and the files the person uploaded."""
    data = queries.collect(user)
    language = user.language if user.language in ("pl", "en") else "pl"
    with current_app.test_request_context(f"/{language}/privacy/"):
        pdf = render_pdf("pdf/privacy_export.html", data=data, now=now)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "data.json", json.dumps(data, ensure_ascii=False, indent=2) + "\n"
        )
        archive.writestr("data.pdf", pdf)
        for attachment in queries.own_files(user):
            path = stored_path(attachment.sha256)
            if path.is_file():
                archive.write(path, queries.archive_path(attachment))
    return out.getvalue()


def produce_export(request: PrivacyRequest, now: datetime, notify: bool) -> None:
    """Make a claimed copy, store it and offer it for PRIVACY_EXPORT_DAYS."""
    user = User.get_by_id(request.user_id)
    data = build_archive(user, now)
    sha256 = hashlib.sha256(data).hexdigest()
    target = stored_path(sha256)
    if not target.is_file():
        tmp = write_temporary(data, EXPORT_PREFIX)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)
    days = current_app.config["PRIVACY_EXPORT_DAYS"]
    with db.atomic():
        PrivacyRequest.update(
            status="ready",
            file_sha256=sha256,
            file_size=len(data),
            decided_at=now,
            expires_at=now + timedelta(days=days),
        ).where(PrivacyRequest.id == request.id).execute()
        audit("privacy_export_ready", object_type="user", object_id=user.id, now=now)
        if notify:
            queue_mail(
                user.email,
                "privacy_export_ready",
                user.language,
                name=user.first_name,
                days=days,
                link=public_url(f"/{user.language}/privacy/mine"),
            )


def record_download(request: PrivacyRequest, user: User, now: datetime) -> None:
    audit(
        "privacy_export_downloaded",
        actor=user,
        object_type="privacy_request",
        object_id=request.id,
        now=now,
    )


def _remove_export_file(request: PrivacyRequest) -> bool:
    """Delete a copy's ZIP (unless another request names the same content)."""
    sha256 = request.file_sha256
    if not sha256:
        return False
    PrivacyRequest.update(file_sha256="", file_size=0, status="expired").where(
        PrivacyRequest.id == request.id
    ).execute()
    return _remove_unreferenced(sha256)


def _remove_unreferenced(sha256: str) -> bool:
    """Delete a stored file that no row names any more; True if one was removed."""
    if not sha256:
        return False
    named = (
        Attachment.select().where(Attachment.sha256 == sha256).exists()
        or ReceivedMail.select().where(ReceivedMail.eml_sha256 == sha256).exists()
        or PrivacyRequest.select().where(PrivacyRequest.file_sha256 == sha256).exists()
    )
    if named:
        return False
    try:
        stored_path(sha256).unlink()
    except FileNotFoundError:
        return False
    return True


# -- erasure -----------------------------------------------------------------


class ErasureRefused(ValueError):
    """A decision that cannot be taken (``str()`` is translated by the view)."""


def pending_erasure(user: User) -> PrivacyRequest | None:
    return PrivacyRequest.get_or_none(
        (PrivacyRequest.user == user)
        & (PrivacyRequest.kind == "erasure")
        & (PrivacyRequest.status == "pending")
    )


def request_erasure(user: User, now: datetime) -> PrivacyRequest:
    """Ask for erasure; staff decide (the request waits on their list)."""
    existing = pending_erasure(user)
    if existing is not None:
        return existing
    with db.atomic():
        request = PrivacyRequest.create(user=user, kind="erasure", created_at=now)
        audit(
            "privacy_erasure_requested",
            actor=user,
            object_type="user",
            object_id=user.id,
            now=now,
        )
        queue_staff_mail(
            "privacy_erasure_for_staff", link=public_url("/pl/privacy/requests")
        )
    security_event("privacy_erasure_requested", user)
    return request


def decide_erasure(
    request: PrivacyRequest, actor: User, approve: bool, now: datetime, note: str = ""
) -> bool:
    """Approve (and erase at once) or refuse a pending request; False if it
    was decided already. Nobody decides their own request."""
    if request.user_id == actor.id:
        raise ErasureRefused("own request")
    with db.atomic():
        taken = (
            PrivacyRequest.update(
                status="done" if approve else "refused",
                decided_at=now,
                decided_by=actor,
                note=note,
            )
            .where(
                (PrivacyRequest.id == request.id) & (PrivacyRequest.status == "pending")
            )
            .execute()
        )
        if not taken:
            return False
        user = User.get_by_id(request.user_id)
        audit(
            "privacy_erasure_approved" if approve else "privacy_erasure_refused",
            actor=actor,
            object_type="user",
            object_id=user.id,
            details=note,
            now=now,
        )
        if approve:
            erase_user(user, now)
        else:
            queue_mail(
                user.email,
                "privacy_erasure_refused",
                user.language,
                name=user.first_name,
                note=note,
            )
    security_event(
        "privacy_erasure_approved" if approve else "privacy_erasure_refused",
        request.user_id,
        actor=actor.id,
    )
    return True


def erase_user(user: User, now: datetime) -> None:
    """Replace the person's data by placeholders everywhere (one transaction).

    Files are removed after the rows that name them are gone; a crash in
    between leaves a file no row names (``hezo run-retention`` does not mind).
    """
    email, name, phone = user.email, user.full_name, user.phone
    emails, phones = _former_contacts(user)
    emails, phones = [email, *emails], [phone, *phones]
    files: list[str] = []
    with db.atomic():
        exports = PrivacyRequest.select().where(
            (PrivacyRequest.user == user) & (PrivacyRequest.file_sha256 != "")
        )
        for request in exports:
            files.append(request.file_sha256)
        PrivacyRequest.update(file_sha256="", file_size=0, status="expired").where(
            (PrivacyRequest.user == user)
            & (PrivacyRequest.kind == "export")
            & (PrivacyRequest.status != "expired")
        ).execute()
        mail = ReceivedMail.select().where(
            (ReceivedMail.user == user)
            | fn.LOWER(ReceivedMail.from_address).in_(emails)
        )
        for received in mail:
            files.append(received.eml_sha256)
            # The text stays in the case's message it became (kept there).
            ReceivedMail.update(
                from_address=ERASED,
                from_name=FORMER_USER,
                body="",
                eml_sha256="",
                eml_size=0,
            ).where(ReceivedMail.id == received.id).execute()
        for model, column in (
            (UndeliverableAddress, UndeliverableAddress.address),
            (ThrottleEvent, ThrottleEvent.key),
            (PendingRegistration, PendingRegistration.email),
            (ContactRequest, ContactRequest.email),
            (OutboxMessage, OutboxMessage.recipient),
        ):
            model.delete().where(fn.LOWER(column).in_(emails)).execute()
        for model in (RecoveryCode, AuthToken, ExternalIdentity, EndedSession):
            model.delete().where(model.user == user).execute()
        # Watching is the person's own choice, of no use to the case record.
        CaseWatcher.delete().where(CaseWatcher.user == user).execute()
        # Their satisfaction comments are free text about anything (the
        # rating stays for the figures, by nobody).
        CaseSatisfaction.update(comment="").where(
            CaseSatisfaction.author == user
        ).execute()
        AuditEvent.update(ip="").where(AuditEvent.actor == user).execute()
        # The account's history (old and new names, addresses, phones of
        # each change, as JSON with escaped letters a search would miss).
        AuditEvent.update(details="").where(
            (AuditEvent.object_type == "user") & (AuditEvent.object_id == str(user.id))
        ).execute()
        Message.update(author_name=FORMER_USER).where(Message.author == user).execute()
        SupportCase.update(
            contact_name=FORMER_USER, contact_email="", contact_phone=""
        ).where(
            (SupportCase.reporter == user)
            | (fn.LOWER(SupportCase.contact_email) == email)
        ).execute()
        User.update(
            email=erased_email(user.id),
            first_name=FORMER_USER,
            last_name="",
            phone="",
            password_hash=None,
            totp_secret=None,
            session_token=new_session_token(),
            is_enabled=False,
            notify_by_email=False,
            erased_at=now,
        ).where(User.id == user.id).execute()
        for value, placeholder in (
            (name, FORMER_USER),
            *((address, ERASED) for address in emails),
            *((number, ERASED) for number in phones),
        ):
            _replace_everywhere(value, placeholder)
        audit("privacy_user_erased", object_type="user", object_id=user.id, now=now)
    for sha256 in files:
        _remove_unreferenced(sha256)
    for address in emails:
        _remove_outbox_files(address)
    end_sessions(user)


#: Audit events of an account's changes whose details hold old and new values.
CHANGE_EVENTS = ("email_change_requested", "email_changed", "profile_changed")


def _former_contacts(user: User) -> tuple[list[str], list[str]]:
    """The e-mail addresses and phones the account had or was asked to
    have before (from its change events): erased like the present ones."""
    emails, phones = set(), set()
    events = AuditEvent.select(AuditEvent.details).where(
        (AuditEvent.object_type == "user")
        & (AuditEvent.object_id == str(user.id))
        & AuditEvent.action.in_(CHANGE_EVENTS)
    )
    for event in events:
        try:
            change = json.loads(event.details or "{}")
        except ValueError:
            continue
        if not isinstance(change, dict):
            continue
        field = change.get("field", "email")
        found = emails if field == "email" else phones if field == "phone" else None
        if found is None:
            continue
        for key in ("old", "new"):
            if isinstance(change.get(key), str) and change[key].strip():
                found.add(
                    change[key].strip().lower() if field == "email" else change[key]
                )
    emails.discard(user.email)
    phones.discard(user.phone)
    return sorted(emails), sorted(phones)


def text_columns():
    """(model, field) of every text column of every table."""
    for model in ALL_MODELS:
        for field in model._meta.sorted_fields:
            if isinstance(field, CharField | TextField):
                yield model, field


def _replace_everywhere(value: str, placeholder: str) -> None:
    """``value`` (any case) becomes ``placeholder`` in every text column but
    the kept case texts."""
    if len(value.strip()) < 3:
        return
    pattern = re.compile(re.escape(value), re.IGNORECASE)
    for model, field in text_columns():
        if (model, field.name) in KEPT_TEXTS:
            continue
        rows = model.select(model._meta.primary_key, field).where(field ** f"%{value}%")
        for row in rows:
            old = getattr(row, field.name)
            new = pattern.sub(placeholder, old or "")
            if new != old:
                model.update({field: new}).where(
                    model._meta.primary_key == row.get_id()
                ).execute()


def _remove_outbox_files(email: str) -> None:
    """Mail written to files instead of sent (development): the person's go."""
    folder = current_app.config.get("OUTBOX_FILE_FOLDER")
    if not folder or not os.path.isdir(folder):
        return
    needle = email.encode()
    for entry in os.scandir(folder):
        if entry.is_file() and needle in open(entry.path, "rb").read().lower():
            os.unlink(entry.path)


# -- retention ------------------------------------------------------------------


@dataclass
class RetentionReport:
    expired_exports: int = 0
    audit_events: int = 0
    closed_cases: int = 0
    files: int = 0
    inactive_warned: int = 0
    inactive_disabled: int = 0

    def lines(self) -> list[str]:
        return [
            f"{f.name.replace('_', ' ')}: {getattr(self, f.name)}" for f in fields(self)
        ]


def run_retention(now: datetime) -> RetentionReport:
    """Apply the retention periods (config ``RETENTION_*``, ``INACTIVE_*``).

    Idempotent: a second run at the same moment removes nothing more. What is
    exactly as old as its period stays until the next run.
    """
    config = current_app.config
    report = RetentionReport()
    expired = PrivacyRequest.select().where(
        (PrivacyRequest.kind == "export")
        & (PrivacyRequest.status == "ready")
        & (PrivacyRequest.expires_at <= now)
    )
    for request in expired:
        _remove_export_file(request)
        report.expired_exports += 1
    audit_before = now - timedelta(days=config["RETENTION_AUDIT_DAYS"])
    report.audit_events = (
        AuditEvent.delete().where(AuditEvent.created_at < audit_before).execute()
    )
    case_before = now - timedelta(days=config["RETENTION_CLOSED_CASE_DAYS"])
    old_cases = list(
        SupportCase.select(SupportCase.id).where(
            (SupportCase.status == "closed")
            & (SupportCase.last_activity_at < case_before)
        )
    )
    for case in old_cases:
        report.files += _delete_case(case.id)
        report.closed_cases += 1
    _inactive_accounts(now, report)
    return report


def _delete_case(case_id: int) -> int:
    """Delete a case with everything it holds; returns the files removed."""
    with db.atomic():
        files = [
            a.sha256 for a in Attachment.select().where(Attachment.case == case_id)
        ]
        mail = ReceivedMail.select().where(ReceivedMail.case == case_id)
        files += [m.eml_sha256 for m in mail]
        ReceivedMail.delete().where(ReceivedMail.case == case_id).execute()
        Attachment.delete().where(Attachment.case == case_id).execute()
        for model in (Message, StatusChange, ConsentEvent, AuditEvent, OutboxMessage):
            model.delete().where(model.case == case_id).execute()
        SupportCase.update(follows=None).where(SupportCase.follows == case_id).execute()
        SupportCase.delete().where(SupportCase.id == case_id).execute()
    return sum(_remove_unreferenced(sha256) for sha256 in set(files))


def _inactive_accounts(now: datetime, report: RetentionReport) -> None:
    config = current_app.config
    quiet_since = now - timedelta(days=config["INACTIVE_ACCOUNT_DAYS"])
    last_seen = fn.COALESCE(User.last_login_at, User.created_at)
    active = User.is_enabled & User.erased_at.is_null()
    # Warned, and no sign-in since: disabled after the grace period.
    grace = now - timedelta(days=config["INACTIVE_DISABLE_AFTER_WARNING_DAYS"])
    to_disable = User.select().where(
        active
        & (User.inactivity_warned_at < grace)
        & (User.inactivity_warned_at > last_seen)
    )
    for user in to_disable:
        with db.atomic():
            User.update(is_enabled=False).where(User.id == user.id).execute()
            end_sessions(user)
            audit(
                "account_disabled_inactive",
                object_type="user",
                object_id=user.id,
                now=now,
            )
        report.inactive_disabled += 1
    # Quiet for the period and not warned since the last sign-in: warned.
    to_warn = User.select().where(
        active
        & (last_seen < quiet_since)
        & (
            User.inactivity_warned_at.is_null()
            | (User.inactivity_warned_at < last_seen)
        )
    )
    for user in to_warn:
        with db.atomic():
            User.update(inactivity_warned_at=now).where(User.id == user.id).execute()
            queue_mail(
                user.email,
                "inactive_account",
                user.language,
                dedupe_key=f"inactive:{user.id}:{now:%Y%m%d}",
                name=user.first_name,
                days=config["INACTIVE_DISABLE_AFTER_WARNING_DAYS"],
                link=public_url(f"/{user.language}/login"),
            )
        report.inactive_warned += 1

"""What the portal holds about one person (the export), and the requests."""

from datetime import datetime

from peewee import fn

from ..models import (
    Attachment,
    AuditEvent,
    CaseSatisfaction,
    CaseWatcher,
    ConsentEvent,
    ContactRequest,
    EndedSession,
    ExternalIdentity,
    Message,
    OutboxMessage,
    PrivacyRequest,
    ReceivedMail,
    RecoveryCode,
    SupportCase,
    User,
)

#: Audit actions that are partners reading a customer's case.
PARTNER_READS = ("partner_case_read", "partner_file_download")


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def reported_cases(user: User):
    return (
        SupportCase.select()
        .where(SupportCase.reporter == user)
        .order_by(SupportCase.id)
    )


def export_size(user: User) -> int:
    """Cases, messages and files of the person: how heavy their copy is."""
    return (
        reported_cases(user).count()
        + Message.select().where(Message.author == user).count()
        + Attachment.select().where(Attachment.uploaded_by == user).count()
    )


def collect(user: User) -> dict:
    """Everything the portal holds about ``user``, as JSON-ready data.

    Other people appear only as their role and company (a partner that read a
    case, an engineer who changed it), never by name or address.
    """
    user = User.get_by_id(user.id)
    cases = list(reported_cases(user))
    case_ids = [c.id for c in cases]
    watched = watched_cases(user, case_ids)
    shown_ids = case_ids + [w.case_id for w in watched]
    return {
        "format": "myhezo-personal-data/1",
        "account": _account(user),
        "external_identities": [
            {
                "issuer": i.issuer,
                "subject": i.subject,
                "created_at": _when(i.created_at),
                "last_login_at": _when(i.last_login_at),
            }
            for i in ExternalIdentity.select().where(ExternalIdentity.user == user)
        ],
        "sign_ins": {
            "last_login_at": _when(user.last_login_at),
            "unused_recovery_codes": RecoveryCode.select()
            .where((RecoveryCode.user == user) & RecoveryCode.used_at.is_null())
            .count(),
            "ended_sessions": [
                _when(s.ended_at)
                for s in EndedSession.select()
                .where(EndedSession.user == user)
                .order_by(EndedSession.ended_at)
            ],
        },
        "consents": [
            {
                "case": e.case.number,
                "partner": e.partner.name,
                "granted": e.is_granted,
                "text_version": e.text_version,
                "via": e.via,
                "at": _when(e.created_at),
            }
            for e in ConsentEvent.select()
            .where(ConsentEvent.actor == user)
            .order_by(ConsentEvent.id)
        ],
        "cases": [_case(c, user) for c in cases],
        "watched_cases": [_watched(w, user) for w in watched],
        "messages_in_other_cases": [
            _message(m)
            for m in Message.select()
            .where(_own_messages_elsewhere(user, shown_ids))
            .order_by(Message.id)
        ],
        "satisfaction_answers": [
            {
                "case": s.case.number,
                "rating": s.rating,
                "comment": s.comment,
                "at": _when(s.created_at),
            }
            for s in CaseSatisfaction.select(CaseSatisfaction, SupportCase)
            .join(SupportCase, on=(CaseSatisfaction.case == SupportCase.id))
            .where(CaseSatisfaction.author == user)
            .order_by(CaseSatisfaction.id)
        ],
        "mail_drafts": [
            {
                "subject": r.subject,
                "body": r.body,
                "status": r.status,
                "received_at": _when(r.received_at),
            }
            for r in ReceivedMail.select()
            .where(ReceivedMail.user == user)
            .order_by(ReceivedMail.id)
        ],
        "mail_sent_to_you": [
            {
                "subject": m.subject,
                "created_at": _when(m.created_at),
                "sent_at": _when(m.sent_at),
            }
            for m in OutboxMessage.select()
            .where(OutboxMessage.recipient == user.email)
            .order_by(OutboxMessage.id)
        ],
        "contact_requests": [
            {
                "name": r.name,
                "company": r.company,
                "phone": r.phone,
                "message": r.message,
                "created_at": _when(r.created_at),
            }
            for r in ContactRequest.select()
            .where(fn.LOWER(ContactRequest.email) == user.email.lower())
            .order_by(ContactRequest.id)
        ],
        "audit_events": [_event(e, user) for e in audit_events(user, case_ids)],
        "privacy_requests": [
            {
                "kind": r.kind,
                "status": r.status,
                "created_at": _when(r.created_at),
                "decided_at": _when(r.decided_at),
            }
            for r in PrivacyRequest.select()
            .where(PrivacyRequest.user == user)
            .order_by(PrivacyRequest.id)
        ],
    }


def watched_cases(user: User, reported_ids: list[int]) -> list[CaseWatcher]:
    """The cases the person watches (hezo/cases/watchers.py) that they did
    not report themselves."""
    where = CaseWatcher.user == user
    if reported_ids:
        where &= CaseWatcher.case.not_in(reported_ids)
    return list(
        CaseWatcher.select(CaseWatcher, SupportCase)
        .join(SupportCase, on=(CaseWatcher.case == SupportCase.id))
        .where(where)
        .order_by(CaseWatcher.id)
    )


def _watched(watcher: CaseWatcher, user: User) -> dict:
    """A watched case: what identifies it and the person's own part in it;
    nothing of the colleague who reported it (their contact, their words)."""
    case = watcher.case
    return {
        "number": case.number,
        "subject": case.subject,
        "status": case.status,
        "watching_since": _when(watcher.created_at),
        "your_messages": _own_messages_in(case, user),
    }


def _own_messages_in(case: SupportCase, user: User) -> list[dict]:
    return [
        _message(m)
        for m in Message.select()
        .where((Message.case == case) & (Message.author == user))
        .order_by(Message.id)
    ]


def _own_messages_elsewhere(user: User, case_ids: list[int]):
    where = Message.author == user
    return where & Message.case.not_in(case_ids) if case_ids else where


def _account(user: User) -> dict:
    return {
        "id": user.id,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "phone": user.phone,
        "language": user.language,
        "role": user.role,
        "company": user.company.name if user.company_id else None,
        "company_nip": user.company.nip if user.company_id else None,
        "notify_by_email": user.notify_by_email,
        "authenticator_enrolled": user.totp_secret is not None,
        "enabled": user.is_enabled,
        "created_at": _when(user.created_at),
    }


def _case(case: SupportCase, user: User) -> dict:
    return {
        "number": case.number,
        "subject": case.subject,
        "description": case.description,
        "status": case.status,
        "severity": case.severity,
        "channel": case.channel,
        "contract": case.contract.number,
        "serial": case.device.serial,
        "contact_name": case.contact_name,
        "contact_email": case.contact_email,
        "contact_phone": case.contact_phone,
        "site_address": case.site_address,
        "site_contact_name": case.site_contact_name,
        "site_contact_phone": case.site_contact_phone,
        "shared_with_partner": case.is_shared,
        "reported_at": _when(case.reported_at),
        "your_messages": _own_messages_in(case, user),
    }


def _message(message: Message) -> dict:
    return {
        "case": message.case.number,
        "body": message.body,
        "created_at": _when(message.created_at),
        "files": [_file(a) for a in message.attachments],
    }


def _file(attachment: Attachment) -> dict:
    return {
        "id": attachment.id,
        "name": attachment.filename,
        "size": attachment.size,
        "sha256": attachment.sha256,
        "archive_path": archive_path(attachment),
    }


def archive_path(attachment: Attachment) -> str:
    return f"files/{attachment.id}-{attachment.filename}"


def own_files(user: User) -> list[Attachment]:
    """Files the person uploaded (copied into the ZIP)."""
    return list(
        Attachment.select()
        .where(Attachment.uploaded_by == user)
        .order_by(Attachment.id)
    )


def audit_events(user: User, case_ids: list[int]):
    """Events the person caused, about their account, or on their cases."""
    about = (AuditEvent.actor == user) | (
        (AuditEvent.object_type == "user") & (AuditEvent.object_id == str(user.id))
    )
    if case_ids:
        about |= AuditEvent.case.in_(case_ids)
    return AuditEvent.select().where(about).order_by(AuditEvent.id)


def _event(event: AuditEvent, user: User) -> dict:
    actor = event.actor
    if actor is None:
        who = "system"
    elif actor.id == user.id:
        who = "you"
    else:  # another person: their role and company, not their name
        company = actor.company.name if actor.company_id else "HEZO"
        who = f"{actor.role} ({company})"
    return {
        "action": event.action,
        "by": who,
        "case": event.case.number if event.case_id else None,
        "at": _when(event.created_at),
        "ip": event.ip if actor is not None and actor.id == user.id else "",
    }


def requests_of(user: User):
    return (
        PrivacyRequest.select()
        .where(PrivacyRequest.user == user)
        .order_by(PrivacyRequest.id.desc())
    )


def own_ready_export(user: User, request_id: int, now: datetime):
    return PrivacyRequest.get_or_none(
        (PrivacyRequest.id == request_id)
        & (PrivacyRequest.user == user)
        & (PrivacyRequest.kind == "export")
        & (PrivacyRequest.status == "ready")
        & (PrivacyRequest.expires_at > now)
    )


def pending_erasures():
    return (
        PrivacyRequest.select(PrivacyRequest, User)
        .join(User, on=PrivacyRequest.user == User.id)
        .where(
            (PrivacyRequest.kind == "erasure") & (PrivacyRequest.status == "pending")
        )
        .order_by(PrivacyRequest.created_at)
    )


def decided_erasures(limit: int = 50):
    return (
        PrivacyRequest.select()
        .where(
            (PrivacyRequest.kind == "erasure") & (PrivacyRequest.status != "pending")
        )
        .order_by(PrivacyRequest.decided_at.desc())
        .limit(limit)
    )

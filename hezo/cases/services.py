"""Case operations shared by the customer pages, the engineers' pages and the CLI.

Each takes the acting user and ``now`` explicitly and writes in one
transaction: the case, its first message, its attachment rows, its consent
record and the e-mails it causes commit or roll back together. Uploaded files
are moved into place before the transaction, so a committed row always has
its file (a rollback or a crash leaves at most a file no row names).
"""

import uuid
from datetime import datetime

from .. import settings, sla
from ..attachments import StagedFile, discard_staged, place_staged, stored_path
from ..audit import audit
from ..db import db
from ..inputs import plain_text
from ..mail.messages import MailTaken, attach_eml, mail_attachments, parse
from ..mail.queue import queue_mail, queue_staff_mail
from ..models import (
    Attachment,
    ConsentEvent,
    Contract,
    Device,
    Message,
    StatusChange,
    SupportCase,
    User,
)
from ..models.mail import ReceivedMail
from . import watchers, workflow
from .workflow import next_due

CONSENT_TEXT_VERSION = "2026-11"


class CaseError(ValueError):
    """A request the case rules refuse; ``str()`` is a translated message."""


def case_number(case_id: int, year: int) -> str:
    return f"ZG-{year}-{case_id:05d}"


def save_files(case, message, staged: list[StagedFile], actor) -> None:
    """Attachment rows for staged files already placed in the store."""
    for f in staged:
        Attachment.create(
            case=case,
            message=message,
            filename=f.filename,
            content_type=f.content_type,
            size=f.size,
            sha256=f.sha256,
            uploaded_by=actor,
        )


def link_mail(mail: ReceivedMail, case, message, actor, waiting="triage") -> None:
    """In the transaction that opened ``case``: mark ``mail`` linked and put its
    .eml and attachments (upload checks applied) on the first message.
    ``waiting``: the status it must still have ("triage" for an engineer's
    case from the triage list, "draft" for a customer's confirmed draft);
    ``MailTaken`` when it no longer has it (nothing is written then)."""
    updated = (
        ReceivedMail.update(status="linked", case=case, filed_as=message)
        .where((ReceivedMail.id == mail.id) & (ReceivedMail.status == waiting))
        .execute()
    )
    if updated != 1:
        raise MailTaken()
    attach_eml(mail, case, message, actor)
    raw = stored_path(mail.eml_sha256).read_bytes()
    files, refused = mail_attachments(parse(raw))
    try:
        place_staged(files)
        save_files(case, message, files, actor)
    finally:
        discard_staged(files)
    if refused:
        message.body += "\n\n" + "\n".join(f"[{r}]" for r in refused)
        message.save()


def _finish(staged: list[StagedFile], work):
    """Put the files in place, then run ``work`` in a transaction.

    Raises ``attachments.StorageError`` (nothing written) when the upload
    folder refuses a file.
    """
    place_staged(staged)
    with db.atomic():
        return work()


def open_case(
    *,
    actor: User,
    contract: Contract,
    device: Device,
    subject: str,
    description: str,
    severity: str,
    contact_phone: str,
    share_with: int | None = None,
    files: list[StagedFile],
    now: datetime,
    channel: str = "portal",
    reporter: User | None = None,
    contact: dict | None = None,
    follows: SupportCase | None = None,
    site: dict | None = None,
    then=None,
    reporting_partner: int | None = None,
) -> SupportCase:
    """Open a case on an active contract for a serial it covers.

    ``actor`` is the customer reporting it or the engineer taking it by phone
    or e-mail (then ``reporter`` is the customer's user, if any, or ``contact``
    holds the caller's ``name`` and ``email``). ``share_with`` is the partner
    the customer agreed to share the case with, as the form named it (None: not
    shared); a grant for any company but the contract's partner is refused
    (CaseError "partner"), so consent never reaches a partner it did not name.
    ``site`` holds the delivery or site address and the on-site contact
    (``SiteForm.site_fields``). The response clock starts at ``now``; the
    reporter is e-mailed a confirmation and the engineers' team address a
    notification. ``follows`` is the earlier case this one continues (a reply
    to a case settled too long ago). ``then(case, message)`` runs last in the
    transaction (a case from an e-mail links the mail there).
    ``reporting_partner``: the partner
    company (``actor``'s, the contract's partner) reporting on the customer's
    behalf; the partner's person is then the reporter, and the customer's
    people are told by e-mail.
    """
    if device.contract_id != contract.id or not contract.is_active_on(
        sla.local_day(now)
    ):
        raise CaseError("contract")
    if reporting_partner is not None and (
        reporting_partner != contract.partner_id
        or actor.company_id != reporting_partner
    ):
        raise CaseError("partner")
    if share_with is not None and not consent_names_partner(contract, share_with):
        raise CaseError("partner")
    reporter = reporter or (
        actor if actor.role == "customer" or reporting_partner else None
    )
    contact = contact or {
        "name": reporter.full_name if reporter else "",
        "email": reporter.email if reporter else "",
    }

    plan = workflow.clock_plan_of(contract.service_code, "")

    def work():
        case = SupportCase.create(
            number=uuid.uuid4().hex[:24],
            company=contract.customer_id,
            contract=contract,
            device=device,
            subject=plain_text(subject),
            description=plain_text(description),
            severity=severity,
            channel=channel,
            reporter=reporter,
            contact_name=contact["name"],
            contact_email=contact["email"],
            contact_phone=contact_phone,
            reported_at=now,
            created_at=now,
            last_activity_at=now,
            response_due_at=sla.response_due(now, plan),
            service_terms=plan.terms(),
            follows=follows,
            reporting_partner=reporting_partner,
            **(site or {}),
        )
        case.number = case_number(case.id, sla.local_day(now).year)
        case.next_due_at = next_due(case)
        case.save()
        message = Message.create(
            case=case,
            author=actor,
            author_name=actor.full_name,
            body=plain_text(description),
            is_from_staff=actor.is_staff,
            created_at=now,
        )
        save_files(case, message, files, actor)
        StatusChange.create(case=case, to_status="new", actor=actor, created_at=now)
        if share_with is not None:
            _record_consent(case, actor, True, now, "case_form")
        if then is not None:
            then(case, message)
        _notify_opened(case)
        return case

    return _finish(files, work)


def _notify_opened(case: SupportCase) -> None:
    if case.reporter_id and case.reporter.notify_by_email:
        queue_mail(
            case.reporter.email,
            "case_opened",
            case.reporter.language,
            case=case,
            due=case.response_due_at,
            name=case.reporter.first_name,
            lang=case.reporter.language,
        )
    elif not case.reporter_id and case.contact_email:
        queue_mail(
            case.contact_email,
            "case_opened",
            "pl",
            case=case,
            due=case.response_due_at,
            name=case.contact_name,
            lang="pl",
        )
    queue_staff_mail("case_new_for_staff", case=case)
    if case.reporting_partner_id:
        _notify_customer_of_partner_report(case)


def _notify_customer_of_partner_report(case: SupportCase) -> None:
    """The customer company's people learn that its partner reported a case."""
    for user in User.select().where(
        (User.company == case.company_id)
        & (User.role == "customer")
        & (User.is_enabled == True)  # noqa: E712
        & (User.notify_by_email == True)  # noqa: E712
    ):
        queue_mail(
            user.email,
            "case_reported_by_partner",
            user.language,
            case=case,
            partner=case.contract.partner.name,
            reporter=case.reporter.full_name if case.reporter_id else "",
            name=user.first_name,
            lang=user.language,
        )


def post_message(
    case: SupportCase,
    actor: User,
    body: str,
    files: list[StagedFile],
    now: datetime,
    internal: bool = False,
) -> Message:
    """Add a message (an internal note when ``internal``, staff only) to a case.

    A customer's (or partner's) message marks the case "customer replied" in
    the queue, ends a wait for the customer or reopens a case settled within
    14 days (``workflow.customer_reply_moves``) and tells the assigned engineer,
    or the engineers' team address, by e-mail. On a case resolved or closed
    longer ago it raises CaseError("settled"), writing nothing: a new case
    that refers to it is the way on. An engineer's answer clears the mark,
    stops the response clock and tells the reporter.
    """
    internal = internal and actor.is_staff

    def work():
        message = Message.create(
            case=case,
            author=actor,
            author_name=actor.full_name,
            body=plain_text(body),
            is_internal=internal,
            is_from_staff=actor.is_staff,
            created_at=now,
        )
        save_files(case, message, files, actor)
        if actor.role == "partner":
            audit(
                "partner_message",
                actor=actor,
                case=case,
                object_type="case",
                object_id=case.number,
            )
        changes = {"last_activity_at": now}
        if not actor.is_staff:
            settled = workflow.settled_at(case)
            if settled is not None and not workflow.is_reopenable(settled, now):
                raise CaseError("settled")
            moved = workflow.customer_reply_moves(case, actor, now, settled)
            changes["customer_replied_at"] = case.customer_replied_at = now
            _notify_reply(case, actor, reopened=moved == "reopened")
        elif not internal:
            changes["customer_replied_at"] = case.customer_replied_at = None
            if case.first_response_at is None:
                changes["first_response_at"] = case.first_response_at = now
                changes["next_due_at"] = case.next_due_at = next_due(case)
        SupportCase.update(**changes).where(SupportCase.id == case.id).execute()
        if actor.is_staff and not internal:
            watchers.notify(case, "case_message", author=actor.full_name)
        return message

    return _finish(files, work)


def engineers_address(case: SupportCase) -> tuple[str, str]:
    """Who hears of the customer's doings on a case, and in which language:
    the assigned engineer, or the engineers' team address (in Polish) when
    nobody is assigned or the engineer is disabled or takes no e-mail."""
    engineer = case.assignee if case.assignee_id else None
    if engineer and engineer.is_enabled and engineer.notify_by_email:
        return engineer.email, engineer.language
    return settings.value("ENGINEERS_EMAIL"), "pl"


def _notify_reply(case: SupportCase, author: User, reopened: bool) -> None:
    """Tell the assigned engineer (the team address when nobody is assigned,
    or the engineer is disabled or takes no e-mail) of a customer's reply."""
    recipient, language = engineers_address(case)
    queue_mail(
        recipient,
        "case_reply_for_staff",
        language,
        case=case,
        author=author.full_name,
        reopened=reopened,
        lang=language,
    )


def _record_consent(case, actor, granted: bool, now, via: str) -> ConsentEvent:
    event = ConsentEvent.create(
        case=case,
        partner=case.contract.partner_id,
        is_granted=granted,
        actor=actor,
        text_version=CONSENT_TEXT_VERSION,
        via=via,
        created_at=now,
    )
    SupportCase.update(is_shared=granted).where(SupportCase.id == case.id).execute()
    case.is_shared = granted
    audit(
        "consent_granted" if granted else "consent_withdrawn",
        actor=actor,
        case=case,
        object_type="partner",
        object_id=case.contract.partner_id,
        now=now,
    )
    return event


def consent_names_partner(contract: Contract | None, partner_id) -> bool:
    """True when ``partner_id`` (as a form carried it) is the contract's partner
    (never without a contract: the form may name none of the company's)."""
    return (
        contract is not None
        and contract.partner_id is not None
        and str(partner_id) == str(contract.partner_id)
    )


def set_consent(
    case: SupportCase,
    actor: User,
    granted: bool,
    now: datetime,
    partner_id: int | str | None = None,
) -> None:
    """Grant or withdraw the partner's access to one case; effective at once.

    A grant names the partner the customer saw (``partner_id``) and is refused
    (CaseError "partner") unless it is the contract's partner.
    """
    if not case.contract.partner_id:
        raise CaseError("no partner")
    if granted and not consent_names_partner(case.contract, partner_id):
        raise CaseError("partner")
    if case.is_shared == granted:
        return
    with db.atomic():
        _record_consent(case, actor, granted, now, "case_page")


def escalate(case: SupportCase, actor: User, reason: str, now: datetime) -> None:
    """Mark the case escalated and tell the escalation contact."""
    with db.atomic():
        SupportCase.update(
            escalated_at=now, escalation_reason=reason, last_activity_at=now
        ).where(SupportCase.id == case.id).execute()
        case.escalated_at, case.escalation_reason = now, reason
        audit("case_escalated", actor=actor, case=case, details=reason[:500], now=now)
        queue_mail(
            settings.value("ESCALATION_EMAIL"),
            "case_escalated",
            "pl",
            case=case,
            actor=actor.full_name,
            reason=reason,
        )


def assign_case(
    case: SupportCase,
    actor: User,
    engineer_id: int | None,
    seen: int | None,
    now: datetime,
) -> None:
    """Give the case to the engineer or admin ``engineer_id`` (nobody when
    None), if it is still assigned to ``seen`` (the id the page showed; None
    for nobody), and record who did it. Raises CaseError("assignee") for an id
    that is not staff's, and ``workflow.StaleCase`` when someone reassigned the
    case in between; either way nothing is written.
    """
    engineer = None
    if engineer_id is not None:
        engineer = User.get_or_none(User.id == engineer_id)
        if engineer is None or not engineer.is_staff:
            raise CaseError("assignee")
    with db.atomic():
        workflow.reassign(case, engineer, seen)
        audit(
            "case_assigned",
            actor=actor,
            case=case,
            object_type="user",
            object_id=engineer_id or "",
            now=now,
        )


def record_partner_read(
    case: SupportCase, actor: User, action: str, now: datetime, object_id=""
) -> None:
    """Record a partner's read of the case (``action``: "partner_case_read",
    or "partner_file_download" with the attachment's id): the customer sees
    each one on the sharing page. Nothing is recorded for other readers."""
    if actor.role == "partner":
        with db.atomic():
            audit(
                action,
                actor=actor,
                case=case,
                object_type="case",
                object_id=object_id or case.number,
                now=now,
            )


def record_export(case: SupportCase, actor: User, now: datetime) -> None:
    """Record that ``actor`` took the case away as a PDF."""
    with db.atomic():
        audit("case_exported", actor=actor, case=case, object_type="pdf", now=now)

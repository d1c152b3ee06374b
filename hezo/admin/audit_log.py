"""The audit log (/admin/audit): every audit event, newest first, paged and
filtered by person (e-mail), company (NIP or name), case number, kind and
Warsaw dates; the same events as a spreadsheet-safe CSV (its download is
itself an audit event).

A page is a constant number of queries whatever the number of events: the
count, the rows (with the actor, the case and their companies joined), and
one look-up each of the people and companies the page's events are about.
"""

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from flask import Response, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from peewee import JOIN, fn

from .. import sla
from ..audit import audit
from ..db import db, utcnow
from ..htmx import render_page_or_fragment
from ..i18n import N_, translate
from ..identifiers import normalize_nip
from ..models import AuditEvent, Company, SupportCase, User
from ..paging import Page, requested_page
from ..partners.workspace import _cell as spreadsheet_cell
from ..security import admin_required
from ..vocabulary import label
from . import bp
from .views import section

PAGE_SIZE = 50
#: The most rows one CSV holds (narrow the filters for more).
EXPORT_MAX = 50_000
#: Events looked up together when the CSV is written.
EXPORT_CHUNK = 1_000
TEXT_MAX = 254
DAY = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$")
KIND = re.compile(r"^[a-z0-9_]{1,40}$")

#: The words of the audit actions the portal records; another action (a
#: newer one) shows as its code.
KINDS = {
    "account_disabled": N_("account disabled"),
    "account_disabled_inactive": N_("account disabled after inactivity"),
    "account_enabled": N_("account enabled"),
    "account_invited": N_("person invited"),
    "catalogue_variant_created": N_("service variant created"),
    "catalogue_variant_changed": N_("service variant changed"),
    "catalogue_variant_deleted": N_("service variant deleted"),
    "catalogue_closed_day_added": N_("office closed day added"),
    "catalogue_closed_day_removed": N_("office closed day removed"),
    "import_queued": N_("import queued"),
    "import_done": N_("import finished"),
    "import_failed": N_("import failed"),
    "setting_changed": N_("setting changed"),
    "audit_log_exported": N_("audit log downloaded as CSV"),
    "case_assigned": N_("case assigned"),
    "case_contact_changed": N_("case handed to a colleague"),
    "case_escalated": N_("case escalated"),
    "case_exported": N_("case downloaded as PDF"),
    "case_site_changed": N_("case site changed"),
    "consent_granted": N_("sharing with the partner allowed"),
    "consent_withdrawn": N_("sharing with the partner withdrawn"),
    "email_change_requested": N_("change of e-mail address asked for"),
    "email_changed": N_("e-mail address changed"),
    "notifications_off": N_("e-mail notifications turned off"),
    "notifications_on": N_("e-mail notifications turned on"),
    "partner_case_read": N_("partner read a case"),
    "partner_contracts_read": N_("partner read contracts"),
    "partner_file_download": N_("partner downloaded a case file"),
    "partner_message": N_("partner wrote in a case"),
    "partner_renewals_export": N_("partner downloaded renewals"),
    "privacy_erasure_approved": N_("erasure approved"),
    "privacy_erasure_refused": N_("erasure refused"),
    "privacy_erasure_requested": N_("erasure asked for"),
    "privacy_export_downloaded": N_("copy of personal data downloaded"),
    "privacy_export_ready": N_("copy of personal data made"),
    "privacy_export_requested": N_("copy of personal data asked for"),
    "privacy_user_erased": N_("personal data erased"),
    "profile_changed": N_("profile changed"),
    "totp_reset": N_("authenticator reset"),
    "totp_reset_by_staff": N_("authenticator reset by staff"),
    "vzam_account_created": N_("account created through V-ZAM"),
    "vzam_linked": N_("account linked to V-ZAM"),
    "watcher_added": N_("watcher added"),
    "watcher_removed": N_("watcher removed"),
}

BAD_DAY = _l("Enter a date as YYYY-MM-DD (for example 2026-12-06).")
BAD_RANGE = _l("The first day is after the last day.")
BAD_KIND = _l("There is no kind of event with this name.")

section(
    "admin.audit_log",
    _l("Audit log"),
    _l(
        "Who read or changed what, and when: filter by person, company, case, "
        "kind and dates, and download the events as CSV."
    ),
)

Actor = User.alias("actor")
ActorCompany = Company.alias("actor_company")
CaseCompany = Company.alias("case_company")


def kind_label(action: str) -> str:
    """An action's word in the language being rendered (else its code)."""
    return translate(KINDS[action]) if action in KINDS else action


# -- filters -------------------------------------------------------------------


@dataclass
class Filters:
    """The filters as typed (``values``, shown back in the form), what they
    select (``where``) and a message per refused one (``errors``)."""

    values: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)
    where: list = field(default_factory=list)

    def args(self) -> dict:
        """The query arguments that give the same list (for the pager, CSV)."""
        return {k: v for k, v in self.values.items() if v and k not in self.errors}


def _text(name: str) -> str:
    return " ".join(request.args.get(name, "").split())[:TEXT_MAX]


def _day(text: str) -> date | None:
    found = DAY.match(text)
    if not found or not 2000 <= int(found.group(1)) <= 2999:
        return None
    try:
        return date(int(found.group(1)), int(found.group(2)), int(found.group(3)))
    except ValueError:
        return None


def _start_of(day: date) -> datetime:
    """The first moment of a Warsaw calendar day."""
    return datetime.combine(day, time(), tzinfo=sla.WARSAW)


def _ids_as_text(query):
    return query.select(query.model.id.cast("VARCHAR"))


def read_filters() -> Filters:
    """The query string's filters; a value that cannot be one is left out
    and gets its message."""
    names = ("person", "company", "case", "kind", "from", "to")
    filters = Filters(values={name: _text(name) for name in names})
    values, where = filters.values, filters.where
    if person := values["person"].lower():
        people = User.select(User.id).where(fn.LOWER(User.email).contains(person))
        where.append(
            AuditEvent.actor.in_(people)
            | (
                (AuditEvent.object_type == "user")
                & AuditEvent.object_id.in_(_ids_as_text(people))
            )
        )
    if company := values["company"]:
        nip = normalize_nip(company)
        companies = Company.select(Company.id).where(
            (Company.nip == nip)
            if nip
            else fn.LOWER(Company.name).contains(company.lower())
        )
        staff = User.select(User.id).where(User.company.in_(companies))
        where.append(
            CaseCompany.id.in_(companies)
            | ActorCompany.id.in_(companies)
            | (
                (AuditEvent.object_type == "company")
                & AuditEvent.object_id.in_(_ids_as_text(companies))
            )
            | (
                (AuditEvent.object_type == "user")
                & AuditEvent.object_id.in_(_ids_as_text(staff))
            )
        )
    if number := values["case"].upper():
        where.append(fn.UPPER(SupportCase.number).contains(number))
    if kind := values["kind"]:
        if KIND.match(kind):
            where.append(AuditEvent.action == kind)
        else:
            filters.errors["kind"] = BAD_KIND
    days = {}
    for name in ("from", "to"):
        if values[name]:
            days[name] = _day(values[name])
            if days[name] is None:
                filters.errors[name] = BAD_DAY
    if days.get("from") and days.get("to") and days["from"] > days["to"]:
        filters.errors["to"] = BAD_RANGE
        days.pop("to")
    if days.get("from"):
        where.append(AuditEvent.created_at >= _start_of(days["from"]))
    if days.get("to"):
        where.append(AuditEvent.created_at < _start_of(days["to"] + timedelta(1)))
    return filters


def events(filters: Filters):
    """The filtered events, newest first, with actor, case and companies."""
    query = (
        AuditEvent.select(AuditEvent, Actor, ActorCompany, SupportCase, CaseCompany)
        .join_from(
            AuditEvent, Actor, JOIN.LEFT_OUTER, on=(AuditEvent.actor == Actor.id)
        )
        .join_from(
            Actor, ActorCompany, JOIN.LEFT_OUTER, on=(Actor.company == ActorCompany.id)
        )
        .join_from(
            AuditEvent,
            SupportCase,
            JOIN.LEFT_OUTER,
            on=(AuditEvent.case == SupportCase.id),
        )
        .join_from(
            SupportCase,
            CaseCompany,
            JOIN.LEFT_OUTER,
            on=(SupportCase.company == CaseCompany.id),
        )
    )
    for condition in filters.where:
        query = query.where(condition)
    return query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())


# -- one event, readable ---------------------------------------------------------


@dataclass
class Row:
    event: AuditEvent
    kind: str
    subject: User | None  # the account an event about a user is about
    company: Company | None  # the company the event concerns
    details: list  # (key, value) pairs, or one ("", text)


def _object_ids(rows, object_type: str) -> set[int]:
    return {
        int(e.object_id)
        for e in rows
        if e.object_type == object_type and e.object_id.isdigit()
    }


def _details(text: str) -> list:
    try:
        value = json.loads(text)
    except ValueError:
        return [("", text)] if text else []
    if isinstance(value, dict) and value:  # a definition list (keys never empty)
        return [(str(k) or "—", str(v)) for k, v in value.items()]
    return [("", text)]  # one text


def describe(rows: list) -> list[Row]:
    """The events with the people and companies they are about: two
    look-ups for the lot."""
    user_ids = _object_ids(rows, "user")
    subjects = {
        u.id: u
        for u in (
            User.select(User, Company)
            .join(Company, JOIN.LEFT_OUTER, on=(User.company == Company.id))
            .where(User.id.in_(user_ids))
            if user_ids
            else []
        )
    }
    company_ids = _object_ids(rows, "company")
    companies = {
        c.id: c
        for c in (
            Company.select().where(Company.id.in_(company_ids)) if company_ids else []
        )
    }
    described = []
    for e in rows:
        subject = subjects.get(int(e.object_id)) if e.object_type == "user" else None
        if e.case_id:
            company = e.case.company
        elif e.object_type == "company" and e.object_id.isdigit():
            company = companies.get(int(e.object_id))
        elif subject is not None and subject.company_id:
            company = subject.company
        elif e.actor_id and e.actor.company_id:
            company = e.actor.company
        else:
            company = None
        described.append(
            Row(e, kind_label(e.action), subject, company, _details(e.details))
        )
    return described


# -- pages ------------------------------------------------------------------------


def kind_choices(current: str) -> list[tuple[str, str]]:
    """The kinds in the language being rendered, alphabetically; a kind in
    the filter that is not among them (a newer one) too."""
    choices = sorted(((k, kind_label(k)) for k in KINDS), key=lambda c: c[1].lower())
    if current and current not in KINDS and KIND.match(current):
        choices.append((current, current))
    return choices


@bp.get("/audit")
@admin_required
def audit_log():
    filters = read_filters()
    page = requested_page()
    query = events(filters)
    total = query.count()
    rows = list(query.paginate(page, PAGE_SIZE)) if total else []
    result = Page.of(describe(rows), page, total, PAGE_SIZE)
    response = render_page_or_fragment(
        "admin/audit_log.html",
        "admin/_audit_events.html",
        result=result,
        filters=filters,
        args=filters.args(),
        kinds=kind_choices(filters.values["kind"]),
    )
    response.status_code = 400 if filters.errors else 200
    return response


def _who(user: User | None) -> list[str]:
    if user is None:
        return ["", "", ""]
    return [user.email, user.full_name, label("role", user.role)]


def csv_rows(filters: Filters):
    """The CSV's lines (header first), every text cell spreadsheet-safe."""
    yield [
        "time_warsaw",
        "kind",
        "kind_name",
        "actor_email",
        "actor_name",
        "actor_role",
        "company",
        "company_nip",
        "case",
        "object_type",
        "object_id",
        "about_email",
        "ip",
        "details",
    ]
    rows = list(events(filters).limit(EXPORT_MAX))
    for start in range(0, len(rows), EXPORT_CHUNK):
        for row in describe(rows[start : start + EXPORT_CHUNK]):
            e = row.event
            yield [
                e.created_at.astimezone(sla.WARSAW).strftime("%Y-%m-%d %H:%M:%S"),
                e.action,
                row.kind,
                *_who(e.actor if e.actor_id else None),
                row.company.name if row.company else "",
                row.company.nip if row.company else "",
                e.case.number if e.case_id else "",
                e.object_type,
                e.object_id,
                row.subject.email if row.subject else "",
                e.ip,
                e.details,
            ]


@bp.get("/audit.csv")
@admin_required
def audit_log_csv():
    filters = read_filters()
    if filters.errors:
        return audit_log()
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    for line in csv_rows(filters):
        writer.writerow([spreadsheet_cell(str(cell)) for cell in line])
    now = utcnow()
    with db.atomic():
        audit(
            "audit_log_exported",
            actor=current_user,
            object_type="audit",
            details=json.dumps(filters.args(), ensure_ascii=False)[:2000],
            now=now,
        )
    today = sla.local_day(now)
    return Response(
        "\ufeff" + out.getvalue(),  # BOM: spreadsheets read it as UTF-8
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="audit-{today}.csv"',
            "Cache-Control": "no-store",
        },
    )

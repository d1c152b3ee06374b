from datetime import datetime

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import kept_pages, sla, submissions
from ..attachments import StorageError
from ..cases import queries as case_queries
from ..cases import services as case_services
from ..cases.forms import AssignForm, TransitionForm
from ..cases.pages import (
    STATUS_PARTS,
    covered_device,
    fill_choices,
    form_defaults,
    keep_files,
    kept_files,
    live_answer,
    page_context,
    status_announcement,
    storage_failed,
)
from ..cases.workflow import StaleCase, TransitionError, transition
from ..db import utcnow
from ..extensions import posts_limit
from ..htmx import render_page_or_fragment, wants_fragment
from ..inputs import number_arg, whole_number
from ..mail import triage
from ..models import SupportCase
from ..models.cases import OPEN_STATUSES
from ..paging import Page, requested_page
from ..security import staff_required
from . import bp, queries
from .forms import PhoneCaseForm


@bp.get("/")
@staff_required
def queue():
    now = utcnow()
    filters = {k: request.args.get(k, "")[:20] for k in queries.FILTER_NAMES}
    filters["q"] = request.args.get("q", "").strip()[: queries.SEARCH_LENGTH]
    number_arg("assignee")  # digits beyond ids or not 0-9 are refused
    page = requested_page()
    result = queries.queue_page(filters, current_user.id, page, now)
    context = dict(
        result=Page.of(result.cases, page, result.total, queries.PAGE_SIZE),
        filters=filters,
        counts=result.counts,
        breach=sla.breach_state,
        engineers=result.engineers,
        statuses=OPEN_STATUSES,
        mail_waiting=triage.waiting_count(),
    )
    # Kept (hezo.kept_pages) for the rows and counts as read now: ``now`` is
    # the time it was rendered, at most kept_pages.BUCKET_SECONDS ago.
    return kept_pages.page_or_fragment(
        "queue",
        "staff/queue.html",
        "staff/_queue.html",
        context | {"now": now},
        data=kept_pages.values(context),
    )


def staff_case(number: str) -> SupportCase:
    return case_queries.get_case_or_404(number, current_user)


def back_to_case(case, changed=(), announce: str = ""):
    """The panel again (with the regions that ``changed``, out of band, and
    the focus on its heading) for htmx; the case page otherwise."""
    if wants_fragment():
        return live_answer(case, "staff/_panel.html", changed, announce, "panel")
    return redirect(url_for("cases.detail", number=case.number), 303)


def changed_meanwhile(number: str, what: str):
    """The answer to a move made on a state that has just changed: 409 and
    the case as it is now (``what``: "status" or "assignee"); for htmx, the
    panel with the summary, stepper, history and shipment of the new status."""
    case = staff_case(number)
    context = page_context(case) | {"stale": what}
    if wants_fragment():
        changed = STATUS_PARTS if what == "status" else ()
        return live_answer(
            case, "staff/_panel.html", changed, "", "panel", context
        ), 409
    return render_template("cases/detail.html", **context), 409


@bp.post("/cases/<number>/assign")
@staff_required
def assign(number):
    case = staff_case(number)
    form = AssignForm()
    if not form.validate_on_submit():
        abort(400)
    value = request.form.get("assignee", "")
    engineer_id = whole_number(value) if value else None
    if value and not engineer_id:
        abort(400)
    seen = None if form.seen.data == "none" else int(form.seen.data)
    try:
        case_services.assign_case(case, current_user, engineer_id, seen, utcnow())
    except case_services.CaseError:
        abort(400)
    except StaleCase:
        return changed_meanwhile(number, "assignee")
    engineer = case.assignee.full_name if case.assignee else _("nobody")
    return back_to_case(case, announce=_("Assigned to %(engineer)s", engineer=engineer))


@bp.post("/cases/<number>/transition")
@staff_required
def change_status(number):
    case = staff_case(number)
    form = TransitionForm()
    if form.is_submitted() and not form.seen.validate(form):
        abort(400)
    if form.validate_on_submit():
        delivered = form.delivered_at.data
        if delivered is not None:
            delivered = delivered.replace(tzinfo=sla.WARSAW)
        try:
            transition(
                case,
                current_user,
                form.status.data,
                utcnow(),
                seen=form.seen.data,
                carrier=form.carrier.data or "",
                waybill=form.waybill.data or "",
                delivered_at=delivered,
                note=form.note.data or "",
                return_waybill=form.return_waybill.data or "",
            )
        except StaleCase:
            return changed_meanwhile(number, "status")
        except TransitionError as exc:
            form.status.errors = [transition_message(str(exc))]
        else:
            return back_to_case(case, STATUS_PARTS, status_announcement(case))
    context = page_context(case) | {"transition_form": form}
    template = "staff/_panel.html" if wants_fragment() else "cases/detail.html"
    return render_template(template, **context), 422


def transition_message(kind: str) -> str:
    return {
        "shipment": _("Enter the carrier and the waybill number of the replacement."),
        "delivery": _("Enter when the replacement was delivered (not in the future)."),
        "return": _("Enter the waybill number of the returned unit."),
    }.get(kind, _("This status cannot follow the current one."))


@bp.route("/cases/new", methods=["GET", "POST"])
@staff_required
@posts_limit()
@submissions.one_time
def new_case():
    # A case from an e-mail of the triage list (hezo/mail/triage.py).
    try:
        mail = triage.waiting_mail(whole_number(request.values.get("mail", "")))
    except triage.MailTaken:
        return triage.already_handled()
    company = queries.company_by_nip(request.values.get("nip", ""))
    if company is None:
        return render_template(
            "staff/new_case.html",
            company=None,
            form=None,
            nip=request.values.get("nip", ""),
            mail=mail,
        ), (422 if request.values.get("nip") else 200)
    now = utcnow()
    contracts = case_queries.reportable_contracts(company.id, sla.local_day(now))
    defaults = None
    if request.method != "POST":
        defaults = form_defaults(company.id)
        if mail is not None:
            defaults |= triage.case_form_defaults(mail)
    form = PhoneCaseForm(data=defaults)
    contract = fill_choices(form, contracts)
    if request.args.get("fragment") == "serials":
        return render_page_or_fragment(
            "staff/new_case.html",
            "cases/_serial_site_fields.html",
            company=company,
            form=form,
            contract=contract,
            nip=company.nip,
            mail=mail,
        )
    customers = queries.company_customers(company)
    form.reporter.choices = [("", _("someone else (enter the contact)"))] + [
        (str(u.id), f"{u.full_name} <{u.email}>") for u in customers
    ]
    if mail is not None and not form.is_submitted():
        sender = next(
            (u for u in customers if u.email.lower() == mail.from_address), None
        )
        form.reporter.data = str(sender.id) if sender else ""
    valid = form.validate_on_submit()
    if not form.is_submitted():
        return render_template(
            "staff/new_case.html",
            company=company,
            form=form,
            contract=contract,
            contracts=contracts,
            nip=company.nip,
            mail=mail,
        )
    return _open_phone_case(form, valid, company, contract, customers, now, mail)


def _open_phone_case(
    form, valid, company, contract, customers, now: datetime, mail=None
):
    device = covered_device(form, contract)
    reporter = next((u for u in customers if str(u.id) == form.reporter.data), None)
    if reporter is None and not (
        form.contact_name.data and (form.contact_email.data or form.contact_phone.data)
    ):
        form.contact_name.errors = [_("Choose the reporter or enter a contact.")]

    def again(staged=(), status=422):
        return render_template(
            "staff/new_case.html",
            company=company,
            form=form,
            contract=contract,
            nip=company.nip,
            kept_files=kept_files(staged),
            mail=mail,
        ), status

    try:
        staged, files_ok = keep_files(form)
        if not (valid and device and files_ok) or form.contact_name.errors:
            return again(staged)
        submissions.claim(staged)
        if mail is not None:  # the clock runs from the mail's arrival
            now = mail.received_at
        case = case_services.open_case(
            actor=current_user,
            contract=contract,
            device=device,
            **form.case_fields(),
            share_with=None,
            files=staged,
            now=now,
            channel=form.channel.data,
            site=form.site_fields() if contract.needs_site else None,
            reporter=reporter,
            contact=None
            if reporter
            else {
                "name": form.contact_name.data,
                "email": form.contact_email.data or "",
            },
            then=None
            if mail is None
            else lambda case, message: case_services.link_mail(
                mail, case, message, current_user
            ),
        )
    except StorageError as exc:
        return again(status=storage_failed(form, exc))
    except triage.MailTaken:
        return triage.already_handled()
    flash(_("Case %(number)s has been opened.", number=case.number), "success")
    return redirect(url_for("cases.detail", number=case.number), 303)

"""The partner's workspace pages: contracts sold, renewals (CSV), reporting a
case on a customer's behalf. Every read and export is audited per customer."""

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import sla, submissions
from ..attachments import StorageError
from ..cases import services as case_services
from ..cases.forms import CaseForm
from ..cases.pages import (
    covered_device,
    fill_choices,
    form_defaults,
    keep_files,
    kept_files,
    request_window,
    storage_failed,
    unasked_site_only,
)
from ..db import utcnow
from ..extensions import posts_limit
from ..htmx import render_page_or_fragment
from ..i18n import format_local_datetime
from ..paging import Page, requested_page
from ..security import partner_required
from . import bp, workspace


def contracts_page(result: Page, today, renewals: bool):
    """A list of contracts the partner sold, its read audited per customer."""
    workspace.audit_contracts(current_user, "partner_contracts_read", result.rows)
    return render_page_or_fragment(
        "partners/contracts.html",
        "partners/_contracts.html",
        result=result,
        serials=workspace.serials_of(result.rows),
        today=today,
        renewals=renewals,
    )


@bp.get("/contracts")
@partner_required
def contracts():
    page = requested_page()
    rows, total = workspace.sold_contracts(current_user.company_id, page)
    return contracts_page(
        Page.of(rows, page, total, workspace.PAGE_SIZE),
        sla.local_day(utcnow()),
        renewals=False,
    )


@bp.get("/renewals")
@partner_required
def renewals():
    today = sla.local_day(utcnow())
    rows = workspace.renewals(current_user.company_id, today)
    return contracts_page(Page.of(rows, 1, len(rows), max(len(rows), 1)), today, True)


@bp.get("/renewals.csv")
@partner_required
def renewals_csv():
    today = sla.local_day(utcnow())
    rows = workspace.renewals(current_user.company_id, today)
    workspace.audit_contracts(current_user, "partner_renewals_export", rows)
    body = workspace.renewals_csv(
        rows, workspace.serials_of(rows), lambda c: c.status_on(today)
    )
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="renewals-{today}.csv"'},
    )


#: As on the customer's form: a change of contract brings its fields and its
#: request window (out of band), a change of severity the window.
PARTNER_CASE_FRAGMENTS = {
    "serials": "cases/_contract_change.html",
    "window": "cases/_request_window.html",
}


@bp.route("/cases/new", methods=["GET", "POST"])
@partner_required
@posts_limit()
@submissions.one_time
def new_case():
    """A case on a contract the partner sold, for a serial it covers, reported
    on the customer's behalf: the customer sees it (its files and site too) and
    is told by e-mail. Files are checked and staged as on the customer's form."""
    now = utcnow()
    contracts = workspace.reportable_contracts(
        current_user.company_id, sla.local_day(now)
    )
    form = CaseForm(data=None if request.method == "POST" else form_defaults(None))
    contract = fill_choices(form, contracts)
    page = dict(
        form=form,
        contracts=contracts,
        contract=contract,
        for_partner=True,
        contract_fields="cases/_serial_site_fields.html",
        window=request_window(contract, form.severity.data, now),
    )
    fragment = PARTNER_CASE_FRAGMENTS.get(request.args.get("fragment", ""))
    if fragment:
        return render_page_or_fragment("partners/new_case.html", fragment, **page)

    def again(staged=(), status=None):
        return render_template(
            "partners/new_case.html", kept_files=kept_files(staged), **page
        ), status or (422 if form.is_submitted() else 200)

    if not form.is_submitted():
        return again()
    valid = form.validate_on_submit() or unasked_site_only(form, contract)
    device = covered_device(form, contract)
    staged = []
    try:
        staged, files_ok = keep_files(form)
        if not (valid and device and files_ok):
            return again(staged)
        submissions.claim(staged)
        case = case_services.open_case(
            actor=current_user,
            contract=contract,
            device=device,
            **form.case_fields(),
            files=staged,
            now=now,
            site=form.site_fields() if contract.needs_site else None,
            reporting_partner=current_user.company_id,
        )
    except case_services.CaseError:  # the contract moved or ended meanwhile
        form.contract.errors = [
            _("This contract cannot take a case from you any more: choose another.")
        ]
        return again(staged, 409)
    except StorageError as exc:
        return again(status=storage_failed(form, exc))
    flash(
        _(
            "Case %(number)s has been reported for %(customer)s, who has been "
            "told by e-mail. An engineer will contact you by %(due)s.",
            number=case.number,
            customer=contract.customer.name,
            due=format_local_datetime(case.response_due_at),
        ),
        "success",
    )
    return redirect(url_for("cases.detail", number=case.number), 303)

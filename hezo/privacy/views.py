"""The privacy page, one's own requests, and staff's erasure decisions."""

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from ..accounts.forms import ConfirmForm
from ..attachments import stored_download, stored_path
from ..db import utcnow
from ..security import public, signed_in, staff_required
from . import bp, queries, services
from .forms import DecisionForm, ErasureForm


def periods() -> dict:
    """The retention periods the page states (the same config as the run)."""
    config = current_app.config
    return {
        "export_days": config["PRIVACY_EXPORT_DAYS"],
        "audit_days": config["RETENTION_AUDIT_DAYS"],
        "case_years": config["RETENTION_CLOSED_CASE_DAYS"] // 365,
        "audit_years": config["RETENTION_AUDIT_DAYS"] // 365,
        "inactive_months": round(config["INACTIVE_ACCOUNT_DAYS"] / 30.4),
        "grace_days": config["INACTIVE_DISABLE_AFTER_WARNING_DAYS"],
    }


@bp.get("/")
@public
def page():
    return render_template("privacy/page.html", periods=periods())


def render_mine(erasure_form=None, status=200):
    now = utcnow()
    return (
        render_template(
            "privacy/mine.html",
            requests=list(queries.requests_of(current_user)),
            export=services.active_export(current_user, now),
            pending_erasure=services.pending_erasure(current_user),
            form=ConfirmForm(),
            erasure_form=erasure_form or ErasureForm(),
            periods=periods(),
            now=now,
        ),
        status,
    )


@bp.get("/mine")
@signed_in
def mine():
    return render_mine()


@bp.post("/export")
@signed_in
def request_export():
    if not ConfirmForm().validate_on_submit():
        abort(400)
    request = services.request_export(current_user, utcnow())
    if request.status == "ready":
        flash(_("Your copy is ready to download."), "success")
    else:
        flash(
            _(
                "We are preparing your copy. It will be listed here and "
                "e-mailed to you when it is ready."
            ),
            "success",
        )
    return redirect(url_for(".mine"), 303)


@bp.get("/export/<int:export_id>")
@signed_in
def download(export_id):
    now = utcnow()
    request = queries.own_ready_export(current_user, export_id, now)
    if request is None:
        abort(404)
    path = stored_path(request.file_sha256)
    if not path.is_file():
        abort(404)
    services.record_download(request, current_user, now)
    return stored_download(
        path,
        f"myhezo-data-{now:%Y%m%d}.zip",
        "application/zip",
        **{"Cache-Control": "no-store"},
    )


@bp.post("/erasure")
@signed_in
def request_erasure():
    form = ErasureForm()
    if not form.validate_on_submit():
        return render_mine(form, 422)
    services.request_erasure(current_user, utcnow())
    flash(
        _(
            "Your request has been sent. Our staff will decide on it; until "
            "then your account works as before."
        ),
        "success",
    )
    return redirect(url_for(".mine"), 303)


def render_requests(form=None, status=200):
    return (
        render_template(
            "privacy/requests.html",
            pending=list(queries.pending_erasures()),
            decided=list(queries.decided_erasures()),
            form=form or DecisionForm(),
        ),
        status,
    )


@bp.get("/requests")
@staff_required
def requests():
    return render_requests()


@bp.post("/requests/<int:request_id>")
@staff_required
def decide(request_id):
    from ..models import PrivacyRequest

    request = PrivacyRequest.get_or_none(
        (PrivacyRequest.id == request_id) & (PrivacyRequest.kind == "erasure")
    )
    if request is None:
        abort(404)
    form = DecisionForm()
    if not form.validate_on_submit():
        return render_requests(form, 422)
    approve = form.decision.data == "approve"
    try:
        done = services.decide_erasure(
            request, current_user, approve, utcnow(), (form.note.data or "").strip()
        )
    except services.ErasureRefused:
        flash(_("Another member of staff must decide on your own request."), "error")
        return redirect(url_for(".requests"), 303)
    if not done:
        flash(_("This request has already been decided."), "error")
    elif approve:
        flash(_("The account has been erased."), "success")
    else:
        flash(_("The request has been refused and the person told."), "success")
    return redirect(url_for(".requests"), 303)

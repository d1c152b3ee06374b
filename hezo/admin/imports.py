"""Imports in the browser (issue 20): upload the ERP contract register or the
previous portal's export, see its dry run, then run it for real; the runs are
done by ``hezo import-worker`` (``hezo.imports.runs``), their pages poll it."""

from flask import abort, current_app, flash, redirect, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import FileField, RadioField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired

from .. import submissions
from ..db import utcnow
from ..htmx import render_page_or_fragment
from ..i18n import N_
from ..imports import runs
from ..models import ImportRun, User
from ..paging import Page, requested_page
from ..security import admin_required
from ..vocabulary import VOCABULARIES, Term
from . import bp
from .import_reasons import reason_text
from .views import section

PAGE_SIZE = 20
#: Rejections listed on a run's page (the report keeps them all).
SHOWN_REJECTIONS = 500

section(
    "admin.imports",
    _l("Imports"),
    _l(
        "Upload the ERP contract register or the previous portal's export, "
        "check its dry run, then import it."
    ),
)

# The words of a run's state, for the ``badge`` macro (hezo/vocabulary.py).
VOCABULARIES["import_state"] = {
    "queued": Term(N_("waiting for the worker"), "neutral"),
    "running": Term(N_("running"), "info"),
    "done": Term(N_("done"), "ok"),
    "failed": Term(N_("failed"), "bad"),
}

KINDS = {
    "contracts": _l("ERP contract register (CSV)"),
    "legacy": _l("Previous portal's export (JSON)"),
}
TABLES = {
    "companies": _l("Companies"),
    "contracts": _l("Contracts"),
    "devices": _l("Serial numbers"),
    "cases": _l("Cases"),
}
ERRORS = {
    "file_missing": _l("The uploaded file is no longer there. Upload it again."),
    "stopped": _l(
        "The worker was stopped during the import; what it had written stays. "
        "Upload the file again to finish the import."
    ),
    "lost": _l(
        "The worker running this import stopped before it finished (it was "
        "killed, or its machine went down); what it had written stays. Upload "
        "the file again to finish the import."
    ),
    "internal": _l(
        "The import failed unexpectedly; the error was logged. Try again later."
    ),
}


class ImportForm(FlaskForm):
    one_time_submission = True  # hezo/submissions.py
    kind = RadioField(
        _l("What the file is"),
        choices=[SelectChoice(code, word) for code, word in KINDS.items()],
        validators=[InputRequired(_l("Choose what the file is."))],
    )
    file = FileField(_l("File"))


class ApplyForm(FlaskForm):
    one_time_submission = True  # hezo/submissions.py


def render_imports(form=None, status=200):
    runs.reap_lost(utcnow())  # a run whose worker died says so, not "running"
    page = requested_page()
    query = ImportRun.select(ImportRun, User).join(User).order_by(ImportRun.id.desc())
    total = query.count()
    rows = list(query.paginate(page, PAGE_SIZE))
    history = Page.of(rows, page, total, PAGE_SIZE)
    response = render_page_or_fragment(
        "admin/imports.html",
        "admin/_import_history.html",
        form=form or ImportForm(),
        history=history,
        kinds=KINDS,
        max_mb=_max_mb(),
    )
    response.status_code = status
    return response


@bp.get("/imports")
@admin_required
def imports():
    return render_imports()


@bp.post("/imports")
@admin_required
@submissions.one_time
def import_upload():
    form = ImportForm()
    if not form.validate_on_submit():
        return render_imports(form, 422)
    try:
        name, stored, size = runs.store_upload(form.file.data, form.kind.data)
    except runs.UploadRefused as exc:
        form.file.errors = [str(exc)]
        return render_imports(form, exc.status)
    try:
        submissions.claim()
    except submissions.AlreadySubmitted:
        (runs.import_folder() / stored).unlink(missing_ok=True)
        raise
    run = runs.queue_dry_run(current_user, form.kind.data, name, stored, size, utcnow())
    flash(_("The file is queued for its dry run."), "success")
    return redirect(url_for(".import_run", run_id=run.id), 303)


def _run_or_404(run_id: int) -> ImportRun:
    run = (
        ImportRun.select(ImportRun, User)
        .join(User)
        .where(ImportRun.id == run_id)
        .first()
    )
    if run is None:
        abort(404)
    return run


@bp.get("/imports/<int:run_id>")
@admin_required
def import_run(run_id):
    runs.reap_lost(utcnow())
    run = _run_or_404(run_id)
    applied = ImportRun.get_or_none(ImportRun.applied_from == run.id)
    report = runs.report_of(run)
    for rejection in (report or {}).get("rejected", [])[:SHOWN_REJECTIONS]:
        rejection["reason"] = reason_text(rejection["reason"])
    return render_page_or_fragment(
        "admin/import_run.html",
        "admin/_import_status.html",
        run=run,
        report=report,
        applied=applied,
        form=ApplyForm(),
        kinds=KINDS,
        tables=TABLES,
        error=_error_text(run),
        shown=SHOWN_REJECTIONS,
        file_kept=runs.file_kept(run),
        keep_days=current_app.config["IMPORT_KEEP_DAYS"],
    )


@bp.post("/imports/<int:run_id>/apply")
@admin_required
@submissions.one_time
def import_apply(run_id):
    dry = _run_or_404(run_id)
    if not ApplyForm().validate_on_submit():
        abort(400)
    submissions.claim()
    try:
        run = runs.queue_real_run(dry, current_user, utcnow())
    except runs.NotApplicable:
        applied = ImportRun.get_or_none(ImportRun.applied_from == dry.id)
        if applied is None:
            flash(_("Only a finished dry run can be imported."), "warning")
            return redirect(url_for(".import_run", run_id=dry.id), 303)
        flash(_("This dry run has been imported already."), "info")
        return redirect(url_for(".import_run", run_id=applied.id), 303)
    flash(_("The import is queued."), "success")
    return redirect(url_for(".import_run", run_id=run.id), 303)


def _error_text(run: ImportRun) -> str:
    if not run.error:
        return ""
    if run.error.startswith("unreadable: "):
        detail = run.error.removeprefix("unreadable: ")
        return _("The file could not be read: %(detail)s", detail=detail)
    return str(ERRORS.get(run.error, ERRORS["internal"]))


def _max_mb() -> int:
    return current_app.config["IMPORT_MAX_BYTES"] // (1024 * 1024) or 1

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from .. import kept_pages, sla, submissions
from ..accounts.forms import ConfirmForm
from ..attachments import (
    MAX_CASE_BYTES,
    StorageError,
    discard_staged,
    stored_download,
    stored_path,
)
from ..db import utcnow
from ..extensions import posts_limit
from ..htmx import render_page_or_fragment, wants_fragment
from ..inputs import clean_filename
from ..mail import drafts
from ..mail.messages import MailTaken
from ..models import Attachment, SupportCase
from ..pdf import pdf_response, render_pdf
from ..security import customer_required, roles_required, signed_in
from . import bp, queries, services, shipment, watchers
from .forms import (
    CaseForm,
    ColleagueForm,
    ConsentForm,
    EscalationForm,
    MessageForm,
    SiteForm,
)
from .pages import (
    STATUS_PARTS,
    covered_device,
    detail_context,
    fill_choices,
    form_defaults,
    keep_files,
    keeps_case_page,
    kept_files,
    live_answer,
    page_context,
    read_case,
    render_case_list,
    request_window,
    stage_files,
    status_announcement,
    storage_failed,
    summary_state,
    unasked_site_only,
)

readers = signed_in
# Partners write only on the cases they reported (``may_write``).
writers = roles_required("customer", "partner", "engineer", "admin")


def may_write(case) -> bool:
    """A partner answers a case it reported on its customer's behalf, and only
    reads one the customer shared with it."""
    if current_user.role == "partner":
        return case.reporting_partner_id == current_user.company_id
    return True


# -- list and new case ---------------------------------------------------------


@bp.get("/")
@readers
def index():
    return render_case_list("cases/list.html", drafts=drafts.drafts_of(current_user))


#: The parts of the new-case form htmx refreshes (``?fragment=``): the
#: contract's fields (with its request window out of band) when the contract
#: changes, the request window when the severity does.
NEW_CASE_FRAGMENTS = {
    "serials": "cases/_contract_change.html",
    "window": "cases/_request_window.html",
}


@bp.route("/new", methods=["GET", "POST"])
@customer_required
@posts_limit()
@submissions.one_time
def new():
    now = utcnow()
    # A draft from the customer's e-mail (hezo/mail/drafts.py) to confirm.
    draft = drafts.own_draft(request.values.get("draft"), current_user)
    if draft is not None and draft.status != "draft":
        return drafts.gone(draft)
    contracts = queries.reportable_contracts(
        current_user.company_id, sla.local_day(now)
    )
    form = CaseForm(
        data=None
        if request.method == "POST"
        else form_defaults(current_user.company_id)
        | {"contact_phone": current_user.phone}
        | drafts.form_defaults(draft)
    )
    contract = fill_choices(form, contracts)
    form.follows_case = earlier_case(request.values.get("follows", ""))
    fragment = NEW_CASE_FRAGMENTS.get(request.args.get("fragment", ""))
    if fragment:
        return render_page_or_fragment(
            "cases/new.html",
            fragment,
            form=form,
            contract=contract,
            contracts=contracts,
            window=request_window(contract, form.severity.data, now),
        )

    def again(staged=(), consent_error=None, status=None):
        if consent_error:  # the checkbox's error, listed with the others
            form.share.errors = [consent_error]
        return render_template(
            "cases/new.html",
            form=form,
            contract=contract,
            contracts=contracts,
            kept_files=kept_files(staged),
            window=request_window(contract, form.severity.data, now),
            draft=draft,
            draft_files=drafts.draft_files(draft) if draft else None,
        ), status or (422 if form.is_submitted() else 200)

    if not form.is_submitted():
        return again()
    valid = form.validate_on_submit() or unasked_site_only(form, contract)
    device = covered_device(form, contract)
    consent_error = consent_refusal(form, contract)
    staged = []
    try:
        staged, files_ok = keep_files(form)
        if not (valid and device and files_ok) or consent_error:
            return again(staged, consent_error)
        submissions.claim(staged)
        case = services.open_case(
            actor=current_user,
            contract=contract,
            device=device,
            **form.case_fields(),
            share_with=form.consent_partner.data if form.share.data else None,
            files=staged,
            **drafts.confirming(draft, current_user, now, services.link_mail),
            follows=form.follows_case,
            site=form.site_fields() if contract.needs_site else None,
        )
    except services.CaseError:
        # The contract's partner changed after the check above.
        return again(staged, consent_refusal(form, contract, force=True))
    except StorageError as exc:
        return again(status=storage_failed(form, exc))
    except MailTaken:  # the draft was confirmed (another tab) or discarded meanwhile
        return drafts.gone(draft)
    flash(
        _(
            "Case %(number)s has been reported. An engineer will contact you by "
            "%(due)s.",
            number=case.number,
            due=format_due(case.response_due_at),
        ),
        "success",
    )
    return redirect(url_for(".detail", number=case.number), 303)


def earlier_case(number: str) -> SupportCase | None:
    """The customer's own case that a new one follows up on (None if not theirs)."""
    if not number:
        return None
    return SupportCase.get_or_none(
        (SupportCase.number == number[:24])
        & (SupportCase.company == current_user.company_id)
    )


def consent_refusal(form, contract, force: bool = False) -> str | None:
    """Why the ticked consent cannot hold, or None: it holds only for the
    partner the form named, and only when that is the contract's partner. A
    refused consent is unticked, so that the form shown again asks afresh.
    """
    if not form.share.data:
        return None
    if not force and services.consent_names_partner(
        contract, form.consent_partner.data
    ):
        return None
    form.share.data = False
    if contract is None or contract.partner_id is None:
        return _(
            "Nothing was shared: this contract has no partner. Check the form "
            "and send it again."
        )
    return _(
        "Nothing was shared: the form named another partner than the one of "
        "this contract (%(partner)s). Read the text below and tick the box "
        "again if you agree that %(partner)s may read the case.",
        partner=contract.partner.name,
    )


def format_due(moment) -> str:
    from ..i18n import format_deadline

    return format_deadline(moment)


# -- one case ------------------------------------------------------------------


@bp.post("/drafts/<int:draft_id>/discard")
@customer_required
def discard_draft(draft_id):
    """The customer discards a draft from their e-mail (no case is made)."""
    draft = drafts.own_draft(str(draft_id), current_user)
    if not drafts.discard(draft, current_user):
        return drafts.gone(draft)
    flash(_("The draft from your e-mail has been discarded."), "success")
    return redirect(url_for(".index"), 303)


@bp.get("/<number>")
@readers
def detail(number):
    if not keeps_case_page():
        context = read_case(number)
        services.record_partner_read(
            context["case"], current_user, "partner_case_read", utcnow()
        )
        return render_template("cases/detail.html", **context)
    # A customer's or partner's page: kept while its case's version is the same.
    version = queries.case_version_or_404(number, current_user)
    if current_user.role == "partner":
        read = SupportCase(id=version[0], number=number)
        services.record_partner_read(read, current_user, "partner_case_read", utcnow())
    return kept_pages.page("case", version, lambda: _case_page(number))


def _case_page(number: str) -> str:
    case = queries.get_case_or_404(number, current_user)
    return render_template("cases/detail.html", **detail_context(case))


@bp.get("/<number>/thread")
@readers
def thread(number):
    # Without HX-Request this is the whole case page: a partner's read either way.
    context = read_case(number)
    case = context["case"]
    services.record_partner_read(case, current_user, "partner_case_read", utcnow())
    if not wants_fragment():
        return render_page_or_fragment(
            "cases/detail.html", "cases/_thread.html", **context
        )
    # The poll sends the state its page shows: a change brings the summary too.
    seen = request.args.get("state", "")[:60]
    changed, announce = [], ""
    if seen and seen != context["state"]:
        changed = STATUS_PARTS
        if seen.split(".")[0] != case.status:
            announce = status_announcement(case)
    return live_answer(case, "cases/_thread.html", changed, announce, context=context)


@bp.post("/<number>/messages")
@writers
@posts_limit()
@submissions.one_time
def post_message(number):
    case = queries.get_case_or_404(number, current_user)
    if not may_write(case):
        abort(404)
    before = (case.status, summary_state(case))
    form = MessageForm()
    try:
        staged = stage_files(form) if form.validate_on_submit() else None
        if staged is not None and quota_left(case) < sum(f.size for f in staged):
            discard_staged(staged)
            form.files.errors = [_("The files of this case would exceed 200 MB.")]
            staged = None
        if staged is None:
            return render_reply_form(case, form, 422)
        submissions.claim(staged)
        services.post_message(
            case,
            current_user,
            form.body.data,
            staged,
            utcnow(),
            internal=current_user.is_staff and form.internal.data,
        )
    except services.CaseError:  # settled too long ago: the page offers a new case
        context = detail_context(case)
        template = "cases/_reply.html" if wants_fragment() else "cases/detail.html"
        return render_template(template, **context), 409
    except StorageError as exc:
        return render_reply_form(case, form, storage_failed(form, exc))
    if wants_fragment():
        changed = summary_state(case) != before[1]  # a clock stopped, or moved
        return live_answer(
            case,
            "cases/_reply.html",
            ("thread", "files", *(STATUS_PARTS if changed else ())),
            announce=_("Message sent")
            if case.status == before[0]
            else status_announcement(case),
            focus="reply",
        )
    return redirect(url_for(".detail", number=number, _anchor="thread"), 303)


def render_reply_form(case, form, status: int):
    """The reply form again, with its messages and what was typed (with the
    engineers' forms for staff: the page without JavaScript needs them)."""
    context = page_context(case) | {"reply_form": form}
    if wants_fragment():
        return render_template("cases/_reply.html", **context), status
    return render_template("cases/detail.html", **context), status


def quota_left(case) -> int:
    from peewee import fn

    used = (
        Attachment.select(fn.COALESCE(fn.SUM(Attachment.size), 0))
        .where(Attachment.case == case)
        .scalar()
    )
    return MAX_CASE_BYTES - used


@bp.post("/<number>/consent")
@customer_required
def consent(number):
    case = queries.get_case_or_404(number, current_user)
    form = ConsentForm()
    if not form.validate_on_submit() or not case.contract.partner_id:
        abort(400)
    try:
        services.set_consent(
            case, current_user, form.grant.data, utcnow(), form.partner.data
        )
    except services.CaseError:
        context = detail_context(case) | {
            "consent_error": _(
                "Nothing was shared: the page named another partner than the one "
                "of this contract (%(partner)s). Share again if you agree that "
                "%(partner)s may read the case.",
                partner=case.contract.partner.name,
            )
        }
        template = "cases/_consent.html" if wants_fragment() else "cases/detail.html"
        return render_template(template, **context), 422
    done = (
        _("Partner access has been granted.")
        if form.grant.data
        else _("Partner access has been withdrawn.")
    )
    if wants_fragment():
        return live_answer(case, "cases/_consent.html", announce=done, focus="consent")
    flash(done, "success")
    return redirect(url_for(".detail", number=number, _anchor="consent"), 303)


@bp.post("/<number>/site")
@customer_required
def site(number):
    """The customer changes the delivery or site address (until it is sent)."""
    case = queries.get_case_or_404(number, current_user)
    form = SiteForm()
    valid = form.validate_on_submit()
    shipped = _(
        "The replacement has been sent, so the address cannot be changed here "
        "any more. Write to us in the dialogue if it must change."
    )
    error = None if shipment.site_editable(case) else shipped
    if valid and not error:
        saved = shipment.set_site(case, current_user, form.site_fields(), utcnow())
        error = None if saved else shipped
        done = _("The address has been saved.")
        if saved and wants_fragment():
            return live_answer(case, "cases/_site.html", announce=done, focus="site")
        if saved:
            flash(done, "success")
            return redirect(url_for(".detail", number=number, _anchor="site"), 303)
    context = detail_context(case) | {"site_form": form, "site_error": error}
    template = "cases/_site.html" if wants_fragment() else "cases/detail.html"
    return render_template(template, **context), 422


@bp.post("/<number>/escalate")
@customer_required
@submissions.one_time
def escalate(number):
    case = queries.get_case_or_404(number, current_user)
    form = EscalationForm()
    if not form.validate_on_submit():
        context = detail_context(case) | {"escalation_form": form}
        template = "cases/_escalation.html" if wants_fragment() else "cases/detail.html"
        return render_template(template, **context), 422
    submissions.claim()
    services.escalate(case, current_user, form.reason.data.strip(), utcnow())
    if wants_fragment():
        return live_answer(
            case,
            "cases/_escalation.html",
            ("summary",),
            announce=_("The case has been escalated."),
            focus="escalation",
        )
    flash(_("The case has been escalated."), "success")
    return redirect(url_for(".detail", number=number), 303)


@bp.get("/<number>/pdf")
@readers
def pdf(number):
    case = queries.get_case_or_404(number, current_user)
    context = detail_context(case)
    data = render_pdf("pdf/case.html", **context)
    services.record_export(case, current_user, utcnow())
    return pdf_response(data, f"{case.number}.pdf")


@bp.get("/<number>/files/<int:attachment_id>")
@readers
def download(number, attachment_id):
    case = queries.get_case_or_404(number, current_user)
    attachment = queries.get_file_or_404(case, attachment_id, current_user)
    path = stored_path(attachment.sha256)
    if not path.is_file():
        current_app.logger.error(
            "attachment %s of case %s: file missing (hezo check-files)",
            attachment.id,
            case.number,
        )
        message = _(
            "The file %(name)s is missing from the portal's storage. We have "
            "been notified; please ask the person who sent it to attach it "
            "again, or call the help line.",
            name=attachment.filename,
        )
        return render_template("errors/error.html", status=410, message=message), 410
    services.record_partner_read(
        case, current_user, "partner_file_download", utcnow(), attachment.id
    )
    return stored_download(
        path,
        # Names stored before they were cleaned on upload may hold line breaks.
        clean_filename(attachment.filename) or "file",
        "application/octet-stream",
        **{"Content-Security-Policy": "sandbox"},
    )


# -- watchers and the contact (cases/_watchers.html) ----------------------------


def watchers_answer(case, done: str | None, error: str | None = None):
    """The watchers fragment for htmx; else the case page (a redirect after
    a change, the page with the message and 422 after a refusal)."""
    status = 422 if error else 200
    if wants_fragment():
        html = render_template(
            "cases/_watchers.html",
            case=case,
            watchers_panel=watchers.panel(case, current_user),
            watchers_error=error,
        )
        return html, status
    if error:
        context = detail_context(case) | {"watchers_error": error}
        return render_template("cases/detail.html", **context), status
    flash(done, "success")
    return redirect(url_for(".detail", number=case.number, _anchor="watchers"), 303)


def not_a_colleague() -> str:
    return _("Choose a colleague of your company from the list.")


@bp.get("/<number>/watchers")
@customer_required
def watchers_list(number):
    return render_page_or_fragment(
        "cases/detail.html", "cases/_watchers.html", **read_case(number)
    )


@bp.post("/<number>/watchers")
@customer_required
@posts_limit()
def add_watcher(number):
    return with_colleague(
        number,
        watchers.add_watcher,
        _l("%(name)s now gets the e-mails of this case."),
    )


def with_colleague(number, change, done):
    """Apply ``change`` (a service of hezo.cases.watchers) with the colleague
    the form names; anyone else is refused with 422, nothing written."""
    case = queries.get_case_or_404(number, current_user)
    form = ColleagueForm()
    try:
        if not form.validate_on_submit():
            raise watchers.WatcherError(form.user.data)
        user = change(case, form.user.data, current_user, utcnow())
    except watchers.WatcherError:
        return watchers_answer(case, None, not_a_colleague())
    return watchers_answer(case, str(done) % {"name": user.full_name})


@bp.post("/<number>/watchers/<int:user_id>/remove")
@customer_required
@posts_limit()
def remove_watcher(number, user_id):
    case = queries.get_case_or_404(number, current_user)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    watchers.remove_watcher(case, user_id, current_user, utcnow())
    return watchers_answer(case, _("The colleague no longer gets these e-mails."))


@bp.post("/<number>/contact")
@customer_required
@posts_limit()
def hand_over(number):
    return with_colleague(
        number,
        watchers.hand_over,
        _l("%(name)s is now the contact of this case."),
    )

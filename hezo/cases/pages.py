"""The pages several blueprints show: built here, so that views never import views.

The case page (the customer's, the partner's and, with the staff panel, the
engineer's), the case list (customers' and partners'), the new-case form's
choices (customers' and engineers' phone cases) and the files a form stages.
Each builder reads the request and the signed-in viewer and returns a
template's context or a response; none writes.
"""

from datetime import datetime
from typing import NamedTuple

from flask import make_response, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from .. import catalogue, kept_pages, sla
from ..attachments import (
    StorageError,
    UploadError,
    discard_staged,
    discard_stale_staged,
    keep_token,
    kept_file,
    stage_upload,
)
from ..contracts import coverage
from ..db import utcnow
from ..htmx import wants_fragment
from ..models import Contract, Device
from ..models.cases import STATUSES
from ..paging import Page, requested_page
from ..vocabulary import label
from . import closing, queries, shipment, watchers, workflow
from .forms import (
    AssignForm,
    ClosingForm,
    ConsentForm,
    EscalationForm,
    MessageForm,
    SatisfactionForm,
    SiteForm,
    TransitionForm,
)

# -- staged files ------------------------------------------------------------------


def stage_files(form) -> list | None:
    """Stage the form's uploads; on a bad file, add the message and return None.

    Raises ``StorageError`` (nothing left staged) when the folder refuses them.
    """
    staged = []
    for upload in request.files.getlist(form.files.name):
        if not upload or not upload.filename:
            continue
        try:
            staged.append(stage_upload(upload))
        except UploadError as exc:
            discard_staged(staged)
            form.files.errors = [str(exc)]
            return None
        except StorageError:
            discard_staged(staged)
            raise
    return staged


def storage_failed(form, exc: StorageError) -> int:
    """Put the storage error on the form (which comes back with what was
    typed); returns the status to answer: 507 Insufficient Storage."""
    form.files.errors = [str(exc)]
    return 507


def keep_files(form) -> tuple[list, bool]:
    """A case form's files: those it kept from an earlier try and its new uploads.

    Every acceptable file is staged even when another one is refused, so that
    a form coming back with an error offers them again (``kept_files``).
    Returns (staged files, True when none was refused). Raises
    ``StorageError`` (this try's files removed) when the folder refuses one.
    """
    staged, errors = [], []
    for token in request.form.getlist("kept_file"):
        try:
            staged.append(kept_file(token, current_user.id))
        except UploadError as exc:
            errors.append(str(exc))
    for upload in request.files.getlist(form.files.name):
        if not upload or not upload.filename:
            continue
        try:
            new = stage_upload(upload)
        except UploadError as exc:
            errors.append(str(exc))
            continue
        except StorageError:
            discard_staged(staged)
            raise
        if any((f.sha256, f.filename) == (new.sha256, new.filename) for f in staged):
            discard_staged([new])  # the same file attached again
        else:
            staged.append(new)
    if errors:
        form.files.errors = errors
    return staged, not errors


def kept_files(staged) -> list:
    """(token, file) for each staged file a form offers again."""
    if staged:
        discard_stale_staged()
    return [(keep_token(f, current_user.id), f) for f in staged]


# -- the case list -----------------------------------------------------------------


def render_case_list(page_template: str, customer_id: int | None = None, **extra):
    """A page of the viewer's cases from the query string's filters (the full
    page, or the rows fragment for htmx); shared by customers' and partners' lists.
    """
    status = request.args.get("status", "")
    status = status if status in STATUSES or status == "open" else ""
    q = request.args.get("q", "")[:100]
    page = requested_page()
    cases, total = queries.case_list(current_user, status, q, page, customer_id)
    # Kept (hezo.kept_pages) for the rows as read now and the rest of the context.
    return kept_pages.page_or_fragment(
        "cases",
        page_template,
        "cases/_rows.html",
        dict(
            result=Page.of(cases, page, total, queries.PAGE_SIZE),
            status=status,
            q=q,
            statuses=STATUSES,
            customer=customer_id,
            **extra,
        ),
    )


# -- the new-case form (the customer's, and the engineers' phone case) ---------------

SITE_FIELDS = ("site_address", "site_contact_name", "site_contact_phone")


def fill_choices(form, contracts) -> Contract | None:
    """The form's contract and serial choices; returns the chosen contract."""
    form.contract.choices = [
        (c.number, f"{c.number} · {c.service_code}") for c in contracts
    ]
    chosen = next((c for c in contracts if c.number == form.contract.data), None)
    if chosen is None and contracts and not form.is_submitted():
        chosen = contracts[0]
        form.contract.data = chosen.number
    devices = queries.contract_serials(chosen.id) if chosen else []
    form.serial.choices = [(d.serial, f"{d.serial} · {d.product}") for d in devices]
    return chosen


def form_defaults(company_id: int | None) -> dict:
    """A new-case form's first values, from the query string (the contract
    select's refresh sends the site fields and the severity along); the site
    prefilled from the company's last case when none is given."""
    values = {name: request.args.get(name) for name in ("contract", "serial")}
    if request.args.get("severity"):
        values["severity"] = request.args["severity"]
    given = {name: request.args.get(name, "") for name in SITE_FIELDS}
    keep = any(given.values()) or company_id is None  # None: a partner's form
    return values | (given if keep else shipment.last_site(company_id))


def unasked_site_only(form, contract) -> bool:
    """Drop the errors of the site fields when the chosen contract's form does
    not show them (its service ships nothing and comes nowhere: what was sent
    there is not used); True when no other field has an error."""
    if contract is None or contract.needs_site:
        return False
    for name in SITE_FIELDS:
        form[name].errors = []
    return not any(field.errors for field in form)


def request_window(contract, severity, now) -> dict | None:
    """What a new-case form says of the chosen contract's request window at
    ``now``: its plan and window (``vocabulary`` "window"), when the window
    next opens (None while it is open) and whether to call the help line now,
    for a critical problem outside the window (its response clock waits for
    the opening). None without a contract or for a code not in the catalogue.
    """
    plan = catalogue.get_plan(contract.service_code) if contract else None
    if plan is None:
        return None
    opens = sla.window_opens(now, plan.hours)
    opens_at = opens if opens > now else None
    return {
        "plan": plan,
        "window": plan.window,
        "opens_at": opens_at,
        "call_now": severity == "critical" and opens_at is not None,
    }


def covered_device(form, contract) -> Device | None:
    """The chosen serial's device on the chosen contract (else a field error)."""
    device = (
        coverage.covered_device(contract, form.serial.data)
        if contract and form.serial.data
        else None
    )
    if device is None and form.serial.data and not form.serial.errors:
        form.serial.errors = [
            _("Choose a serial number covered by the chosen contract.")
        ]
    return device


# -- one case ----------------------------------------------------------------------


#: The life cycle as the case page shows it: with a replacement, and the end
#: when no hardware was needed (``waiting_for_customer`` is a pause within
#: verification, shown on its step).
RESOLVED_STEPS = ("new", "in_verification", "resolved", "closed")
HARDWARE = ("validated", "replacement_sent", "awaiting_return")
HARDWARE_STEPS = (*RESOLVED_STEPS[:2], *HARDWARE, "closed")


class Step(NamedTuple):
    status: str
    state: str  # done · current · todo
    moment: datetime | None  # when it was reached (done and current steps)


def life_cycle(case, history, plan) -> list[Step]:
    """The stepper's steps, each done one with the moment it was last reached."""
    reached = {"new": case.reported_at}
    for change in history:
        reached[change.to_status] = change.created_at
    hardware = "validated" in reached or case.status in HARDWARE
    if not hardware and (
        case.status in RESOLVED_STEPS[2:] or (plan and not plan.replacement)
    ):
        steps = RESOLVED_STEPS
    else:
        steps = HARDWARE_STEPS
    status = "in_verification" if case.status == "waiting_for_customer" else case.status
    current = steps.index(status) if status in steps else 0
    return [
        Step(
            name,
            "done" if i < current else "current" if i == current else "todo",
            reached.get(name) if i <= current else None,
        )
        for i, name in enumerate(steps)
    ]


class DueClock(NamedTuple):
    kind: str  # response · delivery · return
    at: datetime
    state: str  # sla.breach_state: ok · due_soon · breached


def due_clock(case, now: datetime) -> DueClock | None:
    """The service clock running now (``workflow.next_due``) and which one it is."""
    at = workflow.next_due(case)
    if at is None:
        return None
    if case.first_response_at is None and at == case.response_due_at:
        kind = "response"
    else:
        kind = "return" if case.status == "awaiting_return" else "delivery"
    return DueClock(kind, at, sla.breach_state(at, now))


def summary_state(case) -> str:
    """What the summary block shows, in a few characters: the thread's poll
    sends it back, and the answer carries the summary (and the stepper, the
    history, the shipment) only when it differs."""
    due = workflow.next_due(case)
    return ".".join(
        (
            case.status,
            str(int(due.timestamp())) if due else "",
            "e" if case.escalated_at else "",
        )
    )


def case_plan(case):
    """The plan whose terms the case's clocks keep (those it opened with)."""
    if case.service_terms:
        return workflow.clock_plan(case)
    return catalogue.get_plan(case.contract.service_code)


def detail_context(case, record: queries.CaseRecord | None = None) -> dict:
    """The case page's data (its record read now unless given)."""
    record = record or queries.case_record(case, current_user)
    settled = workflow.settled_at(case, record.history)
    plan = case_plan(case)
    now = utcnow()
    return dict(
        case=case,
        plan=plan,
        steps=life_cycle(case, record.history, plan),
        clock=due_clock(case, now),
        state=summary_state(case),
        can_reply=current_user.role != "partner"
        or case.reporting_partner_id == current_user.company_id,
        messages=record.messages,
        files=record.files,
        consents=record.consents,
        history=record.history,
        reply_form=MessageForm(formdata=None),
        escalation_form=EscalationForm(formdata=None),
        consent_form=ConsentForm(formdata=None),
        partner=case.contract.partner,
        follows=next((c for c in record.related if c.id == case.follows_id), None),
        followed_by=[c for c in record.related if c.follows_id == case.id],
        # A customer's reply would no longer reopen it: offer a new case instead.
        reply_closed=settled is not None and not workflow.is_reopenable(settled, now),
        reopen_days=workflow.REOPEN_WITHIN.days,
        shipment=shipment.facts(case),
        site_form=SiteForm(formdata=None, obj=case),
        site_editable=shipment.site_editable(case),
        watchers_panel=watchers.panel(case, current_user),
        **closing_context(case, settled, now),
    )


def closing_context(case, settled, now) -> dict:
    """The closing section's data (``cases/_closing.html``)."""
    closed = case.status == "closed"
    return dict(
        may_close=closing.may_close_loop(case, current_user),
        closing_actions=closing.actions(case, settled, now),
        reopen_until=settled + workflow.REOPEN_WITHIN if settled else None,
        closing_form=ClosingForm(formdata=None),
        satisfaction_form=SatisfactionForm(formdata=None),
        satisfaction=closing.answer_of(case) if closed else None,
    )


def staff_panel(case) -> dict:
    """The engineers' panel of the case page: assign it, move its status."""
    assign = AssignForm(
        formdata=None,
        assignee=str(case.assignee_id or ""),
        seen=str(case.assignee_id or "none"),
    )
    assign.assignee.choices = [("", _("nobody"))] + [
        (str(u.id), u.full_name) for u in queries.engineers()
    ]
    return {
        "assign_form": assign,
        "transition_form": TransitionForm(formdata=None, seen=case.status),
        "transitions": workflow.allowed,
    }


def page_context(case, record: queries.CaseRecord | None = None) -> dict:
    """The case page's data for the viewer; engineers also get their panel."""
    if current_user.is_staff:
        return staff_panel(case) | detail_context(case, record)
    return detail_context(case, record)


def keeps_case_page() -> bool:
    """Whether a customer's or partner's case page may be a kept one
    (``hezo.kept_pages``, for ``queries.case_version_or_404``: whatever else
    it shows, the plan from the catalogue or a colleague's name in the
    watchers panel, say, is at most ``kept_pages.BUCKET_SECONDS`` old);
    engineers' pages, with their live panel, are rendered every time."""
    return kept_pages.may_keep() and not (
        current_user.is_staff or request.args or wants_fragment()
    )


def read_case(number: str) -> dict:
    """The page's data of a case the viewer may see (404 otherwise)."""
    case, record = queries.get_case_with_record_or_404(number, current_user)
    return page_context(case, record)


# -- the htmx answers of the case page ----------------------------------------------

#: The case page's regions that follow its status (each an element with a
#: stable id, swapped out of band when it changed).
STATUS_PARTS = ("summary", "steps", "history", "shipment", "closing")


def live_answer(
    case,
    main: str,
    changed=(),
    announce: str = "",
    focus: str = "",
    context: dict | None = None,
):
    """An htmx answer of the case page: ``main`` (the element the request
    targets), the ``changed`` regions out of band, ``announce`` for the page's
    one polite live region, and ``focus`` naming where the user continues
    (that element carries ``autofocus``: htmx focuses it after the swap).
    ``context`` is the page's data when already read."""
    response = make_response(
        render_template(
            "cases/_live_answer.html",
            main=main,
            changed=set(changed),
            announce=announce,
            focus=focus,
            **(context or page_context(case)),
        )
    )
    response.vary.add("HX-Request")
    return response


def status_announcement(case) -> str:
    return _("Status changed to %(status)s", status=label("status", case.status))

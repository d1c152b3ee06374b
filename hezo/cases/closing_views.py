"""The customer's side of closing the loop on the case page (``closing``):
mark solved, confirm, reopen, and the one satisfaction answer per case."""

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..db import utcnow
from ..extensions import posts_limit
from ..htmx import wants_fragment
from ..security import roles_required
from . import bp, closing, queries
from .forms import ClosingForm, SatisfactionForm
from .pages import STATUS_PARTS, detail_context, live_answer, status_announcement
from .workflow import StaleCase

customers = roles_required("customer", "partner")


def closing_case(number: str):
    """The case, if the viewer may close the loop on it (404 otherwise, as
    for a partner's write on a case it did not report)."""
    case = queries.get_case_or_404(number, current_user)
    if not closing.may_close_loop(case, current_user):
        abort(404)
    return case


def closing_answer(number: str, status: int, changed=(), **extra):
    """The closing section (with ``extra``: the form, a message) as the case
    is now: for htmx with the status regions out of band, else the page."""
    case = queries.get_case_or_404(number, current_user)
    context = detail_context(case) | extra
    if wants_fragment():
        return live_answer(
            case, "cases/_closing.html", changed, focus="closing", context=context
        ), status
    return render_template("cases/detail.html", **context), status


@bp.post("/<number>/closing")
@customers
@posts_limit()
def close_loop(number):
    case = closing_case(number)
    form = ClosingForm()
    if not form.validate_on_submit():
        if set(form.errors) == {"note"}:  # a note too long: typed text kept
            return closing_answer(number, 422, closing_form=form)
        abort(400)
    try:
        closing.customer_move(
            case,
            current_user,
            form.action.data,
            utcnow(),
            form.seen.data,
            form.note.data or "",
        )
    except StaleCase:
        message = _(
            "The case changed in the meantime (another tab or a colleague): "
            "nothing was changed. Here is the case as it is now."
        )
        return closing_answer(number, 409, STATUS_PARTS, closing_error=message)
    except closing.ClosingError as exc:
        message = (
            _("The case was settled too long ago to be reopened.")
            if str(exc) == "settled"
            else _("This cannot be done in the case's present status.")
        )
        return closing_answer(number, 409, STATUS_PARTS, closing_error=message)
    done = {
        "solved": _("The case is marked solved."),
        "confirm": _("The case is closed. Thank you for confirming."),
        "reopen": _("The case has been reopened."),
    }[form.action.data]
    if wants_fragment():
        return live_answer(
            case,
            "cases/_closing.html",
            STATUS_PARTS,
            announce=f"{done} {status_announcement(case)}",
            focus="satisfaction" if case.status == "closed" else "closing",
        )
    flash(done, "success")
    return redirect(url_for(".detail", number=number, _anchor="closing"), 303)


@bp.post("/<number>/satisfaction")
@customers
@posts_limit()
def satisfaction(number):
    case = closing_case(number)
    form = SatisfactionForm()
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            abort(400)
        return closing_answer(number, 422, satisfaction_form=form)
    try:
        closing.answer(
            case, current_user, int(form.rating.data), form.comment.data or "", utcnow()
        )
    except closing.AlreadyAnswered:
        message = _("This case's question has already been answered. Thank you!")
        return closing_answer(number, 409, closing_error=message)
    except closing.ClosingError:
        message = _("The question is asked once the case is closed.")
        return closing_answer(number, 409, closing_error=message)
    done = _("Thank you for your answer.")
    if wants_fragment():
        return live_answer(
            case, "cases/_closing.html", announce=done, focus="satisfaction"
        )
    flash(done, "success")
    return redirect(url_for(".detail", number=number, _anchor="satisfaction"), 303)

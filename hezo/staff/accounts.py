"""Engineers' and administrators' view of user accounts.

Engineers can end a user's sessions and, after the customer proved the
contract again by phone, reset the sign-in (the customer then sets password
and authenticator through a link sent to the address on file). Only
administrators disable or enable accounts.
"""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from peewee import JOIN
from wtforms import PasswordField, StringField
from wtforms.validators import Length

from ..accounts import services
from ..accounts.enabling import ActionForm, apply_enabled_form
from ..accounts.forms import REQUIRED
from ..db import utcnow
from ..identifiers import nip_digits, normalize_serial
from ..models import Company, User
from ..security import admin_required, post_limit, staff_required
from . import bp


class ResetForm(FlaskForm):
    nip = StringField(_l("Company tax ID (NIP)"), validators=[REQUIRED, Length(max=16)])
    contract = StringField(
        _l("Service contract number"), validators=[REQUIRED, Length(max=40)]
    )
    serial = StringField(
        _l("Serial number of a covered device"),
        validators=[REQUIRED, Length(max=64)],
        filters=[normalize_serial],
    )
    current = PasswordField(
        _l("Your password"), validators=[REQUIRED, Length(max=1024)]
    )
    code = StringField(
        _l("Your authenticator code"), validators=[REQUIRED, Length(max=20)]
    )


def user_or_404(user_id: int) -> User:
    return User.get_or_none(User.id == user_id) or abort(404)


ACCOUNTS_SHOWN = 50


def find_accounts(text: str) -> list[User]:
    """Accounts matching ``text``, newest first, at most ``ACCOUNTS_SHOWN``.

    ``text`` is looked for in the e-mail, the name and the company name
    (case-insensitive); a NIP matches in any notation (dashes, spaces, ``PL``),
    also in part. An empty ``text`` lists the newest accounts. Each user comes
    with its company (or None).
    """
    query = User.select(User, Company).join(
        Company, JOIN.LEFT_OUTER, on=(User.company == Company.id)
    )
    if text:
        matches = (
            User.email.contains(text)
            | User.first_name.contains(text)
            | User.last_name.contains(text)
            | User.first_name.concat(" ").concat(User.last_name).contains(text)
            | Company.name.contains(text)
        )
        if digits := nip_digits(text):
            matches |= Company.nip.contains(digits)
        query = query.where(matches)
    newest = query.order_by(User.created_at.desc(), User.id.desc())
    return list(newest.limit(ACCOUNTS_SHOWN))


@bp.get("/accounts")
@staff_required
def accounts():
    q = " ".join(request.args.get("q", "").split())[:100]
    return render_template(
        "staff/accounts.html", users=find_accounts(q), q=q, limit=ACCOUNTS_SHOWN
    )


@bp.route("/accounts/<int:user_id>", methods=["GET", "POST"])
@staff_required
@post_limit()
def account(user_id):
    user = user_or_404(user_id)
    form = ResetForm()
    if form.validate_on_submit():
        now = utcnow()
        if not services.reauthenticate(
            current_user, form.current.data, form.code.data, now
        ):
            form.code.errors = [_("Your password or code is not correct.")]
        elif not services.proof_matches_company(
            user, form.nip.data, form.contract.data, form.serial.data, now
        ):
            form.nip.errors = [
                _("These details do not match the customer's contracts.")
            ]
        else:
            services.staff_reset_authenticator(user, current_user, now)
            flash(
                _(
                    "The sign-in has been reset; a link was sent to %(email)s.",
                    email=user.email,
                ),
                "success",
            )
            return redirect(url_for(".account", user_id=user.id), 303)
    status = 422 if form.is_submitted() else 200
    return render_template(
        "staff/account.html",
        user=user,
        form=form,
        action_form=ActionForm(formdata=None),
    ), status


@bp.post("/accounts/<int:user_id>/sessions")
@staff_required
def end_user_sessions(user_id):
    user = user_or_404(user_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    services.end_sessions(user)
    flash(_("All sessions of %(email)s have been ended.", email=user.email), "success")
    return redirect(url_for(".account", user_id=user.id), 303)


@bp.post("/accounts/<int:user_id>/enabled")
@admin_required
def set_enabled(user_id):
    user = user_or_404(user_id)
    done, message = apply_enabled_form(user, current_user)
    if not done:
        flash(message, "error")
        return render_template(
            "staff/account.html",
            user=user,
            form=ResetForm(formdata=None),
            action_form=ActionForm(formdata=None),
        ), 409
    flash(message, "success")
    return redirect(url_for(".account", user_id=user.id), 303)

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
from peewee import fn
from wtforms import PasswordField, StringField
from wtforms.validators import Length

from ..accounts import services
from ..accounts.forms import REQUIRED
from ..accounts.views import post_limit
from ..db import utcnow
from ..models import Company, User
from ..security import admin_required, staff_required
from . import bp


class ResetForm(FlaskForm):
    nip = StringField(_l("Company tax ID (NIP)"), validators=[REQUIRED, Length(max=16)])
    contract = StringField(
        _l("Service contract number"), validators=[REQUIRED, Length(max=40)]
    )
    serial = StringField(
        _l("Serial number of a covered device"), validators=[REQUIRED, Length(max=64)]
    )
    current = PasswordField(
        _l("Your password"), validators=[REQUIRED, Length(max=1024)]
    )
    code = StringField(
        _l("Your authenticator code"), validators=[REQUIRED, Length(max=20)]
    )


class ActionForm(FlaskForm):
    """CSRF only."""


def user_or_404(user_id: int) -> User:
    return User.get_or_none(User.id == user_id) or abort(404)


@bp.get("/accounts")
@staff_required
def accounts():
    q = request.args.get("q", "").strip()[:100]
    users = []
    if q:
        like = f"%{q.lower()}%"
        users = list(
            User.select(User, Company)
            .join(Company, on=(User.company == Company.id), join_type="LEFT OUTER")
            .where(
                (fn.LOWER(User.email) ** like)
                | (fn.LOWER(User.last_name) ** like)
                | (fn.LOWER(Company.name) ** like)
                | (Company.nip == q)
            )
            .order_by(User.email)
            .limit(50)
        )
    return render_template("staff/accounts.html", users=users, q=q)


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
    if not ActionForm().validate_on_submit() or user.id == current_user.id:
        abort(400)
    enabled = request.form.get("enabled") == "1"
    services.set_enabled(user, enabled, current_user)
    flash(
        _("The account is enabled.") if enabled else _("The account is disabled."),
        "success",
    )
    return redirect(url_for(".account", user_id=user.id), 303)

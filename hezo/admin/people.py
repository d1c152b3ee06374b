"""People: staff and partner accounts, invitations, disabling and enabling,
and a lost authenticator reset, from the browser (until now ``hezo
create-user`` / ``invite-partner`` and the engineers' account page). Each
action is a service the command line or the staff pages use too, audited."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from peewee import JOIN, fn
from wtforms import PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length

from .. import submissions
from ..accounts import services
from ..accounts.enabling import ActionForm, apply_enabled_form
from ..accounts.forms import LANGUAGES, NAME, REQUIRED
from ..db import utcnow
from ..htmx import wants_fragment
from ..i18n import current_language
from ..identifiers import nip_digits
from ..models import Company, ExternalIdentity, User
from ..paging import Page, requested_page
from ..security import admin_required, post_limit
from ..staff.queries import company_by_nip
from . import bp
from .views import section

PAGE_SIZE = 50
#: The accounts this section lists (customers are the engineers' to look after).
ROLES = ("engineer", "admin", "partner")
STATES = ("active", "invited", "disabled")


class InviteForm(FlaskForm):
    one_time_submission = True
    role = SelectField(
        _l("Role"),
        choices=[
            SelectChoice("engineer", _l("engineer")),
            SelectChoice("admin", _l("administrator")),
            SelectChoice("partner", _l("partner user")),
        ],
        validators=[REQUIRED],
    )
    name = StringField(
        _l("First and last name"), validators=[REQUIRED, Length(max=120)], **NAME
    )
    email = StringField(_l("E-mail"), validators=[REQUIRED, Length(max=254)])
    nip = StringField(
        _l("Partner company's tax ID (NIP), for a partner user"),
        validators=[Length(max=16)],
    )
    language = SelectField(
        _l("Language of the invitation"),
        choices=LANGUAGES,
        validators=[REQUIRED],
    )


class ResetForm(FlaskForm):
    one_time_submission = True
    current = PasswordField(
        _l("Your password"), validators=[REQUIRED, Length(max=1024)]
    )
    code = StringField(
        _l("Your authenticator code"), validators=[REQUIRED, Length(max=20)]
    )


def _activated():
    """Set up: an authenticator, or a V-ZAM identity (its own second factor)."""
    linked = ExternalIdentity.select().where(ExternalIdentity.user == User.id)
    return User.totp_secret.is_null(False) | fn.EXISTS(linked)


def find_people(role: str, state: str, text: str, page: int) -> Page:
    """Staff and partner accounts (``role`` one of ``ROLES``, else all three),
    in ``state`` (``STATES``, else any), matching ``text`` in the e-mail, name,
    company or NIP; sorted by name."""
    query = (
        User.select(User, Company)
        .join(Company, JOIN.LEFT_OUTER, on=(User.company == Company.id))
        .where(User.role.in_([role] if role in ROLES else ROLES))
    )
    if state == "disabled":
        query = query.where(~User.is_enabled)
    elif state == "active":
        query = query.where(User.is_enabled & _activated())
    elif state == "invited":
        query = query.where(User.is_enabled & ~_activated())
    if text:
        matches = (
            User.email.contains(text)
            | User.first_name.concat(" ").concat(User.last_name).contains(text)
            | Company.name.contains(text)
        )
        if digits := nip_digits(text):
            matches |= Company.nip.contains(digits)
        query = query.where(matches)
    total = query.count()
    rows = list(
        query.order_by(User.last_name, User.first_name, User.id).paginate(
            page, PAGE_SIZE
        )
    )
    return Page.of(rows, page, total, PAGE_SIZE)


def state_of(user: User) -> str:
    if user.erased_at is not None:
        return "erased"
    if not user.is_enabled:
        return "disabled"
    if user.totp_secret or user.external_identities.exists():
        return "active"
    return "invited"


def person_or_404(user_id: int) -> User:
    return User.get_or_none(User.id == user_id) or abort(404)


@bp.get("/people")
@admin_required
def people():
    role = request.args.get("role", "")
    state = request.args.get("state", "")
    q = " ".join(request.args.get("q", "").split())[:100]
    args = {
        "role": role if role in ROLES else "",
        "state": state if state in STATES else "",
        "q": q,
    }
    result = find_people(args["role"], args["state"], q, requested_page())
    template = "admin/_people_rows.html" if wants_fragment() else "admin/people.html"
    return render_template(
        template, result=result, args=args, roles=ROLES, states=STATES
    )


INVITE_REFUSALS = {
    "email_invalid": _l("This is not a valid e-mail address."),
    "email_taken": _l(
        "An account with this e-mail address exists already (another role, or "
        "one already set up)."
    ),
}


@bp.route("/people/invite", methods=["GET", "POST"])
@admin_required
@submissions.one_time
def invite():
    form = InviteForm()
    if request.method == "GET":
        form.language.data = current_language()
    if form.validate_on_submit():
        company = None
        if form.role.data == "partner":
            company = company_by_nip(form.nip.data or "")
            if company is None:
                form.nip.errors = [
                    _("No company with this NIP is in the contract register.")
                ]
        if not form.nip.errors:
            submissions.claim()
            try:
                user = services.send_invitation(
                    form.role.data,
                    form.email.data,
                    " ".join(form.name.data.split()),
                    company,
                    current_user,
                    utcnow(),
                    form.language.data,
                )
            except services.InvitationRefused as exc:
                form.email.errors = [INVITE_REFUSALS[exc.reason]]
            else:
                flash(
                    _("The invitation was sent to %(email)s.", email=user.email),
                    "success",
                )
                return redirect(url_for(".person", user_id=user.id), 303)
    status = 422 if form.is_submitted() else 200
    return render_template("admin/invite.html", form=form), status


def _person_page(user: User, reset_form=None, status: int = 200):
    return render_template(
        "admin/person.html",
        user=user,
        state=state_of(user),
        reset_form=reset_form or ResetForm(formdata=None),
        action_form=ActionForm(formdata=None),
    ), status


@bp.get("/people/<int:user_id>")
@admin_required
def person(user_id):
    return _person_page(person_or_404(user_id))


@bp.post("/people/<int:user_id>/enabled")
@admin_required
def person_enabled(user_id):
    user = person_or_404(user_id)
    done, message = apply_enabled_form(user, current_user)
    if not done:
        flash(message, "error")
        return _person_page(user, status=409)
    flash(message, "success")
    return redirect(url_for(".person", user_id=user.id), 303)


@bp.post("/people/<int:user_id>/authenticator")
@admin_required
@post_limit()
@submissions.one_time
def person_reset(user_id):
    user = person_or_404(user_id)
    if user.id == current_user.id or user.erased_at is not None:
        abort(400)
    form = ResetForm()
    if form.validate_on_submit():
        now = utcnow()
        if not services.reauthenticate(
            current_user, form.current.data, form.code.data, now
        ):
            form.code.errors = [_("Your password or code is not correct.")]
        else:
            submissions.claim()
            services.staff_reset_authenticator(user, current_user, now)
            flash(
                _(
                    "The sign-in has been reset; a link was sent to %(email)s.",
                    email=user.email,
                ),
                "success",
            )
            return redirect(url_for(".person", user_id=user.id), 303)
    return _person_page(user, form, 422)


section(
    "admin.people",
    _l("People"),
    _l(
        "Engineers, administrators and partner users: invite them, disable or "
        "enable an account, reset a lost authenticator."
    ),
)

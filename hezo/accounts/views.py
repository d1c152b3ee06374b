import re
import secrets

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from .. import submissions
from ..audit import security_event
from ..catalogue import SERVICES
from ..db import utcnow
from ..extensions import limiter
from ..identifiers import normalize_nip
from ..models import User
from ..security import (
    begin_session,
    mfa_pending,
    now_ts,
    post_limit,
    public,
    roles_required,
    setup_pending,
    signed_in,
)
from ..web import anonymous_page
from . import bp, oidc, services, throttle, totp
from .forms import (
    ChangePasswordForm,
    CodeForm,
    CompanyForm,
    ConfirmForm,
    ContactForm,
    ContactRequestForm,
    EmailChangeForm,
    ForgotForm,
    LoginForm,
    PasswordForm,
    ProfileForm,
    ReauthForm,
)


def invalid(template, **context):
    """An invalid form: the same page with its messages and status 422."""
    return render_template(template, **context), 422


def home_for(user) -> str:
    return url_for(
        {
            "customer": "contracts.index",
            "partner": "partners.home",
            "engineer": "staff.queue",
            "admin": "staff.queue",
        }[user.role]
    )


# A path on this site: no "//host", no backslash, no space or control character.
LOCAL_PATH = re.compile(r"/(?![/\\])[^\\\x00-\x20\x7f]*")


def safe_next(target: str | None) -> str | None:
    """A path on this site to go to after signing in, else None.

    Browsers drop tabs and line breaks from a URL and read a backslash as a
    slash, so "/<TAB>/evil.test" would lead to //evil.test: refuse them all.
    """
    if target and LOCAL_PATH.fullmatch(target):
        return target
    return None


def start_session(user: User, method: str) -> None:
    """A new session for a fully authenticated user (no pre-login data kept
    but whether it came through V-ZAM, whose session signing out ends too)."""
    via_vzam = session.get("vzam") is True
    session.clear()
    begin_session(user)
    if via_vzam:
        session["vzam"] = True
    session["auth_at"] = session["seen_at"] = now_ts()
    services.record_login(user, utcnow())
    throttle.clear_account(user.email)
    security_event("login_succeeded", user, factor=method)


# -- registration wizard -----------------------------------------------------


@bp.route("/register", methods=["GET", "POST"])
@public
@post_limit()
def register():
    now = utcnow()
    pending = services.pending_registration(session.get("reg"), now)
    form = CompanyForm(obj=None)
    if request.method == "GET" and pending:
        form.nip.data, form.contract.data = pending.company.nip, pending.contract_number
        form.serial.data = pending.serial
    if not form.validate_on_submit():
        return (invalid if form.is_submitted() else render_template)(
            "accounts/register.html", step="company", form=form
        )
    if normalize_nip(form.nip.data) is None:
        form.nip.errors.append(_("This is not a valid NIP: check the digits."))
        return invalid("accounts/register.html", step="company", form=form)
    contract = services.verify_company(
        form.nip.data, form.contract.data, form.serial.data, now
    )
    if contract is None:
        return invalid(
            "accounts/register.html", step="company", form=form, mismatch=True
        )
    pending = services.start_registration(
        contract, form.serial.data, now, key=session.get("reg")
    )
    session["reg"] = pending.key
    return redirect(url_for(".register_contact"), 303)


def service_choices(pending, now) -> list[tuple[str, str]]:
    """(code, package name in the page's language) of the serial's services."""
    language = get_locale().language
    return [
        (code, SERVICES[code].label(language) if code in SERVICES else code)
        for code in services.serial_services(pending.company_id, pending.serial, now)
    ]


@bp.route("/register/contact", methods=["GET", "POST"])
@public
@post_limit()
@submissions.one_time
def register_contact():
    now = utcnow()
    pending = services.pending_registration(session.get("reg"), now)
    if pending is None:
        return redirect(url_for(".register"))
    form = ContactForm(
        obj=pending if request.method == "GET" and pending.email else None
    )
    form.service_code.choices = service_choices(pending, now)
    if request.method == "GET":
        form.service_code.data = pending.service_code
        if not pending.email:
            form.language.data = request.view_args.get("lang") or "pl"
    if not form.validate_on_submit():
        return (invalid if form.is_submitted() else render_template)(
            "accounts/register.html", step="contact", form=form, pending=pending
        )
    submissions.claim()
    services.choose_service(pending, form.service_code.data or "", now)
    services.submit_contact(pending, form.data, now)
    return redirect(url_for(".register_sent"), 303)


@bp.get("/register/sent")
@public
def register_sent():
    pending = services.pending_registration(session.get("reg"), utcnow())
    return render_template(
        "accounts/register.html", step="sent", email=pending.email if pending else None
    )


@bp.route("/register/confirm/<token>", methods=["GET", "POST"])
@public
@post_limit()
def register_confirm(token):
    form = ConfirmForm()
    if not form.validate_on_submit():
        return render_template("accounts/confirm.html", form=form, kind="register")
    user = services.confirm_registration(token, utcnow())
    if user is None:
        return render_template("accounts/link_invalid.html"), 400
    return begin_setup(user)


@bp.route("/invite/<token>", methods=["GET", "POST"])
@public
@post_limit()
def invite(token):
    now = utcnow()
    row = services.valid_token(token, "invite", now)
    if row is None:
        return render_template("accounts/link_invalid.html"), 400
    form = ConfirmForm()
    if not form.validate_on_submit():
        return render_template(
            "accounts/confirm.html",
            form=form,
            kind="invite",
            vzam_invite=token if row.user.role == "partner" else None,
        )
    user = services.consume_token(token, "invite", now)
    if user is None:
        return render_template("accounts/link_invalid.html"), 400
    return begin_setup(user)


def begin_setup(user: User):
    session.clear()
    session["setup_user_id"], session["setup_at"] = user.id, now_ts()
    return redirect(url_for("accounts.setup_password"), 303)


def setup_user() -> User:
    user = User.get_or_none(User.id == session["setup_user_id"])
    if user is None or user.totp_secret is not None:
        abort(404)
    return user


@bp.route("/setup/password", methods=["GET", "POST"])
@setup_pending
def setup_password():
    user = setup_user()
    form = PasswordForm()
    if form.validate_on_submit() and check_new_password(form, user):
        services.set_password(user, form.password.data)
        return redirect(url_for(".setup_authenticator"), 303)
    render = invalid if form.is_submitted() else render_template
    return render("accounts/register.html", step="password", form=form, user=user)


def check_new_password(form, user) -> bool:
    problems = services.passwords.password_problems(
        form.password.data, services.context_words(user)
    )
    if not problems and form.password.data != form.confirm.data:
        problems = [_("The two passwords differ.")]
    form.password.errors = list(form.password.errors) + problems
    return not problems


@bp.route("/setup/authenticator", methods=["GET", "POST"])
@setup_pending
def setup_authenticator():
    user = setup_user()
    # V-ZAM's people have no password of ours: only the authenticator.
    if user.password_hash is None and not session.get("setup_without_password"):
        return redirect(url_for(".setup_password"))
    form = CodeForm()
    if form.validate_on_submit():
        codes = services.confirm_enrolment(
            user, session.get("enrol"), form.code.data, utcnow()
        )
        if codes is not None:
            start_session(User.get_by_id(user.id), "enrolment")
            return recovery_codes_page(codes, first_time=True)
        form.code.errors.append(
            _(
                "That code does not match. Check the time on your "
                "phone and enter the newest code."
            )
        )
        return enrolment_page(
            "accounts/register.html", form, user, status=422, step="authenticator"
        )
    return enrolment_page(
        "accounts/register.html", form, user, step="authenticator", fresh=True
    )


def enrolment_page(template, form, user, status=200, fresh=False, **context):
    """The QR code and key of a pending secret (a new one when ``fresh``)."""
    secret = None if fresh else services.pending_secret(session.get("enrol"))
    if secret is None:
        session["enrol"], secret = services.begin_enrolment(session.get("enrol"))
    uri = totp.provisioning_uri(secret, user.email)
    response = current_app.make_response(
        (
            render_template(
                template,
                form=form,
                user=user,
                qr=totp.qr_svg(uri),
                otpauth=uri,
                key=totp.grouped(secret),
                **context,
            ),
            status,
        )
    )
    return response


def recovery_codes_page(codes, first_time=False):
    return render_template(
        "accounts/recovery_codes.html", codes=codes, first_time=first_time
    )


# -- signing in and out ------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
@public
@post_limit()
def login():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    if "expired" not in session:
        page = anonymous_page(
            ("login", oidc.configured()),  # with the V-ZAM button or without
            lambda: render_template("accounts/login.html", form=LoginForm()),
            form=True,
        )
        if page is not None:
            return page
    form = LoginForm()
    if not form.validate_on_submit():
        expired = session.pop("expired", False)
        return (invalid if form.is_submitted() else render_template)(
            "accounts/login.html", form=form, expired=expired
        )
    now, ip = utcnow(), request.remote_addr or ""
    wait = throttle.ip_wait(ip, now)
    if wait is not None:
        security_event("login_ip_throttled", seconds=int(wait.total_seconds()))
        return render_template(
            "accounts/login.html",
            form=form,
            wait_minutes=max(1, round(wait.total_seconds() / 60)),
        ), 429
    result = services.authenticate_password(
        form.email.data, form.password.data, now, ip
    )
    if result.ticket is not None:
        session.clear()
        session["mfa_ticket"], session["pw_ok_at"] = result.ticket, now_ts()
    elif result.user is None:
        security_event("login_failed", factor="password", reason=result.reason)
        return invalid("accounts/login.html", form=form, failed=True)
    else:
        session.clear()
        session["mfa_user_id"], session["pw_ok_at"] = result.user.id, now_ts()
    session["mfa_key"] = secrets.token_urlsafe(16)  # this pending sign-in
    return redirect(
        url_for(".login_code", next=safe_next(request.args.get("next"))), 303
    )


@bp.route("/login/code", methods=["GET", "POST"])
@mfa_pending
@post_limit()
def login_code():
    form = CodeForm()
    if not form.validate_on_submit():
        return (invalid if form.is_submitted() else render_template)(
            "accounts/login_code.html", form=form
        )
    if "mfa_ticket" in session:
        user, method = services.verify_guarded_login(
            session["mfa_ticket"], form.code.data, utcnow(), session.get("mfa_key")
        )
        if method is None:
            # The password may have been wrong too: start again, told so.
            security_event("login_failed", factor="guarded")
            session.clear()
            return invalid(
                "accounts/login.html", form=LoginForm(formdata=None), guarded=True
            )
    else:
        user = User.get_by_id(session["mfa_user_id"])
        method = services.verify_second_factor(
            user, form.code.data, utcnow(), pending=session.get("mfa_key")
        )
    if method is None:
        form.code.data = ""  # never echo a code back
        return invalid("accounts/login_code.html", form=form, failed=True)
    start_session(User.get_by_id(user.id), method)
    if method == "recovery":
        flash(
            _(
                "You signed in with a recovery code. %(num)d codes are left.",
                num=services.remaining_recovery_codes(user),
            ),
            "info",
        )
    return redirect(safe_next(request.args.get("next")) or home_for(current_user), 303)


@bp.post("/logout")
@public
def logout():
    provider_logout = None
    if current_user.is_authenticated:
        services.end_session(current_user, session["sid"], utcnow())
        security_event("logout", current_user)
        if session.get("vzam") is True:  # and V-ZAM's session, where it can
            provider_logout = oidc.end_session_url()
    logout_user()
    session.clear()
    response = redirect(provider_logout or url_for("public.home"), 303)
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    return response


# -- password reset ----------------------------------------------------------


@bp.route("/password/forgot", methods=["GET", "POST"])
@public
@post_limit()
@submissions.one_time
def forgot_password():
    form = ForgotForm()
    if form.validate_on_submit():
        submissions.claim()
        services.request_password_reset(form.email.data, utcnow())
        return render_template("accounts/forgot.html", form=form, sent=True)
    render = invalid if form.is_submitted() else render_template
    return render("accounts/forgot.html", form=form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@public
@post_limit()
def reset_password(token):
    row = services.valid_token(token, "reset", utcnow())
    if row is None:
        return render_template("accounts/link_invalid.html"), 400
    form = PasswordForm()
    if form.validate_on_submit() and check_new_password(form, row.user):
        if services.reset_password(token, form.password.data, utcnow()) is None:
            return render_template("accounts/link_invalid.html"), 400
        logout_user()
        session.clear()
        flash(
            _(
                "Your password has been changed. Sign in with it and your "
                "authenticator code."
            ),
            "success",
        )
        return redirect(url_for(".login"), 303)
    render = invalid if form.is_submitted() else render_template
    return render("accounts/reset.html", form=form)


# -- the signed-in user's security settings ------------------------------------


@bp.get("/account")
@signed_in
def overview():
    return overview_page()


def overview_page(status=200, **forms):
    """The account page; ``forms`` are the forms sent back with their errors."""
    user = current_user._get_current_object()
    return render_template(
        "accounts/overview.html",
        codes_left=services.remaining_recovery_codes(user),
        confirm_form=ConfirmForm(formdata=None),
        profile_form=forms.get("profile_form") or ProfileForm(formdata=None, obj=user),
        email_form=forms.get("email_form") or EmailChangeForm(formdata=None),
        from_provider=services.from_provider(user),
    ), status


@bp.post("/account/notifications")
@signed_in
def notifications():
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    wanted = request.form.get("notify") == "1"
    services.set_notifications(current_user, wanted, current_user, utcnow())
    flash(
        _("E-mail notifications are on.")
        if wanted
        else _("E-mail notifications are off."),
        "success",
    )
    return redirect(url_for(".overview"), 303)


@bp.post("/account/sessions")
@signed_in
def end_other_sessions():
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    services.end_sessions(current_user)
    renew_current_session(current_user)
    security_event("other_sessions_ended", current_user)
    flash(_("You have been signed out everywhere else."), "success")
    return redirect(url_for(".overview"), 303)


def renew_current_session(user: User) -> None:
    """Keep this browser signed in after the session token was rotated."""
    auth_at = session.get("auth_at", now_ts())
    session.clear()
    begin_session(User.get_by_id(user.id))
    session["auth_at"], session["seen_at"] = auth_at, now_ts()


@bp.route("/account/password", methods=["GET", "POST"])
@signed_in
@post_limit()  # the current password is checked here: no guessing at speed
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if not services.passwords.check_password(
            current_user.password_hash, form.current.data
        ):
            form.current.errors.append(_("The current password is not correct."))
        elif check_new_password(form, current_user):
            services.change_password(current_user, form.password.data)
            renew_current_session(current_user)
            flash(
                _("Your password has been changed. Other sessions were signed out."),
                "success",
            )
            return redirect(url_for(".overview"), 303)
    render = invalid if form.is_submitted() else render_template
    return render("accounts/change_password.html", form=form)


@bp.route("/account/authenticator", methods=["GET", "POST"])
@signed_in
@post_limit()  # the current password is checked here: no guessing at speed
def new_authenticator():
    user = current_user._get_current_object()
    if not reauthenticated() or "current" in request.form:
        return reauth_step("accounts/new_authenticator.html")
    form = CodeForm()
    if form.validate_on_submit():
        codes = services.replace_authenticator(
            user, session.get("enrol"), form.code.data, utcnow()
        )
        if codes is not None:
            renew_current_session(user)
            session.pop("reauth_at", None)
            return recovery_codes_page(codes)
        form.code.errors.append(
            _(
                "That code does not match. Check the time on your "
                "phone and enter the newest code."
            )
        )
        return enrolment_page("accounts/new_authenticator.html", form, user, status=422)
    return enrolment_page("accounts/new_authenticator.html", form, user, fresh=True)


@bp.route("/account/recovery-codes", methods=["GET", "POST"])
@signed_in
@post_limit()  # the current password is checked here: no guessing at speed
def new_recovery_codes():
    if not reauthenticated() or "current" in request.form:
        return reauth_step("accounts/new_recovery_codes.html")
    form = ConfirmForm()
    if not form.validate_on_submit():
        return render_template("accounts/new_recovery_codes.html", confirm_form=form)
    session.pop("reauth_at", None)
    user = current_user._get_current_object()
    codes = services.replace_recovery_codes(user)
    renew_current_session(user)
    return recovery_codes_page(codes)


def reauthenticated() -> bool:
    return now_ts() - session.get("reauth_at", 0) <= 300


def reauth_step(template):
    """Ask for the password and a code; on success remember it for 5 minutes."""
    form = ReauthForm()
    if form.validate_on_submit():
        if services.reauthenticate(
            current_user, form.current.data, form.code.data, utcnow()
        ):
            session["reauth_at"] = now_ts()
            return redirect(request.path, 303)
        form.code.errors.append(_("The password or the code is not correct."))
    render = invalid if form.is_submitted() else render_template
    return render(template, reauth_form=form)


# -- contact form ------------------------------------------------------------


@bp.route("/contact", methods=["GET", "POST"])
@public
@limiter.limit("5/minute;30/hour", methods=["POST"])
@submissions.one_time
def contact():
    form = ContactRequestForm()
    if not form.validate_on_submit():
        return (invalid if form.is_submitted() else render_template)(
            "accounts/contact.html", form=form
        )
    if not form.website.data:  # the honeypot stays empty for people
        submissions.claim()
        services.send_contact_request(
            {name: form[name].data for name in services.CONTACT_FIELDS}, utcnow()
        )
    return render_template("accounts/contact.html", form=None, sent=True)


# -- the signed-in user's profile and e-mail address --------------------------


@bp.post("/account/profile")
@signed_in
def profile():
    user = current_user._get_current_object()
    form = ProfileForm()
    if services.from_provider(user):  # V-ZAM's: the name comes from there
        del form.first_name, form.last_name
    if not form.validate_on_submit():
        return overview_page(422, profile_form=form)
    changed = services.update_profile(user, form.data, user, utcnow())
    flash(
        _("Your details have been saved.") if changed else _("Nothing was changed."),
        "success",
    )
    return redirect(url_for(".overview"), 303)


@bp.post("/account/email")
@signed_in
@post_limit()
def change_email():
    user = current_user._get_current_object()
    form = EmailChangeForm()
    if services.from_provider(user):
        abort(403)  # V-ZAM's people change their address in V-ZAM
    # A stolen session alone must not move the account: fresh proof first.
    fresh = form.validate_on_submit() and services.reauthenticate(
        user, form.current.data, form.code.data, utcnow()
    )
    if form.is_submitted() and not form.errors and not fresh:
        form.code.errors.append(_("The password or the code is not correct."))
    if fresh:
        try:
            sent = services.request_email_change(user, form.email.data, user, utcnow())
        except services.EmailTaken:
            form.email.errors.append(
                _("This address belongs to another account of the portal.")
            )
        else:
            flash(
                _(
                    "We have sent a link to %(email)s. Your address changes when "
                    "you open it (within 24 hours).",
                    email=form.email.data.strip().lower(),
                )
                if sent
                else _("This is your address already."),
                "success",
            )
            return redirect(url_for(".overview"), 303)
    return overview_page(422, email_form=form)


@bp.route("/account/email/<token>", methods=["GET", "POST"])
@public
@post_limit()
def confirm_email(token):
    now = utcnow()
    row = services.valid_token(token, "email_change", now)
    if row is None:
        return render_template("accounts/link_invalid.html"), 400
    form = ConfirmForm()
    if not form.validate_on_submit():
        return render_template(
            "accounts/confirm.html", form=form, kind="email", new_email=row.new_email
        )
    try:
        user = services.confirm_email_change(token, now)
    except services.EmailTaken:
        return render_template("accounts/email_taken.html"), 409
    if user is None:
        return render_template("accounts/link_invalid.html"), 400
    flash(_("Your e-mail address is now %(email)s.", email=user.email), "success")
    own = current_user.is_authenticated and current_user.id == user.id
    target = ".overview" if own else ".login"
    return redirect(url_for(target), 303)


@bp.get("/account/colleagues")
@roles_required("customer", "partner")
def colleagues():
    return render_template(
        "accounts/colleagues.html", people=services.colleagues(current_user)
    )

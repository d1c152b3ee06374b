"""The engineers' list of mail to sort (hezo/mail/triage.py does the work)."""

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import submissions
from ..db import utcnow
from ..extensions import posts_limit
from ..mail import triage
from ..security import staff_required
from . import bp


@bp.get("/mail")
@staff_required
def mail_triage():
    return render_template("staff/mail_triage.html", **triage.waiting_and_rejected())


@bp.post("/mail/<int:mail_id>/ask-to-register")
@staff_required
@posts_limit()
@submissions.one_time
def mail_ask_to_register(mail_id: int):
    try:
        mail = triage.waiting_mail(mail_id)
    except triage.MailTaken:
        return triage.already_handled()
    submissions.claim()
    if not triage.ask_to_register(mail, current_user, utcnow()):
        return triage.already_handled()
    flash(_("The sender has been asked to register."), "success")
    return redirect(url_for("staff.mail_triage"), 303)

"""Settings in the database: the contact facts every page, e-mail and PDF
shows, the engineers' team address and the knowledge base. An empty field
means the configuration's default (``hezo/settings.py``)."""

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Length, ValidationError

from .. import settings
from ..db import utcnow
from ..security import admin_required
from . import bp
from .views import section

LABELS = {
    "HELPLINE_PHONE": _l("Help line phone"),
    "HELP_EMAIL": _l("Help e-mail"),
    "ESCALATION_PHONE": _l("Escalation phone"),
    "ESCALATION_EMAIL": _l("Escalation e-mail"),
    "ENGINEERS_EMAIL": _l("Engineers' team address (new cases, reminders)"),
    "KNOWLEDGE_BASE_URL": _l("Knowledge base address"),
}
ERRORS = {
    "phone": _l("Write the number in international notation, starting with +."),
    "email": _l("This is not a valid e-mail address."),
    "url": _l("Give an address starting with https:// or http://."),
}

#: The input's type per kind: the phone's keyboard for numbers, addresses.
INPUT_TYPES = {"phone": "tel", "email": "email", "url": "url"}


def _kind(name: str) -> str:
    if name in settings.PHONES:
        return "phone"
    return "email" if name in settings.EMAILS else "url"


def _check(name: str):
    def check(form, field):
        try:
            field.data = settings.checked(name, field.data or "")
        except ValueError:
            raise ValidationError(ERRORS[_kind(name)]) from None

    return check


class SettingsForm(FlaskForm):
    pass


for _name in settings.EDITABLE:
    setattr(
        SettingsForm,
        _name.lower(),
        StringField(
            LABELS[_name], validators=[Length(max=500), _check(_name)], default=""
        ),
    )


@bp.route("/settings", methods=["GET", "POST"])
@admin_required
def settings_page():
    saved = settings.saved()
    form = SettingsForm(data={n.lower(): saved.get(n, "") for n in settings.EDITABLE})
    if form.validate_on_submit():
        changes = {n: form[n.lower()].data for n in settings.EDITABLE}
        if settings.save(changes, current_user, utcnow()):
            flash(_("The settings are saved; every page shows them now."), "success")
        else:
            flash(_("Nothing was changed."), "info")
        return redirect(url_for(".settings_page"), 303)
    rows = [
        (form[n.lower()], settings.defaults_for(n), n in saved, INPUT_TYPES[_kind(n)])
        for n in settings.EDITABLE
    ]
    status = 422 if form.is_submitted() else 200
    return render_template("admin/settings.html", form=form, rows=rows), status


section(
    "admin.settings_page",
    _l("Settings"),
    _l(
        "The help line, help and escalation contacts, the engineers' team "
        "address and the knowledge base, as pages, e-mails and PDFs show them."
    ),
)

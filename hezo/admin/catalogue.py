"""The console's service catalogue: the packages and the custom time variants
(create, change), and the days the office is closed beyond public holidays
(add, remove). Every change is audited (``hezo/catalogue_db.py``)."""

from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from .. import catalogue_db, sla, submissions
from ..accounts.forms import NO_CRLF, REQUIRED
from ..catalogue import MAX_HOURS, NEXT_BUSINESS_DAY
from ..db import utcnow
from ..inputs import plain_text
from ..security import admin_required
from . import bp
from .views import section

WEEKDAYS = [
    SelectChoice("1", _l("Monday")),
    SelectChoice("2", _l("Tuesday")),
    SelectChoice("3", _l("Wednesday")),
    SelectChoice("4", _l("Thursday")),
    SelectChoice("5", _l("Friday")),
    SelectChoice("6", _l("Saturday")),
    SelectChoice("7", _l("Sunday")),
]
HOURS_RANGE = _l("Enter a whole number from %(min)s to %(max)s.")


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class VariantForm(FlaskForm):
    one_time_submission = True  # hezo/submissions.py

    code = StringField(
        _l("Code (as in the contract register)"),
        validators=[
            REQUIRED,
            Regexp(
                r"[A-Za-z0-9][A-Za-z0-9._-]{1,19}\Z",
                message=_l(
                    "2 to 20 letters, digits, dots, dashes or underscores, "
                    "starting with a letter or digit."
                ),
            ),
        ],
        filters=[lambda v: (v or "").strip()],
    )
    name = StringField(
        _l("Name in English"),
        validators=[REQUIRED, Length(max=160), NO_CRLF],
        filters=[plain_text],  # shown to customers: no direction overrides
    )
    name_pl = StringField(
        _l("Name in Polish"),
        validators=[REQUIRED, Length(max=160), NO_CRLF],
        filters=[plain_text],  # shown to customers: no direction overrides
    )
    support = BooleanField(_l("Technical support and OS updates"))
    onsite = BooleanField(_l("On-site service"))
    days = CheckboxesField(
        _l("Days of the request window"),
        choices=WEEKDAYS,
        validators=[InputRequired(message=_l("Choose at least one day."))],
    )
    opens = IntegerField(
        _l("Window opens at (hour, Warsaw time)"),
        validators=[REQUIRED, NumberRange(0, 23, message=HOURS_RANGE)],
    )
    closes = IntegerField(
        _l("Window closes at (hour, 24 for midnight)"),
        validators=[REQUIRED, NumberRange(1, 24, message=HOURS_RANGE)],
    )
    holidays = BooleanField(
        _l("Closed on public holidays and on the days the office is closed")
    )
    response_hours = IntegerField(
        _l("Response time (hours within the window)"),
        validators=[REQUIRED, NumberRange(1, MAX_HOURS, message=HOURS_RANGE)],
    )
    replacement = SelectField(
        _l("Hardware replacement or on-site time"),
        choices=[
            SelectChoice("", _l("none")),
            SelectChoice(NEXT_BUSINESS_DAY, _l("next business day")),
            SelectChoice("hours", _l("a number of hours within the window")),
        ],
    )
    replacement_hours = IntegerField(
        _l("Replacement or on-site time (hours)"),
        validators=[Optional(), NumberRange(1, MAX_HOURS, message=HOURS_RANGE)],
    )

    def validate_closes(self, field):
        if self.opens.data is not None and field.data is not None:
            if field.data <= self.opens.data:
                raise ValidationError(_("The window must close after it opens."))

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        hours = self.replacement_hours
        if self.replacement.data == "hours" and hours.data is None and not hours.errors:
            hours.errors = [*hours.errors, _("Enter the number of hours.")]
            valid = False
        return valid

    def terms(self) -> catalogue_db.VariantTerms:
        replacement = self.replacement.data
        if replacement == "hours":
            replacement = f"{self.replacement_hours.data}H"
        return catalogue_db.VariantTerms(
            code=self.code.data,
            name=self.name.data.strip(),
            name_pl=self.name_pl.data.strip(),
            support=self.support.data,
            onsite=self.onsite.data,
            days="".join(sorted(set(self.days.data))),
            opens=self.opens.data,
            closes=self.closes.data,
            holidays=self.holidays.data,
            response_hours=self.response_hours.data,
            replacement=replacement,
        )

    def fill(self, row) -> None:
        """The form's values from a stored variant (its edit page)."""
        for name in ("code", "name", "name_pl", "support", "onsite", "opens"):
            getattr(self, name).data = getattr(row, name)
        self.closes.data, self.holidays.data = row.closes, row.holidays
        self.days.data = list(row.days)
        self.response_hours.data = row.response_hours
        hours = row.replacement[:-1] if row.replacement.endswith("H") else ""
        self.replacement.data = "hours" if hours else row.replacement
        self.replacement_hours.data = int(hours) if hours else None


class ClosedDayForm(FlaskForm):
    day = DateField(
        _l("Day"),
        validators=[InputRequired(message=_l("Enter a date."))],
    )
    note = StringField(_l("Reason (optional)"), validators=[Length(max=120), NO_CRLF])


@bp.get("/catalogue")
@admin_required
def catalogue():
    return render_template(
        "admin/catalogue.html", **list_context(ClosedDayForm(formdata=None))
    )


def list_context(closed_form: ClosedDayForm) -> dict:
    packages, variants = catalogue_db.packages_and_variants()
    today = sla.local_day(utcnow())
    return {
        "packages": [(None, catalogue_db.plan_of(r)) for r in packages],
        "variants": [(r.id, catalogue_db.plan_of(r)) for r in variants],
        "closed_days": catalogue_db.closed_days(since=today),
        "closed_form": closed_form,
    }


@bp.route("/catalogue/variants/new", methods=["GET", "POST"])
@admin_required
@submissions.one_time
def new_variant():
    form = VariantForm()
    if request.method == "GET":
        form.days.data, form.opens.data, form.closes.data = list("12345"), 9, 17
        form.holidays.data, form.response_hours.data = True, 1
        return render_template("admin/variant.html", form=form, row=None)
    return save(form, None)


@bp.route("/catalogue/variants/<int:variant_id>", methods=["GET", "POST"])
@admin_required
@submissions.one_time
def edit_variant(variant_id: int):
    row = catalogue_db.variant(variant_id)
    if row is None:
        abort(404)
    form = VariantForm()
    if request.method == "GET":
        form.fill(row)
        return render_template("admin/variant.html", form=form, row=row)
    # The code stays: contracts of the register name the variant by it.
    form.code.data = row.code
    return save(form, row)


@bp.route("/catalogue/variants/<int:variant_id>/delete", methods=["GET", "POST"])
@admin_required
def delete_variant(variant_id: int):
    """GET: the question, with how many contracts have the variant; POST:
    the deletion (refused while a contract has it)."""
    row = catalogue_db.variant(variant_id)
    if row is None:
        if catalogue_db.ServiceVariant.get_or_none(id=variant_id):
            abort(404)  # a package: not deleted from the console
        # Deleted already (a second click, or another administrator).
        flash(_("This variant no longer exists."), "info")
        return redirect(url_for("admin.catalogue"), 303)
    if request.method == "GET":
        return render_template(
            "admin/variant_delete.html",
            row=row,
            plan=catalogue_db.plan_of(row),
            naming=catalogue_db.contracts_naming(row),
        )
    naming = catalogue_db.delete_variant(row, current_user, utcnow())
    if naming:
        flash(
            ngettext(
                "%(num)d contract has the variant %(code)s: it cannot be deleted.",
                "%(num)d contracts have the variant %(code)s: it cannot be deleted.",
                naming,
                code=row.code,
            ),
            "error",
        )
        form = VariantForm(formdata=None)
        form.fill(row)
        return render_template("admin/variant.html", form=form, row=row), 409
    flash(_("The variant %(code)s has been deleted.", code=row.code), "success")
    return redirect(url_for("admin.catalogue"), 303)


def save(form: VariantForm, row):
    if form.validate():
        submissions.claim()
        try:
            catalogue_db.save_variant(form.terms(), current_user, utcnow(), row)
        except catalogue_db.CodeTaken:
            form.code.errors = [_("Another package or variant already has this code.")]
        else:
            flash(
                _("The variant %(code)s has been saved.", code=form.code.data),
                "success",
            )
            return redirect(url_for("admin.catalogue"), 303)
    return render_template("admin/variant.html", form=form, row=row), 422


@bp.post("/catalogue/closed-days")
@admin_required
def add_closed_day():
    form = ClosedDayForm()
    if not form.validate():
        return render_template("admin/catalogue.html", **list_context(form)), 422
    day: date = form.day.data
    if catalogue_db.add_closed_day(day, form.note.data or "", current_user, utcnow()):
        flash(_("%(day)s is now a closed day.", day=day.isoformat()), "success")
    else:
        flash(_("%(day)s was already a closed day.", day=day.isoformat()), "info")
    return redirect(url_for("admin.catalogue"), 303)


@bp.post("/catalogue/closed-days/<day>/remove")
@admin_required
def remove_closed_day(day: str):
    try:
        moment = date.fromisoformat(day)
    except ValueError:
        abort(404)
    if catalogue_db.remove_closed_day(moment, current_user, utcnow()):
        flash(_("%(day)s is a working day again.", day=day), "success")
    return redirect(url_for("admin.catalogue"), 303)


section(
    "admin.catalogue",
    _l("Service catalogue"),
    _l(
        "The packages, the custom time variants priced for a customer, and the "
        "days the office is closed beyond public holidays."
    ),
)

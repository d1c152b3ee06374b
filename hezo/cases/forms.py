from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    HiddenField,
    MultipleFileField,
    RadioField,
    SelectField,
    StringField,
    TelField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, InputRequired, Length, Optional, Regexp

from ..accounts.forms import NAME, NO_CRLF, PHONE, REQUIRED
from ..identifiers import normalize_serial
from ..models.cases import STATUSES

SEVERITIES = [
    SelectChoice("critical", _l("Critical — production is down")),
    SelectChoice("major", _l("Major — a service is degraded")),
    SelectChoice("minor", _l("Minor — a question or a fault with a workaround")),
]
MAX_TEXT = 20000


class SiteForm(FlaskForm):
    """Where a replacement goes or an engineer comes, and whom they meet there."""

    site_address = TextAreaField(
        _l("Delivery or site address"),
        validators=[Optional(), Length(max=500)],
        **NAME,
    )
    site_contact_name = StringField(
        _l("On-site contact person"),
        validators=[Optional(), Length(max=160), NO_CRLF],
        **NAME,
    )
    site_contact_phone = TelField(
        _l("On-site contact phone"), validators=[Optional(), PHONE]
    )

    def site_fields(self) -> dict:
        return {
            "site_address": (self.site_address.data or "").strip(),
            "site_contact_name": (self.site_contact_name.data or "").strip(),
            "site_contact_phone": (self.site_contact_phone.data or "").strip(),
        }


class CaseForm(SiteForm):
    one_time_submission = True  # hezo/submissions.py
    contract = SelectField(_l("Contract"), validators=[REQUIRED], validate_choice=False)
    serial = SelectField(
        _l("Serial number"),
        validators=[REQUIRED],
        validate_choice=False,
        # A serial in the transitional "(H)-" notation (old links, typed
        # by hand) is the device of the new one.
        filters=[normalize_serial],
    )
    subject = StringField(
        _l("Subject"), validators=[REQUIRED, Length(max=200), NO_CRLF]
    )
    description = TextAreaField(
        _l("Description"), validators=[REQUIRED, Length(max=MAX_TEXT)]
    )
    severity = RadioField(
        _l("Severity"),
        choices=SEVERITIES,
        default="major",
        validators=[InputRequired(message=_l("Choose the severity."))],
    )
    contact_phone = TelField(_l("Contact phone"), validators=[Optional(), PHONE])
    files = MultipleFileField(_l("Attachments"))
    share = BooleanField(_l("Let the partner read this case"), default=False)
    # The partner the consent text named: a grant holds only for that company.
    consent_partner = HiddenField(label="")

    def case_fields(self) -> dict:
        """The typed case fields, as ``open_case`` takes them."""
        return {
            "subject": self.subject.data.strip(),
            "description": self.description.data,
            "severity": self.severity.data,
            "contact_phone": self.contact_phone.data or "",
        }


class MessageForm(FlaskForm):
    one_time_submission = True  # hezo/submissions.py
    body = TextAreaField(
        _l("Your message"), validators=[REQUIRED, Length(max=MAX_TEXT)]
    )
    files = MultipleFileField(_l("Attachments"))
    internal = BooleanField(
        _l("Internal note (never shown to the customer or partner)")
    )


class EscalationForm(FlaskForm):
    one_time_submission = True  # hezo/submissions.py
    reason = TextAreaField(
        _l("Reason for the escalation"), validators=[REQUIRED, Length(max=2000)]
    )


class ConsentForm(FlaskForm):
    # A button, never shown with a label. Without one, WTForms would translate
    # the field's name, which makes Flask-WTF read its catalogue from disk on
    # every request that shows the form.
    grant = BooleanField(label="")
    partner = HiddenField(label="")  # the partner the button named


# -- the engineers' panel of the case page --------------------------------------

STATUS_CHOICES = [
    SelectChoice("in_verification", _l("Start verification")),
    SelectChoice("waiting_for_customer", _l("Wait for the customer")),
    SelectChoice("resolved", _l("Resolved without hardware")),
    SelectChoice("validated", _l("Validate: replacement approved")),
    SelectChoice("replacement_sent", _l("Replacement sent")),
    SelectChoice("awaiting_return", _l("Replacement delivered: await the return")),
    SelectChoice("closed", _l("Close")),
]


class AssignForm(FlaskForm):
    assignee = SelectField(_l("Assign to"), validate_choice=False)
    # The engineer the page showed ("none" for nobody): the change applies
    # only if nobody reassigned the case in between.
    seen = HiddenField(validators=[InputRequired(), Regexp(r"(none|[0-9]{1,18})\Z")])


class TransitionForm(FlaskForm):
    status = SelectField(_l("New status"), choices=STATUS_CHOICES)
    # The status the page showed: the move applies only if the case is still in it.
    seen = HiddenField(validators=[InputRequired(), AnyOf(STATUSES)])
    carrier = StringField(
        _l("Carrier"), validators=[Optional(), Length(max=60), NO_CRLF]
    )
    waybill = StringField(
        _l("Waybill number"), validators=[Optional(), Length(max=60), NO_CRLF]
    )
    delivered_at = DateTimeLocalField(
        _l("Delivered at (Warsaw time)"), validators=[Optional()]
    )
    return_waybill = StringField(
        _l("Waybill of the returned unit"),
        validators=[Optional(), Length(max=60), NO_CRLF],
    )
    note = TextAreaField(
        _l("Note for the customer"), validators=[Optional(), Length(max=2000)]
    )


class ColleagueForm(FlaskForm):
    """A colleague to add as a watcher or make the contact (checked by the
    service against the case's company, whatever the page offered)."""

    user = StringField(_l("Colleague"), validators=[REQUIRED, Length(max=20)])


class ClosingForm(FlaskForm):
    """The customer's move: mark solved, confirm the resolution, or reopen."""

    action = HiddenField(
        validators=[InputRequired(), AnyOf(("solved", "confirm", "reopen"))]
    )
    # The status the page showed: the move applies only if the case is still in it.
    seen = HiddenField(validators=[InputRequired(), AnyOf(STATUSES)])
    note = TextAreaField(
        _l("Note for the engineers (optional)"),
        validators=[Optional(), Length(max=2000)],
    )


RATING_CHOICES = [
    SelectChoice("5", _l("5 — very satisfied")),
    SelectChoice("4", _l("4 — satisfied")),
    SelectChoice("3", _l("3 — neither")),
    SelectChoice("2", _l("2 — dissatisfied")),
    SelectChoice("1", _l("1 — very dissatisfied")),
]


class SatisfactionForm(FlaskForm):
    rating = RadioField(
        _l("How satisfied are you with how the case was handled?"),
        choices=RATING_CHOICES,
        validators=[InputRequired(message=_l("Choose a rating from 1 to 5."))],
    )
    comment = TextAreaField(
        _l("Comment (optional)"), validators=[Optional(), Length(max=2000)]
    )

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateTimeLocalField,
    HiddenField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, Email, InputRequired, Length, Optional, Regexp

from ..accounts.forms import NO_CRLF, PHONE
from ..cases.forms import CaseForm
from ..models.cases import STATUSES

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


class PhoneCaseForm(CaseForm):
    share = None  # consent is the customer's own decision, never the engineer's
    consent_partner = None
    channel = SelectField(
        _l("Received by"),
        choices=[
            SelectChoice("phone", _l("phone")),
            SelectChoice("email", _l("e-mail")),
        ],
    )
    reporter = SelectField(_l("Reporter"), validate_choice=False)
    contact_name = StringField(
        _l("Contact name"), validators=[Optional(), Length(max=160), NO_CRLF]
    )
    contact_email = StringField(
        _l("Contact e-mail"),
        validators=[
            Optional(),
            Length(max=254),
            NO_CRLF,
            Email(
                message=_l("Enter a valid e-mail address."), check_deliverability=False
            ),
        ],
    )
    contact_phone = StringField(_l("Contact phone"), validators=[Optional(), PHONE])

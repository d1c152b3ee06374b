"""The engineers' forms of their own pages (those of the case page, the staff
panel, are in ``cases.forms``)."""

from flask_babel import lazy_gettext as _l
from wtforms import SelectField, StringField
from wtforms.validators import Email, Length, Optional

from ..accounts.forms import NAME, NO_CRLF, PHONE
from ..cases.forms import CaseForm
from ..vocabulary import choices


class PhoneCaseForm(CaseForm):
    share = None  # consent is the customer's own decision, never the engineer's
    consent_partner = None
    channel = SelectField(
        _l("Received by"),
        choices=choices("channel", ("phone", "email")),
    )
    reporter = SelectField(_l("Reporter"), validate_choice=False)
    contact_name = StringField(
        _l("Contact name"), validators=[Optional(), Length(max=160), NO_CRLF], **NAME
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

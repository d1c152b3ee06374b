"""One form per screen. Fields are bound by name only: nothing else a client
sends (role, company, flags) reaches the models."""

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectField,
    StringField,
    TelField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Email, InputRequired, Length, Optional, Regexp

from ..identifiers import normalize_serial
from ..inputs import LINE_BREAKS, plain_text

# No character that breaks a line anywhere, to the very end ("$" would let a
# trailing "\n" through).
NO_CRLF = Regexp(
    f"[^{re.escape(LINE_BREAKS)}]*\\Z",
    message=_l("Line breaks are not allowed here."),
)
# No example number in the message: the only numbers a page shows are ours.
PHONE = Regexp(
    r"^\+?[0-9 ()-]{6,20}$",
    message=_l("Enter a phone number: digits, spaces or dashes, + for abroad."),
)
#: A person's words shown to others (names, roles): without direction
#: overrides (U+202E...), which would show them reversed.
NAME = {"filters": [plain_text]}
REQUIRED = InputRequired(message=_l("This field is required."))


def email_field(label):
    return EmailField(
        label,
        validators=[
            REQUIRED,
            Length(max=254),
            NO_CRLF,
            Email(
                message=_l("Enter a valid e-mail address."), check_deliverability=False
            ),
        ],
    )


class CompanyForm(FlaskForm):
    nip = StringField(_l("Company tax ID (NIP)"), validators=[REQUIRED, Length(max=16)])
    contract = StringField(
        _l("Service contract number"), validators=[REQUIRED, Length(max=40), NO_CRLF]
    )
    serial = StringField(
        _l("Serial number of a covered device"),
        validators=[REQUIRED, Length(max=64), NO_CRLF],
        filters=[normalize_serial],  # shown again in the new notation
    )


class ContactForm(FlaskForm):
    one_time_submission = True  # hezo/submissions.py
    first_name = StringField(
        _l("First name"), validators=[REQUIRED, Length(max=80), NO_CRLF], **NAME
    )
    last_name = StringField(
        _l("Last name"), validators=[REQUIRED, Length(max=80), NO_CRLF], **NAME
    )
    email = email_field(_l("Work e-mail"))
    phone = TelField(_l("Phone"), validators=[REQUIRED, PHONE])
    language = SelectField(
        _l("Preferred language"),
        choices=[SelectChoice("pl", "Polski"), SelectChoice("en", "English")],
    )
    # Offered only when the proven serial has several services (choices are
    # set by the view). Optional, and never a reason to refuse the step: an
    # unknown value keeps the proven contract's service.
    service_code = SelectField(
        _l("Service"), validators=[Optional()], validate_choice=False, choices=[]
    )


class PasswordForm(FlaskForm):
    password = PasswordField(_l("Password"), validators=[REQUIRED])
    confirm = PasswordField(_l("Repeat the password"), validators=[REQUIRED])


class CodeForm(FlaskForm):
    code = StringField(_l("Code"), validators=[REQUIRED, Length(max=20)])


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[REQUIRED, Length(max=254)])
    password = PasswordField(_l("Password"), validators=[REQUIRED, Length(max=1024)])


class ForgotForm(FlaskForm):
    one_time_submission = True  # hezo/submissions.py
    email = email_field(_l("E-mail"))


class ChangePasswordForm(FlaskForm):
    current = PasswordField(
        _l("Current password"), validators=[REQUIRED, Length(max=1024)]
    )
    password = PasswordField(_l("New password"), validators=[REQUIRED])
    confirm = PasswordField(_l("Repeat the new password"), validators=[REQUIRED])


class ReauthForm(FlaskForm):
    """Fresh authentication for sensitive changes: password and a second factor."""

    current = PasswordField(
        _l("Current password"), validators=[REQUIRED, Length(max=1024)]
    )
    code = StringField(
        _l("Code from your authenticator app or a recovery code"),
        validators=[REQUIRED, Length(max=20)],
    )


class ConfirmForm(FlaskForm):
    """A button that turns a link opened by GET into a deliberate POST."""


class ContactRequestForm(FlaskForm):
    one_time_submission = True  # hezo/submissions.py
    name = StringField(_l("Your name"), validators=[REQUIRED, Length(max=160), NO_CRLF])
    company = StringField(
        _l("Company"), validators=[Optional(), Length(max=255), NO_CRLF]
    )
    nip = StringField(
        _l("Company tax ID (NIP)"), validators=[Optional(), Length(max=16)]
    )
    email = email_field(_l("E-mail"))
    phone = TelField(_l("Phone"), validators=[Optional(), PHONE])
    message = TextAreaField(_l("Message"), validators=[REQUIRED, Length(max=5000)])
    # Honeypot: hidden from people by CSS; bots fill it in.
    website = StringField(_l("Leave this field empty"), validators=[Optional()])
    agree = BooleanField(
        _l("I agree that HEZO contacts me about this message."),
        validators=[InputRequired(message=_l("Please confirm."))],
    )


LANGUAGES = [SelectChoice("pl", "Polski"), SelectChoice("en", "English")]


class ProfileForm(FlaskForm):
    """The signed-in user's details (the view drops the name for V-ZAM's people)."""

    first_name = StringField(
        _l("First name"), validators=[REQUIRED, Length(max=80), NO_CRLF], **NAME
    )
    last_name = StringField(
        _l("Last name"), validators=[REQUIRED, Length(max=80), NO_CRLF], **NAME
    )
    phone = TelField(_l("Phone"), validators=[Optional(), PHONE])
    position = StringField(
        _l("Role in your company"),
        validators=[Optional(), Length(max=80), NO_CRLF],
        **NAME,
    )
    language = SelectField(_l("Language of our e-mails"), choices=LANGUAGES)


class EmailChangeForm(ReauthForm):
    """A new address, asked with fresh proof (password and a second factor):
    a stolen session alone cannot move the account to another mailbox."""

    email = email_field(_l("New e-mail address"))

"""The privacy forms: asking for erasure, and staff's decision on it."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length


class ErasureForm(FlaskForm):
    confirm = BooleanField(
        _l("I understand that my account will be closed for good."),
        validators=[
            InputRequired(message=_l("Tick the box to confirm that you want this."))
        ],
    )


class DecisionForm(FlaskForm):
    decision = RadioField(
        _l("Decision"),
        choices=[
            SelectChoice("approve", _l("Approve and erase")),
            SelectChoice("refuse", _l("Refuse")),
        ],
        validators=[InputRequired(message=_l("Choose to approve or to refuse."))],
    )
    note = TextAreaField(
        _l("Reason (sent to the person when refused)"),
        validators=[Length(max=1000)],
    )

"""An administrator's "disable"/"enable" button on a person's page, one way
for the engineers' account page and the console's people page: the form
(CSRF only), its checks and the words that follow it."""

from flask import abort, request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm

from . import services


class ActionForm(FlaskForm):
    """CSRF only."""


ERASED = _l(
    "This account was erased at its owner's request: it cannot be enabled again."
)
ENABLED = _l("The account is enabled.")
DISABLED = _l("The account is disabled.")


def apply_enabled_form(user, actor) -> tuple[bool, object]:
    """The posted ``enabled`` field applied to ``user`` by ``actor``:
    (done, the message to flash). A form without its CSRF token, or one about
    the actor's own account, is refused (400); an erased account is never
    enabled again (not done, with why)."""
    if not ActionForm().validate_on_submit() or user.id == actor.id:
        abort(400)
    enabled = request.form.get("enabled") == "1"
    try:
        services.set_enabled(user, enabled, actor)
    except services.AccountErased:
        return False, ERASED
    return True, ENABLED if enabled else DISABLED

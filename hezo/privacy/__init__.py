"""GDPR rights: the privacy page, a copy of one's data (Arts. 15, 20), erasure
(Art. 17) approved by staff, and the retention periods (``hezo run-retention``)."""

from flask import Blueprint

bp = Blueprint("privacy", __name__, url_prefix="/privacy")


@bp.app_template_global()
def author_label(name: str) -> str:
    """A message author's name as shown: an erased person is "former user"."""
    from flask_babel import gettext

    from .services import FORMER_USER

    return gettext("former user") if name == FORMER_USER else name


@bp.app_template_filter("iso_moment")
def iso_moment(value: str | None) -> str:
    """An ISO timestamp of the export's data as the ``datetime`` filter shows it."""
    from datetime import datetime

    from ..i18n import format_local_datetime

    return format_local_datetime(datetime.fromisoformat(value)) if value else "—"


from . import views  # noqa: E402,F401

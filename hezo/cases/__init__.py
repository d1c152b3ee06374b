"""Support cases: reporting, the dialogue, files, consent, escalation, PDF."""

from flask import Blueprint

bp = Blueprint("cases", __name__, url_prefix="/cases")

from . import closing_views, views  # noqa: E402,F401

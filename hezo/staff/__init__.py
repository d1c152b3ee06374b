"""The engineers' workspace: queue, case work, cases taken by phone or e-mail."""

from flask import Blueprint

bp = Blueprint("staff", __name__, url_prefix="/staff")

from . import accounts, satisfaction, triage_views, views  # noqa: E402,F401

"""Service-level reports: per month, the response, delivery and return
clocks kept, escalations and satisfaction, for staff (every customer) and for
each customer company (its own cases only)."""

from flask import Blueprint

bp = Blueprint("reports", __name__, url_prefix="/reports")

from . import views  # noqa: E402,F401

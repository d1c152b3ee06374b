"""The customer's contracts and the serial numbers they cover."""

from flask import Blueprint

bp = Blueprint("contracts", __name__, url_prefix="/contracts")

from . import views  # noqa: E402,F401

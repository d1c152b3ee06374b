"""Pages for everybody: the landing page and the language entry point."""

from flask import Blueprint

bp = Blueprint("public", __name__)
root_bp = Blueprint("root", __name__)

from . import views  # noqa: E402,F401

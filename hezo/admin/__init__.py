"""The administrators' console: what was only on the command line or in
files inside the package (imports, people, settings, the service catalogue,
the audit log), in the browser. One module per section; each registers its
routes on ``bp`` and its entry in ``SECTIONS`` (the console's start page)."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

# The sections, each adding its card to the start page in this order.
from . import people, settings, views  # noqa: E402,F401

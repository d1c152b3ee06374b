"""The administrators' console: what was only on the command line or in
files inside the package (imports, people, settings, the service catalogue,
the audit log), in the browser. One module per section; each registers its
routes on ``bp`` and its entry in ``SECTIONS`` (the console's start page)."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from . import (  # noqa: E402 (one section module a line)
    audit_log,  # noqa: F401
    catalogue,  # noqa: F401
    imports,  # noqa: F401
    people,  # noqa: F401
    settings,  # noqa: F401
    views,  # noqa: F401
)

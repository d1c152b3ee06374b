"""The customer's page of sharing: which cases a partner may read, and its reads.

A customer's page, not a partner's: it keeps the URL it had in the partner
blueprint (``/<lang>/partner/sharing``), so links and bookmarks still work.
"""

from flask import Blueprint

bp = Blueprint("sharing", __name__, url_prefix="/partner")

from . import views  # noqa: E402,F401

"""Resellers: the cases their customers chose to share with them, read only."""

from flask import Blueprint

bp = Blueprint("partners", __name__, url_prefix="/partner")

from . import views, workspace_views  # noqa: E402,F401

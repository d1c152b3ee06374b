"""Accounts: registration by contract proof, TOTP, sign-in, recovery, invitations."""

from flask import Blueprint

bp = Blueprint("accounts", __name__)

from . import oidc, views, vzam  # noqa: E402,F401

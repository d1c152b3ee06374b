"""Flask extensions, created unbound and bound to the app in ``create_app``."""

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf import CSRFProtect

babel = Babel()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def _account_key() -> str:
    from flask_login import current_user

    user_id = getattr(current_user, "id", None)
    return f"account:{user_id}" if user_id else get_remote_address()


def posts_limit():
    """Per account: messages and new cases (and so uploads) a minute and an hour."""
    from flask import current_app

    return limiter.limit(
        lambda: current_app.config["POSTS_RATE_LIMIT"],
        key_func=_account_key,
        methods=["POST"],
    )

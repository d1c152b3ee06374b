"""Flask extensions, created unbound and bound to the app in ``create_app``."""

from functools import wraps

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf import CSRFProtect

babel = Babel()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])

#: The views whose GETs are counted (V-ZAM's sign-in start and callback, see
#: ``limit_gets``). Every other limit counts POSTs only, so any other GET (and
#: HEAD, OPTIONS) skips the limiter: its check cost ~0.25 ms of CPU a page.
GET_LIMITED_VIEWS: set = set()


def limit_gets(limit):
    """Like ``limiter.limit(limit)`` for a view whose GETs are limited too."""
    decorate = limiter.limit(limit)

    def register(view):
        limited = decorate(view)
        GET_LIMITED_VIEWS.add(limited)
        return limited

    return register


def counting_posts(decorate):
    """``decorate`` (a ``limiter.limit(..., methods=["POST"])``) for a view,
    whose other requests (its GETs) then go to the view itself: Flask-
    Limiter's wrapper looks the request up on each call, ~0.1 ms of CPU,
    only to find it exempt. POSTs go through the limiter as before."""

    def register(view):
        limited = decorate(view)

        @wraps(limited)
        def dispatch(*args, **kwargs):
            if _unlimited_read():
                return view(*args, **kwargs)
            return limited(*args, **kwargs)

        return dispatch

    return register


def check_limits_of_counted_requests_only(app) -> None:
    """Flask-Limiter checks every request in a ``before_request`` hook, which
    costs ~70 us even when the filter below then exempts it: the hook now runs
    only for requests that can count (call after ``limiter.init_app``)."""
    hooks = app.before_request_funcs.setdefault(None, [])
    for index, hook in enumerate(hooks):
        if getattr(hook, "__self__", None) is limiter:

            def check(hook=hook):
                return None if _unlimited_read() else hook()

            hooks[index] = check


@limiter.request_filter
def _unlimited_read() -> bool:
    from flask import current_app, request

    return (
        request.method in ("GET", "HEAD", "OPTIONS")
        and current_app.view_functions.get(request.endpoint) not in GET_LIMITED_VIEWS
    )


def _account_key() -> str:
    from flask_login import current_user

    user_id = getattr(current_user, "id", None)
    return f"account:{user_id}" if user_id else get_remote_address()


def posts_limit():
    """Per account: messages and new cases (and so uploads) a minute and an hour."""
    from flask import current_app

    return counting_posts(
        limiter.limit(
            lambda: current_app.config["POSTS_RATE_LIMIT"],
            key_func=_account_key,
            methods=["POST"],
        )
    )

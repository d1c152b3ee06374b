"""Cross-cutting web behaviour: security headers, error pages, start-up checks."""

import hashlib
import logging
import os
import secrets
from collections.abc import Callable

from flask import (
    Flask,
    current_app,
    g,
    render_template,
    render_template_string,
    request,
    session,
)
from flask_login import AnonymousUserMixin, current_user
from flask_wtf.csrf import CSRFError, generate_csrf
from markupsafe import Markup, escape
from werkzeug.exceptions import HTTPException, SecurityError
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.security import safe_join

from . import first_visits, settings
from .audit import security_event
from .db import UNAVAILABLE_ERRORS
from .htmx import hx_refresh, wants_fragment
from .inputs import RefusedInput, refuse_nul

log = logging.getLogger(__name__)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}

#: The settings templates may read (as ``site.NAME``): contact facts and public
#: links. Never the whole configuration, which holds the secret keys. Those of
#: ``settings.EDITABLE`` come from ``settings.current`` (the console's value).
TEMPLATE_SETTINGS = (
    "PUBLIC_URL",
    "HELPLINE_PHONE",
    "HELP_EMAIL",
    "ESCALATION_EMAIL",
    "ESCALATION_PHONE",
    "ENGINEERS_EMAIL",
    "KNOWLEDGE_BASE_URL",
)

#: Phone numbers shown as ``tel:`` links; checked at start-up.
PHONE_SETTINGS = settings.PHONES
tel_uri = settings.tel_uri


#: The error page when the templates cannot render (no links, no database).
BARE_ERROR = """<!doctype html>
<html lang="{{ current_language() }}"><meta charset="utf-8"><title>{{ status }}</title>
<h1>{{ _("Something went wrong") }}</h1>
<p><a href="/">{{ _("Go to the home page") }}</a></p>
</html>"""


def init_app(app: Flask) -> None:
    hops = int(app.config.get("PROXY_FIX_HOPS", 0))
    if hops:
        # Exactly as many proxies as the deployment has: more would let a client
        # choose its own address (and its own rate-limit bucket).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    # peewee logs every statement with its parameters at DEBUG: one-time link
    # tokens in mail bodies, session tokens, hashes. Keep them out of any log,
    # whatever the root level (to see SQL while debugging, lower it again).
    logging.getLogger("peewee").setLevel(logging.INFO)

    def _request_id():
        g.request_id = secrets.token_hex(8)
        # Before any other hook (CSRF reads the form): no NUL gets further.
        refuse_nul()

    # First of all: the database connection is opened by an earlier hook, and
    # the log line of its failure needs the id too.
    app.before_request_funcs.setdefault(None, []).insert(0, _request_id)

    app.after_request(_with_security_headers)

    for name in PHONE_SETTINGS:
        try:
            tel_uri(app.config[name])
        except ValueError as exc:
            from . import ConfigurationError

            raise ConfigurationError(f"HEZO_{name}: {exc}") from None
    app.add_template_filter(tel_uri, "tel")
    settings.init_app(app)

    # Flask puts the whole ``config`` into every template; a template (or a
    # template injection) could print SECRET_KEY from it. Templates get the
    # whitelisted ``site`` settings instead.
    app.jinja_env.globals.pop("config", None)

    @app.context_processor
    def _site():
        return {"site": template_settings(app)}

    app.extensions["hezo_page_parts"] = {}
    app.jinja_env.globals["once_per_language"] = once_per_language
    app.url_defaults(_static_version)
    app.after_request(_static_cache)

    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(CSRFError, _csrf_error)
    for error in UNAVAILABLE_ERRORS:
        app.register_error_handler(error, _database_unavailable)
    app.register_error_handler(Exception, _unexpected)
    app.wsgi_app = DatabaseUnavailableGuard(app, app.wsgi_app)
    app.wsgi_app = first_visits.FirstVisits(app, app.wsgi_app)


def once_per_language(*key, caller):
    """``{% call once_per_language("footer") %}…{% endcall %}``: the block's
    HTML rendered once per language (and ``key``) and reused by every later
    page. Only for parts that depend on nothing but the language, the site
    settings and ``key`` (the layout's head, menu and footer): they cost
    about a third of a light page's CPU. Not cached in debug mode, whose
    templates and static files change while it runs."""
    return _once(key, lambda: Markup(caller()))


def _once(key: tuple, render: Callable[[], str]) -> str:
    """``render()`` once per language, script root and ``key`` (the site
    settings' changes clear them all: ``settings.py``); every time in debug."""
    app = current_app._get_current_object()
    if app.debug:
        return render()
    from .i18n import current_language

    parts = app.extensions["hezo_page_parts"]
    root = request.script_root if request else ""  # (a page rendered off-request)
    full_key = (current_language(), root, *key)
    html = parts.get(full_key)
    if html is None:
        html = parts[full_key] = render()
    return html


def anonymous_page(
    key: tuple, render: Callable[[], str], form: bool = False
) -> str | None:
    """A whole page of an anonymous visitor without messages to show (no
    flashes in the session, no query), rendered once per language and
    reused, its form's CSRF token swapped for this visitor's own; None when
    the page must be rendered for this request. The landing page and the
    sign-in page: rendering them was about half of their CPU per request.
    ``key`` names the page and whatever else it depends on."""
    if (
        current_user.is_authenticated
        or request.args
        or "_flashes" in session
        or request.method != "GET"
    ):
        return None
    # A page rendered reads the settings (``_site``), and a changed one (even
    # another process's) clears the stored parts; a page reused must ask.
    settings.current(current_app)
    if not form or not current_app.config.get("WTF_CSRF_ENABLED", True):
        first_visits.mark("")
        return _once(("page", *key), render)
    token = generate_csrf()  # the one the page renders, if it renders now
    first_visits.mark(token)
    return token.join(_once(("page", *key), lambda: render().split(token)))


#: Static files named with ``?v=`` of this version may be kept by browsers
#: and proxies for a year (a changed file gets a new URL).
STATIC_MAX_AGE = 365 * 24 * 3600
_static_versions: dict = {}


def static_version(folder: str, filename: str) -> str | None:
    """The first 12 hex digits of the file's SHA-256, or None (no such file)."""
    path = safe_join(folder, filename)
    if path is None:
        return None
    try:
        stat = os.stat(path)
    except (OSError, ValueError):
        return None
    key = (path, stat.st_mtime_ns, stat.st_size)
    version = _static_versions.get(key)
    if version is None:
        with open(path, "rb") as file:
            version = hashlib.sha256(file.read()).hexdigest()[:12]
        _static_versions[key] = version
    return version


def _static_version(endpoint, values):
    """``url_for('static', filename=…)`` gets ``?v=<content hash>``."""
    if endpoint == "static" and "v" not in values and "filename" in values:
        version = static_version(current_app.static_folder, values["filename"])
        if version:
            values["v"] = version


def _static_cache(response):
    """A versioned static file of the current version: cacheable for a year by
    anyone (it never changes under its URL). Without the version, or another
    one, Flask's default stays (revalidate each time, by ETag)."""
    if request.endpoint != "static" or response.status_code != 200:
        return response
    version = request.args.get("v")
    filename = (request.view_args or {}).get("filename")
    if (
        version
        and filename
        and version == static_version(current_app.static_folder, filename)
    ):
        response.cache_control.no_cache = None
        response.cache_control.public = True
        response.cache_control.max_age = STATIC_MAX_AGE
        response.cache_control.immutable = True
    return response


def template_settings(app: Flask) -> dict:
    values = settings.current(app)
    return {
        name: values[name] if name in values else app.config[name]
        for name in TEMPLATE_SETTINGS
    }


def _render_error(status: int, message: str | None = None):
    template = "errors/_error.html" if wants_fragment() else "errors/error.html"
    try:
        return render_template(template, status=status, message=message), status
    except Exception:  # noqa: BLE001 - the error page itself must not fail
        # Whatever broke the page (a link of the request's own URL, the
        # database) may break the error page too: a bare page then, still
        # with the headers (after_request adds them to this answer).
        log.exception("error page failed (request %s)", g.get("request_id"))
    try:
        return render_template_string(BARE_ERROR, status=status), status
    except Exception:  # noqa: BLE001
        return f"Error {status}", status, {"Content-Type": "text/plain; charset=utf-8"}


def _http_error(exc: HTTPException):
    if exc.code is None or exc.code < 400:
        return exc
    if isinstance(exc, SecurityError):
        # Untrusted Host header: build no URL from it, not even in the error page.
        return "Bad request", 400, {"Content-Type": "text/plain; charset=utf-8"}
    if exc.code == 429:
        security_event("rate_limited", endpoint=request.endpoint or "-")
    if isinstance(exc, RefusedInput):
        return _render_error(exc.code, str(exc.message))
    return _render_error(exc.code)


def _csrf_error(exc: CSRFError):
    # htmx does not swap 4xx bodies: ask it to reload the page for a fresh token.
    if wants_fragment():
        return hx_refresh()
    return _render_error(400)


RETRY_AFTER_SECONDS = 5


def _log_unavailable(exc: BaseException) -> None:
    rule = request.url_rule.rule if request.url_rule else "-"
    log.warning(
        "database unavailable (request %s) %s %s: %s: %s",
        g.get("request_id", "-"),
        request.method,
        rule,
        type(exc).__name__,
        str(exc).strip().splitlines()[0] if str(exc).strip() else "",
    )


def _database_unavailable(exc: BaseException):
    _log_unavailable(exc)
    return unavailable_page()


def unavailable_page():
    """The 503 page for a request that cannot reach the database.

    Rendered without the database: the signed-in user is not loaded again
    (it would be read from the connection that just failed, and the page
    would fail in turn), so the page shows the anonymous navigation.
    """
    template = "errors/_error.html" if wants_fragment() else "errors/error.html"
    body = _render_without_database(template, status=503, message=None)
    return body, 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}


def _render_without_database(template: str, **context) -> str:
    """Render ``template`` without the app's context processors: they may read
    the database (the signed-in user, for one), which has just failed. The
    page gets what the layout needs and the anonymous navigation."""
    app = current_app
    anonymous = AnonymousUserMixin()
    g._login_user = anonymous  # url_for and the layout's helpers ask for it
    context |= {
        "g": g,
        "request": request,
        "session": session,
        "site": template_settings(app),
        "current_user": anonymous,
    }
    return app.jinja_env.get_template(template).render(context)


class DatabaseUnavailableGuard:
    """WSGI middleware: a database error that escapes Flask's own handling
    (raised by an error handler, an ``after_request`` or teardown hook) still
    answers the portal's 503 page, never the server's bare 500.

    The response is held back until the app returns, so that an error raised
    after it was made can still replace it.
    """

    def __init__(self, app: Flask, wsgi_app):
        self.app, self.wsgi_app = app, wsgi_app

    def __call__(self, environ, start_response):
        started = []

        def hold(status, headers, exc_info=None):
            started[:] = [(status, headers, exc_info)]
            return self._no_write

        try:
            body = self.wsgi_app(environ, hold)
        except UNAVAILABLE_ERRORS as exc:
            return self._unavailable(environ, start_response, exc)
        start_response(*started[0])
        return body

    @staticmethod
    def _no_write(data):
        raise RuntimeError("the portal does not use WSGI write()")

    def _unavailable(self, environ, start_response, exc):
        from .db import drop_connection

        drop_connection()
        response = None
        try:
            with self.app.request_context(environ):
                g.request_id = secrets.token_hex(8)
                lang = environ.get("PATH_INFO", "/").split("/")[1:2]
                if lang and lang[0] in self.app.config["LANGUAGES"]:
                    g.lang = lang[0]
                _log_unavailable(exc)
                response = self.app.make_response(unavailable_page())
        except Exception:  # noqa: BLE001 - the last answer must not fail
            if response is None:  # (else only this context's teardown failed)
                log.exception("database unavailable and the 503 page failed")
        if response is None:
            # Not even the template could be rendered: both languages, plainly.
            text = escape(
                "Baza danych jest niedostępna. Spróbuj ponownie za chwilę. / "
                "The database cannot be reached. Please try again in a minute."
            )
            response = self.app.response_class(
                f"<!doctype html><title>503</title><p>{text}</p>",
                503,
                {"Retry-After": str(RETRY_AFTER_SECONDS)},
                mimetype="text/html",
            )
        response.headers["Cache-Control"] = "no-store"
        return _with_security_headers(response)(environ, start_response)


def _with_security_headers(response):
    """The headers of ``SECURITY_HEADERS`` the response does not set itself
    (one pass over its headers, not one per header)."""
    headers = response.headers
    present = {name.lower() for name, _value in headers}
    for name, value in SECURITY_HEADERS.items():
        if name.lower() not in present:
            headers.add(name, value)
    return response


def _unexpected(exc: Exception):
    # The route's pattern, not the path: paths may hold one-time link tokens.
    rule = request.url_rule.rule if request.url_rule else "-"
    log.exception(
        "unhandled error (request %s) %s %s", g.get("request_id"), request.method, rule
    )
    return _render_error(500)
